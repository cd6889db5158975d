/**
 * The evidence record as the lines a person reads under an analysis: the reading, the container's
 * state, its health log, the processes, the sandbox, the probes (and the fresh one), a decision
 * taken before the analysis, the log lines, and what could not be read. A verdict's own evidence comes first; these follow it as context.
 */
import type { Evidence } from '../../evidence/types'
import { decidedBeforeLine, formatBytes, readingOf } from './types'

export function containerLines(e: Evidence): string[] {
  const c = e.container
  if (!c?.exists || c.status === undefined) return []
  const code = c.exitCode
  const ev = [`container ${c.name} (${c.image ?? '?'}) is ${c.status}${c.running ? '' : `, exit code ${code}`}`]
  if (c.running && e.eventExitCode !== undefined) ev.push(`exit code from the event: ${e.eventExitCode}`)
  if (c.oomKilled) ev.push('Docker reports OOMKilled=true: the kernel killed it for exceeding its memory limit')
  if (c.memoryLimitBytes) ev.push(`memory limit ${formatBytes(c.memoryLimitBytes)}`)
  if (c.restartCount) ev.push(`restart count ${c.restartCount}`)
  if (c.error) ev.push(`docker error: ${c.error}`)
  if (c.usage)
    ev.push(
      `memory in use ${formatBytes(c.usage.memoryBytes)} of ${formatBytes(c.usage.memoryLimitBytes)} (${c.usage.memoryPercent}%)${c.usage.cpuPercent !== undefined ? `, CPU ${c.usage.cpuPercent}%` : ''}`,
    )
  if (c.health) {
    ev.push(`health ${c.health.status}, failing streak ${c.health.failingStreak}`)
    for (const l of c.health.log.filter((x) => x.exitCode !== 0).slice(-2))
      ev.push(`health check exit ${l.exitCode}${l.output ? `: ${l.output}` : ''}`)
  }
  return ev
}

/** The error-looking lines (at most 3) and the last few others, as today's analysis showed them. */
export function logLines(e: Evidence, last = 5, errors = 3): string[] {
  if (!e.logs) return []
  const errorLines = e.logs.errorLines.slice(-errors)
  const out = errorLines.map((l) => `log (error): ${l}`)
  const tail = e.logs.lines.slice(-last).filter((l) => !errorLines.includes(l))
  if (tail.length) out.push(`last log lines: ${tail.map((l) => l.slice(0, 160)).join(' | ')}`)
  return out
}

export function describeEvidence(e: Evidence): string[] {
  const out: string[] = []
  const reading = readingOf(e)
  if (reading) out.push(e.alert.type === 'disk' ? `${reading} on ${e.alert.resource.name}` : reading)
  if (!e.alert.thisHost) out.push(`the alert is about ${e.alert.node}, not this host`)
  for (const p of e.processes?.byRss ?? [])
    out.push(
      `pid ${p.pid} ${p.name} (${p.command.slice(0, 100)})${p.containerId ? ` in container ${p.containerId.slice(0, 12)}` : ''}: RSS ${formatBytes(p.rssBytes)}`,
    )
  for (const p of e.processes?.byCpu ?? [])
    out.push(
      `pid ${p.pid} ${p.name} (${p.command.slice(0, 100)})${p.containerId ? ` in container ${p.containerId.slice(0, 12)}` : ''}: ${p.cpuPercent}% CPU over the sample`,
    )
  const s = e.sandbox
  if (s) {
    for (const [name, u] of Object.entries(s.subdirs))
      out.push(
        `${name}/ holds ${formatBytes(u.bytes)} in ${u.files} files${u.largest[0] ? `, largest ${u.largest[0].path} (${formatBytes(u.largest[0].bytes)})` : ''}`,
      )
    if (s.filesystem)
      out.push(
        `filesystem of the sandbox: ${s.filesystem.usedPercent.toFixed(1)}% used, ${formatBytes(s.filesystem.freeBytes)} free`,
      )
  }
  for (const p of e.probes ?? [])
    out.push(
      `probe ${p.target}: ${p.error ? `failed (${p.error.slice(0, 120)})` : `HTTP ${p.status ?? '?'}`}${p.ms !== undefined ? ` in ${p.ms} ms` : ''}`,
    )
  const r = e.recheck
  if (r)
    out.push(
      `fresh probe of ${r.target} for this analysis: ${r.error ? `failed (${r.error.slice(0, 120)})` : `HTTP ${r.status ?? '?'}`} in ${r.ms} ms${r.threshold !== undefined && (r.verdict === 'under' || r.verdict === 'over') ? ` (${r.verdict} the threshold ${r.threshold})` : ''}`,
    )
  const decided = decidedBeforeLine(e)
  if (decided) out.push(decided)
  if (e.alert.type === 'latency' && !e.probes?.length)
    for (const [k, v] of Object.entries(e.alert.details ?? {}).slice(0, 8)) out.push(`${k}: ${String(v).slice(0, 120)}`)
  out.push(...containerLines(e), ...logLines(e), ...e.problems)
  return out
}

/** A verdict's evidence, then the record's context lines it does not already hold, at most `max`. */
export function mergeEvidence(first: string[], context: string[], max = 30): string[] {
  const seen = new Set<string>()
  const out: string[] = []
  for (const l of [...first, ...context]) {
    if (seen.has(l)) continue
    seen.add(l)
    out.push(l)
  }
  return out.slice(0, max)
}
