/** Manual rollback of an incident's executed action (admin). */
import { getAction } from '../actions/catalog'
import type { AuditLog } from '../platform/store/audit'
import type { IncidentStore } from '../platform/store/incidents'
import { claimRollback, recordRollback, releaseRollback } from '../platform/store/lifecycle'
import type { Incident } from '../platform/store/model'
import { HttpError, notFound } from '../platform/http/errors'
import { nodeOfAlert, runActionOp } from '../actions/on-node'

export async function manualRollback(
  incidentId: string,
  by: string,
  deps: { store: IncidentStore; audit: AuditLog },
): Promise<Incident> {
  const incident = await deps.store.get(incidentId)
  if (!incident) throw notFound(`incident ${incidentId}`)
  const executed = [...incident.actions].reverse().find((a) => a.status === 'succeeded')
  if (!executed)
    throw new HttpError(409, 'nothing_to_roll_back', `incident ${incidentId} has no executed action to roll back`)
  const action = getAction(executed.actionId)
  if (!action?.rollback) throw new HttpError(409, 'not_reversible', `${executed.actionId} cannot be rolled back`)
  // Set when what the rollback would restore is gone (clean_sandbox's quarantine deleted to free a disk).
  if (executed.result?.reversible === false)
    throw new HttpError(
      409,
      'not_reversible',
      `${executed.actionId} cannot be rolled back any more: ${String(executed.result.notReversibleWhy ?? 'its undo is gone')}`,
    )
  // Claim the rollback on the incident first, so two admins clicking at once roll back once.
  const match = { actionId: executed.actionId, startedAt: executed.startedAt }
  let claimed = false
  await deps.store.update(incidentId, (i) => (claimed = claimRollback(i, match)))
  if (!claimed) throw new HttpError(409, 'already_rolled_back', `the action of ${incidentId} was rolled back already`)
  try {
    const result = await runActionOp(
      'rollback',
      action,
      executed.params,
      { incidentId, actor: by, since: incident.alert.at, node: nodeOfAlert(incident.alert) },
      executed.result ?? {},
    )
    await deps.audit.append({
      kind: 'action.rolled_back',
      actor: by,
      incidentId,
      resource: incident.resource.name,
      outcome: 'succeeded',
      data: { actionId: action.id, manual: true, result },
    })
    return deps.store.update(incidentId, (i) =>
      recordRollback(i, { ...match, ok: true, actor: by, summary: `${action.id} rolled back by ${by}`, data: result }),
    )
  } catch (err) {
    await deps.store.update(incidentId, (i) => releaseRollback(i, match))
    await deps.audit.append({
      kind: 'action.rolled_back',
      actor: by,
      incidentId,
      resource: incident.resource.name,
      outcome: 'failed',
      data: { actionId: action.id, manual: true, error: (err as Error).message },
    })
    throw new HttpError(502, 'rollback_failed', `rollback of ${action.id} failed: ${(err as Error).message}`)
  }
}
