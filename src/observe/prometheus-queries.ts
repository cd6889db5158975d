/**
 * The PromQL behind each check, per instance / filesystem / container, and the conversion of
 * the answers into readings. All queries of one collection are evaluated at the same instant,
 * so derived values (the computed latency) agree with the readings they derive from.
 */
import { DEFAULT_EXCLUDED_FS_TYPES } from '../platform/config/observe'
import type { ResourceRef } from '../platform/store/model'
import type { Reading, ReadingMetric, ReadingUnit } from './types'
import { readingSeries } from './types'
import type { PrometheusClient, PromSample } from '../platform/prometheus/client'

/** Baseline of the computed latency, in ms. */
export const LATENCY_BASE_MS = 25
/** Added per MB/s (10^6 bytes per second, received + transmitted) of network traffic. */
export const LATENCY_MS_PER_MBPS = 2
/** Added per network error per second (receive + transmit errors). */
export const LATENCY_MS_PER_ERROR_PER_SECOND = 100

/** 25 ms + 2 ms per MB/s of traffic + 100 ms per error/s: latency estimated from node counters. */
export function computedLatencyMs(bytesPerSecond: number, errorsPerSecond: number): number {
  return (
    LATENCY_BASE_MS + (LATENCY_MS_PER_MBPS * bytesPerSecond) / 1e6 + LATENCY_MS_PER_ERROR_PER_SECOND * errorsPerSecond
  )
}

export interface PromQueryOptions {
  /** Range of rate() for CPU; default 1m. Shorter reacts faster (needs scrapes well inside it). */
  cpuWindow?: string
  /** Range of rate() for network and container counters; default 1m. */
  rateWindow?: string
  /** Filesystem types left out of the disk check; default DEFAULT_EXCLUDED_FS_TYPES. */
  excludeFsTypes?: string[]
  /** Mount points (regex, anchored by Prometheus) left out; default DEFAULT_EXCLUDED_MOUNTPOINTS. */
  excludeMountpoints?: string
  /** Network devices (regex) left out of the traffic sums; default DEFAULT_EXCLUDED_DEVICES. */
  excludeDevices?: string
  /** Extra label matchers for every node-exporter selector, e.g. `job="node"`. */
  nodeSelector?: string
  /** Extra label matchers for every cAdvisor selector, e.g. `container_label_sentinel_watch="true"`. */
  containerSelector?: string
}

export const DEFAULT_EXCLUDED_MOUNTPOINTS =
  '/(dev|proc|sys|run/credentials/.+|var/lib/docker/.+|var/lib/containers/.+)($|/.*)'
// Loopback and Docker's virtual links: container traffic would be counted twice (veth + bridge + eth).
export const DEFAULT_EXCLUDED_DEVICES = 'lo|veth.*|docker[0-9]+|br-.*'

const escapeRegexLiteral = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
/** A PromQL double-quoted string literal. */
const str = (s: string) => JSON.stringify(s)
const join = (...m: Array<string | undefined>) => `{${m.filter((x) => x && x.trim()).join(',')}}`

export interface PromQueries {
  memory: string
  cpu: string
  disk: string
  networkBytes: string
  networkErrors: string
  latency: string
  containerMemoryBytes: string
  containerMemoryPercent: string
  containerCpu: string
}

export function buildQueries(opts: PromQueryOptions = {}): PromQueries {
  const cpuWindow = opts.cpuWindow ?? '1m'
  const rateWindow = opts.rateWindow ?? '1m'
  for (const w of [cpuWindow, rateWindow])
    if (!/^\d+(ms|s|m|h)$/.test(w)) throw new Error(`invalid PromQL range "${w}" (expected e.g. 30s, 1m)`)
  const fsTypes = opts.excludeFsTypes ?? DEFAULT_EXCLUDED_FS_TYPES
  const node = opts.nodeSelector
  const fsSel = join(
    node,
    fsTypes.length ? `fstype!~${str(fsTypes.map(escapeRegexLiteral).join('|'))}` : undefined,
    (opts.excludeMountpoints ?? DEFAULT_EXCLUDED_MOUNTPOINTS)
      ? `mountpoint!~${str(opts.excludeMountpoints ?? DEFAULT_EXCLUDED_MOUNTPOINTS)}`
      : undefined,
  )
  const devices = opts.excludeDevices ?? DEFAULT_EXCLUDED_DEVICES
  const netSel = join(node, devices ? `device!~${str(devices)}` : undefined)
  const ctr = join('name!=""', opts.containerSelector)
  const netSum = (rx: string, tx: string) =>
    `sum by (instance) (rate(${rx}${netSel}[${rateWindow}]) + rate(${tx}${netSel}[${rateWindow}]))`
  const networkBytes = netSum('node_network_receive_bytes_total', 'node_network_transmit_bytes_total')
  const networkErrors = netSum('node_network_receive_errs_total', 'node_network_transmit_errs_total')
  return {
    memory: `100 * (1 - node_memory_MemAvailable_bytes${join(node)} / node_memory_MemTotal_bytes${join(node)})`,
    cpu: `100 * (1 - avg by (instance) (rate(node_cpu_seconds_total${join(node, 'mode="idle"')}[${cpuWindow}])))`,
    disk: `100 * (1 - node_filesystem_avail_bytes${fsSel} / node_filesystem_size_bytes${fsSel})`,
    networkBytes,
    networkErrors,
    latency: `${LATENCY_BASE_MS} + ${LATENCY_MS_PER_MBPS} * (${networkBytes}) / 1e6 + ${LATENCY_MS_PER_ERROR_PER_SECOND} * (${networkErrors})`,
    containerMemoryBytes: `max by (instance, name, id) (container_memory_working_set_bytes${ctr})`,
    // cAdvisor reports 0 as the limit of an unlimited container: no percentage for those.
    containerMemoryPercent: `100 * max by (instance, name, id) (container_memory_working_set_bytes${ctr}) / on (instance, name, id) (max by (instance, name, id) (container_spec_memory_limit_bytes${ctr}) > 0)`,
    containerCpu: `100 * sum by (instance, name, id) (rate(container_cpu_usage_seconds_total${ctr}[${rateWindow}]))`,
  }
}

export interface PrometheusCollection {
  /** Host-level readings (memory, CPU, disk, network, computed latency). */
  host: Reading[]
  /** cAdvisor container readings; empty when Prometheus has none. */
  containers: Reading[]
}

function reading(
  metric: ReadingMetric,
  unit: ReadingUnit,
  resource: ResourceRef,
  sample: PromSample,
  query: string,
  at: string,
): Reading {
  return {
    series: readingSeries(metric, resource),
    metric,
    value: sample.value,
    unit,
    resource,
    labels: sample.labels,
    source: 'prometheus',
    query,
    at,
  }
}

const hostRef = (labels: Record<string, string>): ResourceRef => {
  const instance = labels.instance ?? 'unknown'
  return { kind: 'host', id: instance, name: instance }
}

/**
 * Runs every check's query at one instant. Throws PrometheusError when Prometheus cannot be
 * reached or rejects a query; missing metrics just give fewer readings.
 */
export async function collectFromPrometheus(
  client: PrometheusClient,
  opts: PromQueryOptions & { time?: number; withLatency?: boolean; withContainers?: boolean } = {},
): Promise<PrometheusCollection> {
  const q = buildQueries(opts)
  const time = opts.time ?? Date.now()
  const at = new Date(time).toISOString()
  const ask = (promql: string) => client.query(promql, { time }).then((s) => s.filter((x) => Number.isFinite(x.value)))
  const withContainers = opts.withContainers ?? true
  const [memory, cpu, disk, bytes, errors, latency, cMem, cMemPct, cCpu] = await Promise.all([
    ask(q.memory),
    ask(q.cpu),
    ask(q.disk),
    ask(q.networkBytes),
    ask(q.networkErrors),
    opts.withLatency === false ? Promise.resolve([]) : ask(q.latency),
    withContainers ? ask(q.containerMemoryBytes) : Promise.resolve([]),
    withContainers ? ask(q.containerMemoryPercent) : Promise.resolve([]),
    withContainers ? ask(q.containerCpu) : Promise.resolve([]),
  ])
  const host: Reading[] = []
  for (const s of memory) host.push(reading('memory_used_percent', 'percent', hostRef(s.labels), s, q.memory, at))
  for (const s of cpu) host.push(reading('cpu_busy_percent', 'percent', hostRef(s.labels), s, q.cpu, at))
  for (const s of disk) {
    const instance = s.labels.instance ?? 'unknown'
    const mount = s.labels.mountpoint ?? s.labels.device ?? 'unknown'
    host.push(
      reading(
        'disk_used_percent',
        'percent',
        { kind: 'filesystem', id: `${instance}:${mount}`, name: mount },
        s,
        q.disk,
        at,
      ),
    )
  }
  for (const s of bytes)
    host.push(reading('network_bytes_per_second', 'bytes_per_second', hostRef(s.labels), s, q.networkBytes, at))
  for (const s of errors)
    host.push(reading('network_errors_per_second', 'errors_per_second', hostRef(s.labels), s, q.networkErrors, at))
  for (const s of latency) host.push(reading('latency_ms', 'ms', hostRef(s.labels), s, q.latency, at))

  const containers: Reading[] = []
  // cAdvisor's id label is the cgroup path (/docker/<id>, /system.slice/docker-<id>.scope).
  const ctrRef = (labels: Record<string, string>): ResourceRef => ({
    kind: 'container',
    id: /[0-9a-f]{64}/.exec(labels.id ?? '')?.[0] ?? labels.name,
    name: labels.name,
  })
  for (const s of cMem)
    containers.push(reading('container_memory_bytes', 'bytes', ctrRef(s.labels), s, q.containerMemoryBytes, at))
  for (const s of cMemPct)
    containers.push(reading('container_memory_percent', 'percent', ctrRef(s.labels), s, q.containerMemoryPercent, at))
  for (const s of cCpu)
    containers.push(reading('container_cpu_percent', 'percent', ctrRef(s.labels), s, q.containerCpu, at))
  return { host, containers }
}
