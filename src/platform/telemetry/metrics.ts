/**
 * Sentinel's Prometheus metrics, every name prefixed `sentinel_`, served at GET /metrics by the
 * main process.
 *
 * Steps run in short-lived processes, so a counter in their memory would die with them. The main
 * process owns the prom-client registry; anything that is counted (incidents, actions, LLM calls,
 * durations) is published by whichever process sees it into Redis, one hash per metric:
 *
 *   sentinel:metrics:<metric name>   field = JSON array of the label values   (counters)
 *                                    field = count|<labels> / sum|<labels> / bucket|<labels+le>
 *                                    (histograms; buckets stored per bucket, cumulated at scrape)
 *
 * with HINCRBY / HINCRBYFLOAT in one MULTI. At scrape time the main process reads all hashes with
 * one pipeline and renders them. The totals survive restarts of Sentinel (Prometheus handles
 * counter resets anyway, but none happen here). Gauges that describe the present (approvals
 * pending, SSE clients, health scores, the fleet's nodes) are computed in the main process at
 * scrape time.
 *
 * Whatever is about a container or a host (incidents, their timings, actions, rollbacks) carries
 * the `node` it is on; LLM calls, notifications and the archive are the controller's own work and
 * carry none. A label added to a metric later goes at the end of its list: a field stored before
 * it has fewer values, and reads as '' for the missing ones (so the totals counted before the
 * fleet show `node=""`, and still scrape).
 *
 * `metricsRecorder(redis)` is the light half for step processes (no prom-client load);
 * `createMetrics(deps)` builds the registry for the main process and includes a recorder.
 */
import type { Metric, Registry } from 'prom-client'
import type { LogFn } from './log'

/** The Redis commands the metrics use (an ioredis client fits). */
export interface MetricsRedis {
  multi(): {
    hincrby(key: string, field: string, by: number): unknown
    hincrbyfloat(key: string, field: string, by: number): unknown
    exec(): Promise<unknown>
  }
  pipeline(): { hgetall(key: string): unknown; exec(): Promise<[Error | null, unknown][] | null> }
}

interface CounterDef {
  kind: 'counter'
  name: string
  help: string
  labels: readonly string[]
}
interface HistogramDef {
  kind: 'histogram'
  name: string
  help: string
  labels: readonly string[]
  buckets: readonly number[]
}
type SharedDef = CounterDef | HistogramDef

const counter = (name: string, help: string, labels: readonly string[]): CounterDef => ({
  kind: 'counter',
  name,
  help,
  labels,
})
const histogram = (
  name: string,
  help: string,
  labels: readonly string[],
  buckets: readonly number[],
): HistogramDef => ({ kind: 'histogram', name, help, labels, buckets })

/** Metrics recorded from any process, aggregated through Redis. `node` goes last (module doc). */
export const SHARED_METRICS = {
  incidentsOpened: counter('sentinel_incidents_opened_total', 'Incidents opened, by the node they are on', [
    'type',
    'severity',
    'node',
  ]),
  incidentsResolved: counter('sentinel_incidents_resolved_total', 'Incidents resolved, by the node they are on', [
    'type',
    'severity',
    'node',
  ]),
  incidentsEscalated: counter('sentinel_incidents_escalated_total', 'Incidents escalated to a human, by node', [
    'type',
    'severity',
    'node',
  ]),
  timeToDetect: histogram(
    'sentinel_time_to_detect_seconds',
    'From the first observation of a problem to its incident',
    ['type', 'node'],
    [0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600],
  ),
  timeToResolve: histogram(
    'sentinel_time_to_resolve_seconds',
    'From incident opening to resolution',
    ['type', 'node'],
    [5, 10, 15, 30, 60, 120, 300, 600, 1800, 3600, 14400],
  ),
  actions: counter('sentinel_actions_total', 'Remediation actions run, by action, result and node', [
    'action',
    'result',
    'node',
  ]),
  rollbacks: counter('sentinel_rollbacks_total', 'Rollbacks of remediation actions, by action, result and node', [
    'action',
    'result',
    'node',
  ]),
  llmCalls: counter('sentinel_llm_calls_total', 'LLM calls, by model and outcome', ['model', 'outcome']),
  llmLatency: histogram(
    'sentinel_llm_call_duration_seconds',
    'LLM call latency',
    ['model'],
    [0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120],
  ),
  llmTokens: counter('sentinel_llm_tokens_total', 'LLM tokens, by model and kind (prompt, completion)', [
    'model',
    'kind',
  ]),
  llmFailures: counter('sentinel_llm_failures_total', 'Failed LLM calls, by model and reason', ['model', 'reason']),
  analyserFallbacks: counter(
    'sentinel_analyser_fallbacks_total',
    'Analyses that fell back to the rule analyser, by reason',
    ['reason'],
  ),
  notifications: counter(
    'sentinel_notifications_total',
    'Notification attempts and outcomes, by receiver and result (delivered, failed, dead, skipped, muted)',
    ['receiver', 'result'],
  ),
  notificationLatency: histogram(
    'sentinel_notification_delivery_seconds',
    'From the incident event to its notification accepted by the receiver',
    ['receiver'],
    [0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600],
  ),
  archiveWrites: counter(
    'sentinel_archive_writes_total',
    'Incident versions and audit entries written to the SQL archive, by kind (incident, audit)',
    ['kind'],
  ),
  archiveErrors: counter(
    'sentinel_archive_errors_total',
    'Archive passes that failed (the archive or Redis unreachable), by stage (archive, retention)',
    ['stage'],
  ),
} as const satisfies Record<string, SharedDef>

export const METRICS_KEY_PREFIX = 'sentinel:metrics:'

/**
 * The `node` label of an incident's or an action's metrics: the node the alert names
 * (`labels.node`), else `localNode`, the recording process's NODE_NAME. An incident without a node
 * is about the controller's own host (GET /api/nodes and the action routing count it so), and the
 * processes that record incidents and actions are the controller's; '' would make one host show
 * as two series. ('' is what the totals counted before the fleet read as: see the module doc.)
 */
export function nodeLabel(node: string | undefined, localNode: string): string {
  return node || localNode
}
const keyOf = (def: SharedDef, prefix: string) => `${prefix}${def.name}`

/**
 * `node`: the fleet node the incident or action is about; the callers fill it with `nodeLabel`.
 */
export interface MetricsRecorder {
  /** `detectSeconds`: from the first observation of the problem to the incident's opening. */
  incidentOpened(l: { type: string; severity: string; node: string; detectSeconds?: number }): Promise<void>
  /** `resolveSeconds`: from the incident's opening to its resolution. */
  incidentResolved(l: { type: string; severity: string; node: string; resolveSeconds?: number }): Promise<void>
  incidentEscalated(l: { type: string; severity: string; node: string }): Promise<void>
  /** result: succeeded, failed, skipped, shadow... */
  action(l: { action: string; result: string; node: string }): Promise<void>
  rollback(l: { action: string; result: string; node: string }): Promise<void>
  /**
   * One LLM call. outcome 'ok' or 'error'; a failed call also counts in the failures by `reason`
   * (timeout, http_429, parse, budget...).
   */
  llmCall(l: {
    model: string
    outcome: 'ok' | 'error'
    seconds?: number
    promptTokens?: number
    completionTokens?: number
    reason?: string
  }): Promise<void>
  analyserFallback(l: { reason: string }): Promise<void>
  /** One notification attempt or outcome; `seconds` (event to acceptance) when it was delivered. */
  notification(l: { receiver: string; result: string; seconds?: number }): Promise<void>
  /** Rows the archiver committed to the SQL archive. */
  archived(l: { kind: 'incident' | 'audit'; count: number }): Promise<void>
  /** A failed archiver or retention pass. */
  archiveFailed(l: { stage: 'archive' | 'retention' }): Promise<void>
}

/**
 * Publishes counts to Redis; for step processes and the main process alike. The functions never
 * throw (a metric must not fail a step): failures go to `log`.
 */
export function metricsRecorder(redis: MetricsRedis, opts: { keyPrefix?: string; log?: LogFn } = {}): MetricsRecorder {
  const prefix = opts.keyPrefix ?? METRICS_KEY_PREFIX
  type Op = { def: SharedDef; labels: Record<string, string>; value: number }

  const write = async (ops: Op[]) => {
    const m = redis.multi()
    for (const { def, labels, value } of ops) {
      if (!Number.isFinite(value) || value < 0) continue
      const values = def.labels.map((l) => String(labels[l] ?? ''))
      const key = keyOf(def, prefix)
      if (def.kind === 'counter') {
        if (Number.isInteger(value)) m.hincrby(key, JSON.stringify(values), value)
        else m.hincrbyfloat(key, JSON.stringify(values), value)
      } else {
        const le = def.buckets.find((b) => value <= b)
        m.hincrby(key, `bucket|${JSON.stringify([...values, le === undefined ? '+Inf' : String(le)])}`, 1)
        m.hincrby(key, `count|${JSON.stringify(values)}`, 1)
        m.hincrbyfloat(key, `sum|${JSON.stringify(values)}`, value)
      }
    }
    try {
      await m.exec()
    } catch (err) {
      opts.log?.('warn', 'metrics not recorded', { error: (err as Error).message, metrics: ops.map((o) => o.def.name) })
    }
  }
  const M = SHARED_METRICS
  const some = (...ops: (Op | false | undefined)[]) => ops.filter((o): o is Op => Boolean(o))

  return {
    incidentOpened: ({ type, severity, node, detectSeconds }) =>
      write(
        some(
          { def: M.incidentsOpened, labels: { type, severity, node }, value: 1 },
          detectSeconds !== undefined && { def: M.timeToDetect, labels: { type, node }, value: detectSeconds },
        ),
      ),
    incidentResolved: ({ type, severity, node, resolveSeconds }) =>
      write(
        some(
          { def: M.incidentsResolved, labels: { type, severity, node }, value: 1 },
          resolveSeconds !== undefined && { def: M.timeToResolve, labels: { type, node }, value: resolveSeconds },
        ),
      ),
    incidentEscalated: ({ type, severity, node }) =>
      write([{ def: M.incidentsEscalated, labels: { type, severity, node }, value: 1 }]),
    action: (l) => write([{ def: M.actions, labels: l, value: 1 }]),
    rollback: (l) => write([{ def: M.rollbacks, labels: l, value: 1 }]),
    llmCall: ({ model, outcome, seconds, promptTokens, completionTokens, reason }) =>
      write(
        some(
          { def: M.llmCalls, labels: { model, outcome }, value: 1 },
          seconds !== undefined && { def: M.llmLatency, labels: { model }, value: seconds },
          Boolean(promptTokens) && {
            def: M.llmTokens,
            labels: { model, kind: 'prompt' },
            value: Math.round(promptTokens!),
          },
          Boolean(completionTokens) && {
            def: M.llmTokens,
            labels: { model, kind: 'completion' },
            value: Math.round(completionTokens!),
          },
          outcome === 'error' && { def: M.llmFailures, labels: { model, reason: reason ?? 'unknown' }, value: 1 },
        ),
      ),
    analyserFallback: (l) => write([{ def: M.analyserFallbacks, labels: l, value: 1 }]),
    notification: ({ receiver, result, seconds }) =>
      write(
        some(
          { def: M.notifications, labels: { receiver, result }, value: 1 },
          seconds !== undefined && { def: M.notificationLatency, labels: { receiver }, value: seconds },
        ),
      ),
    archived: ({ kind, count }) => write(count > 0 ? [{ def: M.archiveWrites, labels: { kind }, value: count }] : []),
    archiveFailed: (l) => write([{ def: M.archiveErrors, labels: l, value: 1 }]),
  }
}

// ---------------------------------------------------------------------------------------------
// The main process: registry and /metrics

export interface MetricsDeps {
  redis: MetricsRedis
  keyPrefix?: string
  /** Approvals waiting for a human, read at scrape time. */
  pendingApprovals?: () => Promise<number>
  /** Incidents whose latest write is not archived yet, read at scrape time. */
  archivePending?: () => Promise<number>
  /** Health scores (0..1), read at scrape time: `{scope="system"}` and `{scope="container",container=<name>}`. */
  healthScores?: () => Promise<{ system?: number; containers?: Record<string, number> }>
  /**
   * The fleet's nodes as GET /api/nodes sees them (src/report/nodes.ts), read at scrape time for
   * `sentinel_node_up` and `sentinel_node_heartbeat_age_seconds`.
   */
  nodes?: () => Promise<NodeLiveness[]>
  /** The duties this controller leads now (duty → fencing token), for `sentinel_leader{duty}`. */
  leading?: () => Record<string, number>
  /** Node process metrics (CPU, memory, event loop lag), prefixed sentinel_. Default true. */
  defaultMetrics?: boolean
  log?: LogFn
}

/** One node's liveness by the controller's record of its beats. */
export interface NodeLiveness {
  node: string
  state: 'up' | 'down' | 'unknown'
  /** Seconds since the controller last saw a beat; null when it never did (or cannot tell). */
  lastBeatAgeSeconds: number | null
}

export interface Metrics extends MetricsRecorder {
  registry: Registry
  contentType: string
  /** The exposition text, as GET /metrics serves it. */
  render(): Promise<string>
  /** GET /metrics for express or node:http. */
  handler(
    req: unknown,
    res: { statusCode: number; setHeader(name: string, value: string): unknown; end(body?: string): unknown },
  ): Promise<void>
  /** A term as a duty's leader begun, or ended other than by stopping (sentinel_lease_changes_total). */
  leaseChanged(duty: string, change: 'acquired' | 'lost'): void
  sseClientConnected(): void
  sseClientDisconnected(): void
  setSseClients(n: number): void
  /** Sets a health score when no `healthScores` callback is given (a container's needs its name). */
  setHealthScore(scope: 'system' | 'container', score: number, container?: string): void
}

type MetricValue = { labels: Record<string, string | number>; value: number; metricName?: string }

/**
 * Turns one metric's Redis hash into prom-client values. A field with fewer label values than the
 * metric has labels was stored before the later labels were added: the missing ones read ''. Such
 * a field and one stored with those labels '' are one series, summed (Prometheus refuses a scrape
 * that repeats a series). A field with more values than labels is not this metric's: left out.
 */
export function valuesFromHash(def: SharedDef, hash: Record<string, string>): MetricValue[] {
  const labelsOf = (values: string[]) => Object.fromEntries(def.labels.map((l, i) => [l, values[i]]))
  /** The label values, padded with '' to the metric's labels; undefined when not a field of it. */
  const labelValues = (values: string[] | undefined): string[] | undefined =>
    values && values.length <= def.labels.length ? def.labels.map((_, i) => values[i] ?? '') : undefined
  const parse = (json: string): string[] | undefined => {
    try {
      const v = JSON.parse(json)
      return Array.isArray(v) ? v.map(String) : undefined
    } catch {
      return undefined
    }
  }
  if (def.kind === 'counter') {
    const totals = new Map<string, { values: string[]; value: number }>()
    for (const [field, v] of Object.entries(hash)) {
      const values = labelValues(parse(field))
      if (!values) continue
      const k = JSON.stringify(values)
      const t = totals.get(k)
      if (t) t.value += Number(v)
      else totals.set(k, { values, value: Number(v) })
    }
    return [...totals.values()].map((t) => ({ labels: labelsOf(t.values), value: t.value }))
  }
  // Histogram: group per label set; stored buckets are per bucket, exposition is cumulative.
  const series = new Map<string, { labels: string[]; buckets: Map<string, number>; count: number; sum: number }>()
  const seriesOf = (labels: string[]) => {
    const k = JSON.stringify(labels)
    let s = series.get(k)
    if (!s) series.set(k, (s = { labels, buckets: new Map(), count: 0, sum: 0 }))
    return s
  }
  for (const [field, v] of Object.entries(hash)) {
    const bar = field.indexOf('|')
    const part = field.slice(0, bar)
    const parsed = parse(field.slice(bar + 1))
    if (!parsed) continue
    if (part === 'bucket') {
      // The bucket's bound is the last value, after however many label values were stored.
      const values = parsed.length > 0 ? labelValues(parsed.slice(0, -1)) : undefined
      if (!values) continue
      const s = seriesOf(values)
      const le = parsed[parsed.length - 1]
      s.buckets.set(le, (s.buckets.get(le) ?? 0) + Number(v))
      continue
    }
    const values = labelValues(parsed)
    if (!values) continue
    if (part === 'count') seriesOf(values).count += Number(v)
    else if (part === 'sum') seriesOf(values).sum += Number(v)
  }
  const out: MetricValue[] = []
  for (const s of series.values()) {
    const labels = labelsOf(s.labels)
    let cumulative = 0
    for (const b of def.buckets) {
      cumulative += s.buckets.get(String(b)) ?? 0
      out.push({ metricName: `${def.name}_bucket`, labels: { ...labels, le: b }, value: cumulative })
    }
    out.push({ metricName: `${def.name}_bucket`, labels: { ...labels, le: '+Inf' }, value: s.count })
    out.push({ metricName: `${def.name}_sum`, labels, value: s.sum })
    out.push({ metricName: `${def.name}_count`, labels, value: s.count })
  }
  return out
}

/** Builds the main process's registry. Loads prom-client, so call it from the main process. */
export async function createMetrics(deps: MetricsDeps): Promise<Metrics> {
  const prom = await import('prom-client')
  const prefix = deps.keyPrefix ?? METRICS_KEY_PREFIX
  const registry = new prom.Registry()
  const defs = Object.values(SHARED_METRICS) as SharedDef[]

  // One pipelined read of every hash per scrape, shared by all shared metrics of that scrape.
  let snapshot: Promise<Map<string, Record<string, string>> | undefined> | undefined
  let snapshotAt = 0
  const readAll = () => {
    if (!snapshot || Date.now() - snapshotAt > 250) {
      snapshotAt = Date.now()
      snapshot = (async () => {
        try {
          const p = deps.redis.pipeline()
          for (const d of defs) p.hgetall(keyOf(d, prefix))
          const results = (await p.exec()) ?? []
          const out = new Map<string, Record<string, string>>()
          defs.forEach((d, i) => {
            const [err, hash] = results[i] ?? [new Error('no reply'), null]
            if (err) throw err
            out.set(d.name, (hash ?? {}) as Record<string, string>)
          })
          return out
        } catch (err) {
          deps.log?.('warn', 'metrics store unreadable; shared metrics left out of this scrape', {
            error: (err as Error).message,
          })
          return undefined
        }
      })()
    }
    return snapshot
  }

  for (const def of defs) {
    registry.registerMetric({
      name: def.name,
      help: def.help,
      type: def.kind,
      aggregator: 'sum',
      // The totals live in Redis; a registry reset has nothing local to clear.
      reset: () => {},
      get: async () => {
        const all = await readAll()
        return {
          name: def.name,
          help: def.help,
          type: def.kind,
          aggregator: 'sum',
          values: all ? valuesFromHash(def, all.get(def.name) ?? {}) : [],
        }
      },
    } as unknown as Metric)
  }

  new prom.Gauge({
    name: 'sentinel_metrics_store_up',
    help: '1 when the shared metrics could be read from Redis at this scrape',
    registers: [registry],
    async collect() {
      this.set((await readAll()) ? 1 : 0)
    },
  })
  new prom.Gauge({
    name: 'sentinel_approvals_pending',
    help: 'Remediations waiting for a human approval',
    registers: [registry],
    async collect() {
      if (!deps.pendingApprovals) return
      try {
        this.set(await deps.pendingApprovals())
      } catch (err) {
        deps.log?.('warn', 'pending approvals unreadable', { error: (err as Error).message })
      }
    },
  })
  new prom.Gauge({
    name: 'sentinel_archive_pending',
    help: 'Incidents whose latest write the SQL archive does not hold yet',
    registers: [registry],
    async collect() {
      if (!deps.archivePending) return
      try {
        this.set(await deps.archivePending())
      } catch (err) {
        deps.log?.('warn', 'archive backlog unreadable', { error: (err as Error).message })
      }
    },
  })
  const sse = new prom.Gauge({
    name: 'sentinel_sse_clients',
    help: 'Clients connected to the live incident stream (SSE)',
    registers: [registry],
  })
  const health = new prom.Gauge({
    name: 'sentinel_health_score',
    help: 'Health score (0 to 1) of the whole system (scope="system") or of one watched container (scope="container")',
    labelNames: ['scope', 'container'],
    registers: [registry],
    async collect() {
      if (!deps.healthScores) return
      try {
        const scores = await deps.healthScores()
        this.reset()
        if (Number.isFinite(scores.system)) this.set({ scope: 'system' }, scores.system!)
        for (const [container, score] of Object.entries(scores.containers ?? {}))
          if (Number.isFinite(score)) this.set({ scope: 'container', container }, score)
      } catch (err) {
        deps.log?.('warn', 'health scores unreadable', { error: (err as Error).message })
      }
    },
  })

  // Both node gauges come from one read of the node list per scrape, as the shared metrics do.
  let nodesRead: Promise<NodeLiveness[] | undefined> | undefined
  let nodesReadAt = 0
  const readNodes = () => {
    if (!deps.nodes) return Promise.resolve(undefined)
    if (!nodesRead || Date.now() - nodesReadAt > 250) {
      nodesReadAt = Date.now()
      nodesRead = deps.nodes().catch((err: unknown) => {
        deps.log?.('warn', 'node list unreadable; node gauges left out of this scrape', {
          error: (err as Error).message,
        })
        return undefined
      })
    }
    return nodesRead
  }
  new prom.Gauge({
    name: 'sentinel_node_up',
    help: 'Whether a fleet node is up (1) or down (0) by its heartbeats; absent while its state is unknown',
    labelNames: ['node'],
    registers: [registry],
    async collect() {
      const nodes = await readNodes()
      // Reset even when unreadable: a node's last known value must not stand for the present.
      this.reset()
      for (const n of nodes ?? []) if (n.state !== 'unknown') this.set({ node: n.node }, n.state === 'up' ? 1 : 0)
    },
  })
  new prom.Gauge({
    name: 'sentinel_node_heartbeat_age_seconds',
    help: "Seconds since the controller last saw a fleet node's heartbeat; absent when it never saw one",
    labelNames: ['node'],
    registers: [registry],
    async collect() {
      const nodes = await readNodes()
      this.reset()
      for (const n of nodes ?? [])
        if (n.lastBeatAgeSeconds !== null && Number.isFinite(n.lastBeatAgeSeconds))
          this.set({ node: n.node }, n.lastBeatAgeSeconds)
    },
  })
  if (deps.leading) {
    const leading = deps.leading
    new prom.Gauge({
      name: 'sentinel_leader',
      help: 'Whether this controller leads a duty (1; absent: another controller does, or none)',
      labelNames: ['duty'],
      registers: [registry],
      collect() {
        this.reset()
        for (const duty of Object.keys(leading())) this.set({ duty }, 1)
      },
    })
  }
  const leaseChanges = new prom.Counter({
    name: 'sentinel_lease_changes_total',
    help: "This controller's terms as a duty's leader: begun (acquired) and ended other than by stopping (lost)",
    labelNames: ['duty', 'change'],
    registers: [registry],
  })
  if (deps.defaultMetrics !== false) prom.collectDefaultMetrics({ register: registry, prefix: 'sentinel_' })

  const recorder = metricsRecorder(deps.redis, { keyPrefix: prefix, log: deps.log })
  const render = () => registry.metrics()
  return {
    ...recorder,
    registry,
    contentType: registry.contentType,
    render,
    leaseChanged(duty, change) {
      leaseChanges.inc({ duty, change })
    },
    async handler(_req, res) {
      try {
        const body = await render()
        res.statusCode = 200
        res.setHeader('Content-Type', registry.contentType)
        res.end(body)
      } catch (err) {
        deps.log?.('error', '/metrics failed', { error: (err as Error).message })
        res.statusCode = 500
        res.setHeader('Content-Type', 'text/plain; charset=utf-8')
        res.end('metrics unavailable\n')
      }
    },
    sseClientConnected: () => sse.inc(),
    sseClientDisconnected: () => sse.dec(),
    setSseClients: (n) => sse.set(n),
    setHealthScore: (scope, score, container) =>
      health.set(scope === 'container' ? { scope, container: container ?? '' } : { scope }, score),
  }
}
