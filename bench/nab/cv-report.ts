/**
 * `bench:nab -- --cv`: every candidate (candidates.ts) through the folds of cv.ts, each fold's score
 * printed, then the mean and spread over the folds, beside the in-sample local total that decides
 * nothing. Sentinel's variants are run with several hash seeds of their contextual model (its only
 * source of arbitrary variation) and every figure is the mean over the seeds; the seeds' own spread
 * is printed too, as the noise floor of a comparison. Under the means, the windows found and the false
 * positives behind them (summed over the folds' test parts): a mean can move by two points on one
 * window of one file, and the counts show when it does.
 */
import { type Candidate, candidate, VARIANTS } from './candidates'
import { type DataFile, runDetector } from './corpus'
import { crossValidate, type CvResult } from './cv'
import { AnomalyDetector } from '../../src/observe/anomaly-detector/index'
import { PROFILES, scoreProfile } from './scorer'

export const DEFAULT_CV = [...VARIANTS.map((v) => v.name), 'cad', 'cad-file-range', 'contextOSE']

const SEEDS = [2166136261, 1, 7, 42, 1234567]

interface Summary {
  name: string
  shippable: boolean
  about: string
  /** profile -> per fold (mean over seeds; null when the fold has no window) */
  folds: Record<
    string,
    { fold: string; value: number | null; raw: number; fp: number; windowsFound: number; windows: number }[]
  >
  mean: Record<string, number>
  sd: Record<string, number>
  min: Record<string, number>
  max: Record<string, number>
  pooled: Record<string, number>
  local: Record<string, number>
  /** spread of the standard mean over the seeds (max - min), 0 for a single run */
  seedRange: number
  pointsPerSecond: number
}

const avg = (xs: number[]): number => xs.reduce((a, x) => a + x, 0) / xs.length

function summarise(c: Candidate, corpus: readonly DataFile[], seeds: number): Summary {
  const isVariant = VARIANTS.some((v) => v.name === c.name) || c.name.startsWith('{')
  const runs = isVariant
    ? SEEDS.slice(0, Math.max(1, seeds)).map((seed) => {
        const base = c.make(corpus[0]) as AnomalyDetector
        const opts = { ...base.options, contextSeed: seed }
        return runDetector(corpus, () => new AnomalyDetector(opts))
      })
    : [runDetector(corpus, c.make)]
  const profiles = Object.keys(PROFILES)
  const s: Summary = {
    name: c.name,
    shippable: c.shippable,
    about: c.about,
    folds: {},
    mean: {},
    sd: {},
    min: {},
    max: {},
    pooled: {},
    local: {},
    seedRange: 0,
    pointsPerSecond: avg(runs.map((r) => r.points / r.seconds)),
  }
  for (const p of profiles) {
    const cvs: CvResult[] = runs.map((r) => crossValidate(r.files, p))
    const folds = cvs[0].folds.map((f, i) => {
      const vals = cvs.map((cv) => cv.folds[i].normalized)
      return {
        fold: f.fold,
        value: vals[0] === null ? null : avg(vals as number[]),
        raw: avg(cvs.map((cv) => cv.folds[i].raw)),
        fp: avg(cvs.map((cv) => cv.folds[i].fp)),
        windowsFound: avg(cvs.map((cv) => cv.folds[i].windowsFound)),
        windows: f.windows,
      }
    })
    const values = folds.map((f) => f.value).filter((v): v is number => v !== null)
    const mean = avg(values)
    s.folds[p] = folds
    s.mean[p] = mean
    s.sd[p] = Math.sqrt(values.reduce((a, v) => a + (v - mean) ** 2, 0) / Math.max(1, values.length - 1))
    s.min[p] = Math.min(...values)
    s.max[p] = Math.max(...values)
    s.pooled[p] = avg(cvs.map((cv) => cv.pooledCategories))
    s.local[p] = avg(runs.map((r) => scoreProfile(r.files, p).normalizedScore))
    if (p === 'standard') {
      const means = cvs.map((cv) => cv.mean)
      s.seedRange = Math.max(...means) - Math.min(...means)
    }
  }
  return s
}

const short: Record<string, string> = {
  standard: 'standard',
  reward_low_FP_rate: 'low FP',
  reward_low_FN_rate: 'low FN',
}

export function runCv(corpus: readonly DataFile[], names: readonly string[], seeds: number): Summary[] {
  const out: Summary[] = []
  for (const name of names) {
    const c = candidate(name)
    const s = summarise(c, corpus, seeds)
    out.push(s)
    const seedNote =
      VARIANTS.some((v) => v.name === name) || name.startsWith('{') ? `, mean of ${seeds} hash seeds` : ''
    console.log(`\n${name}${c.shippable ? '' : ' (reference: not shippable)'}: ${c.about}${seedNote}`)
    const folds = s.folds.standard.map((f) => f.fold)
    console.log(
      `  ${'profile'.padEnd(9)} ${folds.map((f) => f.replace('time: ', '').replace(' half ', ' ').slice(0, 21).padStart(21)).join(' ')} | ${'mean'.padStart(5)} ${'sd'.padStart(5)} ${'min..max'.padStart(11)} | pooled cat. | local total`,
    )
    for (const p of Object.keys(PROFILES)) {
      const cells = s.folds[p].map((f) =>
        (f.value === null ? `raw ${f.raw.toFixed(2)}, ${f.fp.toFixed(1)} FP` : f.value.toFixed(1)).padStart(21),
      )
      console.log(
        `  ${short[p].padEnd(9)} ${cells.join(' ')} | ${s.mean[p].toFixed(1).padStart(5)} ${s.sd[p].toFixed(1).padStart(5)} ${`${s.min[p].toFixed(1)}..${s.max[p].toFixed(1)}`.padStart(11)} | ${s.pooled[p].toFixed(1).padStart(11)} | ${s.local[p].toFixed(1).padStart(11)}`,
      )
    }
  }
  // a fold's score can move on a single window: the counts behind the means
  console.log(
    '\nwindows found and false-positive rows over the 4 folds with windows (test parts at their fold thresholds; means over seeds)',
  )
  const counts = (s: Summary, p: string): string => {
    const folds = s.folds[p].filter((f) => f.value !== null)
    const found = folds.reduce((a, f) => a + f.windowsFound, 0)
    const windows = folds.reduce((a, f) => a + f.windows, 0)
    const fp = folds.reduce((a, f) => a + f.fp, 0)
    return `${found.toFixed(1)} of ${windows}, ${fp.toFixed(1)} FP`.padStart(22)
  }
  console.log(`  ${'detector'.padEnd(34)} ${'standard'.padStart(22)} ${'low FP'.padStart(22)} ${'low FN'.padStart(22)}`)
  for (const s of out)
    console.log(
      `  ${(s.name + (s.shippable ? '' : ' (ref)')).slice(0, 34).padEnd(34)} ${counts(s, 'standard')} ${counts(s, 'reward_low_FP_rate')} ${counts(s, 'reward_low_FN_rate')}`,
    )
  console.log('\nsummary (mean over the 4 folds with windows ± their sd; the local total decides nothing)')
  console.log(
    `  ${'detector'.padEnd(34)} ${'standard'.padStart(12)} ${'low FP'.padStart(12)} ${'low FN'.padStart(12)} | ${'seeds range'.padStart(11)} | ${'local std'.padStart(9)} | points/s`,
  )
  for (const s of out) {
    const cell = (p: string) => `${s.mean[p].toFixed(1)} ± ${s.sd[p].toFixed(1)}`.padStart(12)
    console.log(
      `  ${(s.name + (s.shippable ? '' : ' (ref)')).slice(0, 34).padEnd(34)} ${cell('standard')} ${cell('reward_low_FP_rate')} ${cell('reward_low_FN_rate')} | ${s.seedRange.toFixed(1).padStart(11)} | ${s.local.standard.toFixed(1).padStart(9)} | ${Math.round(s.pointsPerSecond).toLocaleString('en-US')}`,
    )
  }
  return out
}
