/**
 * What a fault rule is and answers, and the small helpers the rules share (byte sizes, exit code
 * meanings, the raised memory limit, the reading). A rule is pure: it reads one evidence record
 * and names its cause, the facts it rests on, a confidence and the fix that fits, or says nothing.
 */
import type { AlertType, RiskLevel } from '../../../platform/store/model'
import type { Cause } from '../../causes'
import type { Evidence } from '../../evidence/types'
import type { ProposedFix } from '../../llm/schema'

export interface FaultVerdict {
  cause: Cause
  /** One or two sentences. */
  root_cause: string
  /** The facts it rests on, quoted from the record. */
  evidence: string[]
  /** 0..1. */
  confidence: number
  /** An action of the catalogue (src/actions/catalog.ts) with its params, or null when none is safe or useful. */
  proposed_fix: ProposedFix | null
  risk_level: RiskLevel
}

export interface FaultRule {
  /** The cause it names (also its file's name, in kebab case). */
  cause: Cause
  /** The alert types it is asked about (an anomaly counts as the type its metric resembles). */
  appliesTo: readonly AlertType[]
  judge: (evidence: Evidence) => FaultVerdict | null
}

const MiB = 1024 * 1024

export function formatBytes(n: number): string {
  if (n >= 1024 * MiB) return `${(n / 1024 / MiB).toFixed(2)} GiB`
  if (n >= MiB) return `${(n / MiB).toFixed(1)} MiB`
  if (n >= 1024) return `${(n / 1024).toFixed(1)} KiB`
  return `${n} B`
}

/** 1.5 times the current limit, whole MiB, at least 16 MiB more. */
export function raisedMemoryLimit(current: number): number {
  return Math.max(Math.ceil((current * 1.5) / MiB) * MiB, current + 16 * MiB)
}

export const SIGNALS: Record<number, string> = {
  1: 'SIGHUP',
  2: 'SIGINT',
  6: 'SIGABRT',
  9: 'SIGKILL',
  11: 'SIGSEGV',
  13: 'SIGPIPE',
  15: 'SIGTERM',
}

export function exitMeaning(code: number): string {
  if (code === 0) return 'exited normally (code 0)'
  if (code === 125) return 'docker could not run the container (code 125)'
  if (code === 126) return 'its command could not be executed (code 126)'
  if (code === 127) return 'its command was not found (code 127)'
  if (code > 128 && code < 160)
    return `was killed by signal ${code - 128}${SIGNALS[code - 128] ? ` (${SIGNALS[code - 128]})` : ''} (code ${code})`
  return `exited with an error (code ${code})`
}

export function verdict(v: FaultVerdict): FaultVerdict {
  return { ...v, confidence: Math.round(Math.min(1, Math.max(0, v.confidence)) * 100) / 100 }
}

/** `metric = value (threshold t)`, the alert's reading as evidence. */
export function readingOf(e: Evidence): string | undefined {
  const a = e.alert
  if (a.value === null) return undefined
  return `${a.metric} = ${a.value}${a.threshold !== null ? ` (threshold ${a.threshold})` : ''}`
}

/** The alert's threshold, or for an anomaly the top of the range its detector expected. */
export function thresholdOf(alert: Pick<Evidence['alert'], 'threshold' | 'details'>): number | undefined {
  if (alert.threshold !== null) return alert.threshold
  const high = alert.details?.expectedHigh
  return typeof high === 'number' ? high : undefined
}

/** The container, when it is watched (it came from the label-filtered listing), exists and Docker described it. */
export const knownContainer = (e: Evidence) =>
  e.container?.exists && e.container.status !== undefined ? e.container : undefined

/**
 * The exit code of the death: Docker's when the container is still down, the event's when it has
 * been started again since (a new start resets Docker's).
 */
export function deathExitCode(e: Evidence): number | undefined {
  const c = knownContainer(e)
  if (!c) return e.eventExitCode
  return c.running ? (e.eventExitCode ?? c.exitCode) : (c.exitCode ?? e.eventExitCode)
}

/** The container died: the alert says so, or the container is not running. */
export function died(e: Evidence): boolean {
  const c = knownContainer(e)
  if (e.alert.type === 'container_down') return !!c
  return !!c && c.running === false
}

export function exitLine(e: Evidence): string {
  const c = knownContainer(e)!
  const code = deathExitCode(e)
  return `container ${c.name} (${c.image ?? '?'}) is ${c.status ?? 'unknown'}${code !== undefined ? `, exit code ${code}` : ''}`
}

/**
 * What Sentinel did about the incident before this analysis, when it decided on a restart (the
 * container fast path): "Sentinel restarted it already", or where that restart stands. Undefined
 * when the incident was not decided before, or not on a restart.
 */
export function restartedBefore(e: Evidence): string | undefined {
  const d = e.decidedBefore
  if (d?.actionId !== 'restart_container') return undefined
  if (d.route === 'auto') {
    if (d.actionStatus === 'succeeded' || d.actionStatus === undefined)
      return 'Sentinel restarted it already (its fast path for dead containers, before this analysis)'
    return `Sentinel's fast path decided to restart it before this analysis (the restart ${d.actionStatus === 'started' ? 'is running' : d.actionStatus})`
  }
  if (d.route === 'approval')
    return "Sentinel's fast path proposed a restart before this analysis; it waits for approval"
  if (d.route === 'shadow') return "Sentinel's fast path decided a restart before this analysis (shadow mode: not run)"
  return `Sentinel's fast path decided a restart before this analysis (route ${d.route})`
}

/**
 * A restart, for a death: when the container is down, or when Sentinel decided that restart before
 * this analysis (the fast path restarts a dead container at once: the fix that fits, proposed again,
 * runs nothing twice, as a decided incident is not decided again). A container running again that
 * Sentinel did not restart (an Alertmanager ContainerDown that came late) needs nothing.
 */
export const restartFix = (e: Evidence): ProposedFix | null => {
  const c = knownContainer(e)
  if (!c) return null
  return !c.running || restartedBefore(e) ? { action: 'restart_container', params: { containerId: c.id } } : null
}

/** The evidence line for a decision taken before the analysis, when there was one. */
export function decidedBeforeLine(e: Evidence): string | undefined {
  const d = e.decidedBefore
  if (!d) return undefined
  return `decided before this analysis: ${d.actionId ?? 'no action'} (route ${d.route})${d.actionStatus ? `, action ${d.actionStatus}` : ''}`
}

/** The last `n` log lines (kept and telling ones together, newest last) matching `test`. */
export function logLinesMatching(e: Evidence, test: (line: string) => boolean, n = 2): string[] {
  const lines = [...(e.logs?.errorLines ?? []), ...(e.logs?.lines ?? [])]
  const seen = new Set<string>()
  const hits = lines.filter((l) => test(l) && !seen.has(l) && seen.add(l))
  return hits.slice(-n)
}

/**
 * Where the newest log line matching `test` stands, to tell which of two kinds came last: its index
 * in the kept tail, a negative number for a telling line older than the tail, -Infinity for none.
 */
export function lastIndexMatching(e: Evidence, test: (line: string) => boolean): number {
  const lines = e.logs?.lines ?? []
  for (let i = lines.length - 1; i >= 0; i--) if (test(lines[i])) return i
  const errs = e.logs?.errorLines ?? []
  // Telling lines older than the tail count as older than every tail line.
  for (let i = errs.length - 1; i >= 0; i--) if (test(errs[i])) return -2 - (errs.length - 1 - i)
  return -Infinity
}
