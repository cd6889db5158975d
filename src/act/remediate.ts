/**
 * Runs the decided action of an incident exactly once: the execution is claimed (keyed by incident
 * and action) before it runs and finished after. Used by the main process's fast path and by the
 * ExecuteRemediation step; both end by emitting `incident.acted` for verification. Nothing runs,
 * and nothing is claimed, unless the incident as stored allows it (authorize-execution.ts): a
 * refusal is audited and final.
 */
import type { ActionDefinition } from '../actions/types'
import type { ContainerInfo } from '../platform/docker/client'
import type { AuditLog } from '../platform/store/audit'
import type { ExecutionStore } from '../platform/store/executions'
import type { IncidentStore } from '../platform/store/incidents'
import { isTerminal, recordActionResult, startRemediation, TransitionRefused } from '../platform/store/lifecycle'
import type { Incident } from '../platform/store/model'
import { withChildSpan } from '../platform/telemetry/tracing'
import { authorizeExecution, type RefusalCode } from './authorize-execution'
import { nodeOfAlert, runActionOp } from '../actions/on-node'
import { type RemediationSlots, slotLaneFor } from '../decide/deps'
import type { ActionContext } from '../actions/types'

export interface RemediateDeps {
  store: IncidentStore
  executions: ExecutionStore
  audit: AuditLog
  actor: string
  /** How long a claim by another worker is trusted before it is taken over. */
  leaseMs: number
  /** The caps on actions running at once (src/decide/deps.ts); without them there is none. */
  slots?: RemediationSlots
  /**
   * An inspect of the target taken moments ago (the fast path's, of the container that died):
   * the snapshot is made from it when the action can (snapshotOf), saving a read that on a remote
   * node is a round trip through its agent.
   */
  targetInspect?: ContainerInfo
  /**
   * The term of the duty the action was decided under (src/platform/lease/): checked before the
   * claim and again just before the action runs, so a controller that lost its lease (paused, cut
   * off) never acts. Absent: the flow's steps, which any controller may run (each event once).
   */
  fence?: { duty: string; token: number; check(): Promise<void> }
}

/**
 * How long a claim by another worker is trusted before it is taken over, for the fast path and the
 * ExecuteRemediation step alike (the two used to differ: the restart's timeout + 5 s in the fast
 * path, 30 s more in the step). The longer one: a claim taken over while its worker is still
 * running the action runs the action twice, which the claim exists to prevent; a lease longer than
 * needed only delays taking over from a worker that died. An action's run is bounded by
 * RESTART_TIMEOUT_SECONDS (docker start / restart) plus its snapshot and verification reads, which
 * the 30 s cover.
 */
export function remediationLeaseMs(cfg: { RESTART_TIMEOUT_SECONDS: number }): number {
  return (cfg.RESTART_TIMEOUT_SECONDS + 5) * 1000 + 30_000
}

export type RemediateOutcome =
  | { kind: 'executed'; incident: Incident; result: Record<string, unknown> }
  | { kind: 'failed'; incident: Incident; error: string }
  | { kind: 'already-done'; incident: Incident }
  | { kind: 'in-progress-elsewhere'; incident: Incident; retryInMs: number }
  | { kind: 'busy'; incident: Incident; retryInMs: number }
  | { kind: 'not-applicable'; incident: Incident; reason: string }
  | { kind: 'refused'; incident: Incident | null; code: RefusalCode; reason: string }

/** The incident's node for its audit entries (absent on incidents from before the fleet). */
const nodeField = (i: Incident): { node?: string } => {
  const node = nodeOfAlert(i.alert)
  return node ? { node } : {}
}

const BUSY_RETRY_MIN_MS = 150
const BUSY_RETRY_JITTER_MS = 250

export async function remediate(incidentId: string, deps: RemediateDeps): Promise<RemediateOutcome> {
  const stored = await deps.store.get(incidentId)
  const verdict = authorizeExecution(stored)
  if (!verdict.allowed) {
    await deps.audit.append({
      kind: 'action.refused',
      actor: deps.actor,
      incidentId,
      ...(stored ? { resource: stored.resource.name } : {}),
      outcome: verdict.code,
      data: {
        reason: verdict.reason,
        actionId: stored?.decision?.actionId ?? null,
        route: stored?.decision?.route ?? null,
        approval: stored?.approval?.status ?? null,
        status: stored?.status ?? null,
      },
    })
    return { kind: 'refused', incident: stored, code: verdict.code, reason: verdict.reason }
  }
  const { incident, action, params } = verdict
  // Authorised, but over already (a duplicate or late event for a finished incident).
  if (isTerminal(incident)) return { kind: 'not-applicable', incident, reason: `incident is ${incident.status}` }
  const ctx = { incidentId, actor: deps.actor, since: incident.alert.at, node: nodeOfAlert(incident.alert) }

  if (deps.fence) {
    const fenced = await refuseIfFenced(deps.fence, incident, action.id, deps)
    if (fenced) return fenced
  }
  const lane = slotLaneFor(incident, action.id)
  if (deps.slots && !(await deps.slots.acquire(incidentId, lane))) {
    // A slot is held for one action's run (a few hundred ms for a restart): a flat 2 s wait left a
    // burst of 30 deaths restarted two per 2 s (bench:fleet -- --burst 30). Retried soon, with
    // jitter so the waiting incidents do not all ask at the same moment.
    return { kind: 'busy', incident, retryInMs: BUSY_RETRY_MIN_MS + Math.floor(Math.random() * BUSY_RETRY_JITTER_MS) }
  }
  try {
    return await runClaimed(incident, action, params, ctx, deps)
  } finally {
    await deps.slots?.release(incidentId, lane)
  }
}

/** Audits and refuses an action whose duty's term is over; null while the term holds. */
async function refuseIfFenced(
  fence: NonNullable<RemediateDeps['fence']>,
  incident: Incident,
  actionId: string,
  deps: RemediateDeps,
): Promise<Extract<RemediateOutcome, { kind: 'refused' }> | null> {
  try {
    await fence.check()
    return null
  } catch (err) {
    const reason = (err as Error).message
    await deps.audit.append({
      kind: 'action.fenced',
      actor: deps.actor,
      incidentId: incident.id,
      resource: incident.resource.name,
      ...nodeField(incident),
      outcome: 'fenced',
      data: { actionId, duty: fence.duty, token: fence.token, reason },
    })
    return { kind: 'refused', incident, code: 'fenced', reason }
  }
}

async function runClaimed(
  incident: Incident,
  action: ActionDefinition,
  params: Record<string, unknown>,
  ctx: ActionContext & { since: string },
  deps: RemediateDeps,
): Promise<RemediateOutcome> {
  const { store, executions, audit, actor } = deps
  const incidentId = incident.id
  const existing = await executions.claim(incidentId, action.id, actor)
  if (existing) {
    if (existing.status !== 'started') return { kind: 'already-done', incident }
    const age = Date.now() - Date.parse(existing.startedAt)
    if (existing.owner !== actor && age < deps.leaseMs) {
      return { kind: 'in-progress-elsewhere', incident, retryInMs: deps.leaseMs - age }
    }
    // A claim left 'started' by a worker that died: the action is idempotent against `since`,
    // so running it again does nothing when the first run got through.
  }

  let snapshot: Record<string, unknown> = {}
  try {
    snapshot =
      (deps.targetInspect && action.snapshotOf?.(params, deps.targetInspect)) ||
      (await runActionOp('snapshot', action, params, ctx))
  } catch (err) {
    snapshot = { error: `snapshot failed: ${(err as Error).message}` }
  }
  // Again at the point of action: the reads above may have outlasted the term. The claim stays
  // 'started' under the same actor, so the duty's new leader runs the action when it gets here.
  if (deps.fence) {
    const fenced = await refuseIfFenced(deps.fence, incident, action.id, deps)
    if (fenced) return fenced
  }
  const startedAt = new Date().toISOString()
  try {
    incident = await store.update(incidentId, (i) =>
      startRemediation(i, { actionId: action.id, params, snapshot, startedAt }),
    )
  } catch (err) {
    if (!(err instanceof TransitionRefused)) throw err
    // Ended between the authorisation and now (its alert cleared, a person closed it): not run.
    await executions.finish(incidentId, action.id, { status: 'failed', error: `not run: ${err.message}` })
    const current = (await store.get(incidentId)) ?? incident
    return { kind: 'not-applicable', incident: current, reason: `incident is ${current.status}` }
  }

  try {
    const spanAttrs = {
      'incident.id': incidentId,
      'alert.type': incident.type,
      action: action.id,
      risk: incident.decision?.risk,
    }
    const result = await withChildSpan('action.execute', spanAttrs, async (span) => {
      try {
        const r = await runActionOp('execute', action, params, ctx)
        span.setAttributes({ outcome: 'succeeded', 'action.performed': String(r.performed ?? 'done') })
        return r
      } catch (err) {
        span.setAttribute('outcome', 'failed')
        throw err
      }
    })
    await executions.finish(incidentId, action.id, { status: 'succeeded', result })
    incident = await store.update(incidentId, (i) =>
      recordActionResult(i, { actionId: action.id, params, actor, ok: true, result }),
    )
    await audit.append({
      kind: 'action.executed',
      actor,
      incidentId,
      resource: incident.resource.name,
      ...nodeField(incident),
      outcome: 'succeeded',
      data: { actionId: action.id, params, result },
    })
    return { kind: 'executed', incident, result }
  } catch (err) {
    const error = (err as Error).message
    await executions.finish(incidentId, action.id, { status: 'failed', error })
    incident = await store.update(incidentId, (i) =>
      recordActionResult(i, { actionId: action.id, params, actor, ok: false, error }),
    )
    await audit.append({
      kind: 'action.executed',
      actor,
      incidentId,
      resource: incident.resource.name,
      ...nodeField(incident),
      outcome: 'failed',
      data: { actionId: action.id, params, error },
    })
    return { kind: 'failed', incident, error }
  }
}
