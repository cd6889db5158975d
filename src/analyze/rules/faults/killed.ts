/**
 * Killed by a signal, not for memory (exit 128 + SIGHUP, SIGINT, SIGKILL or SIGTERM with Docker's
 * OOMKilled flag false). Something outside stopped the process; a restart brings it back: proposed
 * when it is still down, or when Sentinel's fast path restarted it already (the fix that was applied;
 * the incident is decided, so nothing runs twice); nothing is needed when it runs again without
 * Sentinel (an Alertmanager ContainerDown that came late). A crash by its own signal (SIGSEGV, SIGABRT) is a crash,
 * not a kill; memory at its limit before the death makes this an OOM more likely than a kill.
 */
import type { Evidence } from '../../evidence/types'
import { lastMemoryPercent, NEAR_LIMIT_BEFORE_DEATH } from './oom'
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

const KILL_SIGNALS = new Set([1, 2, 9, 15])

export function judgeKilled(e: Evidence) {
  const c = knownContainer(e)
  if (!c || !died(e) || c.oomKilled || e.alert.details?.oomKilled === true) return null
  const code = deathExitCode(e)
  if (code === undefined || !KILL_SIGNALS.has(code - 128)) return null
  const near = lastMemoryPercent(e)
  const nearLimit = (c.memoryLimitBytes ?? 0) > 0 && !!near && near.percent >= NEAR_LIMIT_BEFORE_DEATH
  const ev = [exitLine(e), 'Docker reports OOMKilled=false']
  if (c.running && e.eventExitCode !== undefined) ev.push(`exit code from the event: ${e.eventExitCode}`)
  if (nearLimit) ev.push(`but memory was at ${near!.percent}% of its limit just before`)
  const before = restartedBefore(e)
  const decided = decidedBeforeLine(e)
  if (decided) ev.push(decided)
  return verdict({
    cause: 'killed',
    root_cause: before
      ? `Container ${c.name} ${exitMeaning(code)}, not for memory: something outside stopped it, and a restart brings it back. ${before}${c.running ? '; it is running again' : ''}.`
      : c.running
        ? `Container ${c.name} ${exitMeaning(code)}, not for memory, and is running again (restarted since), so no action is needed now.`
        : `Container ${c.name} ${exitMeaning(code)}, not for memory: something outside stopped it; a restart brings it back.`,
    evidence: ev,
    proposed_fix: restartFix(e),
    risk_level: 'low',
    confidence: nearLimit ? 0.5 : 0.7,
  })
}

export const killed: FaultRule = {
  cause: 'killed',
  appliesTo: ['container_down', 'container_unhealthy', 'latency'],
  judge: judgeKilled,
}
