/**
 * A local stand-in for PagerDuty's Events API v2 (POST /v2/enqueue), for tests: a real HTTP server
 * on 127.0.0.1 that checks events the way the documented API does and answers as it does
 * (202 `{status:"success", message:"Event processed", dedup_key}`, 400
 * `{status:"invalid event", message:"Event object is invalid", errors:[…]}`), keeps the alerts'
 * state per dedup_key (triggered, acknowledged, resolved; a trigger after a resolve opens a new
 * alert; an acknowledge or resolve with no open alert is dropped, as PagerDuty drops it), records
 * every request, counts repeats of an idempotency key (`payload.custom_details.sentinel_idempotency_key`)
 * and can fail the next N requests with a chosen status and Retry-After.
 */
import { randomUUID } from 'node:crypto'
import http from 'node:http'
import type { AddressInfo } from 'node:net'

export interface PagerdutyEventRecord {
  at: number
  /** The body as received (parsed when it was JSON). */
  body: any
  /** The answer given. */
  status: number
  errors?: string[]
  /** What the event did to the alert: `created`, `deduplicated`, `acknowledged`, `resolved`, `dropped`. */
  effect?: string
}

export interface PagerdutyAlert {
  dedupKey: string
  status: 'triggered' | 'acknowledged' | 'resolved'
  /** Trigger events applied to it (the first included). */
  triggers: number
  summary: string
  severity: string
  routingKey: string
  /** Its alerts before it with the same dedup_key, resolved. */
  generation: number
}

export interface PagerdutyStandIn {
  /** The Events API URL: `http://127.0.0.1:<port>/v2/enqueue`. */
  url: string
  /** Every request, accepted or not. */
  events: PagerdutyEventRecord[]
  /** The accepted events (202), in order. */
  accepted(): any[]
  /** The current alert for a dedup_key (the latest generation). */
  alert(dedupKey: string): PagerdutyAlert | undefined
  alerts: PagerdutyAlert[]
  /** Accepted events per idempotency key. */
  keys: Map<string, number>
  /** How many accepted events repeated an idempotency key already seen. */
  duplicates(): number
  /** The next `times` requests answer `status` (429 by default) with Retry-After when given. */
  failNext(times: number, status?: number, retryAfter?: string): void
  close(): Promise<void>
}

const ACTIONS = ['trigger', 'acknowledge', 'resolve']
const SEVERITIES = ['critical', 'error', 'warning', 'info']
const isText = (v: unknown): v is string => typeof v === 'string' && v.trim().length > 0

/** The problems PagerDuty would report for an event; empty when it is valid. */
export function pagerdutyEventErrors(e: any): string[] {
  const errors: string[] = []
  if (!e || typeof e !== 'object' || Array.isArray(e)) return ['Event object is not a JSON object']
  if (typeof e.routing_key !== 'string' || !e.routing_key) errors.push("'routing_key' is missing or blank")
  else if (e.routing_key.length !== 32) errors.push("Length of 'routing_key' is incorrect (should be 32 characters)")
  if (!ACTIONS.includes(e.event_action))
    errors.push("'event_action' is invalid (must be one of the following: 'trigger', 'acknowledge' or 'resolve')")
  if (e.dedup_key !== undefined && (typeof e.dedup_key !== 'string' || e.dedup_key.length > 255))
    errors.push("'dedup_key' must be a string of at most 255 characters")
  if ((e.event_action === 'acknowledge' || e.event_action === 'resolve') && !isText(e.dedup_key))
    errors.push("'dedup_key' is missing or blank")
  if (e.event_action === 'trigger' || e.payload !== undefined) {
    const p = e.payload
    if (!p || typeof p !== 'object' || Array.isArray(p)) errors.push("'payload' is missing or not an object")
    else {
      if (!isText(p.summary)) errors.push("'payload.summary' is missing or blank")
      else if (p.summary.length > 1024) errors.push("'payload.summary' is longer than 1024 characters")
      if (!isText(p.source)) errors.push("'payload.source' is missing or blank")
      if (!SEVERITIES.includes(p.severity))
        errors.push("'payload.severity' is invalid (must be one of: 'critical', 'error', 'warning' or 'info')")
      if (p.timestamp !== undefined && (typeof p.timestamp !== 'string' || Number.isNaN(Date.parse(p.timestamp))))
        errors.push("'payload.timestamp' is not a valid ISO 8601 timestamp")
      for (const f of ['component', 'group', 'class'])
        if (p[f] !== undefined && typeof p[f] !== 'string') errors.push(`'payload.${f}' must be a string`)
      if (
        p.custom_details !== undefined &&
        (typeof p.custom_details !== 'object' || p.custom_details === null || Array.isArray(p.custom_details))
      )
        errors.push("'payload.custom_details' must be an object")
    }
  }
  if (e.links !== undefined) {
    if (!Array.isArray(e.links)) errors.push("'links' must be an array")
    else if (e.links.some((l: any) => !l || !isText(l.href))) errors.push("'links[].href' is missing or blank")
  }
  if (e.images !== undefined) {
    if (!Array.isArray(e.images)) errors.push("'images' must be an array")
    else if (e.images.some((i: any) => !i || typeof i.src !== 'string' || !i.src.startsWith('https://')))
      errors.push("'images[].src' must be an https URL")
  }
  return errors
}

export async function startPagerdutyStandIn(): Promise<PagerdutyStandIn> {
  const events: PagerdutyEventRecord[] = []
  const byKey = new Map<string, PagerdutyAlert>()
  const alerts: PagerdutyAlert[] = []
  const keys = new Map<string, number>()
  const failures: { times: number; status: number; retryAfter?: string } = { times: 0, status: 429 }

  const apply = (e: any): string => {
    const key: string = e.dedup_key ?? randomUUID().replace(/-/g, '')
    const current = byKey.get(key)
    const open = current && current.status !== 'resolved'
    if (e.event_action === 'trigger') {
      if (open) {
        current.triggers++
        return 'deduplicated'
      }
      const alert: PagerdutyAlert = {
        dedupKey: key,
        status: 'triggered',
        triggers: 1,
        summary: e.payload.summary,
        severity: e.payload.severity,
        routingKey: e.routing_key,
        generation: current ? current.generation + 1 : 0,
      }
      byKey.set(key, alert)
      alerts.push(alert)
      return 'created'
    }
    // Acknowledge and resolve apply to the open alert sent through the same routing key, else are dropped.
    if (!open || current.routingKey !== e.routing_key) return 'dropped'
    current.status = e.event_action === 'acknowledge' ? 'acknowledged' : 'resolved'
    return current.status
  }

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c) => chunks.push(c))
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8')
      const record: PagerdutyEventRecord = { at: Date.now(), body: raw, status: 0 }
      events.push(record)
      const send = (status: number, body: unknown, headers: Record<string, string> = {}) => {
        record.status = status
        res.writeHead(status, { 'content-type': 'application/json', ...headers })
        res.end(JSON.stringify(body))
      }
      const url = new URL(req.url ?? '/', 'http://127.0.0.1')
      if (url.pathname !== '/v2/enqueue') return send(404, { status: 'not found', message: 'Not Found' })
      if (req.method !== 'POST') return send(405, { status: 'method not allowed', message: 'Method Not Allowed' })
      if (failures.times > 0) {
        failures.times--
        return send(
          failures.status,
          failures.status === 429
            ? { status: 'throttle event', message: 'Requests for this service are arriving too quickly.' }
            : failures.status < 500
              ? { status: 'invalid event', message: 'Event object is invalid', errors: ['failing on purpose'] }
              : { status: 'error', message: 'Internal Server Error' },
          failures.retryAfter !== undefined ? { 'retry-after': failures.retryAfter } : {},
        )
      }
      let e: any
      try {
        e = JSON.parse(raw)
      } catch {
        record.errors = ['Invalid JSON']
        return send(400, { status: 'invalid event', message: 'Event object is invalid', errors: record.errors })
      }
      record.body = e
      const errors = pagerdutyEventErrors(e)
      if (errors.length) {
        record.errors = errors
        return send(400, { status: 'invalid event', message: 'Event object is invalid', errors })
      }
      record.effect = apply(e)
      const k = e.payload?.custom_details?.sentinel_idempotency_key
      if (typeof k === 'string') keys.set(k, (keys.get(k) ?? 0) + 1)
      send(202, { status: 'success', message: 'Event processed', dedup_key: e.dedup_key ?? null })
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port
  return {
    url: `http://127.0.0.1:${port}/v2/enqueue`,
    events,
    accepted: () => events.filter((e) => e.status === 202).map((e) => e.body),
    alert: (k) => byKey.get(k),
    alerts,
    keys,
    duplicates: () => [...keys.values()].reduce((sum, n) => sum + n - 1, 0),
    failNext: (times, status = 429, retryAfter) => Object.assign(failures, { times, status, retryAfter }),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}
