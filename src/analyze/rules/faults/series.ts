/**
 * What a short series shows, for the rules: steady growth (a leak: most steps up, a straight-line
 * fit, no single jump making most of the rise), a transient (a few points over the threshold, the
 * newest back under it) and a short excursion (over the threshold for a short while after a normal
 * stretch, whatever the newest point). Pure arithmetic on the record's points.
 */
import type { Point } from '../../evidence/types'

export interface Growth {
  /** Rise over the series, in its units. */
  rise: number
  /** Units per minute, from the straight-line fit. */
  perMinute: number
  /** How well a straight line fits (0..1). */
  r2: number
  /** Share of steps that went up or stayed. */
  upShare: number
  /** The largest single step as a share of the rise. */
  largestStepShare: number
  minutes: number
}

export function fitLine(points: Point[]): { slope: number; r2: number } {
  const n = points.length
  const t0 = points[0][0]
  const xs = points.map((p) => (p[0] - t0) / 60_000)
  const ys = points.map((p) => p[1])
  const mx = xs.reduce((a, b) => a + b, 0) / n
  const my = ys.reduce((a, b) => a + b, 0) / n
  let sxy = 0
  let sxx = 0
  let syy = 0
  for (let i = 0; i < n; i++) {
    sxy += (xs[i] - mx) * (ys[i] - my)
    sxx += (xs[i] - mx) ** 2
    syy += (ys[i] - my) ** 2
  }
  if (sxx === 0 || syy === 0) return { slope: 0, r2: 0 }
  return { slope: sxy / sxx, r2: (sxy * sxy) / (sxx * syy) }
}

/** The growth of a series, or null when it is too short, flat or falling. */
export function growthOf(points: Point[]): Growth | null {
  const p = [...points].sort((a, b) => a[0] - b[0])
  if (p.length < 6) return null
  const rise = p[p.length - 1][1] - p[0][1]
  if (!(rise > 0)) return null
  const steps = p.slice(1).map((x, i) => x[1] - p[i][1])
  const { slope, r2 } = fitLine(p)
  return {
    rise,
    perMinute: slope,
    r2,
    upShare: steps.filter((s) => s >= 0).length / steps.length,
    largestStepShare: Math.max(...steps) / rise,
    minutes: (p[p.length - 1][0] - p[0][0]) / 60_000,
  }
}

/**
 * Steady growth: at least 6 points, 70 % of steps up, a straight line fitting (r² ≥ 0.8), no step
 * more than 40 % of the rise (that is a jump, not a leak), and a rise of at least `minRise`.
 */
export function steadyGrowth(points: Point[], minRise: number): Growth | null {
  const g = growthOf(points)
  if (!g) return null
  if (g.rise < minRise || g.upShare < 0.7 || g.r2 < 0.8 || g.largestStepShare > 0.4) return null
  return g
}

export interface Transient {
  peak: number
  above: number
  total: number
  last: number
}

/**
 * A transient: the series went over `threshold` for a few points (at most 3, and at most a
 * quarter of the series) and its newest two points are back at or under it.
 */
export function transientOf(points: Point[], threshold: number): Transient | null {
  const p = [...points].sort((a, b) => a[0] - b[0])
  if (p.length < 4) return null
  const over = p.filter((x) => x[1] > threshold)
  if (over.length === 0 || over.length > 3 || over.length > p.length / 4) return null
  if (p.slice(-2).some((x) => x[1] > threshold)) return null
  return { peak: Math.max(...over.map((x) => x[1])), above: over.length, total: p.length, last: p[p.length - 1][1] }
}

/**
 * How long an excursion over the threshold may last and still be short: the probe's p95 window
 * (PROBE_WINDOW_SIZE samples, at most 10 minutes) keeps one slow burst in the reading for up to
 * 10 minutes, and the alert waits ALERT_FOR_SECONDS more before it fires.
 */
export const SHORT_EXCURSION_MS = 15 * 60_000

export interface Excursion {
  peak: number
  above: number
  total: number
  /** From the first to the last point over the threshold. */
  minutes: number
  /** Points at or under the threshold before the first one over it. */
  before: number
}

/**
 * A short excursion: the series was at or under `threshold` for at least two points, then went over
 * it, every point over it within `maxMs` of the first and no more than half of the series. The
 * newest point may still be over (a windowed reading lags): only a fresh measurement says whether
 * it is over now.
 */
export function shortExcursion(points: Point[], threshold: number, maxMs = SHORT_EXCURSION_MS): Excursion | null {
  const p = [...points].sort((a, b) => a[0] - b[0])
  const over = p.map((x, i) => (x[1] > threshold ? i : -1)).filter((i) => i >= 0)
  if (over.length === 0) return null
  const first = over[0]
  const last = over[over.length - 1]
  if (first < 2 || over.length > p.length / 2) return null
  const spanMs = p[last][0] - p[first][0]
  if (spanMs > maxMs) return null
  return {
    peak: Math.max(...over.map((i) => p[i][1])),
    above: over.length,
    total: p.length,
    minutes: Math.round((spanMs / 60_000) * 10) / 10,
    before: first,
  }
}
