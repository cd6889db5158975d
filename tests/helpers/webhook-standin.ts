/**
 * A webhook receiver for tests, as a user of Sentinel's generic webhook would write one: a real
 * HTTP server on 127.0.0.1 that checks every request's signature with verifyWebhookSignature
 * (401 when it is missing, forged, or more than 5 minutes old), refuses a body that is not
 * Sentinel's JSON (400), records what it accepted, counts repeats of an idempotency key, and can
 * fail the next N requests with a chosen status and Retry-After, or answer late.
 */
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { verifyWebhookSignature, WEBHOOK_HEADERS } from '../../src/notify/receivers/webhook'

export interface WebhookRequestRecord {
  at: number
  path: string
  headers: http.IncomingHttpHeaders
  raw: string
  body: any
  status: number
  error?: string
}

export interface WebhookStandIn {
  url: string
  requests: WebhookRequestRecord[]
  /** The bodies answered 2xx, in order. */
  received(): any[]
  keys: Map<string, number>
  duplicates(): number
  failNext(times: number, status?: number, retryAfter?: string): void
  /** The next `times` requests are answered after `ms`. */
  delayNext(times: number, ms: number): void
  close(): Promise<void>
}

export async function startWebhookStandIn(opts: {
  secret: string
  /** The status of an accepted request (200 by default). */
  okStatus?: number
  /** The clock the signature's age is checked against (unix seconds). */
  now?: () => number
}): Promise<WebhookStandIn> {
  const requests: WebhookRequestRecord[] = []
  const keys = new Map<string, number>()
  const failures: { times: number; status: number; retryAfter?: string } = { times: 0, status: 503 }
  const delays = { times: 0, ms: 0 }
  const now = opts.now ?? (() => Math.floor(Date.now() / 1000))

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c) => chunks.push(c))
    req.on('end', async () => {
      const raw = Buffer.concat(chunks).toString('utf8')
      const record: WebhookRequestRecord = {
        at: Date.now(),
        path: req.url ?? '/',
        headers: req.headers,
        raw,
        body: undefined,
        status: 0,
      }
      requests.push(record)
      const send = (status: number, body: unknown, headers: Record<string, string> = {}) => {
        record.status = status
        if (status >= 400) record.error = (body as { error?: string }).error
        if (res.destroyed) return
        res.writeHead(status, { 'content-type': 'application/json', ...headers })
        res.end(JSON.stringify(body))
      }
      if (delays.times > 0) {
        delays.times--
        await new Promise((r) => setTimeout(r, delays.ms))
      }
      if (req.method !== 'POST') return send(405, { error: 'method not allowed' })
      const header = (name: string) => {
        const v = req.headers[name.toLowerCase()]
        return Array.isArray(v) ? v[0] : v
      }
      if (
        !verifyWebhookSignature(
          opts.secret,
          header(WEBHOOK_HEADERS.timestamp),
          header(WEBHOOK_HEADERS.signature),
          raw,
          now(),
        )
      )
        return send(401, { error: 'invalid signature' })
      if (!String(req.headers['content-type'] ?? '').startsWith('application/json'))
        return send(415, { error: 'expected application/json' })
      let body: any
      try {
        body = JSON.parse(raw)
      } catch {
        return send(400, { error: 'body is not JSON' })
      }
      record.body = body
      const key = header(WEBHOOK_HEADERS.idempotencyKey)
      if (body?.version !== 1 || typeof body.key !== 'string' || typeof body.kind !== 'string' || !body.incident?.id)
        return send(400, { error: 'not a Sentinel notification (version, key, kind, incident.id)' })
      if (!key || key !== body.key)
        return send(400, { error: `${WEBHOOK_HEADERS.idempotencyKey} differs from the body's key` })
      if (failures.times > 0) {
        failures.times--
        return send(
          failures.status,
          { error: 'failing on purpose' },
          failures.retryAfter !== undefined ? { 'retry-after': failures.retryAfter } : {},
        )
      }
      keys.set(key, (keys.get(key) ?? 0) + 1)
      send(opts.okStatus ?? 200, { ok: true })
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port
  return {
    url: `http://127.0.0.1:${port}/hooks/sentinel`,
    requests,
    received: () => requests.filter((r) => r.status >= 200 && r.status < 300).map((r) => r.body),
    keys,
    duplicates: () => [...keys.values()].reduce((sum, n) => sum + n - 1, 0),
    failNext: (times, status = 503, retryAfter) => Object.assign(failures, { times, status, retryAfter }),
    delayNext: (times, ms) => Object.assign(delays, { times, ms }),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}
