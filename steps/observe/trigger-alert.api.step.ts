import type { ApiRequest, ApiRouteConfig, FlowContext } from 'motia'
import { protect } from '../../middlewares/api.middleware'
import { parseOr400 } from '../../src/platform/http/errors'
import { caller, triggerAlertBody } from '../../src/platform/http/requests'
import { triggerTestAlert } from '../../src/observe/trigger'
import { AuditLog } from '../../src/platform/store/audit'
import { IncidentStore } from '../../src/platform/store/incidents'

export const config: ApiRouteConfig = {
  type: 'api',
  name: 'TriggerTestAlert',
  description: 'Open an incident marked as a test and run it through the whole flow (admin)',
  path: '/api/trigger-alert',
  method: 'POST',
  emits: ['incident.opened'],
  flows: ['sentinel'],
  middleware: protect('alert:test'),
  bodySchema: triggerAlertBody,
}

export const handler = async (req: ApiRequest, { emit }: FlowContext<{ topic: string; data: { incidentId: string } }>) => {
  const body = parseOr400(triggerAlertBody, req.body, 'body')
  const { keyId } = caller(req.headers)
  const incident = await triggerTestAlert(body, `key:${keyId}`, { store: new IncidentStore(), audit: new AuditLog() })
  await emit({ topic: 'incident.opened', data: { incidentId: incident.id } })
  return { status: 202, body: { incidentId: incident.id, status: incident.status, test: true } }
}
