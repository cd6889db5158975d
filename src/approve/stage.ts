/**
 * The RequestApproval step's work, kept here so the step file is a thin wrapper and the logic is
 * testable without Motia: the pending approval is recorded (who may decide, until when) and asked
 * in Slack when it is configured.
 */
import { getConfig } from '../platform/config/index'
import { isTerminal } from '../platform/store/lifecycle'
import type { Incident } from '../platform/store/model'
import { stores } from '../platform/store/stores'
import { Approvals } from './approvals'
import { postApproval } from './slack/notify'

export async function requestApprovalStage(incidentId: string, actor: string): Promise<Incident> {
  const { redis, store, audit } = stores()
  const incident = await store.get(incidentId)
  if (!incident?.decision) throw new Error(`incident ${incidentId} has no decision to approve`)
  // Ended before the request was made (its alert cleared, a person closed it): nobody is asked.
  if (isTerminal(incident)) return incident
  const updated = await new Approvals(store, redis).request(
    incidentId,
    incident.decision,
    getConfig().APPROVAL_TIMEOUT_SECONDS * 1000,
    actor,
  )
  await audit.append({
    kind: 'approval.requested',
    actor,
    incidentId,
    resource: incident.resource.name,
    data: {
      approverRole: updated.approval?.approverRole,
      actionId: incident.decision.actionId,
      expiresAt: updated.approval?.expiresAt,
    },
  })
  await postApproval(updated, store, () => {})
  return (await store.get(incidentId)) ?? updated
}
