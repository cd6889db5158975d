/**
 * The routing file (NOTIFY_CONFIG, YAML): who hears about which incident, in Alertmanager's
 * vocabulary where it fits. Read and checked once at start; every problem is reported in one
 * error naming its line, so a bad file stops the start instead of silencing the pages.
 *
 *   receivers:
 *     - name: team-slack
 *       slack: { channel: '#ops' }
 *     - name: pd-primary
 *       pagerduty: { routing_key: { env: PD_PRIMARY_KEY } }
 *   route:                        # the root: every incident enters here
 *     receiver: team-slack
 *     group_wait: 10s             # hold the first page this long: a fix that heals it first pages nobody
 *     repeat_interval: 4h         # page again while nobody acknowledged it
 *     events: [opened, approval_requested, escalated, acknowledged, resolved]
 *     routes:                     # first match wins, unless `continue: true`
 *       - matchers: ['severity="critical"']
 *         receiver: pd-primary
 *         quiet_hours: []         # names from quiet_hours below
 *   escalation:                   # an unacknowledged incident pages the next level every `after`
 *     after: 15m                  # ESCALATE_AFTER_MINUTES wins when set
 *     severities: [critical]
 *     levels: [{ receivers: [pd-primary] }, { receivers: [pd-secondary] }, { receivers: [admins] }]
 *   quiet_hours: [...]            # see ./quiet-hours.ts
 *   delivery: { max_attempts: 10, backoff_base: 2s, backoff_max: 10m, timeout: 10s, concurrency: 8 }
 *
 * Children inherit group_wait, repeat_interval, events and quiet_hours from their parent. With no
 * file, the default is Slack when SLACK_BOT_TOKEN and SLACK_CHANNEL are set, else nothing (and
 * /healthz says notifications are off).
 */
import { readFileSync } from 'node:fs'
import { LineCounter, parseDocument } from 'yaml'
import { z } from 'zod'
import { INCIDENT_EVENTS, type IncidentEvent } from '../platform/store/notify-outbox'
import type { Severity } from '../platform/store/model'
import { durationField } from './durations'
import { matcherSchema, type Matcher } from './matchers'
import { quietHoursSchema, type QuietHours } from './quiet-hours'
import { receiverSchema, receiverType, type ReceiverConfig } from './receivers/index'

export interface Route {
  receiver: string
  matchers: Matcher[]
  continue: boolean
  groupWaitMs: number
  repeatIntervalMs: number
  events: IncidentEvent[]
  quietHours: QuietHours[]
  routes: Route[]
}

export interface DeliverySettings {
  maxAttempts: number
  backoffBaseMs: number
  backoffMaxMs: number
  timeoutMs: number
  concurrency: number
}

export interface EscalationPolicy {
  afterMs: number
  severities: Severity[]
  /** Receiver names per level; level 1 is levels[0]. */
  levels: string[][]
}

export interface NotifyConfig {
  /** Where it came from: the file's path, or a sentence saying which default applies. */
  source: string
  receivers: ReceiverConfig[]
  /** Null when notifications are off. */
  route: Route | null
  escalation: EscalationPolicy | null
  delivery: DeliverySettings
  /** Why notifications are off, when they are. */
  off?: string
}

const SEVERITIES = ['critical', 'warning', 'info'] as const
const MINUTE = 60_000

const routeFields = z
  .object({
    receiver: z.string().min(1).optional(),
    matchers: z.array(matcherSchema).default([]),
    continue: z.boolean().default(false),
    group_wait: durationField(0, 60 * MINUTE).optional(),
    repeat_interval: durationField(1000, 30 * 24 * 60 * MINUTE).optional(),
    events: z.array(z.enum(INCIDENT_EVENTS)).min(1).optional(),
    quiet_hours: z.array(z.string()).optional(),
    routes: z.array(z.unknown()).default([]),
  })
  .strict()

const fileSchema = z
  .object({
    receivers: z.array(z.unknown()).min(1, 'name at least one receiver'),
    route: z.unknown(),
    escalation: z
      .object({
        after: durationField(1000, 7 * 24 * 60 * MINUTE).optional(),
        severities: z.array(z.enum(SEVERITIES)).min(1).default(['critical']),
        levels: z.array(z.object({ receivers: z.array(z.string().min(1)).min(1) }).strict()).min(1),
      })
      .strict()
      .optional(),
    quiet_hours: z.array(quietHoursSchema).default([]),
    delivery: z
      .object({
        max_attempts: z.number().int().min(1).max(100).default(10),
        backoff_base: durationField(10, 10 * MINUTE).default(2000),
        backoff_max: durationField(100, 24 * 60 * MINUTE).default(10 * MINUTE),
        timeout: durationField(100, 5 * MINUTE).default(10_000),
        concurrency: z.number().int().min(1).max(256).default(8),
      })
      .strict()
      .default({ max_attempts: 10, backoff_base: 2000, backoff_max: 10 * MINUTE, timeout: 10_000, concurrency: 8 }),
  })
  .strict()

const DEFAULTS = {
  groupWaitMs: 10_000,
  repeatIntervalMs: 4 * 60 * MINUTE,
  events: [...INCIDENT_EVENTS] as IncidentEvent[],
}
const DEFAULT_DELIVERY: DeliverySettings = {
  maxAttempts: 10,
  backoffBaseMs: 2000,
  backoffMaxMs: 10 * MINUTE,
  timeoutMs: 10_000,
  concurrency: 8,
}

/** A routing file that cannot be used; `problems` each name their line. */
export class NotifyConfigError extends Error {
  readonly problems: string[]
  constructor(
    readonly file: string,
    problems: string[],
  ) {
    // In the file's order: "line N: ..." sorted by N.
    problems = [...problems].sort((a, b) => lineNumber(a) - lineNumber(b))
    super(`NOTIFY_CONFIG ${file}:\n${problems.map((p) => `  - ${p}`).join('\n')}`)
    this.name = 'NotifyConfigError'
    this.problems = problems
  }
}

const lineNumber = (problem: string) => Number(/^line (\d+)/.exec(problem)?.[1] ?? 0)

export interface NotifySettings {
  /** NOTIFY_CONFIG: the routing file's path. */
  file?: string
  /** ESCALATE_AFTER_MINUTES: wins over the file's escalation.after. */
  escalateAfterMinutes?: number
  slackChannel?: string
  slackConfigured: boolean
  /**
   * Called with each valid receiver (to build it and read its secrets at start); what it throws
   * is reported at the receiver's line with the other problems.
   */
  checkReceiver?: (receiver: ReceiverConfig) => void
}

/** The configuration: the file's when NOTIFY_CONFIG is set, else the default. */
export function loadNotifyConfig(settings: NotifySettings): NotifyConfig {
  if (!settings.file) return defaultConfig(settings)
  let text: string
  try {
    text = readFileSync(settings.file, 'utf8')
  } catch (err) {
    throw new NotifyConfigError(settings.file, [
      `cannot read the file (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
    ])
  }
  return parseNotifyConfig(text, settings.file, settings)
}

function defaultConfig(settings: NotifySettings): NotifyConfig {
  if (!settings.slackConfigured || !settings.slackChannel)
    return {
      source: 'default',
      receivers: [],
      route: null,
      escalation: null,
      delivery: DEFAULT_DELIVERY,
      off: 'no NOTIFY_CONFIG and no Slack (SLACK_BOT_TOKEN, SLACK_CHANNEL): nobody is paged',
    }
  const slack = receiverSchema.parse({ name: 'slack', slack: { channel: settings.slackChannel } })
  settings.checkReceiver?.(slack)
  return {
    source: 'default: incident events to SLACK_CHANNEL (approvals are posted by the approval flow)',
    receivers: [slack],
    // The approval flow posts its own Slack message for an approval (src/approve/slack/): the
    // default route leaves that event to it, and updates that message for the others.
    route: {
      ...DEFAULTS,
      events: DEFAULTS.events.filter((e) => e !== 'approval_requested'),
      receiver: 'slack',
      matchers: [],
      continue: false,
      quietHours: [],
      routes: [],
    },
    escalation: null,
    delivery: DEFAULT_DELIVERY,
  }
}

/** Parses and checks a routing file's text; throws NotifyConfigError naming every problem's line. */
export function parseNotifyConfig(text: string, file: string, settings: Omit<NotifySettings, 'file'>): NotifyConfig {
  const lineCounter = new LineCounter()
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true })
  const problems: string[] = []
  const lineOf = (path: (string | number)[]): string => {
    for (let n = path.length; n >= 0; n--) {
      const node = doc.getIn(path.slice(0, n), true) as { range?: [number, number, number] } | undefined
      if (node && typeof node === 'object' && node.range) return `line ${lineCounter.linePos(node.range[0]).line}`
    }
    return 'line 1'
  }
  const report = (path: (string | number)[], message: string) =>
    problems.push(`${lineOf(path)}: ${path.length ? `${path.join('.')}: ` : ''}${message}`)
  const zodIssues = (error: z.ZodError, prefix: (string | number)[]) => {
    for (const issue of error.issues) {
      const at = [...prefix, ...issue.path.filter((p): p is string | number => typeof p !== 'symbol')]
      // An unknown key is reported at its own line, by name (a typo is the usual cause).
      if (issue.code === 'unrecognized_keys') for (const key of issue.keys) report([...at, key], `unknown key ${key}`)
      else report(at, issue.message)
    }
  }

  for (const e of doc.errors) problems.push(`line ${lineCounter.linePos(e.pos[0]).line}: ${e.message.split('\n')[0]}`)
  if (problems.length) throw new NotifyConfigError(file, problems)
  const raw = doc.toJS() as unknown
  const top = fileSchema.safeParse(raw ?? {})
  if (!top.success) {
    zodIssues(top.error, [])
    throw new NotifyConfigError(file, problems)
  }
  const f = top.data

  const receivers: ReceiverConfig[] = []
  f.receivers.forEach((r, n) => {
    const parsed = receiverSchema.safeParse(r)
    if (!parsed.success) zodIssues(parsed.error, ['receivers', n])
    else if (receivers.some((x) => x.name === parsed.data.name))
      report(['receivers', n, 'name'], `receiver ${parsed.data.name} is named twice`)
    else {
      receivers.push(parsed.data)
      try {
        settings.checkReceiver?.(parsed.data)
      } catch (err) {
        report(['receivers', n], (err as Error).message)
      }
    }
  })
  const receiverNames = new Set(receivers.map((r) => r.name))
  const quietNames = new Map(f.quiet_hours.map((q) => [q.name, q]))
  if (quietNames.size < f.quiet_hours.length) report(['quiet_hours'], 'two quiet_hours share a name')

  let invalid = false
  const parseRoute = (value: unknown, path: (string | number)[], parent: Route | null): Route | null => {
    let r = routeFields.safeParse(value ?? {})
    if (!r.success) {
      zodIssues(r.error, path)
      // Go on without the bad keys, so the problems further down the tree are reported too.
      const bad = new Set(r.error.issues.flatMap((i) => (i.code === 'unrecognized_keys' ? i.keys : [i.path[0]])))
      const rest = Object.fromEntries(Object.entries((value ?? {}) as object).filter(([k]) => !bad.has(k)))
      r = routeFields.safeParse(rest)
      if (!r.success) return null
      invalid = true
    }
    const d = r.data
    if (!parent && d.matchers.length)
      report([...path, 'matchers'], 'the root route matches every incident: no matchers')
    if (!parent && !d.receiver) report(path, 'the root route needs a receiver (the default for what no child takes)')
    if (d.receiver && receiverNames.size && !receiverNames.has(d.receiver))
      report([...path, 'receiver'], `no receiver is named ${d.receiver}`)
    const quietHours: QuietHours[] = []
    d.quiet_hours?.forEach((name, n) => {
      const q = quietNames.get(name)
      if (q) quietHours.push(q)
      else report([...path, 'quiet_hours', n], `no quiet_hours is named ${name}`)
    })
    const route: Route = {
      receiver: d.receiver ?? parent?.receiver ?? '',
      matchers: d.matchers,
      continue: d.continue,
      groupWaitMs: d.group_wait ?? parent?.groupWaitMs ?? DEFAULTS.groupWaitMs,
      repeatIntervalMs: d.repeat_interval ?? parent?.repeatIntervalMs ?? DEFAULTS.repeatIntervalMs,
      events: d.events ?? parent?.events ?? DEFAULTS.events,
      quietHours: d.quiet_hours ? quietHours : (parent?.quietHours ?? []),
      routes: [],
    }
    d.routes.forEach((child, n) => {
      const c = parseRoute(child, [...path, 'routes', n], route)
      if (c) route.routes.push(c)
    })
    return route
  }
  const route =
    f.route === undefined
      ? (report([], 'route: the root route is missing'), null)
      : parseRoute(f.route, ['route'], null)

  let escalation: EscalationPolicy | null = null
  if (f.escalation) {
    f.escalation.levels.forEach((level, n) =>
      level.receivers.forEach((name, k) => {
        if (!receiverNames.has(name))
          report(['escalation', 'levels', n, 'receivers', k], `no receiver is named ${name}`)
      }),
    )
    const afterMs =
      settings.escalateAfterMinutes !== undefined
        ? Math.round(settings.escalateAfterMinutes * MINUTE)
        : (f.escalation.after ?? 15 * MINUTE)
    escalation = { afterMs, severities: f.escalation.severities, levels: f.escalation.levels.map((l) => l.receivers) }
  }
  const d = f.delivery
  if (d.backoff_base > d.backoff_max) report(['delivery', 'backoff_base'], 'backoff_base is longer than backoff_max')
  if (problems.length || !route || invalid) throw new NotifyConfigError(file, problems)
  return {
    source: file,
    receivers,
    route,
    escalation,
    delivery: {
      maxAttempts: d.max_attempts,
      backoffBaseMs: d.backoff_base,
      backoffMaxMs: d.backoff_max,
      timeoutMs: d.timeout,
      concurrency: d.concurrency,
    },
  }
}

/** The receiver names a config uses, with their types, for /healthz and GET /api/notifications. */
export const receiverList = (c: NotifyConfig) => c.receivers.map((r) => ({ name: r.name, type: receiverType(r) }))
