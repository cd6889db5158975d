/**
 * Cross-validation of a detector on the local NAB data, so that no change is decided by the total
 * on the very files it was tuned on. A detector runs once over every local file (a fresh one per
 * file, as in NAB); its scores are then cut into folds:
 *  - leave one category out: the threshold (the one thing NAB's scorer fits) is chosen on the other
 *    categories and applied to the left-out one;
 *  - halves in time: every file is cut in two near its middle (never inside a labelled window), the
 *    threshold chosen on all first halves is applied to all second halves, and the other way round.
 *    The detector still runs over the whole file (a monitor has learned the first half when the
 *    second comes); each half is scored as a file of its own (its own 15 % probation).
 * A fold's score is NAB's normalised score of its test part: 100 (raw - null) / (perfect - null),
 * null and perfect of the test part. A fold without labelled windows (artificialNoAnomaly left
 * out) has no normalised score (null = perfect = 0): it shows its raw score (the false positives'
 * cost) and count, and counts in the pooled figure, which adds the raw, null and perfect scores of
 * the three category folds before normalising. The mean and spread are over the folds that have
 * windows.
 */
import type { DataFile } from './corpus'
import {
  type CostMatrix,
  optimizeThreshold,
  PROBATION,
  PROFILES,
  scoreAtThreshold,
  type ScoredFile,
  sweepFile,
  type WindowLimits,
} from './scorer'

export interface Fold {
  name: string
  train: ScoredFile[]
  test: ScoredFile[]
}

export interface FoldScore {
  fold: string
  /** null when the test part has no window */
  normalized: number | null
  raw: number
  nullScore: number
  perfect: number
  threshold: number
  fp: number
  /** labelled windows of the test part with a detection (a row at or above the threshold) */
  windowsFound: number
  windows: number
}

export interface CvResult {
  profile: string
  folds: FoldScore[]
  /** over the folds with windows */
  mean: number
  sd: number
  min: number
  max: number
  /** the category folds added up, then normalised (includes the windowless category) */
  pooledCategories: number
}

/** The row where a file is cut in two: its middle, moved past any window that holds it. */
export function splitRow(f: ScoredFile): number {
  const ts = f.timestamps
  let m = Math.floor(ts.length / 2)
  for (const [a, b] of f.windows) {
    if (ts[m] >= a && ts[m] <= b) {
      const start = ts.findIndex((t) => t >= a)
      let end = ts.findIndex((t) => t > b)
      if (end < 0) end = ts.length
      // the nearer edge: the window goes wholly into one half
      m = m - start <= end - m ? start : end
    }
  }
  return m
}

function piece(f: ScoredFile, lo: number, hi: number, tag: string): ScoredFile {
  const t0 = f.timestamps[lo]
  const t1 = f.timestamps[hi - 1]
  const windows: WindowLimits[] = f.windows.filter(([a, b]) => a >= t0 && b <= t1)
  return {
    name: `${f.name}#${tag}`,
    timestamps: f.timestamps.slice(lo, hi),
    scores: f.scores.slice(lo, hi),
    windows,
  }
}

export function halves(f: ScoredFile): [ScoredFile, ScoredFile] {
  const m = splitRow(f)
  return [piece(f, 0, m, 'first'), piece(f, m, f.timestamps.length, 'second')]
}

const category = (name: string): string => name.split('/')[0]

/** The folds of a run: one per category left out, then the two halves in time. */
export function makeFolds(files: readonly ScoredFile[]): Fold[] {
  const categories = [...new Set(files.map((f) => category(f.name)))].sort()
  const folds: Fold[] = categories.map((c) => ({
    name: c,
    train: files.filter((f) => category(f.name) !== c),
    test: files.filter((f) => category(f.name) === c),
  }))
  const split = files.map(halves)
  const first = split.map((h) => h[0])
  const second = split.map((h) => h[1])
  folds.push({ name: 'time: 1st half -> 2nd', train: first, test: second })
  folds.push({ name: 'time: 2nd half -> 1st', train: second, test: first })
  return folds
}

/** NAB's null detector (0.5 everywhere) on `files`, at its own best threshold. */
function nullScore(files: readonly ScoredFile[], cost: CostMatrix): number {
  const nulls = files.map((f) => ({ ...f, scores: new Array<number>(f.scores.length).fill(0.5) }))
  const { threshold } = optimizeThreshold(nulls, cost)
  return scoreAtThreshold(nulls, cost, threshold).score
}

/**
 * Windows of `files` detected at `threshold`, out of those scored (outside the probation): a fold's
 * score can move on one window, and the count shows it.
 */
export function windowsFound(files: readonly ScoredFile[], cost: CostMatrix, threshold: number): [number, number] {
  const found = new Set<string>()
  const all = new Set<string>()
  for (const f of files)
    for (const p of sweepFile(f.timestamps, f.scores, f.windows, f.name, cost)) {
      if (p.window === null || p.window === PROBATION) continue
      all.add(p.window)
      if (p.score >= threshold) found.add(p.window)
    }
  return [found.size, all.size]
}

export function scoreFold(fold: Fold, cost: CostMatrix): FoldScore {
  const { threshold } = optimizeThreshold(fold.train, cost)
  const scored = scoreAtThreshold(fold.test, cost, threshold)
  const [found, windows] = windowsFound(fold.test, cost, threshold)
  const nul = nullScore(fold.test, cost)
  const perfect = fold.test.reduce((n, f) => n + f.windows.length, 0) * cost.tpWeight
  return {
    fold: fold.name,
    normalized: perfect === nul ? null : (100 * (scored.score - nul)) / (perfect - nul),
    raw: scored.score,
    nullScore: nul,
    perfect,
    threshold,
    fp: scored.fp,
    windowsFound: found,
    windows,
  }
}

export function crossValidate(files: readonly ScoredFile[], profile: string): CvResult {
  const cost = PROFILES[profile]
  const folds = makeFolds(files).map((f) => scoreFold(f, cost))
  const values = folds.map((f) => f.normalized).filter((v): v is number => v !== null)
  const mean = values.reduce((a, v) => a + v, 0) / values.length
  const sd = Math.sqrt(values.reduce((a, v) => a + (v - mean) ** 2, 0) / Math.max(1, values.length - 1))
  const cats = folds.filter((f) => !f.fold.startsWith('time:'))
  const raw = cats.reduce((a, f) => a + f.raw, 0)
  const nul = cats.reduce((a, f) => a + f.nullScore, 0)
  const perfect = cats.reduce((a, f) => a + f.perfect, 0)
  return {
    profile,
    folds,
    mean,
    sd,
    min: Math.min(...values),
    max: Math.max(...values),
    pooledCategories: (100 * (raw - nul)) / (perfect - nul),
  }
}

/** Scored files of a detector's run over the corpus, in the form the folds take. */
export function asScored(corpus: readonly DataFile[], scores: readonly (readonly number[])[]): ScoredFile[] {
  return corpus.map((f, i) => ({ name: f.name, timestamps: f.timestamps, scores: scores[i], windows: f.windows }))
}
