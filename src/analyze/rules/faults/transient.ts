/**
 * No fault, only a transient reading. Either the alert's own metric went over its threshold for a
 * few readings and is back under it for the newest two, or (for an endpoint Sentinel probes itself)
 * a fresh probe made for the analysis answers within the threshold again after a short excursion of
 * the series (the windowed reading behind the alert still lags over it). Nothing is to be fixed. A
 * rise that holds, a fresh probe still slow or failing, or a container that died, is not transient.
 */
import type { Evidence } from '../../evidence/types'
import { shortExcursion, transientOf } from './series'
import { knownContainer, thresholdOf, verdict, type FaultRule } from './types'

export function judgeTransient(e: Evidence) {
  const threshold = thresholdOf(e.alert)
  const pts = e.metricHistory?.points
  if (threshold === undefined || !pts) return null
  const c = knownContainer(e)
  if (c && c.running === false) return null
  const r = e.recheck
  // Measured again just now and still over, or not answering: whatever the series, not transient.
  if (r && (r.verdict === 'over' || r.verdict === 'failed')) return null
  const t = transientOf(pts, threshold)
  if (t)
    return verdict({
      cause: 'transient',
      root_cause: `${e.alert.metric} on ${e.alert.resource.name} went over ${threshold} for ${t.above} of ${t.total} readings (peak ${t.peak}) and is back at ${t.last}: a transient, nothing to fix.`,
      evidence: [
        `${e.alert.metric}: ${t.above} of the last ${t.total} readings over ${threshold}, peak ${t.peak}`,
        `the newest readings are back under ${threshold} (last ${t.last})`,
        ...(r?.verdict === 'under' ? [`a fresh probe of ${r.target}: ${r.ms} ms`] : []),
      ],
      proposed_fix: null,
      risk_level: 'low',
      confidence: t.above === 1 ? 0.8 : 0.75,
    })
  if (r?.verdict !== 'under') return null
  const x = shortExcursion(pts, threshold)
  if (!x) return null
  return verdict({
    cause: 'transient',
    root_cause: `${e.alert.metric} on ${e.alert.resource.name} went over ${threshold} for ${x.above} of ${x.total} readings (peak ${x.peak}, over ${x.minutes} min), and a fresh probe made for this analysis answered in ${r.ms} ms, back under it: a transient (the windowed reading still lags), nothing to fix.`,
    evidence: [
      `a fresh probe of ${r.target} at ${r.at}: ${r.status !== undefined ? `HTTP ${r.status} ` : ''}in ${r.ms} ms, under the threshold ${threshold}`,
      `${e.alert.metric}: ${x.above} of the last ${x.total} readings over ${threshold} (peak ${x.peak}), within ${x.minutes} min, after ${x.before} normal readings`,
    ],
    proposed_fix: null,
    risk_level: 'low',
    confidence: 0.7,
  })
}

export const transient: FaultRule = {
  cause: 'transient',
  appliesTo: ['memory', 'cpu', 'disk', 'latency', 'anomaly'],
  judge: judgeTransient,
}
