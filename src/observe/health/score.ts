/**
 * Health scores from 0 (down) to 1 (nothing wrong), per container and for the whole system.
 *
 *   container = availability × (0.35·restartTerm + 0.40·incidentTerm + 0.25·headroomTerm)
 *
 * - availability: 1 running (and healthy), 0.75 starting, 0.25 unhealthy or paused, 0 down.
 *   It multiplies the rest: a container that is down scores 0 whatever else is true.
 * - restartTerm = 2^(−restarts/2): deaths in the scoring window; 1 → 0.71, 2 → 0.5, 4 → 0.25.
 * - incidentTerm = 1/(1 + open incidents): one open incident → 0.5.
 * - headroomTerm: from the worst check on the resource, ratio = value / threshold; 1 at half the
 *   threshold or below, falling linearly to 0 at the threshold (and beyond).
 *
 *   host   = the same with availability 1 and no restarts, from the host's own checks (memory,
 *            CPU, disks, probe latency) and the incidents not on a container
 *   system = host alone without containers, else ½·host + ½·mean(containers)
 *
 * `thresholdDistance` is reported as 1 − worst ratio: 1 idle, 0 at the threshold, < 0 over it.
 */

export interface HealthInput {
  /** 0..1. */
  availability: number
  /** Deaths (restarts) in the scoring window. */
  restarts: number
  /** Incidents on it still open (or escalated and unclosed). */
  openIncidents: number
  /** value / threshold of each of its checks (1 = at the threshold). */
  thresholdRatios: number[]
}

export interface HealthScore {
  score: number
  availability: number
  restarts: number
  openIncidents: number
  /** 1 − the worst value/threshold ratio; null without checks. */
  thresholdDistance: number | null
}

export const WEIGHTS = { restarts: 0.35, incidents: 0.4, headroom: 0.25 } as const

export type ContainerCondition = 'running' | 'healthy' | 'starting' | 'unhealthy' | 'paused' | 'restarting' | 'down'

export function availabilityOf(condition: ContainerCondition): number {
  switch (condition) {
    case 'running':
    case 'healthy':
      return 1
    case 'starting':
      return 0.75
    case 'unhealthy':
    case 'paused':
      return 0.25
    default:
      return 0
  }
}

const clamp01 = (x: number) => (Number.isFinite(x) ? Math.min(1, Math.max(0, x)) : 0)
const round = (x: number) => Math.round(x * 1000) / 1000
const count = (n: number) => (Number.isFinite(n) && n > 0 ? n : 0)

export const restartTerm = (restarts: number) => Math.pow(2, -count(restarts) / 2)
export const incidentTerm = (open: number) => 1 / (1 + count(open))
/** 1 at half the threshold or below, 0 at the threshold and above; 1 without checks. */
export function headroomTerm(ratios: number[]): number {
  const finite = ratios.filter((r) => Number.isFinite(r))
  if (finite.length === 0) return 1
  return clamp01((1 - Math.max(...finite)) / 0.5)
}

export function healthScore(input: HealthInput): HealthScore {
  const availability = clamp01(input.availability)
  const finite = input.thresholdRatios.filter((r) => Number.isFinite(r))
  const rest =
    WEIGHTS.restarts * restartTerm(input.restarts) +
    WEIGHTS.incidents * incidentTerm(input.openIncidents) +
    WEIGHTS.headroom * headroomTerm(finite)
  return {
    score: round(clamp01(availability * rest)),
    availability,
    restarts: count(input.restarts),
    openIncidents: count(input.openIncidents),
    thresholdDistance: finite.length ? round(1 - Math.max(...finite)) : null,
  }
}

export function systemScore(
  host: Omit<HealthInput, 'availability' | 'restarts'>,
  containers: HealthScore[],
): HealthScore {
  const h = healthScore({ ...host, availability: 1, restarts: 0 })
  if (containers.length === 0) return h
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length
  const distances = [h.thresholdDistance, ...containers.map((c) => c.thresholdDistance)].filter(
    (d): d is number => d !== null,
  )
  return {
    score: round(0.5 * h.score + 0.5 * mean(containers.map((c) => c.score))),
    availability: round(mean(containers.map((c) => c.availability))),
    restarts: containers.reduce((a, c) => a + c.restarts, 0),
    openIncidents: h.openIncidents + containers.reduce((a, c) => a + c.openIncidents, 0),
    thresholdDistance: distances.length ? Math.min(...distances) : null,
  }
}
