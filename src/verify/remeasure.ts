/**
 * After a fix: read again the metric that raised the alert, for the same resource, from the same
 * source, and compare it with the alert's threshold.
 *
 * - Monitor alerts read from Prometheus: the alert's own PromQL (alert.source) as an instant query,
 *   keeping the sample whose labels are the alert's series.
 * - Alertmanager alerts: the rule's expression (g0.expr of the generator URL) against PROMETHEUS_URL;
 *   the rule fires while it returns the alert's series, so "still returned" is over, "gone" is under.
 * - Monitor alerts read from the collectors: /proc, statfs of the mount point, Docker's stats.
 * - Probe latency: a fresh round of probes of the target (not the window the alert came from).
 * - Anomaly alerts from the monitor (no fixed threshold): the same reading, compared with the range
 *   the detector expected; back inside it is "under".
 * - Test alerts (POST /api/trigger-alert) name no source: this host's collectors measure them
 *   (disk: statfs of the named path; latency: the probe when it is a configured target).
 *
 * A source that cannot answer gives `unavailable`, never an exception: the caller decides.
 */
import os from 'node:os'
import path from 'node:path'
import {
  containerCpuPercent,
  containerMemoryBytes,
  oneShotStats,
  type ContainerStats,
} from '../observe/collectors/docker'
import { collectHost, type HostCollectorOptions } from '../observe/collectors/host'
import { HttpProber, MemoryProbeWindow } from '../observe/collectors/probe'
import { publicUrl } from '../platform/config/observe'
import type { SentinelConfig } from '../platform/config/index'
import { monitorOptionsFromSettings } from '../observe/settings'
import { filesystemUsage } from '../platform/host/statfs'
import { PrometheusClient } from '../platform/prometheus/client'
import type { Alert, AlertType } from '../platform/store/model'

export type RemeasureStatus = 'under' | 'over' | 'unavailable'

export interface Remeasurement {
  /** under: at or below the threshold; over: still above it; unavailable: no reading. */
  status: RemeasureStatus
  metric: string
  value: number | null
  threshold: number | null
  /** For an anomaly alert (no fixed threshold): the range the detector expected, [low, high]. */
  expected?: [number, number]
  source: 'prometheus' | 'collector' | 'probe'
  /** The PromQL, `collector:<what>` or `probe:<url>` that was read. */
  query: string
  resource: string
  at: string
  detail: string
}

export interface RemeasureOptions {
  prometheusUrl?: string
  prometheusTimeoutMs?: number
  /** The host collector settings the Monitor uses (instance name, exclusions). */
  host?: HostCollectorOptions
  dockerSocket?: string
  /** PROBE_TARGETS: the probe alert's target with its credentials, which the alert does not keep. */
  probeTargets?: string[]
  probeRequests?: number
  probeTimeoutMs?: number
  /** Between the two CPU samples of a collector reading; default 500 ms. */
  sampleMs?: number
}

export function remeasureOptionsFromConfig(cfg: SentinelConfig): RemeasureOptions {
  const s = cfg.observe
  return {
    prometheusUrl: cfg.PROMETHEUS_URL,
    prometheusTimeoutMs: s.PROMETHEUS_TIMEOUT_MS,
    host: monitorOptionsFromSettings(s).host,
    dockerSocket: cfg.DOCKER_SOCKET,
    probeTargets: s.PROBE_TARGETS,
    probeRequests: s.PROBE_REQUESTS_PER_TICK,
    probeTimeoutMs: s.PROBE_TIMEOUT_MS,
  }
}

const METRIC_TYPES: AlertType[] = ['memory', 'cpu', 'disk', 'latency', 'anomaly']

/** Alerts verified by their metric. Container deaths keep the running/healthy check of their action. */
export function remeasures(alert: Alert): boolean {
  return METRIC_TYPES.includes(alert.type)
}

// Labels alertFromCheck adds to the reading's own, and the metric name (rules drop it from alerts).
const ADDED_LABELS = new Set(['check', 'source', '__name__'])

/** The sample that is the alert's series: the same labels as the reading that raised it. */
function sameSeries(sample: Record<string, string>, alert: Alert): boolean {
  for (const [k, v] of Object.entries(sample)) if (!ADDED_LABELS.has(k) && alert.labels[k] !== v) return false
  for (const k of Object.keys(alert.labels)) if (!ADDED_LABELS.has(k) && !(k in sample)) return false
  return true
}

/** A rule's series carries the rule's labels too: the sample's labels need only be among the alert's. */
const withinAlert = (sample: Record<string, string>, alert: Alert) =>
  Object.entries(sample).every(([k, v]) => k === '__name__' || alert.labels[k] === v)

/** The PromQL of the rule behind an Alertmanager alert, from Prometheus's generator URL. */
export function ruleExpression(alert: Alert): string | undefined {
  const url = (alert.details as { generatorURL?: unknown } | undefined)?.generatorURL
  if (typeof url !== 'string' || !url) return undefined
  try {
    return new URL(url).searchParams.get('g0.expr') ?? undefined
  } catch {
    return undefined
  }
}

const fmt = (n: number) => String(Math.round(n * 100) / 100)

type Base = Pick<Remeasurement, 'metric' | 'threshold' | 'expected' | 'source' | 'query' | 'resource'>

/** The range an anomaly alert's detector expected (details.expectedLow / expectedHigh). */
function expectedRange(alert: Alert): [number, number] | undefined {
  const d = (alert.details ?? {}) as { expectedLow?: unknown; expectedHigh?: unknown }
  return alert.type === 'anomaly' &&
    typeof d.expectedLow === 'number' &&
    typeof d.expectedHigh === 'number' &&
    d.expectedLow <= d.expectedHigh
    ? [d.expectedLow, d.expectedHigh]
    : undefined
}

function compared(base: Base, value: number): Remeasurement {
  const at = new Date().toISOString()
  if (base.threshold === null && base.expected) {
    const [low, high] = base.expected
    const inside = value >= low && value <= high
    return {
      ...base,
      status: inside ? 'under' : 'over',
      value,
      at,
      detail: `${base.metric} ${fmt(value)} ${inside ? 'back inside' : 'still outside'} its expected range ${fmt(low)}–${fmt(high)} on ${base.resource} (${base.source}: ${base.query})`,
    }
  }
  if (base.threshold === null)
    return {
      ...base,
      status: 'unavailable',
      value,
      at,
      detail: `${base.metric} is ${fmt(value)} on ${base.resource} but the alert has no threshold to compare with`,
    }
  // Checks alert when the value is strictly above the threshold: at the threshold is fine.
  const over = value > base.threshold
  return {
    ...base,
    status: over ? 'over' : 'under',
    value,
    at,
    detail: `${base.metric} ${fmt(value)} ${over ? 'still over' : 'back under'} ${fmt(base.threshold)} on ${base.resource} (${base.source}: ${base.query})`,
  }
}

const unavailable = (base: Base, why: string): Remeasurement => ({
  ...base,
  status: 'unavailable',
  value: null,
  at: new Date().toISOString(),
  detail: `${base.metric} on ${base.resource} could not be re-measured: ${why}`,
})

type Origin = 'prometheus' | 'rule' | 'collector' | 'probe' | 'test'

function originOf(alert: Alert): Origin | undefined {
  if (alert.fingerprint.startsWith('am:') || alert.source.startsWith('alertmanager')) return 'rule'
  const from = (alert.details as { readingSource?: unknown } | undefined)?.readingSource ?? alert.labels.source
  if (from === 'prometheus' || from === 'collector' || from === 'probe') return from
  if (alert.labels.test === 'true') return 'test'
  return undefined
}

const UNIT_MS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
  y: 31_536_000_000,
}
const DURATION = '(?:\\d+(?:ms|s|m|h|d|w|y))+'
const durationMs = (d: string) =>
  [...d.matchAll(/(\d+)(ms|s|m|h|d|w|y)/g)].reduce((t, [, n, u]) => t + Number(n) * UNIT_MS[u], 0)

/**
 * How far into the past the PromQL the re-measure runs looks: its longest range (`rate(x[1m])`,
 * a subquery's `[5m:30s]`) plus its longest `offset`. Until that much time has passed since the fix,
 * the reading still averages in the state before it. 0 for the collectors and probes (the present).
 */
export function lookbackMs(alert: Alert): number {
  const origin = originOf(alert)
  const query = origin === 'prometheus' ? alert.source : origin === 'rule' ? ruleExpression(alert) : undefined
  if (!query) return 0
  const longest = (re: RegExp) => Math.max(0, ...[...query.matchAll(re)].map((m) => durationMs(m[1])))
  return (
    longest(new RegExp(`\\[\\s*(${DURATION})\\s*(?::[^\\]]*)?\\]`, 'g')) +
    longest(new RegExp(`\\boffset\\s+-?(${DURATION})`, 'gi'))
  )
}

/** Re-reads the alert's metric. Never throws: a source that cannot answer is `unavailable`. */
export async function remeasure(alert: Alert, opts: RemeasureOptions = {}): Promise<Remeasurement> {
  const origin = originOf(alert)
  const expected = expectedRange(alert)
  const base: Base = {
    metric: alert.metric,
    threshold: alert.threshold,
    ...(expected ? { expected } : {}),
    source: 'collector',
    query: '',
    resource: alert.resource.name,
  }
  try {
    switch (origin) {
      case 'prometheus':
        return await fromPrometheus(alert, { ...base, source: 'prometheus', query: alert.source }, opts)
      case 'rule':
        return await fromRule(alert, { ...base, source: 'prometheus', query: ruleExpression(alert) ?? '' }, opts)
      case 'probe':
        return await fromProbe(alert, base, opts, alert.resource.id)
      case 'test': {
        const target =
          alert.type === 'latency' ? opts.probeTargets?.find((t) => publicUrl(t) === alert.resource.id) : undefined
        return target ? await fromProbe(alert, base, opts, target) : await fromCollectors(alert, base, opts)
      }
      case 'collector':
        return await fromCollectors(alert, base, opts)
      default:
        return unavailable(base, `Sentinel does not know how to read the source "${alert.source}"`)
    }
  } catch (err) {
    return unavailable(base, (err as Error).message)
  }
}

function prometheus(opts: RemeasureOptions): PrometheusClient | undefined {
  return opts.prometheusUrl
    ? new PrometheusClient({ url: opts.prometheusUrl, timeoutMs: opts.prometheusTimeoutMs ?? 3000 })
    : undefined
}

async function fromPrometheus(alert: Alert, base: Base, opts: RemeasureOptions): Promise<Remeasurement> {
  const client = prometheus(opts)
  if (!client) return unavailable(base, 'the alert came from Prometheus and PROMETHEUS_URL is not set')
  const sample = (await client.query(alert.source)).find((s) => Number.isFinite(s.value) && sameSeries(s.labels, alert))
  if (!sample)
    return unavailable(base, `Prometheus at ${client.url} has no sample of the series ${JSON.stringify(alert.labels)}`)
  return compared(base, sample.value)
}

async function fromRule(alert: Alert, base: Base, opts: RemeasureOptions): Promise<Remeasurement> {
  if (!base.query) return unavailable(base, 'the alert carries no PromQL expression (no g0.expr in its generator URL)')
  const client = prometheus(opts)
  if (!client) return unavailable(base, 'PROMETHEUS_URL is not set, so the rule cannot be evaluated')
  const sample = (await client.query(base.query)).find((s) => withinAlert(s.labels, alert))
  const at = new Date().toISOString()
  if (sample) {
    return {
      ...base,
      status: 'over',
      value: sample.value,
      at,
      detail: `the rule ${base.query} still returns the alert's series (${fmt(sample.value)}) for ${base.resource}: it would still fire`,
    }
  }
  return {
    ...base,
    status: 'under',
    value: null,
    at,
    detail: `the rule ${base.query} no longer returns the alert's series for ${base.resource}: the condition has cleared`,
  }
}

async function fromProbe(
  alert: Alert,
  base: Base,
  opts: RemeasureOptions,
  fallbackTarget: string,
): Promise<Remeasurement> {
  const target = opts.probeTargets?.find((t) => publicUrl(t) === alert.resource.id) ?? fallbackTarget
  const pct = Number(/^p(\d+(?:\.\d+)?)$/.exec(alert.labels.percentile ?? '')?.[1] ?? 95)
  const prober = new HttpProber({
    targets: [target],
    requestsPerTick: opts.probeRequests ?? 3,
    timeoutMs: opts.probeTimeoutMs ?? 5000,
    percentile: pct,
    window: new MemoryProbeWindow(),
  })
  const [reading] = await prober.probe()
  const shown = publicUrl(target)
  const b = { ...base, source: 'probe' as const, query: `probe:GET ${shown} p${pct}` }
  if (!reading) return unavailable(b, `no probe of ${shown} completed`)
  return compared({ ...b, query: reading.query }, reading.value)
}

async function fromCollectors(alert: Alert, base: Base, opts: RemeasureOptions): Promise<Remeasurement> {
  switch (alert.metric) {
    case 'disk_used_percent': {
      const mount = alert.labels.mountpoint ?? alert.resource.name
      const b = { ...base, query: 'collector:statfs' }
      if (!path.isAbsolute(mount)) return unavailable(b, `"${mount}" is not a path`)
      const fs = await filesystemUsage(mount)
      if (!fs.sizeBytes) return unavailable(b, `${mount} reports no blocks`)
      // As the collectors read it: what unprivileged users can still write.
      return compared({ ...b, resource: mount }, fs.usedPercent)
    }
    case 'memory_used_percent':
    case 'cpu_busy_percent':
    case 'latency_ms': {
      const reading = (await collectHost({ ...opts.host, sampleMs: opts.sampleMs ?? 500 })).find(
        (r) => r.metric === alert.metric,
      )
      if (!reading) return unavailable(base, 'the host collectors gave no such reading')
      return compared({ ...base, query: reading.query, resource: reading.resource.name }, reading.value)
    }
    case 'container_memory_percent':
    case 'container_cpu_percent':
      return fromDocker(alert, { ...base, query: 'collector:docker /containers/{id}/stats' }, opts)
    default:
      return unavailable(base, `the collectors do not read ${alert.metric}`)
  }
}

async function fromDocker(alert: Alert, base: Base, opts: RemeasureOptions): Promise<Remeasurement> {
  // By name: a container recreated by the fix keeps its name, not its id.
  const ref = alert.resource.name || alert.resource.id
  const docker = { socketPath: opts.dockerSocket ?? '/var/run/docker.sock' }
  const first: ContainerStats = await oneShotStats(ref, docker)
  if (alert.metric === 'container_memory_percent') {
    const bytes = containerMemoryBytes(first)
    const limit = first.memory_stats?.limit
    if (bytes === undefined) return unavailable(base, `docker reports no memory usage for ${ref} (is it running?)`)
    if (!limit || limit >= os.totalmem()) return unavailable(base, `${ref} has no memory limit now`)
    return compared(base, (100 * bytes) / limit)
  }
  await new Promise((r) => setTimeout(r, opts.sampleMs ?? 500))
  const cpu = containerCpuPercent(first, await oneShotStats(ref, docker))
  if (cpu === undefined) return unavailable(base, `docker reports no CPU usage for ${ref} (is it running?)`)
  return compared(base, cpu)
}
