/**
 * Host readings straight from the kernel, for when no Prometheus is configured or reachable:
 * CPU busy % from two /proc/stat samples, memory from /proc/meminfo, disk via statfs of the
 * mounts in /proc/mounts, network bytes and errors per second from two /proc/net/dev samples.
 */
import { readFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { filesystemUsage } from '../../platform/host/statfs'
import type { ResourceRef } from '../../platform/store/model'
import { DEFAULT_EXCLUDED_FS_TYPES } from '../../platform/config/observe'
import { computedLatencyMs, DEFAULT_EXCLUDED_DEVICES, DEFAULT_EXCLUDED_MOUNTPOINTS } from '../prometheus-queries'
import { readingSeries, type Reading, type ReadingMetric, type ReadingUnit } from '../types'

export interface CpuTimes {
  idle: number
  total: number
}

/** The aggregate `cpu` line of /proc/stat: idle (idle + iowait) and total jiffies. */
export function parseProcStat(text: string): CpuTimes {
  const line = text.split('\n').find((l) => /^cpu\s/.test(l))
  if (!line) throw new Error('/proc/stat has no aggregate cpu line')
  const f = line.trim().split(/\s+/).slice(1).map(Number)
  // user nice system idle iowait irq softirq steal [guest guest_nice]; guest time is already in user.
  const total = f.slice(0, 8).reduce((a, b) => a + (Number.isFinite(b) ? b : 0), 0)
  return { idle: (f[3] ?? 0) + (f[4] ?? 0), total }
}

export function cpuBusyPercent(a: CpuTimes, b: CpuTimes): number {
  const dt = b.total - a.total
  if (dt <= 0) return 0
  return Math.min(100, Math.max(0, 100 * (1 - (b.idle - a.idle) / dt)))
}

/** /proc/meminfo as bytes per field. */
export function parseMeminfo(text: string): Record<string, number> {
  const out: Record<string, number> = {}
  for (const line of text.split('\n')) {
    const m = /^(\w[\w()]*):\s+(\d+)(?:\s+kB)?/.exec(line)
    if (m) out[m[1]] = Number(m[2]) * (line.includes('kB') ? 1024 : 1)
  }
  return out
}

export function memoryUsedPercent(info: Record<string, number>): number {
  const total = info.MemTotal
  if (!total) throw new Error('/proc/meminfo has no MemTotal')
  // Kernels before 3.14 lack MemAvailable: free + buffers + cache is the usual stand-in.
  const available = info.MemAvailable ?? (info.MemFree ?? 0) + (info.Buffers ?? 0) + (info.Cached ?? 0)
  return 100 * (1 - available / total)
}

export interface MountEntry {
  device: string
  mountpoint: string
  fstype: string
}

// /proc/mounts escapes space, tab, newline and backslash as octal.
const unescapeMount = (s: string) => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)))

export function parseMounts(text: string): MountEntry[] {
  const out: MountEntry[] = []
  for (const line of text.split('\n')) {
    const f = line.split(' ')
    if (f.length < 3) continue
    out.push({ device: unescapeMount(f[0]), mountpoint: unescapeMount(f[1]), fstype: f[2] })
  }
  return out
}

export interface NetCounters {
  bytes: number
  errors: number
}

/** Sums receive + transmit bytes and errors over the devices not excluded. */
export function parseNetDev(text: string, excludeDevices: RegExp): NetCounters {
  let bytes = 0
  let errors = 0
  for (const line of text.split('\n').slice(2)) {
    const m = /^\s*([^:\s]+):\s*(.*)$/.exec(line)
    if (!m || excludeDevices.test(m[1])) continue
    const f = m[2].trim().split(/\s+/).map(Number)
    // receive: bytes packets errs drop fifo frame compressed multicast; transmit: bytes packets errs ...
    bytes += (f[0] ?? 0) + (f[8] ?? 0)
    errors += (f[2] ?? 0) + (f[10] ?? 0)
  }
  return { bytes, errors }
}

export interface HostCollectorOptions {
  /** Host identity used as the readings' resource; default os.hostname(). Set it to the Prometheus `instance` of this host to keep fingerprints across a fallback. */
  instance?: string
  /** Time between the two CPU / network samples; default 500 ms. */
  sampleMs?: number
  /** Where proc is mounted; default /proc. */
  procRoot?: string
  excludeFsTypes?: string[]
  /** Regex (whole mount point) of mounts left out; default DEFAULT_EXCLUDED_MOUNTPOINTS. */
  excludeMountpoints?: string
  /** Regex (whole device name) of network devices left out; default DEFAULT_EXCLUDED_DEVICES. */
  excludeDevices?: string
  /** Emit the formula latency reading (off when probes measure it); default true. */
  withLatency?: boolean
}

const anchored = (re: string) => new RegExp(`^(?:${re})$`)
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** Disk usage of the mounts in /proc/mounts not excluded; one reading per mount point. */
export async function diskReadings(opts: HostCollectorOptions, instance: string, at: string): Promise<Reading[]> {
  const procRoot = opts.procRoot ?? '/proc'
  const excludedTypes = new Set(opts.excludeFsTypes ?? DEFAULT_EXCLUDED_FS_TYPES)
  const excludedMounts = anchored(opts.excludeMountpoints ?? DEFAULT_EXCLUDED_MOUNTPOINTS)
  const mounts = parseMounts(await readFile(path.join(procRoot, 'mounts'), 'utf8'))
  const seen = new Set<string>()
  const out: Reading[] = []
  await Promise.all(
    mounts.map(async (m) => {
      if (excludedTypes.has(m.fstype) || excludedMounts.test(m.mountpoint) || seen.has(m.mountpoint)) return
      seen.add(m.mountpoint)
      try {
        const fs = await filesystemUsage(m.mountpoint)
        if (!fs.sizeBytes) return
        const resource: ResourceRef = { kind: 'filesystem', id: `${instance}:${m.mountpoint}`, name: m.mountpoint }
        out.push(
          mk(
            'disk_used_percent',
            'percent',
            fs.usedPercent,
            resource,
            { instance, device: m.device, fstype: m.fstype, mountpoint: m.mountpoint },
            'collector:statfs',
            at,
          ),
        )
      } catch {
        // A mount that vanished or that we may not stat is not a reading.
      }
    }),
  )
  return out.sort((a, b) => a.resource.name.localeCompare(b.resource.name))
}

function mk(
  metric: ReadingMetric,
  unit: ReadingUnit,
  value: number,
  resource: ResourceRef,
  labels: Record<string, string>,
  query: string,
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
    query,
    at,
  }
}

/** All host readings from this machine: memory, CPU, disk per mount, network and computed latency. */
export async function collectHost(opts: HostCollectorOptions = {}): Promise<Reading[]> {
  const procRoot = opts.procRoot ?? '/proc'
  const instance = opts.instance ?? os.hostname()
  const sampleMs = opts.sampleMs ?? 500
  const devices = anchored(opts.excludeDevices ?? DEFAULT_EXCLUDED_DEVICES)
  const read = (f: string) => readFile(path.join(procRoot, f), 'utf8')

  const [stat0, net0] = await Promise.all([read('stat'), read('net/dev')])
  const t0 = performance.now()
  await sleep(sampleMs)
  const [stat1, net1, meminfo] = await Promise.all([read('stat'), read('net/dev'), read('meminfo')])
  const seconds = (performance.now() - t0) / 1000
  const at = new Date().toISOString()
  const host: ResourceRef = { kind: 'host', id: instance, name: instance }
  const labels = { instance }

  const out: Reading[] = []
  out.push(
    mk(
      'memory_used_percent',
      'percent',
      memoryUsedPercent(parseMeminfo(meminfo)),
      host,
      labels,
      'collector:/proc/meminfo',
      at,
    ),
  )
  out.push(
    mk(
      'cpu_busy_percent',
      'percent',
      cpuBusyPercent(parseProcStat(stat0), parseProcStat(stat1)),
      host,
      labels,
      'collector:/proc/stat',
      at,
    ),
  )
  out.push(...(await diskReadings(opts, instance, at)))
  const a = parseNetDev(net0, devices)
  const b = parseNetDev(net1, devices)
  // Counters reset when an interface goes away; a negative delta is not traffic.
  const bytesPerSecond = Math.max(0, b.bytes - a.bytes) / seconds
  const errorsPerSecond = Math.max(0, b.errors - a.errors) / seconds
  out.push(
    mk('network_bytes_per_second', 'bytes_per_second', bytesPerSecond, host, labels, 'collector:/proc/net/dev', at),
  )
  out.push(
    mk('network_errors_per_second', 'errors_per_second', errorsPerSecond, host, labels, 'collector:/proc/net/dev', at),
  )
  if (opts.withLatency !== false) {
    out.push(
      mk(
        'latency_ms',
        'ms',
        computedLatencyMs(bytesPerSecond, errorsPerSecond),
        host,
        labels,
        'collector:/proc/net/dev (25ms + 2ms per MB/s + 100ms per error/s)',
        at,
      ),
    )
  }
  return out
}
