/**
 * The causes an analysis can name, as stable labels. The rule analyser answers with one of them
 * (each from a rule of its own in ./rules/faults/), the LLM is asked to pick one, and the fault
 * suite (npm run bench:rca) scores answers by them, so the words of a root cause can change
 * without breaking a score.
 */
export const CAUSES = {
  oom: 'out of memory: OOM-killed, or memory at its limit before the death',
  memory_leak: 'a memory leak: memory growing steadily over time',
  cpu_hog: 'a CPU hog: one process using its cores',
  disk_fill: 'a disk filled by logs, temporary files or cache',
  bad_config: 'a crash loop from a bad configuration or a missing variable (the log says so)',
  dependency_unreachable: 'a dependency that is unreachable (connection refused, DNS errors, its probe down)',
  slow_downstream: 'a slow downstream: latency up while CPU is normal',
  port_in_use: 'the port it needs is already in use',
  killed: 'the process was killed by a signal (not out of memory)',
  clean_exit: 'the process exited cleanly (code 0) when it should have kept running',
  crash: 'the process crashed with an error (none of the causes above)',
  transient: 'no fault: the reading was transient and is back to normal',
  unknown: 'the evidence does not point to a cause',
} as const

export type Cause = keyof typeof CAUSES

export const CAUSE_IDS = Object.keys(CAUSES) as Cause[]

export function isCause(value: unknown): value is Cause {
  return typeof value === 'string' && Object.hasOwn(CAUSES, value)
}
