/**
 * Runs the decided action of an incident exactly once: the execution is claimed (keyed by incident
 * and action) before it runs and finished after. Used by the main process's fast path and by the
 * ExecuteRemediation step; both end by emitting `incident.acted` for verification. Nothing runs,
 * and nothing is claimed, unless the incident as stored allows it (authorize-execution.ts): a
 * refusal is audited and final.
 */
import type { ActionDefinition } from '../actions/types'
import type { AuditLog } from '../platform/store/audit'
import type { ExecutionStore } from '../platform/store/executions'
import { type IncidentStore, isTerminal } from '../platform/store/incidents'
import type { Incident } from '../platform/store/model'
import { withChildSpan } from '../platform/telemetry/tracing'
import { authorizeExecution, type RefusalCode } from './authorize-execution'

export interface RemediateDeps {
  store: IncidentStore
  executions: ExecutionStore
  audit: AuditLog
  actor: string
  /** How long a claim by another worker is trusted before it is taken over. */
  leaseMs: number
  /** The cap on remediations running at once; without it there is none. */
  slots?: { acquire(incidentId: string): Promise<boolean>; release(incidentId: string): Promise<void> }
}

export type RemediateOutcome =
  | { kind: 'executed'; incident: Incident; result: Record<string, unknown> }
  | { kind: 'failed'; incident: Incident; error: string }
  | { kind: 'already-done'; incident: Incident }
  | { kind: 'in-progress-elsewhere'; incident: Incident; retryInMs: number }
  | { kind: 'busy'; incident: Incident; retryInMs: number }
  | { kind: 'not-applicable'; incident: Incident; reason: string }
  | { kind: 'refused'; incident: Incident | null; code: RefusalCode; reason: string }

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
      data: { reason: verdict.reason, actionId: stored?.decision?.actionId ?? null, route: stored?.decision?.route ?? null, approval: stored?.approval?.status ?? null, status: stored?.status ?? null },
    })
    return { kind: 'refused', incident: stored, code: verdict.code, reason: verdict.reason }
  }
  const { incident, action, params } = verdict
  // Authorised, but over already (a duplicate or late event for a finished incident).
  if (isTerminal(incident)) return { kind: 'not-applicable', incident, reason: `incident is ${incident.status}` }
  const ctx = { incidentId, actor: deps.actor, since: incident.alert.at }

  if (deps.slots && !(await deps.slots.acquire(incidentId))) {
    return { kind: 'busy', incident, retryInMs: 2000 }
  }
  try {
    return await runClaimed(incident, action, params, ctx, deps)
  } finally {
    await deps.slots?.release(incidentId)
  }
}

async function runClaimed(
  incident: Incident,
  action: ActionDefinition,
  params: Record<string, unknown>,
  ctx: { incidentId: string; actor: string; since: string },
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
    snapshot = await action.snapshot(params, ctx)
  } catch (err) {
    snapshot = { error: `snapshot failed: ${(err as Error).message}` }
  }
  const startedAt = new Date().toISOString()
  incident = await store.update(incidentId, (i) => {
    i.status = 'remediating'
    i.snapshots = [...(i.snapshots ?? []), { actionId: action.id, at: startedAt, before: snapshot }]
    i.actions = i.actions.filter((a) => !(a.actionId === action.id && a.status === 'started'))
    i.actions.push({ actionId: action.id, params, status: 'started', startedAt })
  })

  try {
    const spanAttrs = { 'incident.id': incidentId, 'alert.type': incident.type, action: action.id, risk: incident.decision?.risk }
    const result = await withChildSpan('action.execute', spanAttrs, async (span) => {
      try {
        const r = await action.execute(params, ctx)
        span.setAttributes({ outcome: 'succeeded', 'action.performed': String(r.performed ?? 'done') })
        return r
      } catch (err) {
        span.setAttribute('outcome', 'failed')
        throw err
      }
    })
    await executions.finish(incidentId, action.id, { status: 'succeeded', result })
    incident = await store.update(incidentId, (i) => {
      const rec = i.actions.find((a) => a.actionId === action.id && a.status === 'started')
      if (rec) Object.assign(rec, { status: 'succeeded', finishedAt: new Date().toISOString(), result })
      i.status = 'verifying'
      i.timeline.push({
        stage: 'acted',
        at: new Date().toISOString(),
        actor,
        summary: `${action.id}: ${String(result.performed ?? 'done')}`,
        data: { actionId: action.id, params, result },
      })
    })
    await audit.append({ kind: 'action.executed', actor, incidentId, resource: incident.resource.name, outcome: 'succeeded', data: { actionId: action.id, params, result } })
    return { kind: 'executed', incident, result }
  } catch (err) {
    const error = (err as Error).message
    await executions.finish(incidentId, action.id, { status: 'failed', error })
    incident = await store.update(incidentId, (i) => {
      const rec = i.actions.find((a) => a.actionId === action.id && a.status === 'started')
      if (rec) Object.assign(rec, { status: 'failed', finishedAt: new Date().toISOString(), error })
      i.status = 'escalated'
      i.timeline.push({ stage: 'acted', at: new Date().toISOString(), actor, summary: `${action.id} failed: ${error}`, data: { actionId: action.id, error } })
      i.timeline.push({ stage: 'escalated', at: new Date().toISOString(), actor, summary: 'the fix failed; an admin must look', data: { approverRole: 'admin' } })
    })
    await audit.append({ kind: 'action.executed', actor, incidentId, resource: incident.resource.name, outcome: 'failed', data: { actionId: action.id, params, error } })
    return { kind: 'failed', incident, error }
  }
}
