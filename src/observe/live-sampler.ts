/**
 * The dashboard's live sampler: every LIVE_SAMPLE_SECONDS the main process reads the host (CPU %,
 * memory %, disk % of the data directory's filesystem) and the watched containers (CPU %, memory
 * bytes and %) and publishes them as one `sample` event on the live stream, so the charts move
 * between the monitor's ticks (every two minutes by default). Nothing here alerts or is stored:
 * thresholds, anomalies and the recent-readings history stay the monitor's.
 *
 * A sample has to be cheap, because it runs all the time in the process that also heals:
 * - no step process and no sleep inside a sample: CPU % is the change since the previous sample,
 *   for the host (/proc/stat) and for each container;
 * - a container's figures come from its cgroup files (cpuacct.usage or cpu.stat, the memory
 *   counters), read directly, a few small reads per container; only when those files are not
 *   visible (Sentinel in a container of its own, an unusual cgroup layout) does it ask Docker for
 *   one-shot stats of that container, never a `docker stats` stream;
 * - one Engine API call per sample lists the running watched containers (only those are read:
 *   a container without the watch label is never looked into).
 * Readings carry the same series keys as the monitor's collector readings, so the page extends the
 * same lines.
 */
import { readFile, realpath, stat } from 'node:fs/promises'
import { existsSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { filesystemUsage } from '../platform/host/statfs'
import type { SentinelConfig } from '../platform/config/index'
import type { ResourceRef } from '../platform/store/model'
import {
  containerCpuPercent,
  containerMemoryBytes,
  listRunningContainers,
  oneShotStats,
  type ContainerStats,
} from './collectors/docker'
import {
  cpuBusyPercent,
  memoryUsedPercent,
  parseMeminfo,
  parseMounts,
  parseProcStat,
  type CpuTimes,
} from './collectors/host'
import { readingSeries, type Reading, type ReadingMetric, type ReadingUnit } from './types'

/** One figure of a sample: a reading without the labels and query the stream does not need. */
export type LiveReading = Pick<Reading, 'series' | 'metric' | 'value' | 'unit' | 'resource' | 'at'>

export interface LiveSample {
  /** When the sample was taken (ISO). */
  at: string
  readings: LiveReading[]
  containers: {
    /** Running watched containers listed. */
    listed: number
    /** How many were read from their cgroup files, and how many through Docker's one-shot stats. */
    cgroup: number
    engine: number
    /** Why container figures are missing, when they are. */
    error?: string
  }
  /** Wall time the sample took, ms. */
  tookMs: number
}

export type LiveLog = (level: 'info' | 'warn' | 'error', msg: string, data?: Record<string, unknown>) => void

export interface LiveSamplerOptions<T> {
  /** Time between samples; fractions are allowed (tests). */
  intervalSeconds: number
  sample: () => Promise<T>
  publish: (sample: T) => void
  log?: LiveLog
}

export interface LiveSampler {
  /** Stops the timer; resolves once a sample in flight (if any) has finished. Nothing is published after. */
  stop(): Promise<void>
  stats(): { taken: number; skipped: number; failed: number }
}

/**
 * Runs `sample` now and then every `intervalSeconds`, publishing each result. A tick that comes
 * while the previous sample still runs is skipped, so a slow Docker engine cannot pile samples up.
 * A failing sample is logged when its error changes (not on every tick) and the next tick tries again.
 */
export function startLiveSampler<T>(opts: LiveSamplerOptions<T>): LiveSampler {
  const log = opts.log ?? (() => {})
  const counts = { taken: 0, skipped: 0, failed: 0 }
  let inFlight: Promise<void> | null = null
  let stopped = false
  let lastError: string | null = null

  const tick = () => {
    if (stopped) return
    if (inFlight) {
      counts.skipped++
      return
    }
    inFlight = (async () => {
      try {
        const s = await opts.sample()
        counts.taken++
        if (lastError !== null) {
          log('info', 'live sampling works again', { after: lastError })
          lastError = null
        }
        if (!stopped) opts.publish(s)
      } catch (err) {
        counts.failed++
        const message = (err as Error).message
        if (message !== lastError) log('warn', 'live sample failed', { error: message })
        lastError = message
      } finally {
        inFlight = null
      }
    })()
  }

  const timer = setInterval(tick, Math.max(10, opts.intervalSeconds * 1000))
  // The dashboard's charts are no reason to keep the process alive.
  timer.unref()
  tick()

  return {
    async stop() {
      stopped = true
      clearInterval(timer)
      await inFlight
    },
    stats: () => ({ ...counts }),
  }
}

// ---------- what one sample reads ----------

export interface LiveSampleReaderOptions {
  /** The directory whose filesystem's usage is sampled (DATA_DIR). */
  dataDir: string
  /** Host identity used as the readings' resource; default os.hostname() (as the host collector). */
  instance?: string
  /** Docker's socket; false: no container figures. Default /var/run/docker.sock. */
  socketPath?: string | false
  /** Only containers with this label (`key=value`): the watched ones. */
  label?: string
  /** Where proc is mounted; default /proc. */
  procRoot?: string
  /** Where the cgroup hierarchy is mounted; default /sys/fs/cgroup. */
  cgroupRoot?: string
  /** At most this many containers per sample; default 100. */
  maxContainers?: number
  /** Engine API timeout, ms; default 3000 (a sample must not hang for the usual 5 s). */
  timeoutMs?: number
}

/** Where a container's counters are read: its cgroup directories, or Docker's one-shot stats. */
type CgroupSource = { kind: 'v1'; cpu: string; memory: string } | { kind: 'v2'; dir: string }
type ContainerSource = CgroupSource | { kind: 'engine' }

interface ContainerCpuMark {
  /** CPU time used, ns (cgroup), with the monotonic time of the read, ns. */
  usageNs?: number
  atNs?: bigint
  /** The previous one-shot stats (engine). */
  stats?: ContainerStats
}

/** Below this between two reads a CPU percentage is mostly rounding: none is given. */
const MIN_CPU_WINDOW_NS = 500_000_000n
const DOCKER_ID = /^[0-9a-f]{64}$/

const readText = (file: string) => readFile(file, 'utf8')
const readNumber = async (file: string) => Number((await readText(file)).trim())

/** `key value` lines (cgroup memory.stat, cpu.stat) as numbers. */
export function parseFlatKeyed(text: string): Record<string, number> {
  const out: Record<string, number> = {}
  for (const line of text.split('\n')) {
    const i = line.indexOf(' ')
    if (i > 0) out[line.slice(0, i)] = Number(line.slice(i + 1))
  }
  return out
}

/** The mount point holding `p`: the longest mount point that is `p` or one of its parents. */
export function mountPointOf(p: string, mountsText: string): string {
  let best = '/'
  for (const m of parseMounts(mountsText)) {
    const mp = m.mountpoint
    if ((p === mp || p.startsWith(mp.endsWith('/') ? mp : `${mp}/`)) && mp.length > best.length) best = mp
  }
  return best
}

/** The nearest existing directory at or above `p` (statfs needs one), resolved through symlinks. */
async function existingDir(p: string): Promise<string> {
  let cur = path.resolve(p)
  for (;;) {
    try {
      if ((await stat(cur)).isDirectory()) return await realpath(cur)
    } catch {
      // Not there (yet): its parent's filesystem is the one it will be on.
    }
    const parent = path.dirname(cur)
    if (parent === cur) return cur
    cur = parent
  }
}

/**
 * A sample reader: each call reads the host and the watched containers once. It keeps the previous
 * CPU counters between calls (so it must be one reader per sampler), and which cgroup files hold
 * each container's counters (found once per container).
 */
export function liveSampleReader(opts: LiveSampleReaderOptions): () => Promise<LiveSample> {
  const procRoot = opts.procRoot ?? '/proc'
  const cgroupRoot = opts.cgroupRoot ?? '/sys/fs/cgroup'
  const instance = opts.instance ?? os.hostname()
  const socketPath = opts.socketPath === undefined ? '/var/run/docker.sock' : opts.socketPath
  const host: ResourceRef = { kind: 'host', id: instance, name: instance }
  const cgroupV2 = existsSync(path.join(cgroupRoot, 'cgroup.controllers'))

  let prevCpu: { times: CpuTimes; atNs: bigint } | undefined
  let disk: { dir: string; resource: ResourceRef } | undefined
  const sources = new Map<string, ContainerSource>()
  const marks = new Map<string, ContainerCpuMark>()

  const diskTarget = async () => {
    if (disk) return disk
    const dir = await existingDir(opts.dataDir)
    const mountpoint = mountPointOf(dir, await readText(path.join(procRoot, 'mounts')))
    // The same resource as the host collector's reading of that mount: one series on the chart.
    disk = { dir, resource: { kind: 'filesystem', id: `${instance}:${mountpoint}`, name: mountpoint } }
    return disk
  }

  const candidates = (id: string): CgroupSource[] => {
    const r = (...p: string[]) => path.join(cgroupRoot, ...p)
    if (cgroupV2)
      return [
        { kind: 'v2', dir: r('system.slice', `docker-${id}.scope`) },
        { kind: 'v2', dir: r('docker', id) },
      ]
    // cgroupfs driver (docker/<id>) or systemd driver (system.slice/docker-<id>.scope); cpuacct is
    // mounted alone or together with cpu.
    const out: CgroupSource[] = []
    for (const sub of [`docker/${id}`, `system.slice/docker-${id}.scope`])
      for (const cpu of ['cpuacct', 'cpu,cpuacct']) out.push({ kind: 'v1', cpu: r(cpu, sub), memory: r('memory', sub) })
    return out
  }

  /** Finds (once) where a container's counters can be read. */
  const sourceOf = async (id: string): Promise<ContainerSource> => {
    const known = sources.get(id)
    if (known) return known
    let found: ContainerSource = { kind: 'engine' }
    if (DOCKER_ID.test(id)) {
      for (const c of candidates(id)) {
        const probe =
          c.kind === 'v1'
            ? [path.join(c.cpu, 'cpuacct.usage'), path.join(c.memory, 'memory.usage_in_bytes')]
            : [path.join(c.dir, 'cpu.stat'), path.join(c.dir, 'memory.current')]
        const ok = await Promise.all(
          probe.map((f) =>
            stat(f).then(
              () => true,
              () => false,
            ),
          ),
        )
        if (ok.every(Boolean)) {
          found = c
          break
        }
      }
    }
    sources.set(id, found)
    return found
  }

  /** CPU time used (ns) and memory figures of a container, from its cgroup files. */
  const readCgroup = async (src: CgroupSource) => {
    if (src.kind === 'v1') {
      const [usageNs, usage, statText, limit] = await Promise.all([
        readNumber(path.join(src.cpu, 'cpuacct.usage')),
        readNumber(path.join(src.memory, 'memory.usage_in_bytes')),
        readText(path.join(src.memory, 'memory.stat')),
        readNumber(path.join(src.memory, 'memory.limit_in_bytes')),
      ])
      const st = parseFlatKeyed(statText)
      return { usageNs, usage, inactiveFile: st.total_inactive_file ?? st.inactive_file ?? 0, limit }
    }
    const [cpuText, usage, statText, max] = await Promise.all([
      readText(path.join(src.dir, 'cpu.stat')),
      readNumber(path.join(src.dir, 'memory.current')),
      readText(path.join(src.dir, 'memory.stat')),
      readText(path.join(src.dir, 'memory.max')),
    ])
    const st = parseFlatKeyed(statText)
    const limit = max.trim() === 'max' ? Infinity : Number(max)
    return { usageNs: parseFlatKeyed(cpuText).usage_usec * 1000, usage, inactiveFile: st.inactive_file ?? 0, limit }
  }

  const hostTotal = os.totalmem()

  return async function sample(): Promise<LiveSample> {
    const t0 = performance.now()
    const at = new Date().toISOString()
    const readings: LiveReading[] = []
    const add = (metric: ReadingMetric, unit: ReadingUnit, value: number, resource: ResourceRef) => {
      if (Number.isFinite(value))
        readings.push({ series: readingSeries(metric, resource), metric, value, unit, resource, at })
    }

    const containers: LiveSample['containers'] = { listed: 0, cgroup: 0, engine: 0 }
    const containerPart = (async () => {
      if (socketPath === false) return
      let listed
      try {
        listed = (
          await listRunningContainers({ socketPath, label: opts.label, timeoutMs: opts.timeoutMs ?? 3000 })
        ).slice(0, opts.maxContainers ?? 100)
      } catch (err) {
        containers.error = (err as Error).message
        return
      }
      containers.listed = listed.length
      const present = new Set(listed.map((c) => c.Id))
      // Containers gone since the last sample: their counters and paths are of no further use.
      for (const id of [...marks.keys()]) if (!present.has(id)) marks.delete(id)
      for (const id of [...sources.keys()]) if (!present.has(id)) sources.delete(id)
      await Promise.all(
        listed.map(async (c) => {
          const name = (c.Names?.[0] ?? c.Id).replace(/^\//, '')
          const resource: ResourceRef = { kind: 'container', id: c.Id, name }
          const prev = marks.get(c.Id) ?? {}
          const src = await sourceOf(c.Id)
          if (src.kind !== 'engine') {
            try {
              const fig = await readCgroup(src)
              const atNs = process.hrtime.bigint()
              containers.cgroup++
              const mem = Math.max(0, fig.usage - (fig.inactiveFile < fig.usage ? fig.inactiveFile : 0))
              add('container_memory_bytes', 'bytes', mem, resource)
              // An unlimited container's limit is a huge number (v1) or `max` (v2): no percentage then.
              if (fig.limit > 0 && fig.limit < hostTotal)
                add('container_memory_percent', 'percent', (100 * mem) / fig.limit, resource)
              if (prev.usageNs !== undefined && prev.atNs !== undefined && atNs - prev.atNs >= MIN_CPU_WINDOW_NS) {
                const used = fig.usageNs - prev.usageNs
                // 100 = one full core, as `docker stats` counts.
                if (used >= 0)
                  add('container_cpu_percent', 'percent', (100 * used) / Number(atNs - prev.atNs), resource)
              }
              marks.set(c.Id, { usageNs: fig.usageNs, atNs })
              return
            } catch {
              // The container stopped between the listing and the read, or its files moved: ask Docker next time.
              sources.set(c.Id, { kind: 'engine' })
              marks.delete(c.Id)
              return
            }
          }
          let stats: ContainerStats
          try {
            stats = await oneShotStats(c.Id, { socketPath, timeoutMs: opts.timeoutMs ?? 3000 })
          } catch {
            return
          }
          containers.engine++
          const mem = containerMemoryBytes(stats)
          if (mem !== undefined) {
            add('container_memory_bytes', 'bytes', mem, resource)
            const limit = stats.memory_stats.limit
            if (limit && limit > 0 && limit < hostTotal)
              add('container_memory_percent', 'percent', (100 * mem) / limit, resource)
          }
          const cpu = prev.stats ? containerCpuPercent(prev.stats, stats) : undefined
          if (cpu !== undefined) add('container_cpu_percent', 'percent', cpu, resource)
          marks.set(c.Id, { stats })
        }),
      )
    })()

    const hostPart = (async () => {
      const [statText, meminfo, target] = await Promise.all([
        readText(path.join(procRoot, 'stat')),
        readText(path.join(procRoot, 'meminfo')),
        diskTarget(),
      ])
      const atNs = process.hrtime.bigint()
      const times = parseProcStat(statText)
      if (prevCpu && atNs - prevCpu.atNs >= MIN_CPU_WINDOW_NS)
        add('cpu_busy_percent', 'percent', cpuBusyPercent(prevCpu.times, times), host)
      if (!prevCpu || atNs - prevCpu.atNs >= MIN_CPU_WINDOW_NS) prevCpu = { times, atNs }
      add('memory_used_percent', 'percent', memoryUsedPercent(parseMeminfo(meminfo)), host)
      try {
        add('disk_used_percent', 'percent', (await filesystemUsage(target.dir)).usedPercent, target.resource)
      } catch {
        // The directory went away (or was replaced): find its filesystem again next time.
        disk = undefined
      }
    })()

    await Promise.all([hostPart, containerPart])
    return { at, readings, containers, tookMs: Math.round((performance.now() - t0) * 100) / 100 }
  }
}

/** The reader for this Sentinel: its DATA_DIR, its Docker socket and watch label, its host name. */
export function liveSampleReaderFromConfig(cfg: SentinelConfig): () => Promise<LiveSample> {
  return liveSampleReader({
    dataDir: path.resolve(cfg.projectRoot, cfg.DATA_DIR),
    instance: cfg.observe.NODE_INSTANCE || undefined,
    // Always the socket, even when it is missing now: an engine that starts later is sampled then.
    socketPath: cfg.DOCKER_SOCKET,
    label: `${cfg.WATCH_LABEL.key}=${cfg.WATCH_LABEL.value}`,
  })
}
