/**
 * Opsgenie, through its Alert API (https://docs.opsgenie.com/docs/alert-api): one alert per
 * incident, `alias` = the incident id.
 *
 *   kind                                          call
 *   opened, approval_requested, escalated, repeat  POST /v2/alerts (create: on an open alert with
 *                                                  the same alias Opsgenie counts it, no new alert)
 *   acknowledged                                   POST /v2/alerts/<alias>/acknowledge?identifierType=alias
 *   resolved                                       POST /v2/alerts/<alias>/close?identifierType=alias
 *
 * Authorised with `Authorization: GenieKey <key>` (an API integration's key). The idempotency key
 * is in every call's `note` ("… (idempotency key <key>)") and in a create's
 * `details.sentinel_idempotency_key`. Fields are clipped to Opsgenie's limits: message 130
 * characters, alias and entity 512, description 15 000, source and user 100, note 25 000, at most
 * 20 tags of 50 characters, details 8 000 characters in all. 202 is delivered (Opsgenie processes
 * the request afterwards); 429 and 5xx are retried (Retry-After honoured); another 4xx is permanent.
 */
import { z } from 'zod'
import { incidentLabels } from '../matchers'
import { secretRef, type SecretReader } from '../secret'
import type { Notification, Receiver, ReceiverDeps } from '../types'
import type { Incident, Severity } from '../../platform/store/model'
import { checkAnswer, clip, KIND_LABEL, kindHeadline, post } from './common'

export const OPSGENIE_API_URL = 'https://api.opsgenie.com'

export const OPSGENIE_LIMITS = {
  message: 130,
  alias: 512,
  description: 15_000,
  entity: 512,
  source: 100,
  user: 100,
  note: 25_000,
  tags: 20,
  tag: 50,
  details: 8_000,
  responders: 50,
} as const

const responder = z
  .object({
    type: z.enum(['team', 'user', 'escalation', 'schedule']),
    /** The team's, escalation's or schedule's name, or a user's username (their e-mail address). */
    name: z.string().min(1).optional(),
    id: z.string().min(1).optional(),
  })
  .strict()
  .refine((r) => (r.name === undefined) !== (r.id === undefined), { message: 'give either name or id' })

export const opsgenieConfig = z
  .object({
    api_key: secretRef,
    /** https://api.opsgenie.com, or https://api.eu.opsgenie.com for an EU account; a stand-in in tests. */
    api_url: z.url({ protocol: /^https?$/, error: 'an http(s) URL' }).optional(),
    responders: z.array(responder).max(OPSGENIE_LIMITS.responders).optional(),
    tags: z
      .array(z.string().min(1).max(OPSGENIE_LIMITS.tag))
      .max(OPSGENIE_LIMITS.tags - 3)
      .optional(),
  })
  .strict()
export type OpsgenieConfig = z.infer<typeof opsgenieConfig>

export const OPSGENIE_PRIORITY: Record<Severity, 'P1' | 'P2' | 'P3' | 'P4' | 'P5'> = {
  critical: 'P1',
  warning: 'P3',
  info: 'P5',
}

/** The text, clipped so the idempotency key at its end always fits. */
const noteFor = (text: string, key: string) => {
  const tail = ` (idempotency key ${key})`
  return `${clip(text, OPSGENIE_LIMITS.note - tail.length)}${tail}`
}

function description(n: Notification): string {
  const i = n.incident
  const lines = [
    `${KIND_LABEL[n.kind]}${n.level > 1 ? ` (level ${n.level})` : ''}: ${i.title}`,
    '',
    `Incident: ${i.id}`,
    `Status: ${i.status}`,
    `Severity: ${i.severity}`,
    `Type: ${i.type}`,
    `Resource: ${i.resource.name} (${i.resource.kind})`,
    `Metric: ${i.alert.metric}${i.alert.value === null ? '' : ` = ${i.alert.value}`}${i.alert.threshold === null ? '' : ` (threshold ${i.alert.threshold})`}`,
    `Opened: ${i.openedAt}`,
  ]
  if (i.acknowledgement) lines.push(`Taken by: ${i.acknowledgement.by} at ${i.acknowledgement.at}`)
  if (i.decision)
    lines.push(
      `Decision: ${i.decision.route} (${i.decision.risk} risk${i.decision.actionId ? `, ${i.decision.actionId}` : ''}), rule ${i.decision.rule}`,
    )
  const summary = i.analysis?.summary
  if (typeof summary === 'string' && summary) lines.push('', summary)
  if (n.url) lines.push('', n.url)
  return clip(lines.join('\n'), OPSGENIE_LIMITS.description)
}

/** Opsgenie takes string values only, 8 000 characters in all (keys included). */
function details(n: Notification): Record<string, string> {
  const i = n.incident
  const labels = incidentLabels(i)
  const all: Record<string, string> = {
    sentinel_idempotency_key: n.key,
    incident_id: i.id,
    kind: n.kind,
    level: String(n.level),
    status: i.status,
    severity: i.severity,
    type: i.type,
    resource: i.resource.name,
    node: labels.node,
    ...(n.url ? { url: n.url } : {}),
    ...(i.acknowledgement ? { acknowledged_by: i.acknowledgement.by } : {}),
  }
  const out: Record<string, string> = {}
  let used = 0
  for (const [k, v] of Object.entries(all)) {
    const room = OPSGENIE_LIMITS.details - used - k.length
    if (room <= 0) break
    out[k] = clip(v, Math.min(room, 1000))
    used += k.length + out[k].length
  }
  return out
}

function tags(i: Incident, extra: readonly string[]): string[] {
  const all = ['sentinel', `severity:${i.severity}`, `type:${i.type}`, ...extra].map((t) =>
    clip(t, OPSGENIE_LIMITS.tag),
  )
  return [...new Set(all)].slice(0, OPSGENIE_LIMITS.tags)
}

type Responder = NonNullable<OpsgenieConfig['responders']>[number]
/** A user is named by `username` in Opsgenie's API; the others by `name`. */
const responderBody = (r: Responder) =>
  r.id !== undefined ? { type: r.type, id: r.id } : r.type === 'user' ? { type: r.type, username: r.name } : r

/** The method, path and body of the one call a notification makes. */
export function opsgenieRequest(
  n: Notification,
  cfg: Pick<OpsgenieConfig, 'responders' | 'tags'>,
): { path: string; body: Record<string, unknown> } {
  const i = n.incident
  const alias = clip(i.id, OPSGENIE_LIMITS.alias)
  const action = `/v2/alerts/${encodeURIComponent(alias)}`
  if (n.kind === 'acknowledged') {
    const by = i.acknowledgement?.by ?? 'someone'
    return {
      path: `${action}/acknowledge?identifierType=alias`,
      body: {
        user: clip(by, OPSGENIE_LIMITS.user),
        source: 'sentinel',
        note: noteFor(`Taken in Sentinel by ${by}${i.acknowledgement ? ` at ${i.acknowledgement.at}` : ''}`, n.key),
      },
    }
  }
  if (n.kind === 'resolved') {
    const last = i.timeline.at(-1)?.summary
    return {
      path: `${action}/close?identifierType=alias`,
      body: {
        user: 'Sentinel',
        source: 'sentinel',
        note: noteFor(
          `${i.status === 'suppressed' ? 'Suppressed' : 'Resolved'} in Sentinel${last ? `: ${last}` : ''}`,
          n.key,
        ),
      },
    }
  }
  return {
    path: '/v2/alerts',
    body: {
      message: clip(i.title, OPSGENIE_LIMITS.message),
      alias,
      description: description(n),
      ...(cfg.responders?.length ? { responders: cfg.responders.map(responderBody) } : {}),
      tags: tags(i, cfg.tags ?? []),
      details: details(n),
      entity: clip(i.resource.name, OPSGENIE_LIMITS.entity),
      source: 'sentinel',
      priority: OPSGENIE_PRIORITY[i.severity],
      user: 'Sentinel',
      note: noteFor(`${kindHeadline(n)} in Sentinel`, n.key),
    },
  }
}

export function createOpsgenieReceiver(
  name: string,
  cfg: OpsgenieConfig,
  deps: ReceiverDeps & { secret: SecretReader },
): Receiver {
  const what = `opsgenie receiver "${name}"`
  const apiKey = deps.secret(cfg.api_key, `${what}: api_key`)
  const base = (cfg.api_url ?? OPSGENIE_API_URL).replace(/\/+$/, '')
  return {
    name,
    type: 'opsgenie',
    async send(n, signal) {
      const req = opsgenieRequest(n, cfg)
      const o = { what, url: `${base}${req.path}`, secrets: [apiKey] }
      const answer = await post({
        ...o,
        body: JSON.stringify(req.body),
        headers: {
          authorization: `GenieKey ${apiKey}`,
          'content-type': 'application/json',
          accept: 'application/json',
        },
        signal,
      })
      checkAnswer(answer, o)
    },
  }
}
