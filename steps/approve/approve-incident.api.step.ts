import type { ApiRouteConfig } from 'motia'
import type { ApiStep } from '../../src/platform/events/steps'
import { protect } from '../../middlewares/api.middleware'
import { decideFromApi } from '../../src/approve/decide'
import { parseOr400 } from '../../src/platform/http/errors'
import { approveBody, caller, incidentIdPath, parseBody } from '../../src/platform/http/requests'
import { TOPICS } from '../../src/platform/events/topics'
import { AuditLog } from '../../src/platform/store/audit'
import { IncidentStore } from '../../src/platform/store/incidents'

export const config = {
  type: 'api',
  name: 'ApproveIncident',
  description:
    'Approve the pending fix (operator: medium risk; admin: any), with an optional comment kept with the decision. Deciding twice: 409',
  path: '/api/incidents/:id/approve',
  method: 'POST',
  emits: [TOPICS.remediationApproved],
  virtualSubscribes: [TOPICS.approvalRequested],
  flows: ['sentinel'],
  middleware: protect('decide:low'),
  bodySchema: approveBody,
} satisfies ApiRouteConfig

export const handler: ApiStep<typeof config> = async (req, { emit }) => {
  const { id } = parseOr400(incidentIdPath, req.pathParams, 'path')
  const { comment } = parseBody(config, req)
  const who = caller(req.headers)
  const incident = await decideFromApi(
    id,
    { decision: 'approve', ...who, comment },
    { store: new IncidentStore(), audit: new AuditLog() },
  )
  await emit({ topic: TOPICS.remediationApproved, data: { incidentId: id } })
  return { status: 200, body: { incidentId: id, status: incident.status, approval: incident.approval } }
}
