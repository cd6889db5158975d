/**
 * No fault, only a transient reading. The alert's own metric went over its threshold for a few
 * readings and is back under it for the newest two; nothing is to be fixed. A rise that holds, or
 * a container that died, is not transient.
 */
import type { Evidence } from '../../evidence/types'
import { transientOf } from './series'
import { knownContainer, verdict, type FaultRule } from './types'

function thresholdOf(e: Evidence): number | undefined {
  if (e.alert.threshold !== null) return e.alert.threshold
  const high = e.alert.details?.expectedHigh
  return typeof high === 'number' ? high : undefined
}

export function judgeTransient(e: Evidence) {
  const threshold = thresholdOf(e)
  const pts = e.metricHistory?.points
  if (threshold === undefined || !pts) return null
  const c = knownContainer(e)
  if (c && c.running === false) return null
  const t = transientOf(pts, threshold)
  if (!t) return null
  return verdict({
    cause: 'transient',
    root_cause: `${e.alert.metric} on ${e.alert.resource.name} went over ${threshold} for ${t.above} of ${t.total} readings (peak ${t.peak}) and is back at ${t.last}: a transient, nothing to fix.`,
    evidence: [
      `${e.alert.metric}: ${t.above} of the last ${t.total} readings over ${threshold}, peak ${t.peak}`,
      `the newest readings are back under ${threshold} (last ${t.last})`,
    ],
    proposed_fix: null,
    risk_level: 'low',
    confidence: t.above === 1 ? 0.8 : 0.75,
  })
}

export const transient: FaultRule = {
  cause: 'transient',
  appliesTo: ['memory', 'cpu', 'disk', 'latency', 'anomaly'],
  judge: judgeTransient,
}
