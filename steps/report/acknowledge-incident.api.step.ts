import type { ApiRouteConfig } from 'motia'
import type { ApiStep } from '../../src/platform/events/steps'
import { protect } from '../../middlewares/api.middleware'
import { acknowledgeBody, acknowledgeIncident } from '../../src/approve/acknowledge'
import { parseOr400 } from '../../src/platform/http/errors'
import { caller, incidentIdPath, parseBody } from '../../src/platform/http/requests'
import { AuditLog } from '../../src/platform/store/audit'
import { IncidentStore } from '../../src/platform/store/incidents'

export const config = {
  type: 'api',
  name: 'AcknowledgeIncident',
  description:
    'A person takes the incident: recorded with who and when, it stops re-paging and the paging services are told. Twice: 409 naming who has it',
  path: '/api/incidents/:id/ack',
  method: 'POST',
  emits: [],
  flows: ['sentinel'],
  middleware: protect('acknowledge'),
  bodySchema: acknowledgeBody,
} satisfies ApiRouteConfig

export const handler: ApiStep<typeof config> = async (req) => {
  const { id } = parseOr400(incidentIdPath, req.pathParams, 'path')
  const { comment } = parseBody(config, req)
  const { keyId, role } = caller(req.headers)
  const incident = await acknowledgeIncident(
    id,
    { user: `key:${keyId}`, role },
    { comment, via: 'api' },
    { store: new IncidentStore(), audit: new AuditLog() },
  )
  return {
    status: 200,
    body: { incidentId: id, acknowledgement: incident.acknowledgement, status: incident.status },
  }
}
