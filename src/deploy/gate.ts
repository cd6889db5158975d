/**
 * The canary's health gate, as a pure function of what one look at the two groups of tasks found:
 * the canary's tasks (the new image) against the old ones (the service as it ran before the
 * deploy). Kept apart from the controller so every threshold is unit-tested without a swarm.
 *
 * The gate fails the moment one signal says the canary is worse than the old tasks, not at the end
 * of the window: a bad version must reach as few requests as possible. It passes only when the
 * whole window (CANARY_GATE_SECONDS) went by with every canary task running and, when a probe is
 * configured, enough probe answers to judge by.
 */

/** The thresholds the gate compares by (CANARY_* settings). */
export interface GateSettings {
  /** How long a step must hold before the next one. */
  gateMs: number
  /** How long a canary task may take to run before the step fails. */
  startTimeoutMs: number
  /** Canary task failures (exits, rejections, Swarm killing an unhealthy one) tolerated beyond the old tasks'. */
  maxRestarts: number
  /** Canary error rate allowed above the old tasks' (0.05: five points). */
  maxErrorRateDelta: number
  /** Canary median latency allowed, as a multiple of the old tasks' (plus latencySlackMs). */
  maxLatencyRatio: number
  /** Absolute slack on latency, so that two fast medians (3 ms against 1 ms) do not fail the gate. */
  latencySlackMs: number
  /** Probe answers of the canary needed to pass the step. */
  minProbeSamples: number
  /** Probe answers of the canary enough to fail it (fewer than to pass: a failing canary must reach few requests). */
  minFailSamples: number
  /** PromQL: the canary's value allowed, as a multiple of the old tasks' (plus promqlSlack). */
  maxPromqlRatio: number
  promqlSlack: number
}

export const DEFAULT_GATE: GateSettings = {
  gateMs: 60_000,
  startTimeoutMs: 60_000,
  maxRestarts: 0,
  maxErrorRateDelta: 0.05,
  maxLatencyRatio: 2,
  latencySlackMs: 100,
  minProbeSamples: 5,
  minFailSamples: 3,
  maxPromqlRatio: 1.5,
  promqlSlack: 0.01,
}

/** What the controller counted for one group of tasks since the step began. */
export interface GroupReading {
  /** Tasks the group should run. */
  desired: number
  running: number
  /** Tasks that failed (exit, rejection, killed unhealthy) since the step began. */
  failed: number
  /** Running tasks whose container health check says unhealthy now. */
  unhealthy: number
  /** HTTP probe answers: ok, errors (no answer, 4xx or 5xx), and the latency of each answer (ms). */
  probeOk: number
  probeErrors: number
  latenciesMs: number[]
  /** The PromQL expression's value for the group, when one is configured and answered. */
  promql?: number | null
}

export interface GateInput {
  canary: GroupReading
  baseline: GroupReading
  /** Time since the step began (ms). */
  elapsedMs: number
  /** Whether the deploy asked for an HTTP probe / a PromQL expression. */
  probe: boolean
  promql: boolean
}

/** One line of the comparison, as the incident and the dashboard show it. */
export interface GateComparison {
  canary: GroupSummary
  baseline: GroupSummary
  elapsedSeconds: number
}

export interface GroupSummary {
  desired: number
  running: number
  failed: number
  unhealthy: number
  probes: number
  errorRate: number | null
  p50LatencyMs: number | null
  promql?: number | null
}

export type GateVerdict =
  | { state: 'fail'; reasons: string[]; comparison: GateComparison }
  | { state: 'pass'; comparison: GateComparison }
  | { state: 'watching'; waitingFor: string; comparison: GateComparison }

export function median(values: number[]): number | null {
  if (!values.length) return null
  const s = [...values].sort((a, b) => a - b)
  const m = Math.floor(s.length / 2)
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}

const rate = (g: GroupReading): number | null => {
  const n = g.probeOk + g.probeErrors
  return n === 0 ? null : g.probeErrors / n
}

export function summarize(g: GroupReading): GroupSummary {
  const out: GroupSummary = {
    desired: g.desired,
    running: g.running,
    failed: g.failed,
    unhealthy: g.unhealthy,
    probes: g.probeOk + g.probeErrors,
    errorRate: rate(g),
    p50LatencyMs: median(g.latenciesMs),
  }
  if (g.promql !== undefined) out.promql = g.promql
  return out
}

const pct = (x: number) => `${(x * 100).toFixed(1)} %`

/** The gate's verdict on one look (see the module comment). */
export function evaluateGate(input: GateInput, s: GateSettings = DEFAULT_GATE): GateVerdict {
  const { canary, baseline } = input
  const comparison: GateComparison = {
    canary: summarize(canary),
    baseline: summarize(baseline),
    elapsedSeconds: Math.round(input.elapsedMs / 100) / 10,
  }
  const reasons: string[] = []
  // Restarts: the old tasks' own failures in the same time are the noise floor.
  if (canary.failed > baseline.failed + s.maxRestarts)
    reasons.push(
      `${canary.failed} canary task failure(s) against ${baseline.failed} among the old tasks (tolerated: ${s.maxRestarts} more)`,
    )
  if (canary.unhealthy > 0)
    reasons.push(`${canary.unhealthy} canary task(s) unhealthy, ${baseline.unhealthy} among the old tasks`)
  const [cr, br] = [comparison.canary.errorRate, comparison.baseline.errorRate]
  if (input.probe && cr !== null && canary.probeOk + canary.probeErrors >= s.minFailSamples) {
    const floor = br ?? 0
    if (cr > floor + s.maxErrorRateDelta)
      reasons.push(
        `probe error rate ${pct(cr)} on the canary against ${br === null ? 'no answers yet' : pct(br)} on the old tasks (allowed: ${pct(s.maxErrorRateDelta)} more)`,
      )
  }
  const [cl, bl] = [comparison.canary.p50LatencyMs, comparison.baseline.p50LatencyMs]
  if (input.probe && cl !== null && bl !== null && canary.latenciesMs.length >= s.minFailSamples) {
    const limit = bl * s.maxLatencyRatio + s.latencySlackMs
    if (cl > limit)
      reasons.push(
        `median probe latency ${cl.toFixed(0)} ms on the canary against ${bl.toFixed(0)} ms on the old tasks (allowed: ${limit.toFixed(0)} ms)`,
      )
  }
  if (input.promql && typeof canary.promql === 'number' && typeof baseline.promql === 'number') {
    const limit = baseline.promql * s.maxPromqlRatio + s.promqlSlack
    if (canary.promql > limit)
      reasons.push(
        `PromQL ${canary.promql} on the canary against ${baseline.promql} on the old tasks (allowed: ${limit})`,
      )
  }
  if (canary.running < canary.desired && input.elapsedMs > s.startTimeoutMs)
    reasons.push(
      `${canary.running}/${canary.desired} canary task(s) running after ${Math.round(input.elapsedMs / 1000)} s (start timeout ${Math.round(s.startTimeoutMs / 1000)} s)`,
    )
  if (reasons.length) return { state: 'fail', reasons, comparison }
  if (canary.running < canary.desired)
    return { state: 'watching', waitingFor: `${canary.running}/${canary.desired} canary task(s) running`, comparison }
  if (input.elapsedMs < s.gateMs)
    return {
      state: 'watching',
      waitingFor: `${Math.ceil((s.gateMs - input.elapsedMs) / 1000)} s of the gate left`,
      comparison,
    }
  if (input.probe && canary.probeOk + canary.probeErrors < s.minProbeSamples)
    return {
      state: 'watching',
      waitingFor: `${canary.probeOk + canary.probeErrors}/${s.minProbeSamples} probe answers from the canary`,
      comparison,
    }
  return { state: 'pass', comparison }
}

/**
 * The canary task counts of each step before the whole service is updated, for a service of
 * `replicas` tasks and steps given as shares of the traffic (1 task first, then 25 %, then 100 %).
 * The canary runs beside all the old tasks (none is stopped for it), so a share p needs
 * p / (1 - p) × replicas canary tasks: 2 beside 6 old ones is 25 %. 100 % is the rolling update of
 * the service itself, not a canary count. Counts that repeat are dropped.
 */
export function canarySteps(replicas: number, percents: number[]): number[] {
  const counts: number[] = [1]
  for (const p of percents) {
    if (p >= 100) break
    const c = Math.max(1, Math.ceil((p * replicas) / (100 - p) - 1e-9))
    if (c > counts[counts.length - 1]) counts.push(c)
  }
  return counts
}

/** The share of the traffic `canary` tasks get beside `old` equal ones. */
export const canaryShare = (canary: number, old: number): number => (canary + old === 0 ? 0 : canary / (canary + old))
