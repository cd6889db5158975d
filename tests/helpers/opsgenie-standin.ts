/**
 * A local stand-in for Opsgenie's Alert API, for tests: a real HTTP server on 127.0.0.1 speaking
 * the calls Sentinel makes (create, acknowledge, close; get an alert; get a request's status).
 *
 * It answers as Opsgenie documents: 401 `{message:"Could not authenticate"}` without the right
 * `Authorization: GenieKey <key>`, 400 for a body that is not JSON, 422 with the problem for a
 * body that breaks the field rules (message required and at most 130 characters, alias 512,
 * description 15 000, at most 20 tags of 50 characters, details string values of 8 000 characters
 * in all, entity 512, source and user 100, note 25 000, priority P1..P5, valid responders), and 202
 * `{result:"Request will be processed", requestId}` otherwise. The request is then processed at
 * once: a create with the alias of an open alert raises its count (Opsgenie's de-duplication); an
 * acknowledge or close of an alias with no open alert still answers 202 and the request's status
 * says "Alert does not exist", as Opsgenie does asynchronously.
 *
 * It records every request, counts repeats of an idempotency key (a create's
 * `details.sentinel_idempotency_key`, else `(idempotency key <key>)` in the note) and can fail the
 * next N requests with a chosen status and Retry-After.
 */
import { randomUUID } from 'node:crypto'
import http from 'node:http'
import type { AddressInfo } from 'node:net'

export interface OpsgenieAlert {
  id: string
  tinyId: string
  alias: string
  message: string
  status: 'open' | 'closed'
  acknowledged: boolean
  /** Creates de-duplicated into it, the first included. */
  count: number
  priority: string
  tags: string[]
  details: Record<string, string>
  responders: any[]
  description?: string
  entity?: string
  source?: string
  notes: { user?: string; note: string; action: string }[]
  acknowledgedBy?: string
}

export interface OpsgenieRequestRecord {
  at: number
  method: string
  path: string
  query: Record<string, string>
  authorization: string | undefined
  body: any
  status: number
  /** What processing did: `created`, `deduplicated`, `acknowledged`, `closed`, `Alert does not exist`... */
  result?: string
  requestId?: string
}

export interface OpsgenieStandIn {
  /** For api_url: `http://127.0.0.1:<port>`. */
  apiUrl: string
  requests: OpsgenieRequestRecord[]
  /** Requests answered 202, in order. */
  accepted(): OpsgenieRequestRecord[]
  /** The latest alert with this alias (open or closed). */
  alert(alias: string): OpsgenieAlert | undefined
  alerts: OpsgenieAlert[]
  keys: Map<string, number>
  duplicates(): number
  failNext(times: number, status?: number, retryAfter?: string): void
  close(): Promise<void>
}

export const OPSGENIE_STANDIN_LIMITS = {
  message: 130,
  alias: 512,
  description: 15_000,
  entity: 512,
  source: 100,
  user: 100,
  note: 25_000,
  tags: 20,
  tag: 50,
  details: 8_000,
  responders: 50,
}

const L = OPSGENIE_STANDIN_LIMITS
const RESPONDER_TYPES = ['team', 'user', 'escalation', 'schedule']

function lengthErrors(body: any, fields: (keyof typeof L)[]): string[] {
  const errors: string[] = []
  for (const f of fields) {
    const v = body[f]
    if (v === undefined) continue
    if (typeof v !== 'string') errors.push(`${f} must be a string`)
    else if (v.length > L[f]) errors.push(`${f} can not be longer than ${L[f]} characters`)
  }
  return errors
}

/** The problems Opsgenie would report for a create-alert body; empty when it is valid. */
export function createAlertErrors(b: any): string[] {
  if (!b || typeof b !== 'object' || Array.isArray(b)) return ['Request body must be a JSON object']
  const errors: string[] = []
  if (typeof b.message !== 'string' || !b.message.trim()) errors.push('Message can not be empty.')
  errors.push(...lengthErrors(b, ['message', 'alias', 'description', 'entity', 'source', 'user', 'note']))
  if (b.priority !== undefined && !['P1', 'P2', 'P3', 'P4', 'P5'].includes(b.priority))
    errors.push('Priority should be one of [P1, P2, P3, P4, P5]')
  if (b.tags !== undefined) {
    if (!Array.isArray(b.tags) || b.tags.some((t: unknown) => typeof t !== 'string'))
      errors.push('tags must be a list of strings')
    else {
      if (b.tags.length > L.tags) errors.push(`Tags can not be more than ${L.tags}`)
      if (b.tags.some((t: string) => t.length > L.tag)) errors.push(`Tags can not be longer than ${L.tag} characters`)
    }
  }
  if (b.details !== undefined) {
    if (typeof b.details !== 'object' || b.details === null || Array.isArray(b.details))
      errors.push('details must be an object')
    else {
      const entries = Object.entries(b.details)
      if (entries.some(([, v]) => typeof v !== 'string')) errors.push('details values must be strings')
      else if (entries.reduce((n, [k, v]) => n + k.length + (v as string).length, 0) > L.details)
        errors.push(`details can not be longer than ${L.details} characters in total`)
    }
  }
  for (const field of ['responders', 'visibleTo']) {
    const list = b[field]
    if (list === undefined) continue
    if (!Array.isArray(list)) errors.push(`${field} must be a list`)
    else {
      if (list.length > L.responders) errors.push(`${field} can not be more than ${L.responders}`)
      for (const r of list) {
        if (!r || !RESPONDER_TYPES.includes(r.type)) errors.push(`${field}: type must be one of ${RESPONDER_TYPES}`)
        else if (r.type === 'user' ? !(r.id || r.username) : !(r.id || r.name))
          errors.push(`${field}: a ${r.type} needs ${r.type === 'user' ? 'id or username' : 'id or name'}`)
      }
    }
  }
  return errors
}

/** The problems in an acknowledge or close body. */
export function actionErrors(b: any): string[] {
  if (b === undefined || b === null) return []
  if (typeof b !== 'object' || Array.isArray(b)) return ['Request body must be a JSON object']
  return lengthErrors(b, ['user', 'source', 'note'])
}

export function idempotencyKeyOf(body: any): string | undefined {
  const d = body?.details?.sentinel_idempotency_key
  if (typeof d === 'string') return d
  const m = typeof body?.note === 'string' ? /\(idempotency key ([^\s)]+)\)$/.exec(body.note) : null
  return m?.[1]
}

export async function startOpsgenieStandIn(opts: { apiKey: string }): Promise<OpsgenieStandIn> {
  const requests: OpsgenieRequestRecord[] = []
  const alerts: OpsgenieAlert[] = []
  const latest = new Map<string, OpsgenieAlert>()
  const keys = new Map<string, number>()
  const failures: { times: number; status: number; retryAfter?: string } = { times: 0, status: 429 }
  let tiny = 0

  const find = (identifier: string, type: string): OpsgenieAlert | undefined =>
    type === 'alias'
      ? latest.get(identifier)
      : type === 'tiny'
        ? alerts.find((a) => a.tinyId === identifier)
        : alerts.find((a) => a.id === identifier)

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c) => chunks.push(c))
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8')
      const url = new URL(req.url ?? '/', 'http://127.0.0.1')
      const record: OpsgenieRequestRecord = {
        at: Date.now(),
        method: req.method ?? '',
        path: url.pathname,
        query: Object.fromEntries(url.searchParams),
        authorization: req.headers.authorization,
        body: raw,
        status: 0,
      }
      requests.push(record)
      const took = 0.01
      const send = (status: number, body: Record<string, unknown>, headers: Record<string, string> = {}) => {
        record.status = status
        const requestId = randomUUID()
        if (status === 202) record.requestId = requestId
        res.writeHead(status, { 'content-type': 'application/json', 'x-request-id': requestId, ...headers })
        res.end(JSON.stringify({ ...body, took, requestId }))
      }
      if (req.headers.authorization !== `GenieKey ${opts.apiKey}`)
        return send(401, { message: 'Could not authenticate' })
      if (failures.times > 0) {
        failures.times--
        return send(
          failures.status,
          {
            message:
              failures.status === 429
                ? 'Too many requests'
                : failures.status < 500
                  ? 'Request refused on purpose'
                  : 'Internal Server Error',
          },
          {
            ...(failures.retryAfter !== undefined ? { 'retry-after': failures.retryAfter } : {}),
            ...(failures.status === 429 ? { 'x-ratelimit-state': 'THROTTLED' } : {}),
          },
        )
      }
      let body: any
      if (raw) {
        try {
          body = JSON.parse(raw)
        } catch {
          return send(400, { message: 'Request body is not processable. Please check the errors.' })
        }
      }
      record.body = body
      const countKey = () => {
        const k = idempotencyKeyOf(body)
        if (k) keys.set(k, (keys.get(k) ?? 0) + 1)
      }

      if (url.pathname === '/v2/alerts' && req.method === 'POST') {
        const errors = createAlertErrors(body)
        if (errors.length) return send(422, { message: errors[0], errors })
        const alias: string = body.alias ?? body.message
        const open = latest.get(alias)
        if (open && open.status === 'open') {
          open.count++
          if (body.note) open.notes.push({ user: body.user, note: body.note, action: 'create' })
          record.result = 'deduplicated'
        } else {
          const alert: OpsgenieAlert = {
            id: randomUUID(),
            tinyId: String(++tiny),
            alias,
            message: body.message,
            status: 'open',
            acknowledged: false,
            count: 1,
            priority: body.priority ?? 'P3',
            tags: body.tags ?? [],
            details: body.details ?? {},
            responders: body.responders ?? [],
            description: body.description,
            entity: body.entity,
            source: body.source,
            notes: body.note ? [{ user: body.user, note: body.note, action: 'create' }] : [],
          }
          alerts.push(alert)
          latest.set(alias, alert)
          record.result = 'created'
        }
        countKey()
        return send(202, { result: 'Request will be processed' })
      }

      const m = /^\/v2\/alerts\/([^/]+)(?:\/(acknowledge|close))?$/.exec(url.pathname)
      if (!m) return send(404, { message: 'Resource or handler not found' })
      const identifier = decodeURIComponent(m[1])
      const type = url.searchParams.get('identifierType') ?? 'id'
      if (!['id', 'alias', 'tiny'].includes(type))
        return send(422, { message: 'identifierType must be one of [id, alias, tiny]' })
      const alert = find(identifier, type)
      if (!m[2]) {
        if (req.method !== 'GET') return send(405, { message: 'Method not allowed' })
        if (!alert) return send(404, { message: 'Alert does not exist' })
        return send(200, { data: alert })
      }
      if (req.method !== 'POST') return send(405, { message: 'Method not allowed' })
      const errors = actionErrors(body)
      if (errors.length) return send(422, { message: errors[0], errors })
      countKey()
      if (!alert) record.result = 'Alert does not exist'
      else if (m[2] === 'acknowledge') {
        if (alert.status === 'closed') record.result = 'Alert is closed'
        else {
          alert.acknowledged = true
          alert.acknowledgedBy = body?.user
          record.result = 'acknowledged'
        }
        if (body?.note) alert.notes.push({ user: body.user, note: body.note, action: 'acknowledge' })
      } else {
        alert.status = 'closed'
        record.result = 'closed'
        if (body?.note) alert.notes.push({ user: body.user, note: body.note, action: 'close' })
      }
      return send(202, { result: 'Request will be processed' })
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port
  return {
    apiUrl: `http://127.0.0.1:${port}`,
    requests,
    accepted: () => requests.filter((r) => r.status === 202),
    alert: (alias) => latest.get(alias),
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
