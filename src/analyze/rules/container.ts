/**
 * What Docker knows about a watched container: state, exit, OOM, restarts, health log, usage, logs.
 * Every reader takes a container from the listing filtered by the watch label (engine-api's
 * `findWatchedContainer`), so nothing here can look into a container Sentinel does not watch.
 */
import { EngineApiError, engineGet, inspectWatched, type WatchedContainer } from '../../platform/docker/engine-api'
import { containerLogs } from '../../platform/docker/logs'

export interface ContainerFacts {
  id: string
  name: string
  image: string
  exists: boolean
  running?: boolean
  status?: string
  exitCode?: number
  oomKilled?: boolean
  error?: string
  restartCount?: number
  startedAt?: string
  finishedAt?: string
  /** When the container was created (its image and configuration cannot have changed since). */
  createdAt?: string
  /** The image's id (sha256:...), for its build time. */
  imageId?: string
  /** Environment variable names only: the values never leave inspect's answer. */
  envNames?: string[]
  restartPolicy?: string
  /** CPUs it may use, from NanoCpus; absent when unlimited. */
  cpuLimit?: number
  /** Configured memory limit in bytes; 0 when none. */
  memoryLimitBytes?: number
  health?: { status: string; failingStreak: number; log: Array<{ exitCode: number; output: string; end: string }> }
  usage?: ContainerUsage
  /** The last lines of its logs. */
  logs?: string
}

export interface ContainerUsage {
  memoryBytes: number
  /** The cgroup's limit (the host's memory when the container has none). */
  memoryLimitBytes: number
  memoryPercent: number
  cpuPercent?: number
}

interface InspectJson {
  Id: string
  Name: string
  Created?: string
  Image?: string
  Config: { Image: string; Tty?: boolean; Env?: string[] | null }
  RestartCount: number
  HostConfig?: { Memory?: number; NanoCpus?: number; RestartPolicy?: { Name?: string } }
  State: {
    Status: string
    Running: boolean
    ExitCode: number
    OOMKilled: boolean
    Error?: string
    StartedAt: string
    FinishedAt: string
    Health?: { Status: string; FailingStreak: number; Log?: Array<{ ExitCode: number; Output: string; End: string }> }
  }
}

interface StatsJson {
  memory_stats?: { usage?: number; limit?: number; stats?: Record<string, number> }
  cpu_stats?: {
    cpu_usage?: { total_usage?: number; percpu_usage?: number[] }
    system_cpu_usage?: number
    online_cpus?: number
  }
  precpu_stats?: { cpu_usage?: { total_usage?: number }; system_cpu_usage?: number }
}

/** Usage as `docker stats` computes it: page cache (inactive files) is not counted as used. */
export function usageFromStats(s: StatsJson): ContainerUsage | undefined {
  const mem = s.memory_stats
  if (!mem?.usage || !mem.limit) return undefined
  const cache = mem.stats?.inactive_file ?? mem.stats?.total_inactive_file ?? 0
  const used = Math.max(0, mem.usage - cache)
  const usage: ContainerUsage = {
    memoryBytes: used,
    memoryLimitBytes: mem.limit,
    memoryPercent: Math.round((used / mem.limit) * 1000) / 10,
  }
  const cpu = s.cpu_stats
  const pre = s.precpu_stats
  const cpuDelta = (cpu?.cpu_usage?.total_usage ?? 0) - (pre?.cpu_usage?.total_usage ?? 0)
  const sysDelta = (cpu?.system_cpu_usage ?? 0) - (pre?.system_cpu_usage ?? 0)
  if (pre?.system_cpu_usage && sysDelta > 0 && cpuDelta >= 0) {
    const cpus = cpu?.online_cpus || cpu?.cpu_usage?.percpu_usage?.length || 1
    usage.cpuPercent = Math.round((cpuDelta / sysDelta) * cpus * 1000) / 10
  }
  return usage
}

export async function containerStats(
  container: WatchedContainer,
  opts: { withCpu?: boolean } = {},
): Promise<ContainerUsage | undefined> {
  // one-shot skips Docker's second sample, which CPU percent needs (it waits about a second).
  const query = opts.withCpu ? 'stream=false' : 'stream=false&one-shot=true'
  return usageFromStats(
    await engineGet<StatsJson>(`/containers/${encodeURIComponent(container.id)}/stats?${query}`, { timeoutMs: 8000 }),
  )
}

/** The names of `NAME=value` entries; the values are dropped here, before anything else sees them. */
export function envNames(env: string[] | null | undefined): string[] {
  return (env ?? []).map((e) => e.split('=')[0]).filter((n) => /^[A-Za-z_][A-Za-z0-9_.-]*$/.test(n))
}

/** When an image was built (Docker's `Created`), or undefined when Docker cannot say. */
export async function imageCreatedAt(imageId: string): Promise<string | undefined> {
  const info = await engineGet<{ Created?: string }>(`/images/${encodeURIComponent(imageId)}/json`)
  return info.Created || undefined
}

export async function containerFacts(
  container: WatchedContainer,
  opts: { logLines?: number; stats?: boolean; withCpu?: boolean } = {},
): Promise<ContainerFacts> {
  let info: InspectJson
  try {
    info = await inspectWatched<InspectJson>(container)
  } catch (err) {
    // Removed between the listing and the inspect.
    if (err instanceof EngineApiError && err.statusCode === 404)
      return { id: container.id, name: container.name, image: '', exists: false }
    throw err
  }
  const facts: ContainerFacts = {
    id: info.Id,
    name: info.Name.replace(/^\//, ''),
    image: info.Config.Image,
    exists: true,
    running: info.State.Running,
    status: info.State.Status,
    exitCode: info.State.ExitCode,
    oomKilled: info.State.OOMKilled,
    error: info.State.Error || undefined,
    restartCount: info.RestartCount,
    startedAt: info.State.StartedAt,
    finishedAt: info.State.FinishedAt,
    memoryLimitBytes: info.HostConfig?.Memory ?? 0,
    ...(info.Created ? { createdAt: info.Created } : {}),
    ...(info.Image ? { imageId: info.Image } : {}),
    envNames: envNames(info.Config.Env),
    ...(info.HostConfig?.RestartPolicy?.Name ? { restartPolicy: info.HostConfig.RestartPolicy.Name } : {}),
    ...(info.HostConfig?.NanoCpus ? { cpuLimit: info.HostConfig.NanoCpus / 1e9 } : {}),
  }
  if (info.State.Health) {
    facts.health = {
      status: info.State.Health.Status,
      failingStreak: info.State.Health.FailingStreak,
      log: (info.State.Health.Log ?? [])
        .slice(-3)
        .map((l) => ({ exitCode: l.ExitCode, output: l.Output.trim().slice(0, 300), end: l.End })),
    }
  }
  const [logs, usage] = await Promise.all([
    containerLogs(container, { tail: opts.logLines ?? 200, tty: !!info.Config.Tty }).catch(() => undefined),
    opts.stats && info.State.Running
      ? containerStats(container, { withCpu: opts.withCpu }).catch(() => undefined)
      : Promise.resolve(undefined),
  ])
  if (logs !== undefined) facts.logs = logs
  if (usage) facts.usage = usage
  return facts
}
