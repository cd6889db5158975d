/**
 * A dependency that is unreachable, when the service's log says its connections are refused or its
 * names do not resolve, or (for an endpoint Sentinel does not run) every probe fails that way, or
 * the fresh probe made for the analysis does.
 * Restarting the service does not bring its dependency back, so no fix is proposed.
 */
import type { Evidence } from '../../evidence/types'
import { matchesKind } from '../../evidence/log-lines'
import { died, knownContainer, lastIndexMatching, logLinesMatching, verdict, type FaultRule } from './types'

const isDependency = (l: string) => matchesKind(l, 'dependency_unreachable')
const isConfig = (l: string) => matchesKind(l, 'bad_config')

export function judgeDependencyUnreachable(e: Evidence) {
  const c = knownContainer(e)
  const probes = e.probes ?? []
  const probeDown = probes.filter((p) => p.error && isDependency(p.error))
  if (!c) {
    if (e.alert.type !== 'latency') return null
    // Probed again for the analysis: a fresh answer outweighs the alert's probes.
    const r = e.recheck
    const recheckDown = r?.verdict === 'failed' && !!r.error && isDependency(r.error)
    if (r && r.verdict !== 'failed') return null
    const alertDown = probes.length > 0 && probeDown.length === probes.length
    if (!alertDown && !recheckDown) return null
    const error = recheckDown ? r!.error : probeDown[0].error
    return verdict({
      cause: 'dependency_unreachable',
      root_cause: `${e.alert.resource.name} cannot be reached (${error}); it is not a container Sentinel runs, so nothing here can bring it back.`,
      evidence: [
        ...probeDown.slice(-3).map((p) => `probe ${p.target}: failed (${p.error})`),
        ...(recheckDown ? [`a fresh probe of ${r!.target} at ${r!.at}: failed (${r!.error})`] : []),
      ],
      proposed_fix: null,
      risk_level: 'low',
      confidence: 0.6,
    })
  }
  if (e.alert.type === 'latency' && c.running === false && !died(e)) return null
  const lines = logLinesMatching(e, isDependency)
  if (lines.length === 0) return null
  const configLater = lastIndexMatching(e, isConfig) > lastIndexMatching(e, isDependency)
  return verdict({
    cause: 'dependency_unreachable',
    root_cause: `${c.name} cannot reach a service it depends on: its log says "${lines[lines.length - 1].slice(0, 120)}". Restarting it does not bring the dependency back; the dependency needs a look.`,
    evidence: [
      ...lines.map((l) => `log (dependency): ${l}`),
      ...probeDown.slice(-2).map((p) => `probe ${p.target}: failed (${p.error})`),
    ],
    proposed_fix: null,
    risk_level: 'low',
    confidence: configLater ? 0.55 : probeDown.length ? 0.8 : 0.75,
  })
}

export const dependencyUnreachable: FaultRule = {
  cause: 'dependency_unreachable',
  appliesTo: ['container_down', 'container_unhealthy', 'latency'],
  judge: judgeDependencyUnreachable,
}
