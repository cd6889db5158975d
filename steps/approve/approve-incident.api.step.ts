import type { ApiRequest, ApiRouteConfig, FlowContext } from 'motia'
import { protect } from '../../middlewares/api.middleware'
import { decideFromApi } from '../../src/approve/decide'
import { parseOr400 } from '../../src/platform/http/errors'
import { approveBody, caller, incidentIdPath } from '../../src/platform/http/requests'
import { AuditLog } from '../../src/platform/store/audit'
import { IncidentStore } from '../../src/platform/store/incidents'

export const config: ApiRouteConfig = {
  type: 'api',
  name: 'ApproveIncident',
  description: 'Approve the pending fix (operator: medium risk; admin: any). Deciding twice: 409',
  path: '/api/incidents/:id/approve',
  method: 'POST',
  emits: ['remediation.approved'],
  virtualSubscribes: ['approval.requested'],
  flows: ['sentinel'],
  middleware: protect('decide:low'),
  bodySchema: approveBody,
}

export const handler = async (req: ApiRequest, { emit }: FlowContext<{ topic: string; data: { incidentId: string } }>) => {
  const { id } = parseOr400(incidentIdPath, req.pathParams, 'path')
  const body = parseOr400(approveBody, req.body ?? {}, 'body')
  const who = caller(req.headers)
  const incident = await decideFromApi(id, { decision: 'approve', ...who, ...('reason' in body ? { reason: (body as { reason: string }).reason } : {}) }, { store: new IncidentStore(), audit: new AuditLog() })
  await emit({ topic: 'remediation.approved', data: { incidentId: id } })
  return { status: 200, body: { incidentId: id, status: incident.status, approval: incident.approval } as Record<string, unknown> }
}
