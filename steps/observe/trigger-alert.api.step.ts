import type { ApiRouteConfig } from 'motia'
import type { ApiStep } from '../../src/platform/events/steps'
import { protect } from '../../middlewares/api.middleware'
import { caller, parseBody, triggerAlertBody } from '../../src/platform/http/requests'
import { TOPICS } from '../../src/platform/events/topics'
import { triggerTestAlert } from '../../src/observe/trigger'
import { AuditLog } from '../../src/platform/store/audit'
import { IncidentStore } from '../../src/platform/store/incidents'

export const config = {
  type: 'api',
  name: 'TriggerTestAlert',
  description: 'Open an incident marked as a test and run it through the whole flow (admin)',
  path: '/api/trigger-alert',
  method: 'POST',
  emits: [TOPICS.opened],
  flows: ['sentinel'],
  middleware: protect('alert:test'),
  bodySchema: triggerAlertBody,
} satisfies ApiRouteConfig

export const handler: ApiStep<typeof config> = async (req, { emit }) => {
  const body = parseBody(config, req)
  const { keyId } = caller(req.headers)
  const incident = await triggerTestAlert(body, `key:${keyId}`, { store: new IncidentStore(), audit: new AuditLog() })
  await emit({ topic: TOPICS.opened, data: { incidentId: incident.id } })
  return { status: 202, body: { incidentId: incident.id, status: incident.status, test: true } }
}
