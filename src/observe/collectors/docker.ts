/**
 * Container readings through the Docker Engine API (the platform's light client: dockerode is too
 * heavy for step processes): memory from one-shot stats, CPU from two one-shot samples.
 */
import os from 'node:os'
import { engineGet } from '../../platform/docker/engine-api'
import type { ResourceRef } from '../../platform/store/model'
import { readingSeries, type Reading, type ReadingMetric, type ReadingUnit } from '../types'

export interface DockerCollectorOptions {
  /** Default /var/run/docker.sock. */
  socketPath?: string
  /** Only containers with this label (`key=value`, or `key` for any value). */
  label?: string
  /** Time between the two stats samples for CPU; default 500 ms. */
  sampleMs?: number
  timeoutMs?: number
  /** At most this many containers per collection (largest hosts); default 200. */
  maxContainers?: number
}

/** Where and how long the Engine API is asked, from the collector's options. */
const engineOpts = (opts: DockerCollectorOptions) => ({
  socketPath: opts.socketPath ?? '/var/run/docker.sock',
  timeoutMs: opts.timeoutMs,
})

export interface ContainerSummary {
  Id: string
  Names: string[]
  Image: string
  State: string
  Labels: Record<string, string> | null
}

export interface ContainerStats {
  read: string
  cpu_stats: {
    cpu_usage: { total_usage: number; percpu_usage?: number[] }
    system_cpu_usage?: number
    online_cpus?: number
  }
  memory_stats: { usage?: number; limit?: number; stats?: Record<string, number> }
}

export async function listRunningContainers(opts: DockerCollectorOptions = {}): Promise<ContainerSummary[]> {
  const filters: Record<string, string[]> = { status: ['running'] }
  if (opts.label) filters.label = [opts.label]
  return engineGet<ContainerSummary[]>(
    `/containers/json?filters=${encodeURIComponent(JSON.stringify(filters))}`,
    engineOpts(opts),
  )
}

export function oneShotStats(id: string, opts: DockerCollectorOptions = {}): Promise<ContainerStats> {
  return engineGet<ContainerStats>(
    `/containers/${encodeURIComponent(id)}/stats?stream=false&one-shot=true`,
    engineOpts(opts),
  )
}

/** Memory in use as `docker stats` counts it: usage less the inactive file cache. */
export function containerMemoryBytes(s: ContainerStats): number | undefined {
  const usage = s.memory_stats?.usage
  if (usage === undefined) return undefined
  const st = s.memory_stats.stats ?? {}
  // cgroup v2 reports inactive_file; v1 total_inactive_file.
  const cache = st.inactive_file ?? st.total_inactive_file ?? 0
  return Math.max(0, usage - (cache < usage ? cache : 0))
}

/** CPU % (100 = one full core) between two samples, as `docker stats` computes it. */
export function containerCpuPercent(a: ContainerStats, b: ContainerStats): number | undefined {
  const cpuDelta = b.cpu_stats.cpu_usage.total_usage - a.cpu_stats.cpu_usage.total_usage
  const sysDelta = (b.cpu_stats.system_cpu_usage ?? 0) - (a.cpu_stats.system_cpu_usage ?? 0)
  if (!(sysDelta > 0) || cpuDelta < 0) return undefined
  const cpus = b.cpu_stats.online_cpus || b.cpu_stats.cpu_usage.percpu_usage?.length || os.cpus().length || 1
  return (cpuDelta / sysDelta) * cpus * 100
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

function mk(
  metric: ReadingMetric,
  unit: ReadingUnit,
  value: number,
  resource: ResourceRef,
  labels: Record<string, string>,
  at: string,
): Reading {
  return {
    series: readingSeries(metric, resource),
    metric,
    value,
    unit,
    resource,
    labels,
    source: 'collector',
    query: 'collector:docker /containers/{id}/stats',
    at,
  }
}

/** Memory and CPU readings of each running container. Containers that stop mid-way are skipped. */
export async function collectContainers(opts: DockerCollectorOptions = {}): Promise<Reading[]> {
  const containers = (await listRunningContainers(opts)).slice(0, opts.maxContainers ?? 200)
  if (containers.length === 0) return []
  const sampleAll = () => Promise.all(containers.map((c) => oneShotStats(c.Id, opts).catch(() => undefined)))
  const first = await sampleAll()
  await sleep(opts.sampleMs ?? 500)
  const second = await sampleAll()
  const at = new Date().toISOString()
  const hostTotal = os.totalmem()
  const out: Reading[] = []
  containers.forEach((c, i) => {
    const a = first[i]
    const b = second[i]
    if (!b) return
    const name = (c.Names?.[0] ?? c.Id).replace(/^\//, '')
    const resource: ResourceRef = { kind: 'container', id: c.Id, name }
    const labels = { name, id: c.Id, image: c.Image }
    const mem = containerMemoryBytes(b)
    if (mem !== undefined) {
      out.push(mk('container_memory_bytes', 'bytes', mem, resource, labels, at))
      const limit = b.memory_stats.limit
      // Docker reports the host's memory as the limit of an unlimited container: no percentage then.
      if (limit && limit > 0 && limit < hostTotal)
        out.push(mk('container_memory_percent', 'percent', (100 * mem) / limit, resource, labels, at))
    }
    const cpu = a ? containerCpuPercent(a, b) : undefined
    if (cpu !== undefined) out.push(mk('container_cpu_percent', 'percent', cpu, resource, labels, at))
  })
  return out
}
