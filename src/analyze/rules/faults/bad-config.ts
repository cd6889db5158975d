/**
 * A crash loop from a bad configuration or a missing variable, when the log says so (a variable not
 * set, an invalid setting, a missing config file), or the command itself cannot run (exit 125 to
 * 127). A restart runs the same configuration again, so no fix is proposed: a person changes it.
 */
import type { Evidence } from '../../evidence/types'
import { matchesKind } from '../../evidence/log-lines'
import {
  deathExitCode,
  died,
  exitMeaning,
  knownContainer,
  lastIndexMatching,
  logLinesMatching,
  verdict,
  type FaultRule,
} from './types'

const isConfig = (l: string) => matchesKind(l, 'bad_config')
const isOther = (l: string) => matchesKind(l, 'dependency_unreachable') || matchesKind(l, 'port_in_use')

export function judgeBadConfig(e: Evidence) {
  const c = knownContainer(e)
  if (!c || !(died(e) || e.alert.type === 'container_unhealthy')) return null
  const code = deathExitCode(e)
  if (code === 125 || code === 126 || code === 127) {
    return verdict({
      cause: 'bad_config',
      root_cause: `Container ${c.name} ${exitMeaning(code)}: a broken image or command, which a restart cannot fix.`,
      evidence: [`exit code ${code}`, ...logLinesMatching(e, () => true, 1).map((l) => `last log line: ${l}`)],
      proposed_fix: null,
      risk_level: 'low',
      confidence: 0.75,
    })
  }
  const lines = logLinesMatching(e, isConfig)
  if (lines.length === 0) return null
  const loops = (c.restartCount ?? 0) >= 2 || (e.restarts?.previousIncidents?.length ?? 0) >= 2
  // A connection or port error logged after the configuration complaint is the likelier cause.
  const otherLater = lastIndexMatching(e, isOther) > lastIndexMatching(e, isConfig)
  return verdict({
    cause: 'bad_config',
    root_cause: `Container ${c.name} stops on its configuration: the log says "${lines[lines.length - 1].slice(0, 120)}"${loops ? `, and it has restarted ${c.restartCount} time(s)` : ''}; a restart would run the same configuration, so a person must fix it.`,
    evidence: [
      ...lines.map((l) => `log (config): ${l}`),
      ...(code !== undefined ? [`exit code ${code}`] : []),
      ...(loops ? [`restart count ${c.restartCount}`] : []),
    ],
    proposed_fix: null,
    risk_level: 'low',
    confidence: otherLater ? 0.55 : loops ? 0.85 : 0.8,
  })
}

export const badConfig: FaultRule = {
  cause: 'bad_config',
  appliesTo: ['container_down', 'container_unhealthy', 'latency'],
  judge: judgeBadConfig,
}
