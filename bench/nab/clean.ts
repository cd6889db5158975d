/**
 * Development helper: alerts on anomaly-free synthetic series, the false pages #24 is about, for
 * detector variants the folds cannot separate from that side (NAB's local files hold few
 * anomaly-free stretches of plain noise). It decides nothing (the folds do, README); it shows the
 * cost a variant would have on a quiet series.
 *
 *   tsx bench/nab/clean.ts [--threshold 0.45 | --nab-threshold [--data DIR]] [--series 20] [--points 4000] variant...
 *
 * A variant is a live candidate's name (candidates.ts) or JSON detector options; default: the shipped
 * detector and `before-long-series`. Each series is 4 000 points (`--points`) of a daily cycle (288 points) with
 * Gaussian, Laplace or log-normal noise, a random walk, weeks of counts (weekends lower) or a daily
 * cycle that grows; alerts are points scoring at least the threshold after NAB's probation (15 % of
 * the series, at most 750 points). With `--nab-threshold` each detector is judged at the threshold NAB's
 * optimiser gives it on the local files, as its alerts would be counted there; the first and last
 * quarters show whether a detector alerts more as a series ages (the local files are all about
 * 4 000 points long, so the folds cannot show it).
 */
import { dirname, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { type Detector, loadCorpus, runDetector } from './corpus'
import { type Candidate, candidate } from './candidates'
import { scoreAllProfiles } from './scorer'

/** Deterministic PRNG (mulberry32). */
function rng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const normal = (r: () => number): number => Math.sqrt(-2 * Math.log(Math.max(r(), 1e-12))) * Math.cos(2 * Math.PI * r())
const cycle = (i: number): number => 50 + 10 * Math.sin((2 * Math.PI * i) / 288)

/** Series makers: a fresh generator per series. */
const KINDS: Record<string, (r: () => number) => (i: number) => number> = {
  gaussian: (r) => (i) => cycle(i) + 2 * normal(r),
  laplace: (r) => (i) => cycle(i) + 2 * Math.log(Math.max(r(), 1e-12)) * (r() < 0.5 ? 1 : -1),
  lognormal: (r) => () => Math.exp(1 + 0.5 * normal(r)),
  'random walk': (r) => {
    let x = 50
    return () => (x += r() - 0.5)
  },
  // weeks of 5-minute counts (requests, messages): Poisson noise (normal approximation) around a
  // daily cycle that is lower at weekends
  'weekly counts': (r) => (i) => {
    const day = Math.floor(i / 288) % 7
    const mean = (day >= 5 ? 0.6 : 1) * (200 + 150 * Math.sin((2 * Math.PI * i) / 288))
    return Math.max(0, Math.round(mean + Math.sqrt(mean) * normal(r)))
  },
  // a daily cycle whose level and amplitude grow by half over the series (a growing service)
  'drifting cycle': (r) => (i) => (1 + 0.5 * (i / 16000)) * cycle(i) + 2 * normal(r),
}

/** Alerts after NAB's probation, and how many of them fell in the series' first and last quarters. */
export function cleanAlerts(
  make: () => Detector,
  kind: string,
  series: number,
  threshold: number,
  points = 4000,
): { alerts: number; firstQuarter: number; lastQuarter: number } {
  // NAB's probation: 15 % of the series, at most 750 points
  const probation = Math.min(Math.floor(0.15 * points), 750)
  let alerts = 0
  let firstQuarter = 0
  let lastQuarter = 0
  for (let s = 1; s <= series; s++) {
    const next = KINDS[kind](rng(s * 7919))
    const det = make()
    for (let i = 0; i < points; i++) {
      if (det.update(next(i), i * 300_000) < threshold || i < probation) continue
      alerts++
      if (i < points / 4) firstQuarter++
      else if (i >= (points * 3) / 4) lastQuarter++
    }
  }
  return { alerts, firstQuarter, lastQuarter }
}

/** The threshold NAB's optimiser chooses for a detector on the local files (standard profile). */
function nabThreshold(c: Candidate, data: string): number {
  return scoreAllProfiles(runDetector(loadCorpus(data), c.make).files)[0].threshold
}

function main(): void {
  const argv = process.argv.slice(2)
  let threshold = 0.45
  let series = 20
  let points = 4000
  let ownThreshold = false
  let data = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'shared', 'nab')
  const names: string[] = []
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--threshold') threshold = Number(argv[++i])
    else if (argv[i] === '--series') series = Math.max(1, Math.floor(Number(argv[++i])))
    else if (argv[i] === '--points') points = Math.max(1000, Math.floor(Number(argv[++i])))
    else if (argv[i] === '--nab-threshold') ownThreshold = true
    else if (argv[i] === '--data') data = resolve(argv[++i])
    else names.push(argv[i])
  }
  if (!Number.isFinite(threshold)) throw new Error('--threshold needs a number')
  if (names.length === 0) names.push('sentinel', 'before-long-series')
  console.log(
    `alerts (score >= ${ownThreshold ? "each detector's NAB threshold on the local files" : threshold} after NAB's probation) on ${series} anomaly-free series of ${points} points each: all (first quarter / last quarter)`,
  )
  console.log(
    `  ${'detector'.padEnd(36)}${ownThreshold ? ' threshold' : ''} ${Object.keys(KINDS)
      .map((k) => k.padStart(18))
      .join(' ')}`,
  )
  for (const name of names) {
    const c = candidate(name)
    // a reference told the file's range has no file here
    if (!c.shippable) throw new Error(`${name} is a reference, not a live detector`)
    const th = ownThreshold ? nabThreshold(c, data) : threshold
    const counts = Object.keys(KINDS).map((k) => cleanAlerts(() => c.make({} as never), k, series, th, points))
    console.log(
      `  ${name.slice(0, 36).padEnd(36)}${ownThreshold ? th.toFixed(3).padStart(10) : ''} ${counts
        .map((n) => `${n.alerts} (${n.firstQuarter} / ${n.lastQuarter})`.padStart(18))
        .join(' ')}`,
    )
  }
}

main()
