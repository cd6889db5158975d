import type { ApiRequest, ApiRouteConfig, FlowContext } from 'motia'
import { protect } from '../../middlewares/api.middleware'
import { decideFromApi } from '../../src/approve/decide'
import { parseOr400 } from '../../src/platform/http/errors'
import { rejectBody, caller, incidentIdPath } from '../../src/platform/http/requests'
import { AuditLog } from '../../src/platform/store/audit'
import { IncidentStore } from '../../src/platform/store/incidents'

export const config: ApiRouteConfig = {
  type: 'api',
  name: 'RejectIncident',
  description: 'Reject the pending fix, with a reason. Deciding twice: 409',
  path: '/api/incidents/:id/reject',
  method: 'POST',
  emits: [],
  virtualSubscribes: ['approval.requested'],
  flows: ['sentinel'],
  middleware: protect('decide:low'),
  bodySchema: rejectBody,
}

export const handler = async (req: ApiRequest, { emit }: FlowContext<{ topic: string; data: { incidentId: string } }>) => {
  const { id } = parseOr400(incidentIdPath, req.pathParams, 'path')
  const body = parseOr400(rejectBody, req.body ?? {}, 'body')
  const who = caller(req.headers)
  const incident = await decideFromApi(id, { decision: 'reject', ...who, ...('reason' in body ? { reason: (body as { reason: string }).reason } : {}) }, { store: new IncidentStore(), audit: new AuditLog() })
  
  return { status: 200, body: { incidentId: id, status: incident.status, approval: incident.approval } as Record<string, unknown> }
}
