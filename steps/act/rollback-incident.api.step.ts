import type { ApiRouteConfig } from 'motia'
import type { ApiStep } from '../../src/platform/events/steps'
import { protect } from '../../middlewares/api.middleware'
import { parseOr400 } from '../../src/platform/http/errors'
import { caller, incidentIdPath } from '../../src/platform/http/requests'
import { manualRollback } from '../../src/verify/manual-rollback'
import { AuditLog } from '../../src/platform/store/audit'
import { IncidentStore } from '../../src/platform/store/incidents'

export const config = {
  type: 'api',
  name: 'RollbackIncident',
  description: "Roll back an incident's executed action (admin); 409 when there is nothing to roll back",
  path: '/api/incidents/:id/rollback',
  method: 'POST',
  emits: [],
  flows: ['sentinel'],
  middleware: protect('rollback'),
} satisfies ApiRouteConfig

export const handler: ApiStep<typeof config> = async (req) => {
  const { id } = parseOr400(incidentIdPath, req.pathParams, 'path')
  const { keyId } = caller(req.headers)
  const incident = await manualRollback(id, `key:${keyId}`, { store: new IncidentStore(), audit: new AuditLog() })
  return { status: 200, body: { incidentId: id, actions: incident.actions } }
}
