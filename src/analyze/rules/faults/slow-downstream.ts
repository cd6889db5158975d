/**
 * A slow downstream, responses slow while the service's own CPU (and the host's) is normal and
 * it answers, so it is waiting on something else (a database, an API). More replicas of it, or a
 * restart, would wait the same, so no fix is proposed.
 *
 * An endpoint Sentinel probes with no container of its own is judged with this host's CPU instead:
 * its latency is up, a fresh probe made for the analysis is still slow (or times out), and the
 * host's CPU is under HOST_NORMAL_CPU_PERCENT. Its own CPU is not known, so the confidence is lower.
 */
import type { Evidence } from '../../evidence/types'
import { matchesKind } from '../../evidence/log-lines'
import { knownContainer, logLinesMatching, readingOf, thresholdOf, verdict, type FaultRule } from './types'

/** CPU percent under which the service is not the bottleneck. */
export const NORMAL_CPU_PERCENT = 50

/** This host's CPU percent under which an endpoint without a container is taken as not CPU-bound. */
export const HOST_NORMAL_CPU_PERCENT = 70

function hostCpu(e: Evidence): number | undefined {
  return e.host?.readings?.find((r) => r.metric === 'cpu_busy_percent')?.value
}

/** An endpoint without a container: latency up, still slow when probed again, this host's CPU normal. */
function endpointSlow(e: Evidence) {
  const r = e.recheck
  const threshold = thresholdOf(e.alert)
  if (!r || r.verdict !== 'over' || threshold === undefined) return null
  if (e.alert.value !== null && e.alert.value <= threshold) return null
  const host = hostCpu(e)
  if (host === undefined || host >= HOST_NORMAL_CPU_PERCENT) return null
  const fresh = r.error === 'timeout' ? `timed out after ${r.timeoutMs} ms` : `answered in ${r.ms} ms`
  return verdict({
    cause: 'slow_downstream',
    root_cause: `${e.alert.resource.name} answers slowly (${e.alert.metric} ${e.alert.value ?? '?'} over ${threshold}; probed again for this analysis it ${fresh}) while this host's CPU is normal (${host}%): the service, or what it waits on, is slow, not starved here. Its own CPU is not known to Sentinel; more replicas or a restart are not Sentinel's to make.`,
    evidence: [
      ...(readingOf(e) ? [readingOf(e)!] : []),
      `a fresh probe of ${r.target} at ${r.at}: ${fresh}, over the threshold ${threshold}`,
      `host CPU ${host}% (under ${HOST_NORMAL_CPU_PERCENT}%)`,
      'no container is known for the endpoint: its own CPU could not be read',
    ],
    proposed_fix: null,
    risk_level: 'low',
    confidence: 0.45,
  })
}

export function judgeSlowDownstream(e: Evidence) {
  const c = knownContainer(e)
  if (!c && !e.container) return endpointSlow(e)
  if (!c || !c.running) return null
  const cpu = c.usage?.cpuPercent
  // Without the container's CPU there is no telling a slow downstream from a busy service.
  if (cpu === undefined || cpu >= NORMAL_CPU_PERCENT) return null
  const host = hostCpu(e)
  if (host !== undefined && host >= 80) return null
  const probes = e.probes ?? []
  const answered = probes.filter((p) => !p.error && p.ok !== false && (p.status === undefined || p.status < 500))
  if (probes.length > 0 && answered.length === 0) return null
  const slow = e.alert.threshold !== null && e.alert.value !== null ? e.alert.value > e.alert.threshold : true
  const times = answered.map((p) => p.ms).filter((x): x is number => typeof x === 'number')
  if (!slow && times.length === 0) return null
  const upstream = logLinesMatching(e, (l) => matchesKind(l, 'slow_upstream'))
  return verdict({
    cause: 'slow_downstream',
    root_cause: `${e.alert.resource.name} answers slowly${times.length ? ` (up to ${Math.max(...times)} ms)` : ''} while its CPU is normal (${cpu}%): it is waiting on something downstream. More replicas or a restart would wait the same.`,
    evidence: [
      `container ${c.name} at ${cpu}% CPU`,
      ...(host !== undefined ? [`host CPU ${host}%`] : []),
      ...(times.length
        ? [`${answered.length} of ${probes.length} probes answered, up to ${Math.max(...times)} ms`]
        : []),
      ...upstream.map((l) => `log (downstream): ${l}`),
    ],
    proposed_fix: null,
    risk_level: 'low',
    confidence: upstream.length ? 0.65 : 0.55,
  })
}

export const slowDownstream: FaultRule = {
  cause: 'slow_downstream',
  appliesTo: ['latency'],
  judge: judgeSlowDownstream,
}
