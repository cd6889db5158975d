/**
 * POST /api/alerts/alertmanager, served by the main process: an alert storm must not cost a step
 * process per webhook call. The body is read here with a size cap (before any parser), the key
 * is checked as on every API step, and the incidents go into the flow as `incident.opened`.
 */
import type { Express, Request, Response } from 'express'
import { AlertmanagerPayloadError, mapAlertmanagerWebhook, parseAlertmanagerWebhook } from '../alertmanager/index'
import { checkApiRequest } from '../api/auth-context'
import { applyAlerts } from '../flow/observe'
import type { AuditLog } from '../store/audit'
import type { IncidentStore } from '../store/incidents'
import { isStoreUnavailable, STORE_RETRY_AFTER_SECONDS, storeUnavailableBody } from '../store/unavailable'
import { logTo } from '../telemetry/log'

export const ALERTMANAGER_PATH = '/api/alerts/alertmanager'
const MAX_BYTES = 1024 * 1024

function readBody(req: Request, limit: number): Promise<string | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    let over = false
    req.on('data', (c: Buffer) => {
      size += c.length
      if (size > limit) over = true
      else chunks.push(c)
    })
    req.on('end', () => resolve(over ? null : Buffer.concat(chunks).toString('utf8')))
    req.on('error', reject)
  })
}

const log = logTo('alertmanager')

export function mountAlertmanager(
  app: Express,
  deps: { store: IncidentStore; audit: AuditLog; emit: (topic: string, data: Record<string, unknown>, traceId: string) => Promise<void> },
): void {
  app.post(ALERTMANAGER_PATH, async (req: Request, res: Response) => {
    try {
      const auth = await checkApiRequest(req.headers, 'decide:low')
      if (auth.status !== 200) {
        if (auth.retryAfter) res.setHeader('Retry-After', String(auth.retryAfter))
        req.resume()
        res.status(auth.status).json({ error: auth.error, message: auth.message })
        return
      }
      const raw = await readBody(req, MAX_BYTES)
      if (raw === null) {
        res.status(413).json({ error: 'payload_too_large', message: `Alertmanager payloads are limited to ${MAX_BYTES} bytes` })
        return
      }
      let mapped
      try {
        mapped = mapAlertmanagerWebhook(parseAlertmanagerWebhook(raw, { maxBytes: MAX_BYTES }))
      } catch (err) {
        if (err instanceof AlertmanagerPayloadError) {
          res.status(err.status).json({ error: err.status === 413 ? 'payload_too_large' : 'invalid_payload', message: err.message, details: { fields: err.issues } })
          return
        }
        throw err
      }
      const out = await applyAlerts({ open: mapped.firing, resolve: mapped.resolved, flapping: [], actor: 'alertmanager' }, deps)
      for (const incidentId of out.opened) await deps.emit('incident.opened', { incidentId }, incidentId)
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
