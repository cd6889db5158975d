import type { ApiRequest, ApiRouteConfig, FlowContext } from 'motia'
import { protect } from '../../middlewares/api.middleware'
import { parseOr400 } from '../../src/platform/http/errors'
import { caller, incidentIdPath } from '../../src/platform/http/requests'
import { manualRollback } from '../../src/verify/manual-rollback'
import { AuditLog } from '../../src/platform/store/audit'
import { IncidentStore } from '../../src/platform/store/incidents'

export const config: ApiRouteConfig = {
  type: 'api',
  name: 'RollbackIncident',
  description: "Roll back an incident's executed action (admin); 409 when there is nothing to roll back",
  path: '/api/incidents/:id/rollback',
  method: 'POST',
  emits: [],
  flows: ['sentinel'],
  middleware: protect('rollback'),
}

export const handler = async (req: ApiRequest, _ctx: FlowContext) => {
  const { id } = parseOr400(incidentIdPath, req.pathParams, 'path')
  const { keyId } = caller(req.headers)
  const incident = await manualRollback(id, `key:${keyId}`, { store: new IncidentStore(), audit: new AuditLog() })
  return { status: 200, body: { incidentId: id, actions: incident.actions } as Record<string, unknown> }
}
