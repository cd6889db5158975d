/**
 * The Monitor: one `tick()` per cron run. It reads every check from Prometheus when one is
 * configured and answers, else from the local collectors (saying why), adds HTTP probe latencies,
 * evaluates the thresholds into alerts, scores every checked series for anomalies (anomaly.ts) and
 * runs both kinds of alert through the AlertTracker.
 *
 * Everything a later process needs (the source in use, the last readings, history, probe
 * windows, alert states) lives in Redis when one is given: ticks run in short-lived step
 * processes and GET /api/infrastructure-status runs in another.
 */
import type { Redis } from 'ioredis'
import type { Alert, ResourceRef, Severity } from '../platform/store/model'
import {
  collectDockerContainers,
  collectHost,
  HttpProber,
  MemoryProbeWindow,
  ReadingHistory,
  RedisProbeWindow,
  RedisReadingHistory,
} from './collectors/index'
import type { DockerCollectorOptions, HistoryStore, HostCollectorOptions } from './collectors/index'
import { PrometheusClient, PrometheusError } from '../platform/prometheus/client'
import { collectFromPrometheus, type PromQueryOptions } from './prometheus-queries'
import { alertFromCheck, checkReadings, resolveChecks, type CheckOverrides, type CheckedReading } from './checks'
import { AnomalyScorer, type AnomalyOptions, type AnomalyRound } from './anomaly'
import { AlertTracker, type AlertState, type AlertTrackerOptions, type Evaluation } from './tracker'
import type { CheckName, CheckRule, Reading, ReadingUnit } from './types'

export interface ProbeSettings {
  targets: string[]
  requestsPerTick?: number
  timeoutMs?: number
  /** Samples kept per target; default 60. */
  windowSize?: number
  /** Age limit of kept samples; default 10 minutes. */
  windowMs?: number
  percentile?: number
}

export interface MonitorOptions {
  /** Prometheus base URL; unset: collectors only. */
  prometheusUrl?: string
  /** Per query; default 3000 (a tick should not wait long on a Prometheus that is away). */
  prometheusTimeoutMs?: number
  /** A ready client (overrides prometheusUrl). */
  prometheus?: PrometheusClient
  queries?: PromQueryOptions
  /** Host collector settings (instance name, sampling, filesystem and device exclusions). */
  host?: HostCollectorOptions
  /** Docker collector settings; false: no container readings from Docker. */
  docker?: DockerCollectorOptions | false
  probes?: ProbeSettings
  /** Threshold, severity and enabled per check. */
  checks?: CheckOverrides
  /** Anomaly scoring of every checked series (state in `redis` when given); unset or false: off. */
  anomaly?: AnomalyOptions | false
  /**
   * The fleet's nodes' host readings (./fleet-readings.ts), checked like this host's. Read only
   * while the local collectors are the source: a Prometheus scraping the fleet's node exporters
   * already reports those hosts, and both would open two incidents for one problem.
   */
  fleetReadings?: () => Promise<Reading[]>
  /** Shared state: alert tracker, last readings, history, probe windows, source. */
  redis?: Redis
  /** The tracker, or its options (needs `redis`). */
  tracker?: AlertTracker | AlertTrackerOptions
  /** Where readings' history goes; default Redis lists with `redis`, else memory. false: none. */
  history?: HistoryStore | false
  /** Points per series; default 120. */
  historySize?: number
  /** Default `sentinel:observe:`. */
  keyPrefix?: string
  /** Clock, for tests. */
  now?: () => number
}

export interface SourceStatus {
  source: 'prometheus' | 'collector'
  /** Why this source: `prometheus reachable at …`, `prometheus unreachable: ECONNREFUSED`, `prometheus not configured`. */
  reason: string
  /** Since when this source has been in use. */
  since: string
  checkedAt: string
  prometheusUrl?: string
  /** Where container readings came from, or why there are none. */
  containers: string
}

export interface Collection {
  readings: Reading[]
  source: SourceStatus
  /** The source changed with this collection (e.g. Prometheus went away, or came back). */
  switched: boolean
  previousSource?: SourceStatus['source']
}

export interface TickResult extends Collection, Evaluation {
  /** Every breaching reading as an alert (before the `for` / hold-down logic). */
  alerts: Alert[]
  /** The anomaly scores of this tick and the anomaly alerts (also before `for`); absent when scoring is off. */
  anomaly?: AnomalyRound
  /** Fingerprints of checked readings within their thresholds. */
  clear: string[]
  at: string
}

export interface CheckStatus {
  check: CheckName
  fingerprint: string
  series: string
  metric: Reading['metric']
  value: number
  unit: ReadingUnit
  threshold: number
  severity: Severity
  resource: ResourceRef
  labels: Record<string, string>
  source: Reading['source']
  query: string
  at: string
  state: AlertState
  flapping: boolean
  pendingSince?: string
  openedAt?: string
}

export interface InfrastructureStatus {
  source: SourceStatus | null
  checkedAt: string | null
  /** The latest reading of every check, with its alert state. */
  checks: CheckStatus[]
  /** Readings without a threshold (network rates, container memory bytes). */
  metrics: Reading[]
}

interface Snapshot {
  at: string
  source: SourceStatus
  readings: Reading[]
}

const HOST_CORE = new Set(['memory_used_percent', 'cpu_busy_percent'])

export class Monitor {
  readonly prometheus?: PrometheusClient
  readonly tracker?: AlertTracker
  readonly history?: HistoryStore
  readonly prober?: HttpProber
  readonly anomaly?: AnomalyScorer
  private readonly checks: Record<CheckName, CheckRule>
  private readonly prefix: string
  private readonly now: () => number
  private lastSource?: SourceStatus
  private lastSnapshot?: Snapshot

  constructor(private readonly opts: MonitorOptions = {}) {
    this.prefix = opts.keyPrefix ?? 'sentinel:observe:'
    this.now = opts.now ?? Date.now
    this.checks = resolveChecks(opts.checks)
    this.prometheus =
      opts.prometheus ??
      (opts.prometheusUrl
        ? new PrometheusClient({ url: opts.prometheusUrl, timeoutMs: opts.prometheusTimeoutMs ?? 3000 })
        : undefined)
    if (opts.tracker instanceof AlertTracker) this.tracker = opts.tracker
    else if (opts.redis) this.tracker = new AlertTracker(opts.redis, opts.tracker)
    else if (opts.tracker) throw new Error('Monitor: the AlertTracker needs a redis client (options.redis)')
    if (opts.history !== false) {
      this.history =
        opts.history ??
        (opts.redis
          ? new RedisReadingHistory(opts.redis, opts.historySize ?? 120, `${this.prefix}history:`)
          : new ReadingHistory(opts.historySize ?? 120))
    }
    if (opts.anomaly)
      this.anomaly = new AnomalyScorer(opts.redis, { prefix: `${this.prefix}anomaly:`, ...opts.anomaly })
    const probes = opts.probes
    if (probes && probes.targets.length) {
      const windowOpts = { size: probes.windowSize, windowMs: probes.windowMs }
      this.prober = new HttpProber({
        targets: probes.targets,
        requestsPerTick: probes.requestsPerTick,
        timeoutMs: probes.timeoutMs,
        percentile: probes.percentile,
        window: opts.redis
          ? new RedisProbeWindow(opts.redis, { ...windowOpts, prefix: `${this.prefix}probe:` })
          : new MemoryProbeWindow(windowOpts),
      })
    }
  }

  /** The rules in force per check. */
  get checkRules(): Record<CheckName, CheckRule> {
    return this.checks
  }

  /** Readings from the best source available now, plus probe latencies. */
  async collect(): Promise<Collection> {
    const time = this.now()
    const withLatency = !this.prober
    const probing = this.prober ? this.prober.probe() : Promise.resolve([])
    let readings: Reading[] = []
    let reason: string
    let containers: string

    let fellBack = true
    if (this.prometheus) {
      try {
        const prom = await collectFromPrometheus(this.prometheus, { ...this.opts.queries, time, withLatency })
        if (!prom.host.some((r) => HOST_CORE.has(r.metric))) {
          reason = `prometheus at ${this.prometheus.url} has no node-exporter metrics (node_memory_*, node_cpu_seconds_total): using the local collectors`
        } else {
          fellBack = false
          readings = prom.host
          reason = `prometheus reachable at ${this.prometheus.url}`
          if (prom.containers.length) {
            readings.push(...prom.containers)
            containers = 'prometheus (cAdvisor container_* metrics)'
          } else {
            const d = await collectDockerContainers(this.opts.docker)
            readings.push(...d.containers)
            containers = d.containerError
              ? `none: ${d.containerError}`
              : 'docker engine API (prometheus has no cAdvisor metrics)'
          }
        }
      } catch (err) {
        if (err instanceof PrometheusError && err.unavailable)
          reason = err.code ? `prometheus unreachable: ${err.code} (${this.prometheus.url})` : err.message
        else reason = `prometheus query failed: ${(err as Error).message}`
      }
    } else {
      reason = 'prometheus not configured'
    }
    if (fellBack) {
      const [host, d] = await Promise.all([
        collectHost({ ...this.opts.host, withLatency }),
        collectDockerContainers(this.opts.docker),
      ])
      readings = [...host, ...d.containers]
      containers = d.containerError ? `none: ${d.containerError}` : 'docker engine API'
      // A fleet that cannot be read now leaves this host's readings as they are.
      if (this.opts.fleetReadings) readings.push(...(await this.opts.fleetReadings().catch(() => [])))
    }
    const source: 'prometheus' | 'collector' = fellBack ? 'collector' : 'prometheus'
    readings.push(...(await probing))

    const checkedAt = new Date(time).toISOString()
    const previous = this.lastSource ?? (await this.loadSource())
    const switched = !!previous && previous.source !== source
    const status: SourceStatus = {
      source,
      reason: reason!,
      since: previous && !switched ? previous.since : checkedAt,
      checkedAt,
      ...(this.prometheus ? { prometheusUrl: this.prometheus.url } : {}),
      containers: containers!,
    }
    this.lastSource = status
    return { readings, source: status, switched, ...(switched ? { previousSource: previous!.source } : {}) }
  }

  /** The checked readings with fingerprints; breaching ones become alerts. */
  evaluate(readings: Reading[]): { alerts: Alert[]; clear: string[]; checked: CheckedReading[] } {
    const checked = checkReadings(readings, this.checks)
    return {
      alerts: checked.filter((c) => c.breaching).map(alertFromCheck),
      clear: checked.filter((c) => !c.breaching).map((c) => c.fingerprint),
      checked,
    }
  }

  /** One full round: collect, record, evaluate, track. */
  async tick(): Promise<TickResult> {
    const collection = await this.collect()
    const { alerts, clear, checked } = this.evaluate(collection.readings)
    const at = collection.source.checkedAt
    const anomaly = this.anomaly ? await this.anomaly.score(checked, Date.parse(at)) : undefined
    const evaluation: Evaluation = this.tracker
      ? await this.tracker.evaluate({
          breaching: [...alerts, ...(anomaly?.alerts ?? [])],
          clear: [...clear, ...(anomaly?.clear ?? [])],
          now: Date.parse(at),
        })
      : { toOpen: [], toResolve: [], flapping: [], pending: [] }
    await Promise.all([
      this.history?.record(collection.readings),
      this.saveSnapshot({ at, source: collection.source, readings: collection.readings }),
    ])
    return { ...collection, ...evaluation, alerts, clear, at, ...(anomaly ? { anomaly } : {}) }
  }

  /** The latest reading of every check, its source and its alert state. */
  async latestStatus(): Promise<InfrastructureStatus> {
    const snap = await this.loadSnapshot()
    if (!snap) return { source: (await this.loadSource()) ?? null, checkedAt: null, checks: [], metrics: [] }
    const { checked } = this.evaluate(snap.readings)
    const states = this.tracker ? await this.tracker.states(checked.map((c) => c.fingerprint)) : new Map()
    const checkedSeries = new Set(checked.map((c) => c.reading.series))
    const checks: CheckStatus[] = checked.map((c) => {
      const t = states.get(c.fingerprint)
      const r = c.reading
      return {
        check: c.check,
        fingerprint: c.fingerprint,
        series: r.series,
        metric: r.metric,
        value: r.value,
        unit: r.unit,
        threshold: c.rule.threshold,
        severity: c.rule.severity,
        resource: r.resource,
        labels: r.labels,
        source: r.source,
        query: r.query,
        at: r.at,
        // Without a tracker, a breach is reported as firing at once.
        state: t ? t.state : c.breaching ? 'firing' : 'ok',
        flapping: t?.flapping ?? false,
        ...(t?.pendingSince ? { pendingSince: t.pendingSince } : {}),
        ...(t?.openedAt ? { openedAt: t.openedAt } : {}),
      }
    })
    return {
      source: snap.source,
      checkedAt: snap.at,
      checks,
      metrics: snap.readings.filter((r) => !checkedSeries.has(r.series)),
    }
  }

  /** The source in use at the last collection (from Redis when this process has not collected). */
  async sourceStatus(): Promise<SourceStatus | null> {
    return this.lastSource ?? (await this.loadSource()) ?? null
  }

  private async saveSnapshot(snap: Snapshot): Promise<void> {
    this.lastSnapshot = snap
    if (!this.opts.redis) return
    await this.opts.redis
      .multi()
      .set(`${this.prefix}latest`, JSON.stringify(snap))
      .set(`${this.prefix}source`, JSON.stringify(snap.source))
      .exec()
  }

  private async loadSnapshot(): Promise<Snapshot | undefined> {
    if (!this.opts.redis) return this.lastSnapshot
    const raw = await this.opts.redis.get(`${this.prefix}latest`)
    return raw ? (JSON.parse(raw) as Snapshot) : this.lastSnapshot
  }

  private async loadSource(): Promise<SourceStatus | undefined> {
    if (!this.opts.redis) return undefined
    const raw = await this.opts.redis.get(`${this.prefix}source`).catch(() => null)
    return raw ? (JSON.parse(raw) as SourceStatus) : undefined
  }
}
