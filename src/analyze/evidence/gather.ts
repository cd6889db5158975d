/**
 * Gathers the evidence record of one alert: the only part of the rule analyser with side effects.
 * It reads Docker (inspect, logs, stats, image) for a watched container only (the caller resolves
 * the alert's container through the label-filtered listing first), /proc, the sandbox tree, and
 * what the flow's stores know through injected providers (the metric's history, the container's
 * recent readings, the host's readings, the other open incidents). Nothing here throws: a failed
 * look-up becomes an entry in `problems`, and the record is bounded in size before it is returned.
 */
import { probeOnce, type ProbeSample } from '../../observe/collectors/probe'
import { publicUrl } from '../../platform/config/observe'
import { listWatchedContainers, type WatchedContainer } from '../../platform/docker/engine-api'
import type { Alert, AlertType, ResourceRef } from '../../platform/store/model'
import { redact, redactDeep } from '../../platform/telemetry/redact'
import { containerFacts, imageCreatedAt, type ContainerFacts } from '../rules/container'
import { thresholdOf } from '../rules/faults/types'
import { topByCpu, topByRss, type CpuSample, type ProcessInfo } from '../rules/procs'
import { sandboxUsage, type SandboxUsage } from '../rules/sandbox'
import { boundEvidence, thinPoints } from './bound'
import { alertNode, hostFromProc, isThisHost } from './host'
import { logSection } from './log-lines'
import {
  CAPS,
  type DecidedBefore,
  type Evidence,
  type IncidentRef,
  type Point,
  type ProbeEntry,
  type ProcessEntry,
  type Recheck,
  type Series,
} from './types'

export interface ContainerSeries {
  memory?: Series
  memoryPercent?: Series
  cpu?: Series
}

export interface EvidenceOptions {
  /** SANDBOX_DIR. Default ./sandbox. */
  sandboxDir?: string
  /** How long the CPU sample of /proc lasts. Default 500 ms. */
  cpuSampleMs?: number
  /** Processes listed. Default 5. */
  topN?: number
  procRoot?: string
  /** Log lines read from the container (the record keeps the newest 60 and the telling ones). Default 200. */
  logLines?: number
  /** Never proposed for kill_process (besides pid 1 and this process). */
  protectedPids?: number[]
  /** NODE_INSTANCE: another name this host answers to in alerts. */
  nodeInstance?: string
  /** The alert's metric over the recent past. */
  history?: () => Promise<Point[]>
  /** The container's recent memory and CPU readings, from the collectors. */
  containerSeries?: (container: { id: string; name: string }) => Promise<ContainerSeries>
  /** The monitor's latest readings of this host. */
  hostReadings?: () => Promise<Array<{ metric: string; value: number; at: string }>>
  /** Open incidents (this one is left out here). */
  openIncidents?: () => Promise<IncidentRef[]>
  /** When earlier incidents on this resource (other than `incidentId`) opened, newest first. */
  previousIncidents?: (resource: ResourceRef, incidentId?: string) => Promise<string[]>
  /**
   * PROBE_TARGETS, as configured (with their credentials): a latency alert on one of them gets one
   * fresh probe at analysis time. A URL that only the alert names is never probed.
   */
  probeTargets?: string[]
  /** PROBE_TIMEOUT_MS: the fresh probe's timeout when the alert has no threshold (at most 10 s). */
  probeTimeoutMs?: number
  /** The probe itself (tests); default the monitor's probeOnce. */
  probe?: (target: string, timeoutMs: number) => Promise<ProbeSample>
}

/** The fresh probe's timeout: twice the threshold, at most 10 s (and at least 50 ms). */
export const RECHECK_MAX_TIMEOUT_MS = 10_000

/**
 * The configured probe target a latency alert is about: its resource is an endpoint whose id (the
 * target as the prober shows it, without credentials) is that of a target in PROBE_TARGETS.
 */
export function configuredTarget(alert: Pick<Alert, 'resource'>, targets: string[] | undefined): string | undefined {
  if (alert.resource.kind !== 'endpoint' || !targets?.length) return undefined
  return targets.find((t) => publicUrl(t) === alert.resource.id)
}

/** One fresh probe of `target`, compared with the threshold. */
export async function recheckProbe(
  target: string,
  threshold: number | undefined,
  opts: Pick<EvidenceOptions, 'probe' | 'probeTimeoutMs'> = {},
): Promise<Recheck> {
  const timeoutMs =
    threshold !== undefined && threshold > 0
      ? Math.max(50, Math.min(2 * threshold, RECHECK_MAX_TIMEOUT_MS))
      : Math.min(opts.probeTimeoutMs ?? 5000, RECHECK_MAX_TIMEOUT_MS)
  const s = await (opts.probe ?? probeOnce)(target, timeoutMs)
  const ms = Math.round(s.ms)
  const timedOut = !s.ok && s.error === 'timeout'
  const verdict: Recheck['verdict'] = timedOut
    ? 'over'
    : !s.ok
      ? 'failed'
      : threshold === undefined
        ? 'unknown'
        : ms > threshold
          ? 'over'
          : 'under'
  return {
    target: redact(publicUrl(target)).slice(0, 160),
    at: new Date(s.at).toISOString(),
    ms,
    ok: s.ok,
    ...(s.status !== undefined ? { status: s.status } : {}),
    ...(s.error ? { error: redact(s.error).slice(0, 160) } : {}),
    timeoutMs,
    ...(threshold !== undefined ? { threshold } : {}),
    verdict,
  }
}

export interface Gathered {
  evidence: Evidence
  /** The container's raw log tail, for the LLM's log section (it redacts it itself). */
  logs?: string
  /** Today's facts view (container, top processes, sandbox, probes), kept for the incident and the prompt. */
  facts: Record<string, unknown>
}

/** Which analysis an anomaly on this metric resembles. */
export function anomalyKind(metric: string): AlertType | undefined {
  const m = metric.toLowerCase()
  if (/mem|rss|oom|heap/.test(m)) return 'memory'
  if (/cpu|load/.test(m)) return 'cpu'
  if (/disk|filesystem|inode|\bfs\b|_fs_|storage/.test(m)) return 'disk'
  if (/latenc|duration|response|rtt|p9\d/.test(m)) return 'latency'
  return undefined
}

/** The alert type the evidence is gathered for: an anomaly counts as the kind its metric resembles. */
export function effectiveType(alert: Pick<Alert, 'type' | 'metric'>): AlertType {
  return alert.type === 'anomaly' ? (anomalyKind(alert.metric) ?? 'anomaly') : alert.type
}

interface RawProbe {
  url?: string
  target?: string
  status?: number
  ok?: boolean
  ms?: number
  latencyMs?: number
  error?: string
}

export function probesOf(details: Record<string, unknown>): RawProbe[] {
  const raw = details.probes ?? details.results ?? details.probe
  const list = Array.isArray(raw) ? raw : raw && typeof raw === 'object' ? [raw] : []
  return list.filter((p): p is RawProbe => !!p && typeof p === 'object')
}

function probeEntry(p: RawProbe, fallback: string): ProbeEntry {
  const ms = p.ms ?? p.latencyMs
  return {
    target: redact(String(p.url ?? p.target ?? fallback)).slice(0, 160),
    ...(typeof p.status === 'number' ? { status: p.status } : {}),
    ...(typeof p.ok === 'boolean' ? { ok: p.ok } : {}),
    ...(typeof ms === 'number' && Number.isFinite(ms) ? { ms } : {}),
    ...(p.error ? { error: redact(String(p.error)).slice(0, 160) } : {}),
  }
}

function scalarDetails(details: Record<string, unknown> | undefined): Evidence['alert']['details'] {
  if (!details) return undefined
  const out: Record<string, string | number | boolean | null> = {}
  for (const [k, v] of Object.entries(redactDeep(details))) {
    if (Object.keys(out).length >= CAPS.detailEntries) break
    if (typeof v === 'number' || typeof v === 'boolean' || v === null) out[k.slice(0, 60)] = v
    else if (typeof v === 'string') out[k.slice(0, 60)] = v.slice(0, CAPS.detailChars)
  }
  return Object.keys(out).length ? out : undefined
}

function killable(p: ProcessInfo, protectedPids: number[]): boolean {
  const never = new Set([1, process.pid, process.ppid, ...protectedPids])
  return !never.has(p.pid) && !p.containerId
}

function processEntry(p: ProcessInfo | CpuSample, watched: Set<string>, protectedPids: number[]): ProcessEntry {
  return {
    pid: p.pid,
    name: p.name,
    command: redact(p.command).slice(0, 120),
    rssBytes: p.rssBytes,
    ...('cpuPercent' in p ? { cpuPercent: p.cpuPercent } : {}),
    ...(p.containerId ? { containerId: p.containerId, containerWatched: watched.has(p.containerId) } : {}),
    killable: killable(p, protectedPids),
  }
}

function containerSection(f: ContainerFacts): NonNullable<Evidence['container']> {
  if (!f.exists) return { id: f.id, name: f.name, exists: false }
  return {
    id: f.id,
    name: f.name,
    exists: true,
    image: f.image,
    ...(f.createdAt ? { createdAt: f.createdAt } : {}),
    running: f.running,
    status: f.status,
    exitCode: f.exitCode,
    oomKilled: f.oomKilled,
    ...(f.error ? { error: redact(f.error).slice(0, 300) } : {}),
    restartCount: f.restartCount,
    ...(f.restartPolicy ? { restartPolicy: f.restartPolicy } : {}),
    startedAt: f.startedAt,
    finishedAt: f.finishedAt,
    memoryLimitBytes: f.memoryLimitBytes ?? 0,
    ...(f.cpuLimit ? { cpuLimit: f.cpuLimit } : {}),
    ...(f.envNames ? { envNames: f.envNames.slice(0, CAPS.envNames) } : {}),
    ...(f.health
      ? {
          health: {
            status: f.health.status,
            failingStreak: f.health.failingStreak,
            log: f.health.log.slice(-CAPS.healthLog).map((l) => ({
              exitCode: l.exitCode,
              output: redact(l.output).slice(0, CAPS.healthOutputChars),
              end: l.end,
            })),
          },
        }
      : {}),
    ...(f.usage ? { usage: f.usage } : {}),
  }
}

function sandboxSection(u: SandboxUsage): NonNullable<Evidence['sandbox']> {
  const dir = (d: SandboxUsage['subdirs']['logs']) => ({
    bytes: d.bytes,
    files: d.files,
    largest: d.largest.slice(0, 3),
  })
  return {
    dir: u.dir,
    subdirs: {
      logs: dir(u.subdirs.logs),
      temp: dir(u.subdirs.temp),
      cache: dir(u.subdirs.cache),
      data: dir(u.subdirs.data),
    },
    cleanableBytes: u.cleanableBytes,
    totalBytes: u.totalBytes,
    ...(u.filesystem
      ? {
          filesystem: {
            usedPercent: Math.round(u.filesystem.usedPercent * 10) / 10,
            freeBytes: u.filesystem.freeBytes,
          },
        }
      : {}),
  }
}

const series = (s: Series | undefined): Series | undefined =>
  s && s.points.length ? { ...s, points: thinPoints(s.points) } : undefined

/** Runs a look-up; a failure is noted in `problems` and yields undefined. */
async function attempt<T>(problems: string[], what: string, f: () => Promise<T>): Promise<T | undefined> {
  try {
    return await f()
  } catch (err) {
    problems.push(`${what}: ${redact((err as Error).message ?? String(err)).slice(0, 200)}`)
    return undefined
  }
}

/** The record's alert section: the reading, the resource, the host it is about and its details, redacted and capped. */
export function alertSection(alert: Alert, nodeInstance?: string): Evidence['alert'] {
  const node = alertNode(alert)
  const details = scalarDetails(alert.details)
  return {
    type: alert.type,
    metric: alert.metric.slice(0, 200),
    value: alert.value,
    threshold: alert.threshold,
    resource: {
      kind: alert.resource.kind,
      id: redact(alert.resource.id).slice(0, 200),
      name: redact(alert.resource.name).slice(0, 200),
    },
    at: alert.at,
    ...(node ? { node: redact(node).slice(0, 200) } : {}),
    thisHost: isThisHost(node, nodeInstance),
    ...(details ? { details } : {}),
  }
}

/**
 * The evidence for `alert`. `container` is the watched container the alert names (resolved by the
 * caller through the label-filtered listing), or undefined; `incidentId` is left out of the open
 * incidents; `decidedBefore` is the decision the incident carried when the analysis began (the
 * container fast path's).
 */
export async function gatherEvidence(
  alert: Alert,
  opts: EvidenceOptions = {},
  container?: WatchedContainer,
  incidentId?: string,
  decidedBefore?: DecidedBefore,
): Promise<Gathered> {
  const problems: string[] = []
  const type = effectiveType(alert)
  const section = alertSection(alert, opts.nodeInstance)
  const { node, thisHost } = section
  const d = alert.details ?? {}
  const evidence: Evidence = {
    version: 1,
    gatheredAt: new Date().toISOString(),
    alert: section,
    problems,
  }
  if (typeof d.exitCode === 'number') evidence.eventExitCode = d.exitCode
  if (decidedBefore) evidence.decidedBefore = decidedBefore
  const facts: Record<string, unknown> = {}
  let logs: string | undefined

  const withStats = ['memory', 'cpu', 'latency', 'container_unhealthy', 'anomaly'].includes(type)
  const withCpu = type === 'cpu' || type === 'latency'
  const n = opts.topN ?? 5

  const containerWork = async () => {
    if (!container) return
    const f = await attempt(problems, `could not inspect container ${container.name}`, () =>
      containerFacts(container, { logLines: opts.logLines ?? 200, stats: withStats, withCpu }),
    )
    if (!f) {
      evidence.container = { id: container.id, name: container.name, exists: true }
      return
    }
    evidence.container = containerSection(f)
    const { logs: tail, ...rest } = f
    facts.container = rest
    if (!f.exists) return
    if (tail !== undefined) {
      logs = tail
      evidence.logs = logSection(tail)
    } else problems.push(`could not read the logs of ${f.name}`)
    if (f.imageId) {
      const created = await attempt(problems, `could not inspect image ${f.image}`, () => imageCreatedAt(f.imageId!))
      if (created) evidence.container.imageCreatedAt = created
    }
    const previous = opts.previousIncidents
      ? await attempt(problems, 'could not list earlier incidents', () =>
          opts.previousIncidents!(alert.resource, incidentId),
        )
      : undefined
    evidence.restarts = {
      count: f.restartCount,
      lastStartedAt: f.startedAt,
      lastFinishedAt: f.finishedAt,
      ...(previous?.length ? { previousIncidents: previous.slice(0, CAPS.previousIncidents) } : {}),
      note: "Docker keeps only the restart count and the last start and finish; earlier restart times are the openings of this resource's earlier incidents",
    }
    if (opts.containerSeries) {
      const s = await attempt(problems, 'could not read the container readings', () =>
        opts.containerSeries!({ id: f.id, name: f.name }),
      )
      if (series(s?.memory)) evidence.memoryHistory = series(s!.memory)
      if (series(s?.memoryPercent)) evidence.memoryPercentHistory = series(s!.memoryPercent)
      if (series(s?.cpu)) evidence.cpuHistory = series(s!.cpu)
    }
  }

  const processWork = async () => {
    // Another host's alert is not about this host's processes: they are not read.
    if (!thisHost || (type !== 'memory' && type !== 'cpu')) return
    const [top, watched] = await Promise.all([
      type === 'memory'
        ? attempt(problems, 'could not read /proc', () => topByRss(n, opts.procRoot))
        : attempt(problems, 'could not sample /proc', () => topByCpu(opts.cpuSampleMs ?? 500, n, opts.procRoot)),
      attempt(problems, 'could not list the watched containers', () => listWatchedContainers()),
    ])
    const ids = new Set((watched ?? []).map((c) => c.id))
    const entries = (top ?? []).map((p) => processEntry(p, ids, opts.protectedPids ?? []))
    if (type === 'memory') {
      evidence.processes = { byRss: entries }
      facts.topByRss = (top ?? []).map(({ cpuTicks: _c, ...p }) => p)
    } else {
      evidence.processes = { byCpu: entries, cpuSampleMs: opts.cpuSampleMs ?? 500 }
      facts.topByCpu = (top ?? []).map(({ cpuTicks: _c, ...p }) => p)
      facts.cpuSampleMs = opts.cpuSampleMs ?? 500
    }
  }

  const sandboxWork = async () => {
    if (type !== 'disk') return
    const dir = opts.sandboxDir ?? './sandbox'
    const u = await attempt(problems, `could not measure ${dir}`, () => sandboxUsage(dir))
    if (u) {
      evidence.sandbox = sandboxSection(u)
      facts.sandbox = u
    }
  }

  const hostWork = async () => {
    if (!thisHost) return
    const host = await attempt(problems, 'could not read /proc', () => hostFromProc(opts.procRoot))
    if (host) evidence.host = host
    if (opts.hostReadings) {
      const r = await attempt(problems, "could not read the host's readings", () => opts.hostReadings!())
      if (r?.length) evidence.host = { ...evidence.host, readings: r.slice(0, 8) }
    }
  }

  const historyWork = async () => {
    if (!opts.history) return
    const h = await attempt(problems, 'could not read the metric history', () => opts.history!())
    if (h?.length) evidence.metricHistory = { points: thinPoints(h) }
  }

  const incidentsWork = async () => {
    if (!opts.openIncidents) return
    const open = await attempt(problems, 'could not list the open incidents', () => opts.openIncidents!())
    if (!open) return
    const others = open.filter((i) => i.id !== incidentId && (!node || !i.node || i.node === node))
    if (others.length) evidence.openIncidents = others.slice(0, CAPS.openIncidents)
  }

  if (type === 'latency' || alert.type === 'latency' || probesOf(d).length) {
    const probes = probesOf(d)
    if (probes.length) evidence.probes = probes.slice(-CAPS.probes).map((p) => probeEntry(p, alert.resource.name))
    const times = probes.map((p) => p.ms ?? p.latencyMs).filter((x): x is number => typeof x === 'number')
    const failed = probes.filter((p) => p.error || p.ok === false || (p.status !== undefined && p.status >= 500))
    Object.assign(facts, {
      probes: probes.length,
      failedProbes: failed.length,
      ...(times.length ? { maxMs: Math.max(...times), minMs: Math.min(...times) } : {}),
    })
  }

  const recheckWork = async () => {
    // Only an endpoint Sentinel probes itself, by the target it was configured with.
    if (type !== 'latency' || container) return
    const target = configuredTarget(alert, opts.probeTargets)
    if (!target) return
    const r = await attempt(problems, `could not probe ${publicUrl(target)} again`, () =>
      recheckProbe(target, thresholdOf(section), opts),
    )
    if (r) {
      evidence.recheck = r
      facts.recheck = r
    }
  }

  await Promise.all([
    containerWork(),
    processWork(),
    sandboxWork(),
    hostWork(),
    historyWork(),
    incidentsWork(),
    recheckWork(),
  ])
  if (type !== alert.type) facts.anomalyReadAs = type
  return { evidence: boundEvidence(evidence), logs, facts }
}
