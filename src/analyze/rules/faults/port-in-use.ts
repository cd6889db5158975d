/**
 * The port it needs is already in use, as the log (EADDRINUSE, "address already in use") or Docker's
 * own start error ("port is already allocated") says so. Another process holds the port; a
 * restart would fail the same way, so no fix is proposed.
 */
import type { Evidence } from '../../evidence/types'
import { matchesKind } from '../../evidence/log-lines'
import { died, knownContainer, logLinesMatching, verdict, type FaultRule } from './types'

const isPort = (l: string) => matchesKind(l, 'port_in_use')

export function judgePortInUse(e: Evidence) {
  const c = knownContainer(e)
  if (!c || !(died(e) || e.alert.type === 'container_unhealthy')) return null
  const lines = logLinesMatching(e, isPort)
  const dockerSays = c.error && isPort(c.error) ? c.error : undefined
  if (lines.length === 0 && !dockerSays) return null
  const quote = dockerSays ?? lines[lines.length - 1]
  return verdict({
    cause: 'port_in_use',
    root_cause: `${c.name} cannot bind its port: "${quote.slice(0, 120)}". Another process or container holds it; a restart would fail the same way.`,
    evidence: [...(dockerSays ? [`docker error: ${dockerSays}`] : []), ...lines.map((l) => `log (port): ${l}`)],
    proposed_fix: null,
    risk_level: 'low',
    confidence: 0.85,
  })
}

export const portInUse: FaultRule = {
  cause: 'port_in_use',
  appliesTo: ['container_down', 'container_unhealthy', 'latency'],
  judge: judgePortInUse,
}
