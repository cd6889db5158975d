/**
 * Out of memory, when Docker says the kernel OOM-killed the container, or its memory stood at its limit
 * (before it died, or now while it alerts). With a limit of its own, the limit is raised; killed
 * for the host's memory (no limit), a restart is all that fits.
 */
import type { Evidence } from '../../evidence/types'
import {
  died,
  formatBytes,
  knownContainer,
  raisedMemoryLimit,
  restartedBefore,
  restartFix,
  verdict,
  type FaultRule,
} from './types'

/** The container's memory as a share of its limit, last read before it died (or now), with when. */
export function lastMemoryPercent(e: Evidence): { percent: number; at?: number } | undefined {
  const c = knownContainer(e)
  if (!c) return undefined
  const end = c.running === false && c.finishedAt ? Date.parse(c.finishedAt) : Infinity
  const before = (pts: Array<[number, number]> | undefined) =>
    (pts ?? []).filter((p) => !Number.isFinite(end) || p[0] <= end + 5_000).at(-1)
  const pct = before(e.memoryPercentHistory?.points)
  if (pct) return { percent: pct[1], at: pct[0] }
  const limit = c.memoryLimitBytes ?? 0
  const bytes = before(e.memoryHistory?.points)
  if (bytes && limit > 0) return { percent: Math.round((1000 * bytes[1]) / limit) / 10, at: bytes[0] }
  return undefined
}

export const NEAR_LIMIT_BEFORE_DEATH = 90

export function judgeOom(e: Evidence) {
  const c = knownContainer(e)
  if (!c) return null
  const limit = c.memoryLimitBytes ?? 0
  const flagged = c.oomKilled === true || e.alert.details?.oomKilled === true
  const raise = { action: 'update_memory_limit', params: { containerId: c.id, memoryBytes: raisedMemoryLimit(limit) } }
  if (flagged) {
    const ev = ['Docker reports OOMKilled=true: the kernel killed it for exceeding its memory limit']
    if (limit > 0) {
      ev.push(`memory limit ${formatBytes(limit)}`)
      return verdict({
        cause: 'oom',
        root_cause: `Container ${c.name} was OOM-killed: it needed more than its ${formatBytes(limit)} memory limit.`,
        evidence: ev,
        proposed_fix: raise,
        risk_level: 'medium',
        confidence: 0.85,
      })
    }
    ev.push('no memory limit of its own')
    const before = restartedBefore(e)
    return verdict({
      cause: 'oom',
      root_cause: `Container ${c.name} was OOM-killed without a memory limit of its own: the host ran out of memory${before ? `. ${before}` : ''}.`,
      evidence: ev,
      proposed_fix: restartFix(e),
      risk_level: 'low',
      confidence: 0.6,
    })
  }
  if (limit <= 0) return null
  if (died(e)) {
    const last = lastMemoryPercent(e)
    if (!last || last.percent < NEAR_LIMIT_BEFORE_DEATH) return null
    return verdict({
      cause: 'oom',
      root_cause: `Container ${c.name} died with its memory at ${last.percent}% of its ${formatBytes(limit)} limit: it ran out of memory.`,
      evidence: [
        `memory at ${last.percent}% of the limit${last.at ? ` at ${new Date(last.at).toISOString()}` : ''}, the last reading before it died`,
        `memory limit ${formatBytes(limit)}`,
      ],
      proposed_fix: raise,
      risk_level: 'medium',
      confidence: 0.7,
    })
  }
  const u = c.usage
  const atLeast = e.alert.type === 'container_unhealthy' ? 90 : 80
  if (!u || u.memoryPercent < atLeast) return null
  const unhealthy = e.alert.type === 'container_unhealthy'
  return verdict({
    cause: 'oom',
    root_cause: unhealthy
      ? `Container ${c.name} is unhealthy while using ${u.memoryPercent}% of its ${formatBytes(limit)} memory limit: memory pressure stalls it.`
      : `Container ${c.name} uses ${u.memoryPercent}% of its memory limit (${formatBytes(limit)}): the limit is too small for its working set.`,
    evidence: [
      `memory in use ${formatBytes(u.memoryBytes)} of ${formatBytes(u.memoryLimitBytes)} (${u.memoryPercent}%)`,
    ],
    proposed_fix: raise,
    risk_level: 'medium',
    confidence: unhealthy ? 0.6 : 0.7,
  })
}

export const oom: FaultRule = {
  cause: 'oom',
  appliesTo: ['container_down', 'container_unhealthy', 'memory', 'latency'],
  judge: judgeOom,
}
