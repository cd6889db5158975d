/**
 * Policy replay: what the risk policy would decide, now or with other settings, for the incidents
 * of a past period, next to what it decided then. Each archived incident's proposal (its analysis's
 * fix, or the container fast path's restart) goes through the real policy, decide() of
 * src/decide/index.ts, oldest first, with its dependencies built from the configuration and the
 * request's overrides; nothing it does leaves this module:
 *
 * - the rate limit and the cap on remediations at once are simulated in memory, in time order (the
 *   real ones, src/decide/rate-limit.ts and concurrency.ts, write Redis keys: never called here);
 *   the simulation starts from the incidents of the rate-limit window before `from`, replayed
 *   unreported, so the first incidents of the period see the state they would have seen;
 * - freeze windows and the rate-limit clock are evaluated at the time the policy ran then (the
 *   recorded decision's time; the incident's opened time when it has none);
 * - no event is emitted, no action runs, no incident is written; the caller audits the run once.
 *
 * What replay cannot know, and how it stands in for it:
 * - whether Docker's own restart policy would restart a dead container (the fast path asks Docker
 *   live): an incident deferred to Docker then is deferred to Docker now, unchanged;
 * - what a fix would have done: outcomes are the recorded ones (`then.outcome`); a decision that
 *   differs says only what would have been decided;
 * - how long a fix that did not run then would hold its remediation slot: as long as the median fix
 *   of the replayed period ran (DEFAULT_HOLD_MS when none ran); one that ran holds it as long as it
 *   ran then;
 * - the analysis is the recorded one (the LLM is not asked again), and restarts of a container that
 *   died again under an open incident (src/act/died-again.ts) do not count against the simulated
 *   rate limit, though they counted against the real one;
 * - incidents that closed before the policy decided (their alert cleared, a person closed them) are
 *   listed with no decision now either.
 */
import { z } from 'zod'
import { ACTIONS } from '../actions/catalog'
import { decide, type PolicyDeps } from '../decide/index'
import { activeFreeze, describeFreeze } from '../decide/freeze'
import { slotLaneFor } from '../decide/deps'
import { targetMismatch } from '../decide/target'
import { FreezeConfigError, parseFreezeWindows, type FreezeWindow } from '../platform/config/freeze-windows'
import type { SentinelConfig } from '../platform/config/index'
import { HttpError, parseOr400 } from '../platform/http/errors'
import type { AuditLog } from '../platform/store/audit'
import type { Decision, Incident, RiskLevel } from '../platform/store/model'
import type { SqlClient } from './archive/sql'

export const DEFAULT_LIMIT = 1000
export const MAX_LIMIT = 10_000
/** How long a fix that never ran is assumed to hold a remediation slot when no fix of the period ran. */
export const DEFAULT_HOLD_MS = 30_000
/** The container fast path saves its decisions as this actor (src/act/container-events.ts). */
export const FAST_PATH_ACTOR = 'sentinel:policy'
const PAGE = 500

const actionIds = Object.keys(ACTIONS) as [string, ...string[]]
const RISKS = ['low', 'medium', 'high'] as const

export const replayPolicy = z
  .object({
    shadowMode: z.boolean().optional().describe('SHADOW_MODE: record fixes, run none'),
    allowedActions: z
      .array(z.enum(actionIds))
      .max(actionIds.length * 2)
      .optional()
      .describe('ALLOWED_ACTIONS: the only actions the policy may route ([] allows every catalog action)'),
    confidenceThreshold: z.number().min(0).max(1).optional().describe('CONFIDENCE_THRESHOLD'),
    rateLimit: z
      .object({
        maxActions: z.number().int().min(1).max(1000),
        windowSeconds: z
          .number()
          .int()
          .min(1)
          .max(86400 * 7),
      })
      .strict()
      .optional()
      .describe('RATE_LIMIT_MAX_ACTIONS and RATE_LIMIT_WINDOW_SECONDS'),
    freezeWindows: z.string().max(4000).optional().describe('FREEZE_WINDOWS, same syntax ("" for none)'),
    risk: z
      .partialRecord(z.enum(actionIds), z.enum(RISKS))
      .optional()
      .describe('an action\'s risk instead of the catalog\'s, e.g. { "restart_container": "medium" }'),
    maxConcurrentRemediations: z.number().int().min(1).max(1000).optional().describe('MAX_CONCURRENT_REMEDIATIONS'),
    maxConcurrentRecoveries: z.number().int().min(1).max(1000).optional().describe('MAX_CONCURRENT_RECOVERIES'),
  })
  .strict()

export const replayBody = z
  .object({
    from: z.iso.datetime({ offset: true }).describe('ISO time: incidents opened from then (inclusive)'),
    to: z.iso.datetime({ offset: true }).describe('ISO time: incidents opened until then (inclusive)'),
    limit: z
      .number()
      .int()
      .min(1)
      .max(MAX_LIMIT)
      .optional()
      .describe(`incidents replayed at most (default ${DEFAULT_LIMIT})`),
    policy: replayPolicy.optional().describe('overrides of the current policy; absent: the current policy'),
  })
  .strict()

export type ReplayBody = z.infer<typeof replayBody>

/** A request that fits the schema, with what the schema cannot check: the order of from and to, the freeze syntax. */
export interface ReplayRequest {
  fromMs: number
  toMs: number
  limit: number
  policy: z.infer<typeof replayPolicy>
  freezeWindows?: FreezeWindow[]
}

/** The body checked, or a 400 naming each field that is wrong. */
export function parseReplayRequest(body: unknown): ReplayRequest {
  const b = parseOr400(replayBody, body ?? {}, 'body')
  const fields: Array<{ field: string; reason: string }> = []
  const fromMs = Date.parse(b.from)
  const toMs = Date.parse(b.to)
  if (toMs < fromMs) fields.push({ field: 'body.to', reason: `is before body.from (${b.from})` })
  let freezeWindows: FreezeWindow[] | undefined
  if (b.policy?.freezeWindows !== undefined) {
    try {
      freezeWindows = parseFreezeWindows(b.policy.freezeWindows, 'policy.freezeWindows')
    } catch (err) {
      if (!(err instanceof FreezeConfigError)) throw err
      fields.push({ field: 'body.policy.freezeWindows', reason: err.message })
    }
  }
  if (fields.length)
    throw new HttpError(400, 'invalid_request', fields.map((f) => `${f.field}: ${f.reason}`).join('; '), { fields })
  return {
    fromMs,
    toMs,
    limit: b.limit ?? DEFAULT_LIMIT,
    policy: b.policy ?? {},
    ...(freezeWindows ? { freezeWindows } : {}),
  }
}

// ---- The policy replayed ------------------------------------------------------------------------

type PolicyConfig = PolicyDeps['config']

export interface EffectivePolicy {
  shadowMode: boolean
  allowedActions: string[]
  confidenceThreshold: number
  rateLimit: { maxActions: number; windowSeconds: number }
  /** The windows' specs. */
  freezeWindows: string[]
  /** Actions whose risk is not the catalog's. */
  risk: Partial<Record<string, RiskLevel>>
  maxConcurrentRemediations: number
  /** Starts of dead containers at once per node (src/decide/deps.ts, SlotLane). */
  maxConcurrentRecoveries: number
  /** The settings the request changed. */
  overridden: string[]
}

type ConfigIn = Pick<
  SentinelConfig,
  | 'ALLOWED_ACTIONS'
  | 'SHADOW_MODE'
  | 'CONFIDENCE_THRESHOLD'
  | 'RATE_LIMIT_MAX_ACTIONS'
  | 'RATE_LIMIT_WINDOW_SECONDS'
  | 'FREEZE_WINDOWS'
  | 'MAX_CONCURRENT_REMEDIATIONS'
  | 'MAX_CONCURRENT_RECOVERIES'
>

function effectivePolicy(cfg: ConfigIn, req: ReplayRequest): { policy: EffectivePolicy; windows: FreezeWindow[] } {
  const p = req.policy
  const windows = req.freezeWindows ?? cfg.FREEZE_WINDOWS
  return {
    windows,
    policy: {
      shadowMode: p.shadowMode ?? cfg.SHADOW_MODE,
      allowedActions: p.allowedActions ?? cfg.ALLOWED_ACTIONS,
      confidenceThreshold: p.confidenceThreshold ?? cfg.CONFIDENCE_THRESHOLD,
      rateLimit: {
        maxActions: p.rateLimit?.maxActions ?? cfg.RATE_LIMIT_MAX_ACTIONS,
        windowSeconds: p.rateLimit?.windowSeconds ?? cfg.RATE_LIMIT_WINDOW_SECONDS,
      },
      freezeWindows: windows.map((w) => w.spec),
      risk: p.risk ?? {},
      maxConcurrentRemediations: p.maxConcurrentRemediations ?? cfg.MAX_CONCURRENT_REMEDIATIONS,
      maxConcurrentRecoveries: p.maxConcurrentRecoveries ?? cfg.MAX_CONCURRENT_RECOVERIES,
      overridden: Object.keys(p).filter((k) => p[k as keyof typeof p] !== undefined),
    },
  }
}

/**
 * The sliding-window rate limit of src/decide/rate-limit.ts, in memory: the same rule (per action
 * and resource; the incident id is the member, counted once; entries at or before now - window drop).
 */
export class SimulatedRateLimit {
  private readonly windows = new Map<string, Array<{ at: number; member: string }>>()

  take(actionId: string, resourceId: string, member: string, max: number, windowSeconds: number, nowMs: number) {
    const key = `${actionId}:${resourceId}`
    const entries = (this.windows.get(key) ?? []).filter((e) => e.at > nowMs - windowSeconds * 1000)
    this.windows.set(key, entries)
    const result = (allowed: boolean, count: number) => ({ allowed, count, max, windowSeconds })
    if (entries.some((e) => e.member === member)) return result(true, entries.length)
    if (entries.length >= max) return result(false, entries.length)
    entries.push({ at: nowMs, member })
    return result(true, entries.length)
  }
}

/**
 * The cap on remediations at once (src/decide/concurrency.ts), in memory: a lease per running fix.
 * A fix over the cap waits for the first lease to run out, as the real one retries until a slot frees.
 */
export class SimulatedSlots {
  private leases: Array<{ member: string; until: number }> = []

  constructor(private readonly cap: number) {}

  /** Takes a slot at `nowMs` for `holdMs`; returns how long the fix would wait for it (0: a slot was free). */
  take(member: string, nowMs: number, holdMs: number): { waitMs: number; running: number } {
    this.leases = this.leases.filter((l) => l.until > nowMs && l.member !== member).sort((a, b) => a.until - b.until)
    const running = this.leases.length
    let start = nowMs
    while (this.leases.length >= this.cap) start = Math.max(start, this.leases.shift()!.until)
    this.leases.push({ member, until: start + holdMs })
    return { waitMs: start - nowMs, running }
  }
}

// ---- Incidents as replayed ----------------------------------------------------------------------

/** What replay reads of an archived incident. */
interface ReplayCase {
  incident: Pick<Incident, 'id' | 'type' | 'resource' | 'title' | 'status' | 'openedAt' | 'alert'>
  decision: Decision | null
  /** When the policy ran then (else the incident opened). */
  policyAt: number
  /** How the proposal reached the policy then. */
  path: 'flow' | 'fast-path' | 'docker-restart-policy' | 'undecided'
  proposal: { actionId: string; params: Record<string, unknown> } | null
  analysisRisk?: RiskLevel
  confidence?: number
  /** How long its fix ran then, when one ran. */
  ranMs: number | null
}

const msOf = (iso: string | undefined): number | null => {
  const t = iso ? Date.parse(iso) : NaN
  return Number.isFinite(t) ? t : null
}

function caseOf(incident: Incident): ReplayCase {
  const d = incident.decision ?? null
  const analysis = (incident.analysis ?? {}) as {
    proposed_fix?: { action: string; params?: Record<string, unknown> } | null
    risk_level?: RiskLevel
    confidence?: number
  }
  const decidedBy = incident.timeline.find((e) => e.stage === 'decided')?.actor
  const ran = incident.actions.find((a) => a.finishedAt && a.status !== 'skipped')
  const ranMs = ran ? Math.max(0, (msOf(ran.finishedAt) ?? 0) - (msOf(ran.startedAt) ?? 0)) : null
  const base = {
    incident: {
      id: incident.id,
      type: incident.type,
      resource: incident.resource,
      title: incident.title,
      status: incident.status,
      openedAt: incident.openedAt,
      alert: incident.alert,
    },
    decision: d,
    policyAt: msOf(d?.decidedAt) ?? msOf(incident.openedAt) ?? 0,
    ranMs,
  }
  if (!d) return { ...base, path: 'undecided', proposal: null }
  if (d.rule === 'docker-restart-policy') return { ...base, path: 'docker-restart-policy', proposal: null }
  if (decidedBy === FAST_PATH_ACTOR)
    return {
      ...base,
      path: 'fast-path',
      proposal: { actionId: 'restart_container', params: { containerId: incident.resource.id } },
    }
  const fix = analysis.proposed_fix
  return {
    ...base,
    path: 'flow',
    proposal: fix ? { actionId: fix.action, params: fix.params ?? {} } : null,
    ...(analysis.risk_level ? { analysisRisk: analysis.risk_level } : {}),
    ...(typeof analysis.confidence === 'number' ? { confidence: analysis.confidence } : {}),
  }
}

export interface ReplayedIncident {
  id: string
  openedAt: string
  title: string
  type: string
  resource: string
  then: { route: Decision['route'] | null; risk: RiskLevel | null; actionId: string | null; outcome: string }
  now: { route: Decision['route'] | null; risk: RiskLevel | null; actionId: string | null; reasons: string[] }
  changed: boolean
}

export interface ReplayTotals {
  incidents: number
  changed: number
  autoThen: number
  autoNow: number
  approvalThen: number
  approvalNow: number
  escalateThen: number
  escalateNow: number
  shadowNow: number
  deferNow: number
  /** Automatic fixes now that would wait for a slot (MAX_CONCURRENT_REMEDIATIONS, or _RECOVERIES per node). */
  waitNow: number
}

export interface ReplayResult {
  from: string
  to: string
  policy: EffectivePolicy
  incidents: ReplayedIncident[]
  totals: ReplayTotals
}

type Replayed = Pick<Decision, 'route' | 'risk' | 'actionId' | 'reasons'>

/** Runs cases through the policy in time order, sharing the simulated rate limit and slots. */
class Replayer {
  readonly rateLimit = new SimulatedRateLimit()
  readonly slots: SimulatedSlots
  /** Per node: starts of dead containers have a cap of their own (src/decide/deps.ts). */
  private readonly recoverySlots = new Map<string, SimulatedSlots>()
  private readonly config: PolicyConfig

  constructor(
    private readonly policy: EffectivePolicy,
    private readonly windows: FreezeWindow[],
    private readonly holdMs: number,
  ) {
    this.slots = new SimulatedSlots(policy.maxConcurrentRemediations)
    this.config = {
      ALLOWED_ACTIONS: policy.allowedActions,
      SHADOW_MODE: policy.shadowMode,
      CONFIDENCE_THRESHOLD: policy.confidenceThreshold,
      RATE_LIMIT_MAX_ACTIONS: policy.rateLimit.maxActions,
      RATE_LIMIT_WINDOW_SECONDS: policy.rateLimit.windowSeconds,
    }
  }

  private recoveryLane(node: string): SimulatedSlots {
    let slots = this.recoverySlots.get(node)
    if (!slots) this.recoverySlots.set(node, (slots = new SimulatedSlots(this.policy.maxConcurrentRecoveries)))
    return slots
  }

  async run(c: ReplayCase): Promise<{ decision: Replayed | null; waitMs: number }> {
    if (c.path === 'undecided') return { decision: null, waitMs: 0 }
    if (c.path === 'docker-restart-policy')
      return {
        decision: {
          route: 'defer',
          risk: 'low',
          actionId: null,
          reasons: [
            "Docker's own restart policy restarted the container then (read live from Docker): replay keeps that decision",
          ],
        },
        waitMs: 0,
      }
    const at = new Date(c.policyAt)
    const mismatch = c.proposal && targetMismatch(c.incident, c.proposal.actionId, c.proposal.params)
    const decision: Replayed = mismatch
      ? { route: 'escalate', risk: 'high', actionId: c.proposal!.actionId, reasons: [mismatch] }
      : await decide(
          { incident: c.incident, proposal: c.proposal, analysisRisk: c.analysisRisk, confidence: c.confidence },
          {
            config: this.config,
            takeRateLimit: async (actionId, resourceId, incidentId) =>
              this.rateLimit.take(
                actionId,
                resourceId,
                incidentId,
                this.config.RATE_LIMIT_MAX_ACTIONS,
                this.config.RATE_LIMIT_WINDOW_SECONDS,
                c.policyAt,
              ),
            activeFreeze: (now) => {
              const f = activeFreeze(now, this.windows)
              return f ? describeFreeze(f) : null
            },
            now: () => at,
            actionRisk: (id) => this.policy.risk[id],
          },
        )
    if (decision.route !== 'auto') return { decision, waitMs: 0 }
    const lane = slotLaneFor(c.incident, decision.actionId)
    const [slots, cap, what] =
      lane.kind === 'recovery'
        ? [this.recoveryLane(lane.node), this.policy.maxConcurrentRecoveries, `recovery slot on ${lane.node}`]
        : [this.slots, this.policy.maxConcurrentRemediations, 'remediation slot']
    const slot = slots.take(c.incident.id, c.policyAt, c.ranMs ?? this.holdMs)
    if (slot.waitMs <= 0) return { decision, waitMs: 0 }
    return {
      decision: {
        ...decision,
        reasons: [
          ...decision.reasons,
          `would wait about ${Math.ceil(slot.waitMs / 1000)} s for a ${what} (${slot.running} running, max ${cap})`,
        ],
      },
      waitMs: slot.waitMs,
    }
  }
}

/** Archived incidents opened in [fromMs, toMs], oldest first, page by page (documents parsed one page at a time). */
async function* archived(db: SqlClient, fromMs: number, toMs: number, limit: number): AsyncGenerator<Incident[]> {
  let after: { at: number; id: string } | null = null
  let left = limit
  while (left > 0) {
    const n = Math.min(PAGE, left)
    const rows: Array<{ doc: string; opened_at: number; id: string }> = after
      ? await db.all(
          `SELECT i.id, i.opened_at, d.doc FROM incidents i JOIN incident_docs d ON d.incident_id = i.id
           WHERE i.opened_at <= ? AND (i.opened_at > ? OR (i.opened_at = ? AND i.id > ?))
           ORDER BY i.opened_at, i.id LIMIT ?`,
          [toMs, after.at, after.at, after.id, n],
        )
      : await db.all(
          `SELECT i.id, i.opened_at, d.doc FROM incidents i JOIN incident_docs d ON d.incident_id = i.id
           WHERE i.opened_at >= ? AND i.opened_at <= ? ORDER BY i.opened_at, i.id LIMIT ?`,
          [fromMs, toMs, n],
        )
    if (!rows.length) return
    yield rows.map((r) => JSON.parse(r.doc) as Incident)
    const last = rows[rows.length - 1]
    after = { at: Number(last.opened_at), id: last.id }
    left -= rows.length
    if (rows.length < n) return
  }
}

const median = (xs: number[]): number | null => {
  if (!xs.length) return null
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)]
}

/** Replays the archived incidents of the request's period through the policy it describes. */
export async function replay(db: SqlClient, config: ConfigIn, req: ReplayRequest): Promise<ReplayResult> {
  const { policy, windows } = effectivePolicy(config, req)
  const cases: ReplayCase[] = []
  for await (const page of archived(db, req.fromMs, req.toMs, req.limit)) for (const i of page) cases.push(caseOf(i))
  // The state the period starts in: the incidents of the window before it, replayed unreported.
  const warmFrom = req.fromMs - policy.rateLimit.windowSeconds * 1000
  const warm: ReplayCase[] = []
  for await (const page of archived(db, warmFrom, req.fromMs - 1, MAX_LIMIT)) for (const i of page) warm.push(caseOf(i))
  const holdMs =
    median([...warm, ...cases].map((c) => c.ranMs).filter((x): x is number => x !== null)) ?? DEFAULT_HOLD_MS
  const replayer = new Replayer(policy, windows, holdMs)
  const byTime = (a: ReplayCase, b: ReplayCase) => a.policyAt - b.policyAt
  for (const c of [...warm].sort(byTime)) await replayer.run(c)
  const nowOf = new Map<string, { decision: Replayed | null; waitMs: number }>()
  for (const c of [...cases].sort(byTime)) nowOf.set(c.incident.id, await replayer.run(c))

  const totals: ReplayTotals = {
    incidents: cases.length,
    changed: 0,
    autoThen: 0,
    autoNow: 0,
    approvalThen: 0,
    approvalNow: 0,
    escalateThen: 0,
    escalateNow: 0,
    shadowNow: 0,
    deferNow: 0,
    waitNow: 0,
  }
  const incidents = cases.map((c): ReplayedIncident => {
    const { decision: now, waitMs } = nowOf.get(c.incident.id)!
    const then = c.decision
    const changed =
      !!then && !!now && (then.route !== now.route || then.risk !== now.risk || then.actionId !== now.actionId)
    if (changed) totals.changed++
    if (then?.route === 'auto') totals.autoThen++
    if (then?.route === 'approval') totals.approvalThen++
    if (then?.route === 'escalate') totals.escalateThen++
    if (now?.route === 'auto') totals.autoNow++
    if (now?.route === 'approval') totals.approvalNow++
    if (now?.route === 'escalate') totals.escalateNow++
    if (now?.route === 'shadow') totals.shadowNow++
    if (now?.route === 'defer') totals.deferNow++
    if (waitMs > 0) totals.waitNow++
    return {
      id: c.incident.id,
      openedAt: c.incident.openedAt,
      title: c.incident.title,
      type: c.incident.type,
      resource: c.incident.resource.name,
      then: {
        route: then?.route ?? null,
        risk: then?.risk ?? null,
        actionId: then?.actionId ?? null,
        outcome: c.incident.status,
      },
      now: now
        ? { route: now.route, risk: now.risk, actionId: now.actionId, reasons: now.reasons }
        : {
            route: null,
            risk: null,
            actionId: null,
            reasons: ['closed before the policy decided then: nothing to decide now either'],
          },
      changed,
    }
  })
  return { from: new Date(req.fromMs).toISOString(), to: new Date(req.toMs).toISOString(), policy, incidents, totals }
}

/** POST /api/replay's work (after parseReplayRequest): replays, and audits the run once (`replay.run`). */
export async function runReplay(
  req: ReplayRequest,
  actor: string,
  deps: { db: SqlClient; config: ConfigIn; audit: Pick<AuditLog, 'append'> },
): Promise<ReplayResult> {
  const result = await replay(deps.db, deps.config, req)
  await deps.audit.append({
    kind: 'replay.run',
    actor,
    outcome: `${result.totals.changed} of ${result.totals.incidents} changed`,
    data: {
      from: result.from,
      to: result.to,
      limit: req.limit,
      overrides: req.policy,
      totals: { ...result.totals },
    },
  })
  return result
}
