/**
 * A crash loop from a bad configuration or a missing variable, when the log says so (a variable not
 * set or missing, an invalid setting, a missing config file), or the command itself cannot run
 * (exit 125 to 127). Exit code 78 is EX_CONFIG of sysexits.h, the code a program following that
 * convention exits with on a configuration error: it raises the confidence of a configuration
 * line, and alone (no line naming a dependency or a port) it is named at a low confidence, as
 * programs that do not follow the convention seldom choose 78. A restart runs the same
 * configuration again, so no fix is proposed: a person changes it.
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

/** EX_CONFIG (sysexits.h): "configuration error". */
export const EX_CONFIG = 78
const EX_CONFIG_LINE = 'exit code 78 (EX_CONFIG in sysexits.h: a configuration error)'

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
  const exConfig = code === EX_CONFIG
  if (lines.length === 0) {
    if (!exConfig || logLinesMatching(e, isOther, 1).length > 0) return null
    return verdict({
      cause: 'bad_config',
      root_cause: `Container ${c.name} exited with code 78, EX_CONFIG by the sysexits.h convention: it says its configuration is wrong, though its log does not say which setting. A restart would run the same configuration; a person must look.`,
      evidence: [EX_CONFIG_LINE, ...logLinesMatching(e, () => true, 1).map((l) => `last log line: ${l}`)],
      proposed_fix: null,
      risk_level: 'low',
      confidence: 0.45,
    })
  }
  const loops = (c.restartCount ?? 0) >= 2 || (e.restarts?.previousIncidents?.length ?? 0) >= 2
  // A connection or port error logged after the configuration complaint is the likelier cause.
  const otherLater = lastIndexMatching(e, isOther) > lastIndexMatching(e, isConfig)
  return verdict({
    cause: 'bad_config',
    root_cause: `Container ${c.name} stops on its configuration: the log says "${lines[lines.length - 1].slice(0, 120)}"${loops ? `, and it has restarted ${c.restartCount} time(s)` : ''}; a restart would run the same configuration, so a person must fix it.`,
    evidence: [
      ...lines.map((l) => `log (config): ${l}`),
      ...(exConfig ? [EX_CONFIG_LINE] : code !== undefined ? [`exit code ${code}`] : []),
      ...(loops ? [`restart count ${c.restartCount}`] : []),
    ],
    proposed_fix: null,
    risk_level: 'low',
    confidence: (otherLater ? 0.55 : loops ? 0.85 : 0.8) + (exConfig ? 0.05 : 0),
  })
}

export const badConfig: FaultRule = {
  cause: 'bad_config',
  appliesTo: ['container_down', 'container_unhealthy', 'latency'],
  judge: judgeBadConfig,
}
