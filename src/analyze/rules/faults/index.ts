/**
 * The fault rules, one per cause, and how their verdicts are weighed: every rule that applies to
 * the alert's type judges the same evidence record; the highest confidence wins, and a tie goes to
 * the rule earlier in FAULT_RULES. The order puts what the machine states outright first (the
 * kernel's OOM flag, a log line naming the port, the configuration, the dependency), then what is
 * read from a series or an exit code, and the transient last: a fault with as much support is
 * named before "no fault".
 */
import type { AlertType } from '../../../platform/store/model'
import type { Cause } from '../../causes'
import type { Evidence } from '../../evidence/types'
import { badConfig } from './bad-config'
import { cleanExit } from './clean-exit'
import { cpuHog } from './cpu-hog'
import { dependencyUnreachable } from './dependency-unreachable'
import { diskFill } from './disk-fill'
import { killed } from './killed'
import { memoryLeak } from './memory-leak'
import { oom } from './oom'
import { portInUse } from './port-in-use'
import { slowDownstream } from './slow-downstream'
import { transient } from './transient'
import type { FaultRule, FaultVerdict } from './types'

export type { FaultRule, FaultVerdict } from './types'

/** Every rule, in tie-break order. */
export const FAULT_RULES: readonly FaultRule[] = [
  oom,
  portInUse,
  badConfig,
  dependencyUnreachable,
  memoryLeak,
  killed,
  cleanExit,
  diskFill,
  cpuHog,
  slowDownstream,
  transient,
]

/** The causes the rules name, in tie-break order (the others, crash and unknown, come from the fallback). */
export const RULE_CAUSES: readonly Cause[] = FAULT_RULES.map((r) => r.cause)

export interface Judgement {
  /** The winning verdict, or null when no rule fired. */
  best: FaultVerdict | null
  /** Every verdict given, best first. */
  all: FaultVerdict[]
}

/** Runs every rule that applies to `type` on the record and picks the verdict (see the module comment). */
export function judge(evidence: Evidence, type: AlertType): Judgement {
  const all: Array<{ v: FaultVerdict; order: number }> = []
  FAULT_RULES.forEach((rule, order) => {
    if (!rule.appliesTo.includes(type)) return
    const v = rule.judge(evidence)
    if (v) all.push({ v, order })
  })
  all.sort((a, b) => b.v.confidence - a.v.confidence || a.order - b.order)
  return { best: all[0]?.v ?? null, all: all.map((x) => x.v) }
}
