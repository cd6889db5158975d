/** Approve / reject an incident from the API (the dashboard uses the same endpoints). */
import { Approvals } from './approvals'
import type { AuditLog } from '../platform/store/audit'
import type { IncidentStore } from '../platform/store/incidents'
import type { Incident } from '../platform/store/model'
import { getRedis } from '../platform/store/redis'
import { notifyDecision } from './slack/notify'
import { HttpError, notFound } from '../platform/http/errors'
import type { Role } from '../platform/auth/roles'

export async function decideFromApi(
  incidentId: string,
  /** reason: why a fix is rejected; comment: the approver's note. Both are kept with the decision, in the timeline and in the audit log. */
  input: { decision: 'approve' | 'reject'; role: Role; keyId: string; reason?: string; comment?: string },
  deps: { store: IncidentStore; audit: AuditLog },
): Promise<Incident> {
  const by = `key:${input.keyId}`
  const r = await new Approvals(deps.store, getRedis()).decide(incidentId, {
    decision: input.decision,
    by,
    role: input.role,
    reason: input.reason,
    comment: input.comment,
  })
  if (r.kind === 'not_found') throw notFound(`incident ${incidentId}`)
  if (r.kind === 'not_pending')
    throw new HttpError(
      409,
      'already_decided',
      `incident ${incidentId} has no pending approval (it is ${r.status}); nothing changed`,
    )
  if (r.kind === 'forbidden')
    throw new HttpError(
      403,
      'forbidden',
      `this approval needs ${r.needed === 'admin' ? 'an admin' : 'an operator or an admin'}; your key is ${input.role}`,
    )
  await notifyDecision(r.incident, { decision: input.decision, by, reason: input.reason })
  await deps.audit.append({
    kind: `approval.${input.decision === 'approve' ? 'approved' : 'rejected'}`,
    actor: by,
    incidentId,
    resource: r.incident.resource.name,
    outcome: input.decision,
    data: {
      role: input.role,
      ...(input.reason ? { reason: input.reason } : {}),
      ...(input.comment ? { comment: input.comment } : {}),
    },
  })
  return r.incident
}
