/**
 * POST /api/alerts/alertmanager, served by the main process: an alert storm must not cost a step
 * process per webhook call. The front door read the body within its cap; the key is checked as on
 * every API route, and the incidents go into the flow as `incident.opened`.
 */
import type { Request, Response, Router } from 'express'
import { AlertmanagerPayloadError, mapAlertmanagerWebhook, parseAlertmanagerWebhook } from '../../observe/alertmanager'
import { checkApiRequest } from '../../platform/http/auth-context'
import { applyAlerts } from '../../observe/intake'
import type { AuditLog } from '../../platform/store/audit'
import type { IncidentStore } from '../../platform/store/incidents'
import { type FlowEmit, TOPICS } from '../../platform/events/topics'
import { isStoreUnavailable, STORE_RETRY_AFTER_SECONDS, storeUnavailableBody } from '../../platform/store/unavailable'
import { logTo } from '../../platform/telemetry/log'
import { BodyError, parseJsonBody } from '../../platform/http/body'
import { rawBodyOf } from './front-door'

export const ALERTMANAGER_PATH = '/api/alerts/alertmanager'

const log = logTo('alertmanager')

export function mountAlertmanager(app: Router, deps: { store: IncidentStore; audit: AuditLog; emit: FlowEmit }): void {
  app.post(ALERTMANAGER_PATH, async (req: Request, res: Response) => {
    try {
      const auth = await checkApiRequest(req.headers, 'decide:low')
      if (auth.status !== 200) {
        if (auth.retryAfter) res.setHeader('Retry-After', String(auth.retryAfter))
        res.status(auth.status).json({ error: auth.error, message: auth.message })
        return
      }
      // The front door read the body, within MAX_BODY_BYTES.
      const raw = rawBodyOf(req)
      let mapped
      try {
        mapped = mapAlertmanagerWebhook(
          parseAlertmanagerWebhook(parseJsonBody(raw, req.headers['content-type']), { maxBytes: raw.length + 1 }),
        )
      } catch (err) {
        if (err instanceof BodyError) {
          res.status(err.status).json({ error: err.code, message: err.message })
          return
        }
        if (err instanceof AlertmanagerPayloadError) {
          res.status(err.status).json({
            error: err.status === 413 ? 'payload_too_large' : 'invalid_payload',
            message: err.message,
            details: { fields: err.issues },
          })
          return
        }
        throw err
      }
      const out = await applyAlerts(
        { open: mapped.firing, resolve: mapped.resolved, flapping: [], actor: 'alertmanager' },
        deps,
      )
      for (const incidentId of out.opened) await deps.emit(TOPICS.opened, { incidentId }, incidentId)
      res.status(200).json({ ...out, truncatedAlerts: mapped.truncatedAlerts })
    } catch (err) {
      // A 5xx makes Alertmanager send the notification again: an unreachable store loses nothing.
      if (isStoreUnavailable(err)) {
        log('warn', 'Alertmanager webhook refused: the store is unreachable', { error: (err as Error).message })
        res.setHeader('Retry-After', String(STORE_RETRY_AFTER_SECONDS))
        res.status(503).json(storeUnavailableBody)
        return
      }
      log('error', 'Alertmanager webhook failed', { error: (err as Error).message })
      res.status(500).json({ error: 'internal_error', message: 'the webhook failed inside Sentinel; see its logs' })
    }
  })
}
