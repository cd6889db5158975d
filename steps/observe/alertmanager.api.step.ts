import type { ApiRequest, ApiRouteConfig, FlowContext } from 'motia'
import { protect } from '../../middlewares/api.middleware'
import { AlertmanagerPayloadError, mapAlertmanagerWebhook, parseAlertmanagerWebhook } from '../../src/alertmanager/index'
import { HttpError } from '../../src/api/errors'
import { applyAlerts } from '../../src/flow/observe'
import { AuditLog } from '../../src/store/audit'
import { IncidentStore } from '../../src/store/incidents'

export const config: ApiRouteConfig = {
  type: 'api',
  name: 'AlertmanagerIntake',
  description: "Alertmanager's webhook (version 4): firing alerts open or update incidents, resolved ones resolve them (operator key)",
  path: '/api/alerts/alertmanager',
  method: 'POST',
  emits: ['incident.opened'],
  flows: ['sentinel'],
  middleware: protect('decide:low'),
}

export const handler = async (req: ApiRequest, { emit }: FlowContext<{ topic: string; data: { incidentId: string } }>) => {
  let mapped
  try {
    mapped = mapAlertmanagerWebhook(parseAlertmanagerWebhook(req.rawBody || req.body))
  } catch (err) {
    if (err instanceof AlertmanagerPayloadError) throw new HttpError(err.status, err.status === 413 ? 'payload_too_large' : 'invalid_payload', err.message, { fields: err.issues })
    throw err
  }
  const out = await applyAlerts({ open: mapped.firing, resolve: mapped.resolved, flapping: [], actor: 'alertmanager' }, { store: new IncidentStore(), audit: new AuditLog() })
  for (const incidentId of out.opened) await emit({ topic: 'incident.opened', data: { incidentId } })
  return { status: 200, body: { ...out, truncatedAlerts: mapped.truncatedAlerts } }
}
