/**
 * A memory leak, the memory of the container (or, without one, the alert's memory metric) grew
 * steadily over the recent readings, not in one jump. A restart clears it for a while; on the host,
 * the process holding the most memory is the suspect and only an admin may have it killed.
 */
import type { Evidence, Series } from '../../evidence/types'
import { steadyGrowth, type Growth } from './series'
import { formatBytes, knownContainer, verdict, type FaultRule } from './types'

function pick(e: Evidence): { s: Series; what: string; bytes: boolean } | undefined {
  if (e.memoryHistory?.points.length) return { s: e.memoryHistory, what: 'container memory', bytes: true }
  if (e.memoryPercentHistory?.points.length)
    return { s: e.memoryPercentHistory, what: 'container memory (% of limit)', bytes: false }
  if (e.metricHistory?.points.length) return { s: e.metricHistory, what: e.alert.metric, bytes: false }
  return undefined
}

const show = (v: number, bytes: boolean) => (bytes ? formatBytes(Math.round(v)) : String(Math.round(v * 100) / 100))

function describe(g: Growth, from: number, what: string, bytes: boolean): string {
  return `${what} grew from ${show(from, bytes)} to ${show(from + g.rise, bytes)} over ${Math.round(g.minutes)} min (${show(g.perMinute, bytes)}/min, ${Math.round(g.upShare * 100)}% of readings up, fit r²=${g.r2.toFixed(2)}, largest step ${Math.round(g.largestStepShare * 100)}% of the rise)`
}

export function judgeMemoryLeak(e: Evidence) {
  const picked = pick(e)
  if (!picked) return null
  const pts = [...picked.s.points].sort((a, b) => a[0] - b[0])
  const from = pts[0][1]
  // A rise of 10 % of where it started (at least 4 MiB for bytes) is a leak worth naming.
  const minRise = Math.max(Math.abs(from) * 0.1, picked.bytes ? 4 * 1024 * 1024 : 0, Number.EPSILON)
  const g = steadyGrowth(pts, minRise)
  if (!g) return null
  const ev = [describe(g, from, picked.what, picked.bytes)]
  const confidence = g.r2 >= 0.95 ? 0.85 : 0.75
  const c = knownContainer(e)
  if (c) {
    return verdict({
      cause: 'memory_leak',
      root_cause: `Container ${c.name} leaks memory: it grew steadily (${show(g.perMinute, picked.bytes)} a minute) rather than in one jump; a restart frees it until the leak is fixed.`,
      evidence: ev,
      proposed_fix: { action: 'restart_container', params: { containerId: c.id } },
      risk_level: 'low',
      confidence,
    })
  }
  if (!e.alert.thisHost)
    return verdict({
      cause: 'memory_leak',
      root_cause: `Memory on ${e.alert.node ?? e.alert.resource.name} grew steadily: a leak on another host, where Sentinel acts on nothing.`,
      evidence: [...ev, `the alert is about ${e.alert.node ?? e.alert.resource.name}, not this host`],
      proposed_fix: null,
      risk_level: 'low',
      confidence: confidence - 0.1,
    })
  const top = e.processes?.byRss?.[0]
  if (!top)
    return verdict({
      cause: 'memory_leak',
      root_cause: 'Memory grew steadily: a leak, in a process that could not be read.',
      evidence: ev,
      proposed_fix: null,
      risk_level: 'low',
      confidence: confidence - 0.2,
    })
  ev.push(`pid ${top.pid} ${top.name} holds the most memory (RSS ${formatBytes(top.rssBytes)})`)
  if (top.containerId) {
    return verdict({
      cause: 'memory_leak',
      root_cause: `Memory grew steadily, and process ${top.name} (pid ${top.pid}) in container ${top.containerId.slice(0, 12)} holds the most: a leak there.`,
      evidence: top.containerWatched
        ? ev
        : [...ev, `container ${top.containerId.slice(0, 12)} is not watched: Sentinel does not act on it`],
      proposed_fix: top.containerWatched
        ? { action: 'restart_container', params: { containerId: top.containerId } }
        : null,
      risk_level: 'low',
      confidence: confidence - 0.15,
    })
  }
  return verdict({
    cause: 'memory_leak',
    root_cause: `Memory grew steadily, and process ${top.name} (pid ${top.pid}) holds the most on the host: a leak in it.`,
    evidence: ev,
    proposed_fix: top.killable ? { action: 'kill_process', params: { pid: top.pid } } : null,
    risk_level: 'high',
    confidence: confidence - 0.15,
  })
}

export const memoryLeak: FaultRule = {
  cause: 'memory_leak',
  appliesTo: ['memory', 'container_unhealthy'],
  judge: judgeMemoryLeak,
}
