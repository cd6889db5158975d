/**
 * The rule analyser: deterministic root-cause analysis for every alert type, from evidence it
 * gathers itself (Docker inspect, logs and stats; /proc; the sandbox tree; the alert's details).
 * It is the answer when no LLM is configured and the fallback when the LLM fails, so it never
 * throws: a failed look-up becomes evidence and lowers the confidence.
 *
 * A container an alert names is looked into only when it carries the watch label, and that is
 * learnt from the label-filtered listing: an alert (anyone with an operator key can send one) must
 * not make Sentinel read an unwatched container's configuration or logs, nor propose to act on it.
 */
import { getConfig } from '../../platform/config/index'
import { findWatchedContainer, type WatchedContainer } from '../../platform/docker/engine-api'
import { containerRef, type Alert, type AlertType, type Incident, type RiskLevel } from '../../platform/store/model'
import { redact } from '../../platform/telemetry/redact'
import type { Analysis, ProposedFix } from '../llm/schema'
import { containerFacts, type ContainerFacts } from './container'
import { topByCpu, topByRss, type CpuSample, type ProcessInfo } from './procs'
import { sandboxUsage } from './sandbox'

export interface RuleOptions {
  /** SANDBOX_DIR. Default ./sandbox. */
  sandboxDir?: string
  /** How long the CPU sample of /proc lasts. Default 500 ms. */
  cpuSampleMs?: number
  /** Processes listed as evidence. Default 5. */
  topN?: number
  procRoot?: string
  /** Log lines fetched from the container. Default 200. */
  logLines?: number
  /** Never proposed for kill_process (besides pid 1 and this process). */
  protectedPids?: number[]
}

export interface RuleAnalysis extends Analysis {
  /** The raw facts gathered, for the LLM prompt and the incident record. */
  facts: Record<string, unknown>
  /** The container's log tail, when one was read. */
  logs?: string
  /** The container the alert names when no watched container answers to it (nothing was read). */
  unwatchedContainer?: string
}

const MiB = 1024 * 1024

export function formatBytes(n: number): string {
  if (n >= 1024 * MiB) return `${(n / 1024 / MiB).toFixed(2)} GiB`
  if (n >= MiB) return `${(n / MiB).toFixed(1)} MiB`
  if (n >= 1024) return `${(n / 1024).toFixed(1)} KiB`
  return `${n} B`
}

function alertOf(input: Incident | Alert): Alert {
  return 'alert' in input && input.alert ? input.alert : (input as Alert)
}

const ERROR_LINE =
  /\b(error|fatal|panic|exception|traceback|out of memory|oom|killed|segmentation fault|refused|timed? ?out|cannot|failed)\b/i

/** The last lines of a log, and the error-looking ones among the last 200, redacted. */
export function logEvidence(logs: string | undefined, last = 5, errors = 3): string[] {
  if (!logs) return []
  const lines = logs
    .split('\n')
    .map((l) => l.trimEnd())
    .filter(Boolean)
  const out: string[] = []
  const errorLines = lines
    .slice(-200)
    .filter((l) => ERROR_LINE.test(l))
    .slice(-errors)
  for (const l of errorLines) out.push(`log (error): ${redact(l).slice(0, 240)}`)
  const tail = lines.slice(-last).filter((l) => !errorLines.includes(l))
  if (tail.length) out.push(`last log lines: ${tail.map((l) => redact(l).slice(0, 160)).join(' | ')}`)
  return out
}

const SIGNALS: Record<number, string> = {
  1: 'SIGHUP',
  2: 'SIGINT',
  6: 'SIGABRT',
  9: 'SIGKILL',
  11: 'SIGSEGV',
  13: 'SIGPIPE',
  15: 'SIGTERM',
}

function exitMeaning(code: number): string {
  if (code === 0) return 'exited normally (code 0)'
  if (code === 125) return 'docker could not run the container (code 125)'
  if (code === 126) return 'its command could not be executed (code 126)'
  if (code === 127) return 'its command was not found (code 127)'
  if (code > 128 && code < 160)
    return `was killed by signal ${code - 128}${SIGNALS[code - 128] ? ` (${SIGNALS[code - 128]})` : ''} (code ${code})`
  return `exited with an error (code ${code})`
}

/** 1.5 times the current limit, whole MiB, at least 16 MiB more. */
export function raisedMemoryLimit(current: number): number {
  return Math.max(Math.ceil((current * 1.5) / MiB) * MiB, current + 16 * MiB)
}

/** The alert's reading, as evidence: `metric = value (threshold t)`. */
function readingOf(alert: Alert): string {
  return `${alert.metric} = ${alert.value}${alert.threshold !== null ? ` (threshold ${alert.threshold})` : ''}`
}

function result(a: Omit<RuleAnalysis, 'confidence'> & { confidence: number }): RuleAnalysis {
  return { ...a, confidence: Math.round(Math.min(1, Math.max(0, a.confidence)) * 100) / 100 }
}

async function facts(
  container: WatchedContainer,
  opts: RuleOptions,
  stats: boolean,
  withCpu = false,
): Promise<{ f?: ContainerFacts; problem?: string }> {
  try {
    return { f: await containerFacts(container, { logLines: opts.logLines ?? 200, stats, withCpu }) }
  } catch (err) {
    return { problem: `could not inspect container ${container.name}: ${(err as Error).message}` }
  }
}

function containerEvidence(f: ContainerFacts): string[] {
  const ev: string[] = [
    `container ${f.name} (${f.image}) is ${f.status}${f.running ? '' : `, exit code ${f.exitCode}`}`,
  ]
  if (f.oomKilled) ev.push('Docker reports OOMKilled=true: the kernel killed it for exceeding its memory limit')
  if (f.memoryLimitBytes) ev.push(`memory limit ${formatBytes(f.memoryLimitBytes)}`)
  if (f.restartCount) ev.push(`restart count ${f.restartCount}`)
  if (f.error) ev.push(`docker error: ${redact(f.error)}`)
  if (f.usage)
    ev.push(
      `memory in use ${formatBytes(f.usage.memoryBytes)} of ${formatBytes(f.usage.memoryLimitBytes)} (${f.usage.memoryPercent}%)${f.usage.cpuPercent !== undefined ? `, CPU ${f.usage.cpuPercent}%` : ''}`,
    )
  return ev
}

function factsRecord(f: ContainerFacts | undefined): Record<string, unknown> {
  if (!f) return {}
  const { logs: _logs, ...rest } = f
  return { container: rest }
}

async function containerDown(alert: Alert, opts: RuleOptions, container?: WatchedContainer): Promise<RuleAnalysis> {
  const d = alert.details ?? {}
  const alertExit = typeof d.exitCode === 'number' ? d.exitCode : undefined
  if (!container) return noTarget(alert, 'the alert names no container')
  const id = container.id
  const { f, problem } = await facts(container, opts, false)
  if (!f) {
    return result({
      root_cause: `Container ${alert.resource.name} stopped${alertExit !== undefined ? ` and ${exitMeaning(alertExit)}` : ''}; Docker could not be asked for more.`,
      evidence: [problem!, ...(alertExit !== undefined ? [`exit code from the event: ${alertExit}`] : [])],
      proposed_fix: { action: 'restart_container', params: { containerId: id } },
      risk_level: 'low',
      confidence: 0.4,
      facts: { problem },
    })
  }
  if (!f.exists) {
    return result({
      root_cause: `Container ${alert.resource.name} no longer exists (removed); there is nothing to restart.`,
      evidence: [`docker inspect ${id}: no such container`],
      proposed_fix: null,
      risk_level: 'low',
      confidence: 0.8,
      facts: { container: { id, exists: false } },
    })
  }
  const exitCode = f.running ? (alertExit ?? f.exitCode ?? 0) : (f.exitCode ?? alertExit ?? 0)
  const oom = !!f.oomKilled || d.oomKilled === true
  const evidence = [
    ...containerEvidence(f),
    ...(alertExit !== undefined && f.running ? [`exit code from the event: ${alertExit}`] : []),
    ...logEvidence(f.logs),
  ]
  const base = { evidence, facts: factsRecord(f), logs: f.logs }

  if (oom) {
    const limit = f.memoryLimitBytes ?? 0
    if (limit > 0) {
      return result({
        ...base,
        root_cause: `Container ${f.name} was OOM-killed: it needed more than its ${formatBytes(limit)} memory limit.`,
        proposed_fix: {
          action: 'update_memory_limit',
          params: { containerId: f.id, memoryBytes: raisedMemoryLimit(limit) },
        },
        risk_level: 'medium',
        confidence: 0.8,
      })
    }
    return result({
      ...base,
      root_cause: `Container ${f.name} was OOM-killed without a memory limit of its own: the host ran out of memory.`,
      proposed_fix: f.running ? null : { action: 'restart_container', params: { containerId: f.id } },
      risk_level: 'low',
      confidence: 0.6,
    })
  }
  if (f.running) {
    return result({
      ...base,
      root_cause: `Container ${f.name} ${exitMeaning(exitCode)} and is running again (restarted since), so no action is needed now.`,
      proposed_fix: null,
      risk_level: 'low',
      confidence: 0.6,
    })
  }
  if (exitCode === 126 || exitCode === 127 || exitCode === 125) {
    return result({
      ...base,
      root_cause: `Container ${f.name} ${exitMeaning(exitCode)}: a broken image or command, which a restart cannot fix.`,
      proposed_fix: null,
      risk_level: 'low',
      confidence: 0.75,
    })
  }
  const crashLoop = (f.restartCount ?? 0) >= 5
  const errorLogged = logEvidence(f.logs).some((e) => e.startsWith('log (error)'))
  return result({
    ...base,
    root_cause: crashLoop
      ? `Container ${f.name} ${exitMeaning(exitCode)} after ${f.restartCount} restarts: a crash loop a restart is unlikely to end.`
      : `Container ${f.name} ${exitMeaning(exitCode)}${errorLogged ? '; its last log lines show the error' : ''}.`,
    proposed_fix: { action: 'restart_container', params: { containerId: f.id } },
    risk_level: 'low',
    confidence: crashLoop ? 0.3 : exitCode === 0 ? 0.5 : errorLogged ? 0.7 : 0.6,
  })
}

async function containerUnhealthy(
  alert: Alert,
  opts: RuleOptions,
  container?: WatchedContainer,
): Promise<RuleAnalysis> {
  if (!container) return noTarget(alert, 'the alert names no container')
  const { f, problem } = await facts(container, opts, true)
  if (!f || !f.exists) {
    return result({
      root_cause: `Container ${alert.resource.name} failed its health check; ${f ? 'it no longer exists' : 'Docker could not be asked for more'}.`,
      evidence: [problem ?? `docker inspect ${container.name}: no such container`],
      proposed_fix: f ? null : { action: 'restart_container', params: { containerId: container.id } },
      risk_level: 'low',
      confidence: 0.4,
      facts: { problem },
    })
  }
  const evidence = containerEvidence(f)
  if (f.health) {
    evidence.push(`health ${f.health.status}, failing streak ${f.health.failingStreak}`)
    for (const l of f.health.log.filter((x) => x.exitCode !== 0).slice(-2)) {
      evidence.push(`health check exit ${l.exitCode}${l.output ? `: ${redact(l.output).slice(0, 200)}` : ''}`)
    }
  }
  evidence.push(...logEvidence(f.logs))
  const base = { evidence, facts: factsRecord(f), logs: f.logs }
  if (f.usage && f.memoryLimitBytes && f.usage.memoryPercent >= 90) {
    return result({
      ...base,
      root_cause: `Container ${f.name} is unhealthy while using ${f.usage.memoryPercent}% of its ${formatBytes(f.memoryLimitBytes)} memory limit: memory pressure stalls it.`,
      proposed_fix: {
        action: 'update_memory_limit',
        params: { containerId: f.id, memoryBytes: raisedMemoryLimit(f.memoryLimitBytes) },
      },
      risk_level: 'medium',
      confidence: 0.6,
    })
  }
  const lastOutput = f.health?.log.filter((l) => l.exitCode !== 0).pop()?.output
  return result({
    ...base,
    root_cause: `Container ${f.name} is running but fails its health check${lastOutput ? ` (${redact(lastOutput).slice(0, 120)})` : ''}; the service inside has stopped answering.`,
    proposed_fix: { action: 'restart_container', params: { containerId: f.id } },
    risk_level: 'low',
    confidence: (f.restartCount ?? 0) >= 5 ? 0.4 : 0.7,
  })
}

function processLine(p: ProcessInfo, extra: string): string {
  return `pid ${p.pid} ${p.name} (${redact(p.command).slice(0, 100)})${p.containerId ? ` in container ${p.containerId.slice(0, 12)}` : ''}: ${extra}`
}

/** A restart of the container a busy process runs in, proposed only when Sentinel watches that container. */
async function restartIfWatched(containerId: string): Promise<{ fix: ProposedFix | null; note?: string }> {
  const watched = await findWatchedContainer(containerId).catch(() => null)
  if (watched) return { fix: { action: 'restart_container', params: { containerId: watched.id } } }
  return {
    fix: null,
    note: `container ${containerId.slice(0, 12)} does not carry the watch label (or Docker could not say): Sentinel does not act on it`,
  }
}

function killable(p: ProcessInfo, opts: RuleOptions): boolean {
  const protectedPids = new Set([1, process.pid, process.ppid, ...(opts.protectedPids ?? [])])
  return !protectedPids.has(p.pid) && !p.containerId
}

/**
 * The analysis when no watched container explains a host memory or CPU alert: the top process is
 * to blame. In a container, that container is restarted when Sentinel watches it; on the host, it
 * is killed (an admin decides) unless it must never be. `words` says what the process does.
 */
async function blameTopProcess<P extends ProcessInfo>(
  hog: P | undefined,
  evidence: string[],
  factsOut: Record<string, unknown>,
  opts: RuleOptions,
  words: {
    none: string
    inContainer: (hog: P) => string
    onHost: (hog: P) => string
    hostConfidence: (hog: P) => number
  },
): Promise<RuleAnalysis> {
  if (!hog)
    return result({
      evidence,
      facts: factsOut,
      root_cause: words.none,
      proposed_fix: null,
      risk_level: 'low',
      confidence: 0.2,
    })
  if (hog.containerId) {
    const { fix, note } = await restartIfWatched(hog.containerId)
    return result({
      evidence: note ? [...evidence, note] : evidence,
      facts: factsOut,
      root_cause: `Process ${hog.name} (pid ${hog.pid}) in container ${hog.containerId.slice(0, 12)} ${words.inContainer(hog)}`,
      proposed_fix: fix,
      risk_level: 'low',
      confidence: 0.45,
    })
  }
  return result({
    evidence,
    facts: factsOut,
    root_cause: `Process ${hog.name} (pid ${hog.pid}) ${words.onHost(hog)}`,
    proposed_fix: killable(hog, opts) ? { action: 'kill_process', params: { pid: hog.pid } } : null,
    risk_level: 'high',
    confidence: words.hostConfidence(hog),
  })
}

async function memory(alert: Alert, opts: RuleOptions, container?: WatchedContainer): Promise<RuleAnalysis> {
  const n = opts.topN ?? 5
  const [top, cf] = await Promise.all([
    topByRss(n, opts.procRoot).catch(() => [] as ProcessInfo[]),
    container
      ? facts(container, opts, true)
      : Promise.resolve({ f: undefined, problem: undefined } as { f?: ContainerFacts; problem?: string }),
  ])
  const evidence: string[] = []
  const factsOut: Record<string, unknown> = { topByRss: top.map(({ cpuTicks: _c, ...p }) => p) }
  if (alert.value !== null) evidence.push(readingOf(alert))
  for (const p of top) evidence.push(processLine(p, `RSS ${formatBytes(p.rssBytes)}`))
  const f = cf.f
  if (cf.problem) evidence.push(cf.problem)
  if (f?.exists) {
    Object.assign(factsOut, factsRecord(f))
    evidence.push(...containerEvidence(f))
    const inside = top.filter((p) => p.containerId && f.id.startsWith(p.containerId))
    const limit = f.memoryLimitBytes ?? 0
    if (limit > 0 && (f.oomKilled || (f.usage?.memoryPercent ?? 0) >= 80)) {
      return result({
        evidence,
        facts: factsOut,
        logs: f.logs,
        root_cause: `Container ${f.name} ${f.oomKilled ? 'was OOM-killed' : `uses ${f.usage!.memoryPercent}% of its memory limit`} (${formatBytes(limit)})${inside[0] ? `, mostly ${inside[0].name} (pid ${inside[0].pid})` : ''}: the limit is too small for its working set.`,
        proposed_fix: {
          action: 'update_memory_limit',
          params: { containerId: f.id, memoryBytes: raisedMemoryLimit(limit) },
        },
        risk_level: 'medium',
        confidence: 0.7,
      })
    }
    return result({
      evidence,
      facts: factsOut,
      logs: f.logs,
      root_cause: `Container ${f.name} holds ${f.usage ? formatBytes(f.usage.memoryBytes) : 'much'} memory${limit ? '' : ' without a memory limit'}; growth like this is usually a leak that a restart clears.`,
      proposed_fix: f.running ? { action: 'restart_container', params: { containerId: f.id } } : null,
      risk_level: 'low',
      confidence: 0.45,
    })
  }
  return blameTopProcess(top[0], evidence, factsOut, opts, {
    none: 'Memory is high but no process could be read from /proc.',
    inContainer: (hog) => `holds the most memory (${formatBytes(hog.rssBytes)}).`,
    onHost: (hog) => `holds the most memory on the host (${formatBytes(hog.rssBytes)}).`,
    hostConfidence: () => 0.4,
  })
}

async function cpu(alert: Alert, opts: RuleOptions, container?: WatchedContainer): Promise<RuleAnalysis> {
  const n = opts.topN ?? 5
  const [top, cf] = await Promise.all([
    topByCpu(opts.cpuSampleMs ?? 500, n, opts.procRoot).catch(() => [] as CpuSample[]),
    container
      ? facts(container, opts, true, true)
      : Promise.resolve({ f: undefined, problem: undefined } as { f?: ContainerFacts; problem?: string }),
  ])
  const evidence: string[] = []
  const factsOut: Record<string, unknown> = {
    topByCpu: top.map(({ cpuTicks: _c, ...p }) => p),
    cpuSampleMs: opts.cpuSampleMs ?? 500,
  }
  if (alert.value !== null) evidence.push(readingOf(alert))
  for (const p of top) evidence.push(processLine(p, `${p.cpuPercent}% CPU over the sample`))
  const f = cf.f
  if (cf.problem) evidence.push(cf.problem)
  if (f?.exists) {
    Object.assign(factsOut, factsRecord(f))
    evidence.push(...containerEvidence(f), ...logEvidence(f.logs))
    const inside = top.filter((p) => p.containerId && f.id.startsWith(p.containerId))
    return result({
      evidence,
      facts: factsOut,
      logs: f.logs,
      root_cause: `Container ${f.name} is CPU-bound${f.usage?.cpuPercent !== undefined ? ` (${f.usage.cpuPercent}% CPU)` : ''}${inside[0] ? `, in ${inside[0].name} (pid ${inside[0].pid}, ${inside[0].cpuPercent}%)` : ''}: more replicas would share the load.`,
      proposed_fix: f.running ? { action: 'scale_out', params: { containerId: f.id } } : null,
      risk_level: 'medium',
      confidence: 0.5,
    })
  }
  return blameTopProcess(top[0], evidence, factsOut, opts, {
    none: 'CPU is high but no process used CPU time over the sample.',
    inContainer: (hog) => `uses the most CPU (${hog.cpuPercent}%).`,
    onHost: (hog) => `uses the most CPU on the host (${hog.cpuPercent}% of a core over the sample): a runaway process.`,
    hostConfidence: (hog) => (hog.cpuPercent >= 80 ? 0.6 : 0.4),
  })
}

async function disk(alert: Alert, opts: RuleOptions): Promise<RuleAnalysis> {
  const dir = opts.sandboxDir ?? './sandbox'
  const evidence: string[] = []
  if (alert.value !== null) evidence.push(`${readingOf(alert)} on ${alert.resource.name}`)
  let usage
  try {
    usage = await sandboxUsage(dir)
  } catch (err) {
    return result({
      evidence: [...evidence, `could not measure ${dir}: ${(err as Error).message}`],
      facts: {},
      root_cause: 'The disk is filling; the sandbox could not be measured.',
      proposed_fix: null,
      risk_level: 'medium',
      confidence: 0.2,
    })
  }
  for (const [name, u] of Object.entries(usage.subdirs)) {
    evidence.push(
      `${name}/ holds ${formatBytes(u.bytes)} in ${u.files} files${u.largest[0] ? `, largest ${u.largest[0].path} (${formatBytes(u.largest[0].bytes)})` : ''}`,
    )
  }
  if (usage.filesystem)
    evidence.push(
      `filesystem of the sandbox: ${usage.filesystem.usedPercent.toFixed(1)}% used, ${formatBytes(usage.filesystem.freeBytes)} free`,
    )
  const factsOut = { sandbox: usage }
  const share = usage.totalBytes > 0 ? usage.cleanableBytes / usage.totalBytes : 0
  const biggest = Object.entries(usage.subdirs).sort((a, b) => b[1].bytes - a[1].bytes)[0]
  if (usage.cleanableBytes === 0) {
    return result({
      evidence,
      facts: factsOut,
      root_cause:
        usage.totalBytes > 0
          ? `The sandbox's data/ holds ${formatBytes(usage.subdirs.data.bytes)} and nothing cleanable; the space is taken by data that must be kept, or outside the sandbox.`
          : 'The sandbox is empty: the space is taken outside it.',
      proposed_fix: null,
      risk_level: 'medium',
      confidence: 0.5,
    })
  }
  return result({
    evidence,
    facts: factsOut,
    root_cause:
      share >= 0.5
        ? `Sandbox ${biggest[0]}/ is filling the disk: logs, temp and cache hold ${formatBytes(usage.cleanableBytes)} (${Math.round(share * 100)}% of the sandbox), which cleaning frees.`
        : `data/ holds most of the sandbox (${formatBytes(usage.subdirs.data.bytes)}); cleaning logs, temp and cache frees only ${formatBytes(usage.cleanableBytes)}.`,
    proposed_fix: share >= 0.1 ? { action: 'clean_sandbox', params: {} } : null,
    risk_level: 'medium',
    confidence: share >= 0.5 ? 0.5 + 0.4 * share : share >= 0.1 ? 0.35 : 0.4,
  })
}

interface Probe {
  url?: string
  target?: string
  status?: number
  ok?: boolean
  ms?: number
  latencyMs?: number
  error?: string
}

function probesOf(details: Record<string, unknown>): Probe[] {
  const raw = details.probes ?? details.results ?? details.probe
  const list = Array.isArray(raw) ? raw : raw && typeof raw === 'object' ? [raw] : []
  return list.filter((p): p is Probe => !!p && typeof p === 'object')
}

async function latency(alert: Alert, opts: RuleOptions, container?: WatchedContainer): Promise<RuleAnalysis> {
  const d = alert.details ?? {}
  const probes = probesOf(d)
  const evidence: string[] = []
  if (alert.value !== null) evidence.push(readingOf(alert))
  for (const p of probes.slice(-10)) {
    const ms = p.ms ?? p.latencyMs
    evidence.push(
      `probe ${redact(String(p.url ?? p.target ?? alert.resource.name))}: ${p.error ? `failed (${redact(p.error).slice(0, 120)})` : `HTTP ${p.status ?? '?'}`}${ms !== undefined ? ` in ${ms} ms` : ''}`,
    )
  }
  if (probes.length === 0) {
    for (const [k, v] of Object.entries(d).slice(0, 8))
      evidence.push(`${k}: ${redact(JSON.stringify(v)).slice(0, 120)}`)
  }
  const failed = probes.filter((p) => p.error || p.ok === false || (p.status !== undefined && p.status >= 500))
  const times = probes.map((p) => p.ms ?? p.latencyMs).filter((x): x is number => typeof x === 'number')
  const factsOut: Record<string, unknown> = {
    probes: probes.length,
    failedProbes: failed.length,
    ...(times.length ? { maxMs: Math.max(...times), minMs: Math.min(...times) } : {}),
  }
  if (!container) {
    return result({
      evidence,
      facts: factsOut,
      root_cause: `Responses from ${alert.resource.name} are slow${failed.length ? ` and ${failed.length} of ${probes.length} probes failed` : ''}; no container is known for it, so nothing in the catalog applies.`,
      proposed_fix: null,
      risk_level: 'low',
      confidence: 0.3,
    })
  }
  const { f, problem } = await facts(container, opts, true, true)
  if (problem) evidence.push(problem)
  if (f?.exists) {
    Object.assign(factsOut, factsRecord(f))
    evidence.push(...containerEvidence(f), ...logEvidence(f.logs))
  }
  const base = { evidence, facts: factsOut, logs: f?.logs }
  if (f && (!f.exists || !f.running)) {
    return result({
      ...base,
      root_cause: f.exists
        ? `The container behind ${alert.resource.name} is not running (${f.status}).`
        : `The container behind ${alert.resource.name} no longer exists.`,
      proposed_fix: f.exists ? { action: 'restart_container', params: { containerId: f.id } } : null,
      risk_level: 'low',
      confidence: 0.7,
    })
  }
  const containerId = f?.id ?? container.id
  if (failed.length > 0 && failed.length === probes.length) {
    return result({
      ...base,
      root_cause: `Every probe of ${alert.resource.name} failed while its container runs: the service inside is stuck.`,
      proposed_fix: { action: 'restart_container', params: { containerId } },
      risk_level: 'low',
      confidence: 0.55,
    })
  }
  const busy = (f?.usage?.cpuPercent ?? 0) >= 80
  return result({
    ...base,
    root_cause: busy
      ? `${alert.resource.name} is slow because its container is CPU-saturated (${f!.usage!.cpuPercent}%): more replicas would share the load.`
      : `${alert.resource.name} responds slowly${times.length ? ` (up to ${Math.max(...times)} ms)` : ''} without a clear resource bottleneck; more replicas may help.`,
    proposed_fix: { action: 'scale_out', params: { containerId } },
    risk_level: 'medium',
    confidence: busy ? 0.6 : 0.35,
  })
}

/** Which concrete analysis an anomaly on this metric resembles. */
export function anomalyKind(metric: string): AlertType | undefined {
  const m = metric.toLowerCase()
  if (/mem|rss|oom|heap/.test(m)) return 'memory'
  if (/cpu|load/.test(m)) return 'cpu'
  if (/disk|filesystem|inode|\bfs\b|_fs_|storage/.test(m)) return 'disk'
  if (/latenc|duration|response|rtt|p9\d/.test(m)) return 'latency'
  return undefined
}

async function anomaly(alert: Alert, opts: RuleOptions, container?: WatchedContainer): Promise<RuleAnalysis> {
  const d = alert.details ?? {}
  const stats = Object.entries(d)
    .filter(([, v]) => typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean')
    .slice(0, 8)
    .map(([k, v]) => `${k}=${redact(String(v))}`)
  const head = `anomaly on ${alert.metric} = ${alert.value ?? '?'}${stats.length ? ` (${stats.join(', ')})` : ''}`
  const kind = anomalyKind(alert.metric)
  if (kind) {
    const inner = await ANALYSERS[kind](alert, opts, container)
    return result({
      ...inner,
      root_cause: `Anomalous ${alert.metric} (read as a ${kind} problem): ${inner.root_cause}`,
      evidence: [head, ...inner.evidence],
      facts: { ...inner.facts, anomalyReadAs: kind },
      // An anomaly is a statistical signal, not a crossed threshold: trust the reading less.
      confidence: inner.confidence * 0.7,
    })
  }
  const cf = container ? await facts(container, opts, true) : undefined
  const evidence = [head]
  if (cf?.f?.exists) evidence.push(...containerEvidence(cf.f), ...logEvidence(cf.f.logs))
  if (cf?.problem) evidence.push(cf.problem)
  return result({
    evidence,
    facts: factsRecord(cf?.f),
    logs: cf?.f?.logs,
    root_cause: `${alert.metric} on ${alert.resource.name} departs from its usual behaviour; the metric does not point to a cause the rules know, so a person should look.`,
    proposed_fix: null,
    risk_level: 'low',
    confidence: 0.2,
  })
}

function noTarget(alert: Alert, why: string): RuleAnalysis {
  return result({
    evidence: [why],
    facts: {},
    root_cause: `${alert.type} alert on ${alert.resource.name}, but ${why}.`,
    proposed_fix: null,
    risk_level: 'low',
    confidence: 0.1,
  })
}

function notWatched(alert: Alert, ref: string): RuleAnalysis {
  const { key, value } = getConfig().WATCH_LABEL
  const why = `no container carrying the watch label ${key}=${value} answers to "${ref}": it was removed, or Sentinel does not watch it`
  return {
    ...result({
      evidence: [why],
      facts: {},
      root_cause: `${alert.type} alert on ${alert.resource.name}, but ${why}; nothing about it is read and nothing is done to it.`,
      proposed_fix: null,
      risk_level: 'low',
      confidence: 0.1,
    }),
    unwatchedContainer: ref,
  }
}

type ContainerAnalyser = (alert: Alert, opts: RuleOptions, container?: WatchedContainer) => Promise<RuleAnalysis>

const ANALYSERS: Record<AlertType, ContainerAnalyser> = {
  container_down: containerDown,
  container_unhealthy: containerUnhealthy,
  memory,
  cpu,
  disk,
  latency,
  anomaly,
}

export async function analyseWithRules(input: Incident | Alert, opts: RuleOptions = {}): Promise<RuleAnalysis> {
  const alert = alertOf(input)
  const analyse = ANALYSERS[alert.type]
  if (!analyse) return noTarget(alert, `no rule knows the alert type "${alert.type}"`)
  try {
    const ref = containerRef(alert)
    let container: WatchedContainer | undefined
    if (ref) {
      const watched = await findWatchedContainer(ref).catch((err: Error) => err)
      if (watched instanceof Error) {
        return result({
          evidence: [`could not list the watched containers: ${watched.message}`],
          facts: {},
          root_cause: `${alert.type} alert on ${alert.resource.name}; Docker could not say whether container ${ref} is watched, so nothing about it was read.`,
          proposed_fix: null,
          risk_level: 'low',
          confidence: 0.1,
        })
      }
      if (!watched) return notWatched(alert, ref)
      container = watched
    }
    return await analyse(alert, opts, container)
  } catch (err) {
    return result({
      evidence: [`rule analysis failed: ${(err as Error).message}`],
      facts: {},
      root_cause: `${alert.type} alert on ${alert.resource.name}; the evidence could not be gathered.`,
      proposed_fix: null,
      risk_level: 'low' as RiskLevel,
      confidence: 0.1,
    })
  }
}
