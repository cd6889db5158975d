/**
 * Alertmanager's webhook (payload version 4): a zod schema, a size-limited parser that reports
 * each problem as field + reason, and the mapping of its alerts to Sentinel Alerts.
 */
import { z } from 'zod'
import type { Alert, AlertType, ResourceRef, Severity } from '../platform/store/model'

const labelSet = z.record(z.string(), z.string())

const timestamp = z.string().refine((s) => !Number.isNaN(Date.parse(s)), { message: 'expected an RFC 3339 time' })

export const alertmanagerAlertSchema = z.object({
  status: z.enum(['firing', 'resolved']),
  labels: labelSet.refine((l) => typeof l.alertname === 'string' && l.alertname.length > 0, {
    message: 'expected an alertname label',
  }),
  annotations: labelSet.default({}),
  startsAt: timestamp,
  endsAt: timestamp,
  generatorURL: z.string().default(''),
  fingerprint: z.string().regex(/^[0-9a-zA-Z]{1,64}$/, { message: 'expected the alert fingerprint (hex)' }),
})

export const alertmanagerWebhookSchema = z.object({
  version: z.literal('4', { message: 'expected payload version "4"' }),
  groupKey: z.string(),
  truncatedAlerts: z.number().int().min(0).default(0),
  status: z.enum(['firing', 'resolved']),
  receiver: z.string(),
  groupLabels: labelSet,
  commonLabels: labelSet,
  commonAnnotations: labelSet,
  externalURL: z.string(),
  alerts: z.array(alertmanagerAlertSchema),
})

export type AlertmanagerAlert = z.infer<typeof alertmanagerAlertSchema>
export type AlertmanagerWebhook = z.infer<typeof alertmanagerWebhookSchema>

export interface PayloadIssue {
  /** Dotted path, e.g. `alerts.0.startsAt`; `(body)` for the whole payload. */
  field: string
  reason: string
}

export class AlertmanagerPayloadError extends Error {
  constructor(
    public readonly issues: PayloadIssue[],
    /** 413 when the payload is too large, else 400. */
    public readonly status: 400 | 413 = 400,
  ) {
    super(`invalid Alertmanager webhook payload: ${issues.map((i) => `${i.field}: ${i.reason}`).join('; ')}`)
    this.name = 'AlertmanagerPayloadError'
  }
}

export interface ParseOptions {
  /** Largest body accepted, in bytes; default 1 MiB. */
  maxBytes?: number
  /** Most alerts accepted in one payload; default 1000. */
  maxAlerts?: number
}

export const DEFAULT_MAX_BYTES = 1024 * 1024

/**
 * Validates a webhook body: the raw text/bytes (preferred: the size is checked before parsing)
 * or an already-parsed object. Throws AlertmanagerPayloadError naming each bad field.
 */
export function parseAlertmanagerWebhook(body: unknown, opts: ParseOptions = {}): AlertmanagerWebhook {
  const maxBytes = opts.maxBytes ?? DEFAULT_MAX_BYTES
  const maxAlerts = opts.maxAlerts ?? 1000
  let value: unknown = body
  if (typeof body === 'string' || Buffer.isBuffer(body) || body instanceof Uint8Array) {
    const size = typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength
    if (size > maxBytes)
      throw new AlertmanagerPayloadError(
        [{ field: '(body)', reason: `payload is ${size} bytes, the limit is ${maxBytes}` }],
        413,
      )
    const text = typeof body === 'string' ? body : Buffer.from(body).toString('utf8')
    try {
      value = JSON.parse(text)
    } catch (err) {
      throw new AlertmanagerPayloadError([{ field: '(body)', reason: `not JSON: ${(err as Error).message}` }])
    }
  } else {
    let size: number
    try {
      size = Buffer.byteLength(JSON.stringify(body) ?? '')
    } catch {
      throw new AlertmanagerPayloadError([{ field: '(body)', reason: 'not serialisable as JSON' }])
    }
    if (size > maxBytes)
      throw new AlertmanagerPayloadError(
        [{ field: '(body)', reason: `payload is ${size} bytes, the limit is ${maxBytes}` }],
        413,
      )
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new AlertmanagerPayloadError([{ field: '(body)', reason: 'expected a JSON object' }])
  }
  const alerts = (value as { alerts?: unknown }).alerts
  if (Array.isArray(alerts) && alerts.length > maxAlerts) {
    throw new AlertmanagerPayloadError(
      [{ field: 'alerts', reason: `${alerts.length} alerts, the limit is ${maxAlerts}` }],
      413,
    )
  }
  const result = alertmanagerWebhookSchema.safeParse(value)
  if (!result.success) {
    const issues = result.error.issues
      .slice(0, 50)
      .map((i) => ({ field: i.path.length ? i.path.map(String).join('.') : '(body)', reason: i.message }))
    throw new AlertmanagerPayloadError(issues)
  }
  return result.data
}

export type AlertCategory = 'memory' | 'cpu' | 'disk' | 'latency' | 'container_down' | 'other'

const CATEGORY_PATTERNS: Array<[AlertCategory, RegExp]> = [
  // Memory first: ContainerOOMKilled is a memory problem before it is a dead container.
  ['memory', /mem|oom|swap|heap|rss/i],
  [
    'container_down',
    /container.*(down|exit|stop|dead|kill|restart|crash|missing|absent)|(down|dead|absent|missing).*container|^instancedown$|^targetdown$|^servicedown$/i,
  ],
  ['cpu', /cpu|load|throttl/i],
  ['disk', /disk|filesystem|storage|volume|inode|(^|[^a-z])fs([^a-z]|$)|space/i],
  ['latency', /latency|slow|duration|response.?time|p9[059]|apdex/i],
]

/** The kind of problem an Alertmanager alert describes, from `sentinel_type` or its alertname. */
export function categorize(labels: Record<string, string>): AlertCategory {
  const explicit = labels.sentinel_type?.toLowerCase()
  if (explicit && ['memory', 'cpu', 'disk', 'latency', 'container_down', 'other'].includes(explicit))
    return explicit as AlertCategory
  const name = labels.alertname ?? ''
  for (const [category, re] of CATEGORY_PATTERNS) if (re.test(name)) return category
  return 'other'
}

// Sentinel's AlertType has no 'other': such alerts enter as 'anomaly' with the category in labels.
const typeOf = (c: AlertCategory): AlertType => (c === 'other' ? 'anomaly' : c)

function severityOf(labels: Record<string, string>): Severity {
  const s = (labels.severity ?? labels.priority ?? '').toLowerCase()
  if (['critical', 'page', 'error', 'high', 'p1', 'emergency', 'fatal'].includes(s)) return 'critical'
  if (['info', 'informational', 'low', 'none', 'p4', 'p5'].includes(s)) return 'info'
  return 'warning'
}

function resourceOf(labels: Record<string, string>, category: AlertCategory): ResourceRef {
  const container = labels.container ?? labels.container_name ?? labels.name
  const instance = labels.instance ?? labels.host ?? labels.hostname ?? labels.node
  const mount = labels.mountpoint ?? labels.mount
  if (container && (category !== 'disk' || !mount)) {
    const id = labels.container_id ?? labels.id?.match(/[0-9a-f]{64}/)?.[0] ?? container
    return { kind: 'container', id, name: container }
  }
  if (mount) return { kind: 'filesystem', id: `${instance ?? 'unknown'}:${mount}`, name: mount }
  if (instance) return { kind: 'host', id: instance, name: instance }
  if (labels.url ?? labels.target) {
    const u = labels.url ?? labels.target
    return { kind: 'endpoint', id: u, name: u }
  }
  const series = `alertmanager:${labels.alertname}`
  return { kind: 'series', id: series, name: labels.alertname }
}

const numberOr = (v: string | undefined): number | null => {
  if (v === undefined || v.trim() === '') return null
  const n = Number(v)
  return Number.isFinite(n) ? n : null
}

/** One Alertmanager alert as a Sentinel Alert (fingerprint `am:<Alertmanager's fingerprint>`). */
export function toSentinelAlert(
  a: AlertmanagerAlert,
  payload?: Pick<AlertmanagerWebhook, 'receiver' | 'groupKey' | 'externalURL'>,
): Alert {
  const category = categorize(a.labels)
  const resolved = a.status === 'resolved'
  return {
    fingerprint: `am:${a.fingerprint}`,
    type: typeOf(category),
    severity: severityOf(a.labels),
    metric: a.labels.alertname,
    value: numberOr(a.annotations.value),
    threshold: numberOr(a.annotations.threshold),
    resource: resourceOf(a.labels, category),
    labels: { ...a.labels, sentinel_category: category },
    source: a.generatorURL ? `alertmanager:${a.generatorURL}` : 'alertmanager',
    at: new Date(Date.parse(resolved ? a.endsAt : a.startsAt)).toISOString(),
    details: {
      status: a.status,
      category,
      startsAt: a.startsAt,
      endsAt: a.endsAt,
      annotations: a.annotations,
      generatorURL: a.generatorURL,
      alertmanagerFingerprint: a.fingerprint,
      ...(payload ? { receiver: payload.receiver, groupKey: payload.groupKey, externalURL: payload.externalURL } : {}),
    },
  }
}

export interface MappedWebhook {
  firing: Alert[]
  resolved: Alert[]
  /** Alerts Alertmanager left out of the payload (max_alerts on the receiver). */
  truncatedAlerts: number
}

export function mapAlertmanagerWebhook(payload: AlertmanagerWebhook): MappedWebhook {
  const out: MappedWebhook = { firing: [], resolved: [], truncatedAlerts: payload.truncatedAlerts }
  for (const a of payload.alerts) (a.status === 'firing' ? out.firing : out.resolved).push(toSentinelAlert(a, payload))
  return out
}
