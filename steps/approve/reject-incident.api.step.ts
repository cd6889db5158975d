import type { ApiRouteConfig } from 'motia'
import type { ApiStep } from '../../src/platform/events/steps'
import { protect } from '../../middlewares/api.middleware'
import { decideFromApi } from '../../src/approve/decide'
import { parseOr400 } from '../../src/platform/http/errors'
import { caller, incidentIdPath, parseBody, reasonBody } from '../../src/platform/http/requests'
import { TOPICS } from '../../src/platform/events/topics'
import { AuditLog } from '../../src/platform/store/audit'
import { IncidentStore } from '../../src/platform/store/incidents'

export const config = {
  type: 'api',
  name: 'RejectIncident',
  description: 'Reject the pending fix, with a reason. Deciding twice: 409',
  path: '/api/incidents/:id/reject',
  method: 'POST',
  emits: [],
  virtualSubscribes: [TOPICS.approvalRequested],
  flows: ['sentinel'],
  middleware: protect('decide:low'),
  bodySchema: reasonBody,
} satisfies ApiRouteConfig

export const handler: ApiStep<typeof config> = async (req) => {
  const { id } = parseOr400(incidentIdPath, req.pathParams, 'path')
  const { reason } = parseBody(config, req)
  const who = caller(req.headers)
  const incident = await decideFromApi(
    id,
    { decision: 'reject', ...who, reason },
    { store: new IncidentStore(), audit: new AuditLog() },
  )
  return { status: 200, body: { incidentId: id, status: incident.status, approval: incident.approval } }
}
