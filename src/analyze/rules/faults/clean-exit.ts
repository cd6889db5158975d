/**
 * A clean exit, the main process ending with code 0 (and no OOM kill) when it should have kept
 * running. Nothing failed inside; a restart brings it back: proposed when it is still down, or when
 * Sentinel's fast path restarted it already (the fix applied; nothing runs twice); nothing is needed
 * when it runs again without Sentinel.
 */
import type { Evidence } from '../../evidence/types'
import {
  deathExitCode,
  decidedBeforeLine,
  died,
  exitLine,
  exitMeaning,
  knownContainer,
  restartedBefore,
  restartFix,
  verdict,
  type FaultRule,
} from './types'

export function judgeCleanExit(e: Evidence) {
  const c = knownContainer(e)
  if (!c || !died(e) || c.oomKilled) return null
  if (deathExitCode(e) !== 0) return null
  const before = restartedBefore(e)
  const decided = decidedBeforeLine(e)
  return verdict({
    cause: 'clean_exit',
    root_cause: before
      ? `Container ${c.name} ${exitMeaning(0)}: its process finished instead of serving, and a restart brings it back. ${before}${c.running ? '; it is running again' : ''}.`
      : c.running
        ? `Container ${c.name} ${exitMeaning(0)} and is running again (restarted since), so no action is needed now.`
        : `Container ${c.name} ${exitMeaning(0)}: its process finished instead of serving; a restart brings it back.`,
    evidence: [exitLine(e), ...(decided ? [decided] : [])],
    proposed_fix: restartFix(e),
    risk_level: 'low',
    confidence: 0.6,
  })
}

export const cleanExit: FaultRule = {
  cause: 'clean_exit',
  appliesTo: ['container_down', 'latency'],
  judge: judgeCleanExit,
}
