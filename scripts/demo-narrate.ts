/**
 * The demo's commentary (`npm run demo` runs it once everything is up; `npm run demo -- --follow`
 * attaches to a running demo). It reads what Sentinel records, through its API with the demo's
 * admin key (audit log and pending approvals, polled every 2 s), and says in plain words what chaos
 * did, what Sentinel should do about it, what it did, and where to look on the dashboard. A fix that
 * waits for a person is told with the policy's reasons; a restart held back by the rate limit is
 * told loudly (RATE LIMIT REACHED), with the way out.
 */

export interface RateLimit {
  max: number
  windowSeconds: number
}

export interface NarrateOptions {
  /** Sentinel's base URL, e.g. http://127.0.0.1:3000 */
  base: string
  /** An admin key (the audit log is for admins). */
  key: string
  rateLimit: RateLimit
  /** Events recorded before this are not told (default: now). */
  since?: string
  /** Where the lines go (default console.log). */
  out?: (line: string) => void
  pollMs?: number
  signal?: AbortSignal
  /** Sentinel's log, named when something seems wrong. */
  logFile?: string
}

interface AuditEvent {
  at: string
  kind: string
  actor: string
  incidentId?: string
  resource?: string
  outcome?: string
  data?: Record<string, unknown>
}

interface PendingApproval {
  incidentId: string
  title?: string
  resource?: string
  risk?: string
  approverRole?: string
  proposedAction?: string | null
  reasons?: string[]
  requestedAt?: string
  expiresAt?: string
}

const INDENT = ' '.repeat(20)

export const describeRateLimit = (r: RateLimit) =>
  `at most ${r.max} restart${r.max === 1 ? '' : 's'} of one service per ${r.windowSeconds} s`

const clock = (iso: string | undefined) => {
  const d = iso ? new Date(iso) : new Date()
  return Number.isNaN(d.getTime()) ? '--:--:--' : d.toTimeString().slice(0, 8)
}

const str = (v: unknown) => (typeof v === 'string' ? v : v === undefined || v === null ? '' : String(v))

export const isRateLimited = (a: { reasons?: string[]; rule?: unknown }) =>
  a.rule === 'guardrail:rate-limit' || (a.reasons ?? []).some((r) => /^rate limit:/.test(r))

/** The lines that tell the user a restart is held back by the rate limit, and what to do. */
export function rateLimitLines(
  a: { incidentId: string; resource?: string; reasons?: string[] },
  opts: { base: string; rateLimit: RateLimit },
): string[] {
  const why = (a.reasons ?? []).find((r) => /^rate limit:/.test(r)) ?? 'rate limit reached'
  return [
    `RATE LIMIT REACHED for ${a.resource ?? 'a service'}: ${why}.`,
    `Sentinel will not restart it again by itself (the demo's limit: ${describeRateLimit(opts.rateLimit)}).`,
    `Its card stays red and incident ${a.incidentId} waits for an ADMIN: on the dashboard, log in with the`,
    `admin key and press Approve in the Approval queue, or:`,
    `  curl -s -X POST -H "Authorization: Bearer <admin key>" ${opts.base}/api/incidents/${a.incidentId}/approve`,
  ]
}

const FIRST_TIME: Record<string, string[]> = {
  kill: [
    "What Sentinel should do: see the container die on Docker's event stream, restart it at once",
    '(low risk: no approval), check it runs, and resolve the incident.',
    'Dashboard: its card turns red ("down"), then green ("healed"); the incident resolves on its own.',
  ],
  fillTemp: [
    "What Sentinel should do: its monitor (every 10 s) sees the sandbox's disk past the threshold and",
    'opens a disk incident. The fix, clean_sandbox, is medium risk, so it waits for a person.',
    'Dashboard: the Approval queue shows it; press Approve (operator or admin key). The cleaning moves',
    'temp/ into a quarantine (data/ is never touched), the disk is read again, and the incident resolves.',
  ],
  slowProbe: [
    'What Sentinel should do: its probes (every 10 s) measure the slow answers. A latency incident may',
    'open; a paused service is not dead, so nothing is restarted, and the incident is left for a person',
    '(or resolves once the latency is back under its threshold). Dashboard: the latency chart jumps.',
  ],
  cpu: ['What Sentinel should do: the CPU chart rises; past the threshold for 10 s, a CPU incident opens.'],
}

function faultLine(e: AuditEvent): string {
  const d = e.data ?? {}
  const p = (d.params ?? {}) as Record<string, unknown>
  const on = e.resource ?? '?'
  const outcome = str(e.outcome)
  const failed = outcome && outcome !== 'injected' ? ` (${outcome}${d.detail ? `: ${str(d.detail)}` : ''})` : ''
  switch (d.fault) {
    case 'kill':
      return `killed ${on} (SIGKILL to its main process)${failed}`
    case 'fillTemp': {
      const bytes = typeof p.written === 'number' ? p.written : p.bytes
      const mb = typeof bytes === 'number' ? ` with ${Math.round(bytes / 1e6)} MB` : ''
      return `filled the sandbox's temp/${mb}: its disk is past the alert threshold${failed}`
    }
    case 'slowProbe':
      return `paused ${on}${typeof p.pauseSec === 'number' ? ` for ${p.pauseSec} s` : ''}: its HTTP answers stall${failed}`
    case 'cpu':
      return `busy loop in ${on}${typeof p.durationSec === 'number' ? ` for ${p.durationSec} s` : ''}${failed}`
    default:
      return `${str(d.fault)} on ${on}${failed}`
  }
}

/** Turns audit events into the commentary; keeps what it needs between events. */
export class Narrator {
  private readonly told = new Set<string>()
  private readonly opened = new Map<string, number>()
  /** Dead containers' incidents: id -> container name. */
  private readonly containerIncidents = new Map<string, string>()
  /** When chaos killed each container, latest last. */
  private readonly kills = new Map<string, number[]>()
  private readonly rateLimitTold = new Set<string>()
  /** When a service was last said to stay down (by name). */
  private readonly toldDown = new Map<string, number>()
  constructor(
    private readonly opts: { base: string; rateLimit: RateLimit; out: (line: string) => void; logFile?: string },
  ) {}

  /** Whether a service down since `sinceMs` is still to be told about. */
  untoldDown(name: string, sinceMs: number): boolean {
    return (this.toldDown.get(name) ?? 0) < sinceMs
  }

  /**
   * A service down for a while with no fix under way and nothing waiting for a person: the
   * commentary must not stay silent while its card stays red.
   */
  down(name: string, sinceMs: number, last: { id: string; status: string } | undefined, now = Date.now()) {
    this.toldDown.set(name, now)
    const incident = last
      ? `its last incident, ${last.id}, is ${last.status.replace(/_/g, ' ')} (its timeline is on the dashboard)`
      : 'no incident is about it'
    this.say(
      new Date(now).toISOString(),
      '!!',
      `${name} has been down for ${Math.round((now - sinceMs) / 1000)} s and nothing waits for a person:`,
      [
        `${incident}. Sentinel does not seem to be restarting it, so its card stays red.`,
        `Start it by hand (docker start ${name})${this.opts.logFile ? `; Sentinel's log: ${this.opts.logFile}` : ''}.`,
      ],
    )
  }

  private say(at: string | undefined, who: string, text: string, more: string[] = []) {
    this.opts.out(`${clock(at)}  ${who.padEnd(9)} ${text}`)
    for (const m of more) this.opts.out(`${INDENT}${m}`)
  }

  /** Says loudly, once per incident, that a restart waits because of the rate limit. */
  rateLimited(a: { incidentId: string; resource?: string; reasons?: string[] }, at?: string) {
    if (this.rateLimitTold.has(a.incidentId)) return
    this.rateLimitTold.add(a.incidentId)
    const [first, ...rest] = rateLimitLines(a, this.opts)
    this.say(at, '!!', first, rest)
  }

  event(e: AuditEvent) {
    const d = e.data ?? {}
    const res = e.resource ?? '?'
    switch (e.kind) {
      case 'chaos.fault': {
        const kind = str(d.fault)
        if (kind === 'kill' && e.outcome === 'injected' && e.resource)
          this.kills.set(e.resource, [...(this.kills.get(e.resource) ?? []), Date.parse(e.at)].slice(-20))
        const more = !this.told.has(kind) && e.outcome === 'injected' ? (FIRST_TIME[kind] ?? []) : []
        if (more.length) this.told.add(kind)
        this.say(e.at, 'chaos', faultLine(e), more)
        return
      }
      case 'chaos.fault_ended':
        if (d.fault === 'fillTemp') this.say(e.at, 'chaos', `temp/ fill over (${str(e.outcome)})`)
        else if (d.fault === 'slowProbe') this.say(e.at, 'chaos', `${res} unpaused`)
        return
      case 'incident.opened':
        if (e.incidentId) this.opened.set(e.incidentId, Date.parse(e.at))
        if (e.incidentId && d.type === 'container_down') this.containerIncidents.set(e.incidentId, res)
        this.say(e.at, 'sentinel', `opened ${e.incidentId}: ${str(d.type) || 'incident'} on ${res}`)
        return
      case 'policy.decided': {
        const reasons = Array.isArray(d.reasons) ? (d.reasons as string[]) : []
        const last = reasons.at(-1) ?? str(d.rule)
        const action = str(d.actionId)
        if (e.outcome === 'auto') this.say(e.at, 'sentinel', `${action} on ${res} at once: ${last}`)
        else if (e.outcome === 'approval' && isRateLimited({ reasons, rule: d.rule }))
          this.rateLimited({ incidentId: e.incidentId ?? '?', resource: res, reasons }, e.at)
        else if (e.outcome === 'approval')
          this.say(e.at, 'sentinel', `${action} on ${res} waits for an ${str(d.approverRole) || 'operator'}: ${last}`, [
            'Dashboard: the Approval queue, then Approve or Reject.',
          ])
        else if (e.outcome === 'defer') this.say(e.at, 'sentinel', `no fix to run for ${res} (${last})`)
        else if (e.outcome === 'escalate') this.say(e.at, 'sentinel', `${res}: left for an admin (${last})`)
        else this.say(e.at, 'sentinel', `${str(e.outcome)} for ${res}: ${last}`)
        return
      }
      case 'approval.approved':
      case 'approval.rejected':
        this.say(
          e.at,
          'person',
          `${e.actor} ${e.kind === 'approval.approved' ? 'approved' : 'rejected'} the fix for ${res}`,
        )
        return
      case 'action.executed':
        if (e.outcome === 'succeeded') this.say(e.at, 'sentinel', `ran ${str(d.actionId)} on ${res}`)
        else this.say(e.at, 'sentinel', `${str(d.actionId)} on ${res} FAILED: ${str(d.error)}`)
        return
      case 'action.rolled_back':
        this.say(e.at, 'sentinel', `rolled back ${str(d.actionId)} on ${res} (${str(e.outcome)})`)
        return
      case 'incident.resolved': {
        const t0 = e.incidentId ? this.opened.get(e.incidentId) : undefined
        const took = t0 !== undefined ? ` in ${((Date.parse(e.at) - t0) / 1000).toFixed(1)} s` : ''
        this.say(e.at, 'sentinel', `resolved ${e.incidentId} (${res})${took}`)
        return
      }
      case 'incident.escalated': {
        const container = e.incidentId ? this.containerIncidents.get(e.incidentId) : undefined
        if (!container) {
          this.say(e.at, 'sentinel', `escalated ${e.incidentId} (${res}) to an admin: ${str(d.why)}`)
          return
        }
        // A dead service left for a person: its card stays red. Say so, and why when it is known.
        this.toldDown.set(container, Date.parse(e.at))
        const t0 = this.opened.get(e.incidentId!) ?? 0
        const again = (this.kills.get(container) ?? []).filter((t) => t > t0 + 500 && t <= Date.parse(e.at))
        this.say(e.at, '!!', `${container} STAYS DOWN: incident ${e.incidentId} escalated to an admin: ${str(d.why)}`, [
          ...(again.length
            ? [
                `Chaos killed it again at ${clock(new Date(again[0]).toISOString())}, before Sentinel had verified its restart: that death`,
                'belongs to the same incident, so it was not restarted again, and the verification failed.',
              ]
            : []),
          'Sentinel will not restart it by itself any more: its card stays red. Start it by hand',
          `(docker start ${container}), then close the incident on the dashboard or with POST /api/incidents/${e.incidentId}/resolve.`,
        ])
        return
      }
      case 'action.refused':
      case 'incident.suppressed':
        this.say(e.at, 'sentinel', `${e.kind} on ${res}: ${str(e.outcome)}`)
        return
      default:
        return
    }
  }
}

async function getJson(
  base: string,
  key: string,
  p: string,
): Promise<{ status: number; body: Record<string, unknown> | null }> {
  const r = await fetch(`${base}${p}`, {
    headers: { authorization: `Bearer ${key}` },
    signal: AbortSignal.timeout(5000),
  })
  let body: Record<string, unknown> | null = null
  try {
    body = (await r.json()) as Record<string, unknown>
  } catch {
    /* not JSON */
  }
  return { status: r.status, body }
}

/** What waits for a person now, and why: the pending approvals as the API lists them. */
export async function pendingApprovals(base: string, key: string): Promise<PendingApproval[]> {
  const r = await getJson(base, key, '/api/approvals/pending')
  if (r.status !== 200) throw new Error(`GET /api/approvals/pending: HTTP ${r.status}`)
  return (r.body?.approvals ?? []) as PendingApproval[]
}

/** A snapshot: containers down and approvals waiting, with the policy's reasons. */
export async function statusLines(base: string, key: string, rateLimit: RateLimit): Promise<string[]> {
  const lines: string[] = []
  const containers = await getJson(base, key, '/api/containers')
  const list = (containers.body?.containers ?? []) as { name?: string; state?: string }[]
  const down = list.filter((c) => c.state !== 'running').map((c) => `${c.name} (${c.state})`)
  lines.push(`Services: ${list.length} watched, ${down.length ? `not running: ${down.join(', ')}` : 'all running'}.`)
  const approvals = await pendingApprovals(base, key)
  if (!approvals.length) lines.push('Nothing waits for a person.')
  for (const a of approvals) {
    if (isRateLimited(a)) lines.push(...rateLimitLines(a, { base, rateLimit }))
    else
      lines.push(
        `Waiting for an ${a.approverRole ?? 'operator'}: ${a.proposedAction ?? 'a fix'} on ${a.resource} (${a.title ?? a.incidentId}): ${(a.reasons ?? []).at(-1) ?? ''}`,
      )
  }
  return lines
}

/** A service down this long with no approval waiting for it is said to be stuck. */
const DOWN_TOO_LONG_MS = 30_000

async function checkState(opts: NarrateOptions, narrator: Narrator): Promise<void> {
  const approvals = await pendingApprovals(opts.base, opts.key)
  for (const a of approvals) if (isRateLimited(a)) narrator.rateLimited(a, a.requestedAt)
  const containers = await getJson(opts.base, opts.key, '/api/containers')
  const now = Date.now()
  for (const c of (containers.body?.containers ?? []) as { name?: string; state?: string; since?: string }[]) {
    if (!c.name || c.state !== 'down') continue
    const since = Date.parse(c.since ?? '')
    if (!Number.isFinite(since) || now - since < DOWN_TOO_LONG_MS || !narrator.untoldDown(c.name, since)) continue
    if (approvals.some((a) => a.resource === c.name)) continue
    const last = await getJson(opts.base, opts.key, `/api/incidents?resource=${encodeURIComponent(c.name)}&limit=1`)
    const inc = ((last.body?.incidents ?? []) as { id: string; status: string }[])[0]
    narrator.down(c.name, since, inc, now)
  }
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const done = () => {
      clearTimeout(t)
      signal?.removeEventListener('abort', done)
      resolve()
    }
    const t = setTimeout(done, ms)
    signal?.addEventListener('abort', done, { once: true })
  })

/**
 * Follows Sentinel until `signal` aborts ('stopped') or Sentinel stops answering for 15 s
 * ('gone'), or refuses the key ('refused').
 */
export async function narrate(opts: NarrateOptions): Promise<'stopped' | 'gone' | 'refused'> {
  const out = opts.out ?? ((l: string) => console.log(l))
  const narrator = new Narrator({ base: opts.base, rateLimit: opts.rateLimit, out, logFile: opts.logFile })
  const seen = new Set<string>()
  const since = Date.parse(opts.since ?? new Date().toISOString())
  let lastAnswer = Date.now()
  let lastStateCheck = 0
  while (!opts.signal?.aborted) {
    try {
      const r = await getJson(opts.base, opts.key, '/api/audit?limit=300')
      if (r.status === 401 || r.status === 403) {
        out(`Sentinel refused the key (HTTP ${r.status}): the commentary ends.`)
        return 'refused'
      }
      if (r.status === 200) {
        lastAnswer = Date.now()
        const events = ((r.body?.events ?? []) as AuditEvent[])
          .filter((e) => Date.parse(e.at) >= since)
          .sort((a, b) => Date.parse(a.at) - Date.parse(b.at))
        for (const e of events) {
          const id = JSON.stringify(e)
          if (seen.has(id)) continue
          seen.add(id)
          narrator.event(e)
        }
        if (seen.size > 5000) for (const id of [...seen].slice(0, 2500)) seen.delete(id)
      }
      // What the events may not say (an attach after the fact, a death Sentinel missed): restarts
      // held back by the rate limit, and services down with nothing under way for them.
      if (Date.now() - lastStateCheck > 10_000) {
        lastStateCheck = Date.now()
        await checkState(opts, narrator)
      }
    } catch {
      if (Date.now() - lastAnswer > 15_000) {
        out(`Sentinel at ${opts.base} does not answer any more (the demo was stopped?): the commentary ends.`)
        return 'gone'
      }
    }
    await sleep(opts.pollMs ?? 2000, opts.signal)
  }
  return 'stopped'
}
