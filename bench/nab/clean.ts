/**
 * Development helper: alerts on anomaly-free synthetic series, the false pages #24 is about, for
 * detector variants the folds cannot separate from that side (NAB's local files hold few
 * anomaly-free stretches of plain noise). It decides nothing (the folds do, README); it shows the
 * cost a variant would have on a quiet series.
 *
 *   tsx bench/nab/clean.ts [--threshold 0.45] [--series 20] variant...
 *
 * A variant is a live candidate's name (candidates.ts) or JSON detector options; default: the shipped
 * detector and `spatial`. Each series is 4 000 points of a daily cycle (288 points) with Gaussian,
 * Laplace or log-normal noise, or a random walk; alerts are points scoring at least the threshold
 * after point 600 (NAB's probation on a file of that length).
 */
import type { Detector } from './corpus'
import { candidate } from './candidates'

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
}

export function cleanAlerts(make: () => Detector, kind: string, series: number, threshold: number): number {
  let alerts = 0
  for (let s = 1; s <= series; s++) {
    const next = KINDS[kind](rng(s * 7919))
    const det = make()
    for (let i = 0; i < 4000; i++) if (det.update(next(i), i * 300_000) >= threshold && i >= 600) alerts++
  }
  return alerts
}

function main(): void {
  const argv = process.argv.slice(2)
  let threshold = 0.45
  let series = 20
  const names: string[] = []
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--threshold') threshold = Number(argv[++i])
    else if (argv[i] === '--series') series = Math.max(1, Math.floor(Number(argv[++i])))
    else names.push(argv[i])
  }
  if (!Number.isFinite(threshold)) throw new Error('--threshold needs a number')
  if (names.length === 0) names.push('sentinel', 'spatial')
  console.log(`alerts (score >= ${threshold} after point 600) on ${series} anomaly-free series of 4 000 points each`)
  console.log(
    `  ${'detector'.padEnd(36)} ${Object.keys(KINDS)
      .map((k) => k.padStart(12))
      .join(' ')}`,
  )
  for (const name of names) {
    const c = candidate(name)
    // a reference told the file's range has no file here
    if (!c.shippable) throw new Error(`${name} is a reference, not a live detector`)
    const counts = Object.keys(KINDS).map((k) => cleanAlerts(() => c.make({} as never), k, series, threshold))
    console.log(`  ${name.slice(0, 36).padEnd(36)} ${counts.map((n) => String(n).padStart(12)).join(' ')}`)
  }
}

main()
