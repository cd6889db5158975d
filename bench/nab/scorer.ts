/**
 * NAB (Numenta Anomaly Benchmark) scoring, written from NAB's published
 * description (Lavin & Ahmad 2015, the NAB README/wiki) and checked against the
 * behaviour of NAB v1.x's sweeper/optimizer.
 *
 * Summary of the rules implemented here:
 *  - Each data file has labelled anomaly windows [start, end] (inclusive,
 *    given as timestamps that must coincide with data rows).
 *  - The first `probationaryLength = min(floor(0.15 * rows), 0.15 * 5000)`
 *    rows of every file are ignored (probation).
 *  - A detection is a row whose anomaly score is >= the threshold.
 *  - Inside a window of width W (rows) whose last row has index R, a detection
 *    at row i is worth  S(-(R - i + 1) / W) * tpWeight / S(-1)  where
 *    S(x) = 2 * sigmoid(-5x) - 1 (and S(x) = -1 for x > 3). Only the best
 *    (i.e. earliest) detection of a window counts; a window without detection
 *    costs -fnWeight.
 *  - A detection outside every window is a false positive worth
 *    fpWeight * S(|i - Rprev| / (Wprev - 1)) where Rprev/Wprev are the last row
 *    and width of the closest preceding window, or -fpWeight when no window
 *    precedes it.
 *  - The threshold is chosen per profile to maximise the raw score over the
 *    whole corpus, sweeping every distinct anomaly score value.
 *  - Normalised score = 100 * (raw - null) / (perfect - null), where null is the
 *    raw score of the null detector (constant 0.5) and perfect is
 *    (number of windows) * tpWeight.
 */

export interface CostMatrix {
  tpWeight: number
  fpWeight: number
  fnWeight: number
  tnWeight: number
}

export const PROFILES: Record<string, CostMatrix> = {
  standard: { tpWeight: 1.0, fpWeight: 0.11, fnWeight: 1.0, tnWeight: 1.0 },
  reward_low_FP_rate: { tpWeight: 1.0, fpWeight: 0.22, fnWeight: 1.0, tnWeight: 1.0 },
  reward_low_FN_rate: { tpWeight: 1.0, fpWeight: 0.11, fnWeight: 2.0, tnWeight: 1.0 },
}

export const PROBATION_PERCENT = 0.15

/** Window limits as [startMs, endMs] (inclusive). */
export type WindowLimits = [number, number]

/** One scored row, as produced by `sweepFile`. */
export interface SweepPoint {
  /** anomaly score emitted by the detector */
  score: number
  /** weighted score contribution if this row is a detection */
  sweepScore: number
  /**
   * window key ("file|start") when in a window, null when outside every
   * window, PROBATION when in the probationary period.
   */
  window: string | null
  /** row index in its file */
  index: number
}

export const PROBATION = '\u0000probationary'

export interface ThresholdScore {
  threshold: number
  score: number
  tp: number
  tn: number
  fp: number
  fn: number
  total: number
}

export function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x))
}

/**
 * NAB's scaled sigmoid: +0.98661 at relative position -1 (left edge of a
 * window), 0 at the right edge, -0.98661 one window length after it and -1
 * beyond three window lengths.
 */
export function scaledSigmoid(relativePosition: number): number {
  if (relativePosition > 3.0) return -1.0
  return 2 * sigmoid(-5 * relativePosition) - 1.0
}

export function probationaryLength(numRows: number, probationPercent = PROBATION_PERCENT): number {
  return Math.min(Math.floor(probationPercent * numRows), probationPercent * 5000)
}

/**
 * Compute, for each row of one file, what it would contribute if it were a
 * detection. Follows NAB's sweeper: windows are entered when a row's timestamp
 * equals the next window's start and left after the row equal to its end.
 */
export function sweepFile(
  timestamps: readonly number[],
  scores: readonly number[],
  windows: readonly WindowLimits[],
  fileName: string,
  cost: CostMatrix,
  probationPercent = PROBATION_PERCENT,
): SweepPoint[] {
  if (timestamps.length !== scores.length) {
    throw new Error(`${fileName}: ${timestamps.length} timestamps but ${scores.length} scores`)
  }
  const pending = windows.slice()
  const maxTP = scaledSigmoid(-1.0)
  const probation = probationaryLength(timestamps.length, probationPercent)
  const indexOf = new Map<number, number>()
  for (let i = 0; i < timestamps.length; i++) {
    if (!indexOf.has(timestamps[i])) indexOf.set(timestamps[i], i)
  }

  const out: SweepPoint[] = new Array(timestamps.length)
  let cur: WindowLimits | null = null
  let curName: string | null = null
  let curWidth = 0
  let curRight = 0
  let prevWidth = 0
  let prevRight = -1

  for (let i = 0; i < timestamps.length; i++) {
    const t = timestamps[i]
    if (pending.length > 0 && t === pending[0][0]) {
      cur = pending.shift() as WindowLimits
      curName = `${fileName}|${cur[0]}`
      const right = indexOf.get(cur[1])
      if (right === undefined) {
        throw new Error(`${fileName}: window end ${new Date(cur[1]).toISOString()} is not a row timestamp`)
      }
      curRight = right
      curWidth = curRight - (indexOf.get(cur[0]) as number) + 1
    }

    let sweepScore: number
    if (cur !== null) {
      const position = -(curRight - i + 1) / curWidth
      sweepScore = (scaledSigmoid(position) * cost.tpWeight) / maxTP
    } else {
      let unweighted: number
      if (prevRight < 0) {
        unweighted = -1.0
      } else {
        unweighted = scaledSigmoid(Math.abs(prevRight - i) / (prevWidth - 1))
      }
      sweepScore = unweighted * cost.fpWeight
    }

    out[i] = { score: scores[i], sweepScore, window: i >= probation ? curName : PROBATION, index: i }

    if (cur !== null && t === cur[1]) {
      prevRight = i
      prevWidth = curWidth
      cur = null
      curName = null
    }
  }
  return out
}

/**
 * Score for every distinct threshold (descending), starting with a threshold
 * of 1.1 that detects nothing. Each entry's score counts every row whose
 * anomaly score is >= its threshold as a detection.
 */
export function scoresByThreshold(points: readonly SweepPoint[], cost: CostMatrix): ThresholdScore[] {
  const scorable = points.filter((p) => p.window !== PROBATION)
  // stable sort, highest anomaly score first
  scorable.sort((a, b) => b.score - a.score)

  const windowPart = new Map<string, number>()
  for (const p of scorable) {
    if (p.window !== null) windowPart.set(p.window, -cost.fnWeight)
  }
  let fpPart = 0
  const sumParts = (): number => {
    let s = fpPart
    for (const v of windowPart.values()) s += v
    return s
  }

  let tn = 0
  let fn = 0
  for (const p of scorable) {
    if (p.window === null) tn++
    else fn++
  }
  let tp = 0
  let fp = 0
  const result: ThresholdScore[] = []
  let curThreshold = 1.1
  for (const p of scorable) {
    if (p.score !== curThreshold) {
      result.push({ threshold: curThreshold, score: sumParts(), tp, tn, fp, fn, total: tp + tn + fp + fn })
      curThreshold = p.score
    }
    if (p.window !== null) {
      tp++
      fn--
      const prev = windowPart.get(p.window) as number
      if (p.sweepScore > prev) windowPart.set(p.window, p.sweepScore)
    } else {
      fp++
      tn--
      fpPart += p.sweepScore
    }
  }
  result.push({ threshold: curThreshold, score: sumParts(), tp, tn, fp, fn, total: tp + tn + fp + fn })
  return result
}

/** The row of `scoresByThreshold` that applies to `threshold` (detections: score >= threshold). */
export function rowForThreshold(rows: readonly ThresholdScore[], threshold: number): ThresholdScore {
  let prev: ThresholdScore | null = null
  for (const row of rows) {
    if (row.threshold === threshold) return row
    if (row.threshold < threshold) return prev ?? row
    prev = row
  }
  // threshold below every score: every row is a detection
  return rows[rows.length - 1]
}

export interface ScoredFile {
  /** relative path, e.g. "realAWSCloudwatch/ec2_cpu_utilization_24ae8d.csv" */
  name: string
  timestamps: readonly number[]
  scores: readonly number[]
  windows: readonly WindowLimits[]
}

export interface ProfileResult {
  profile: string
  threshold: number
  rawScore: number
  nullScore: number
  perfectScore: number
  normalizedScore: number
  tp: number
  tn: number
  fp: number
  fn: number
  perFile: { name: string; score: number; tp: number; tn: number; fp: number; fn: number; total: number }[]
}

/** NAB's optimiser: the threshold maximising the corpus score (ties: the highest threshold). */
export function optimizeThreshold(
  files: readonly ScoredFile[],
  cost: CostMatrix,
  probationPercent = PROBATION_PERCENT,
): { threshold: number; score: number } {
  const all: SweepPoint[] = []
  for (const f of files) {
    const pts = sweepFile(f.timestamps, f.scores, f.windows, f.name, cost, probationPercent)
    for (const p of pts) all.push(p)
  }
  const rows = scoresByThreshold(all, cost)
  let best = rows[0]
  for (const r of rows) if (r.score > best.score) best = r
  return { threshold: best.threshold, score: best.score }
}

/** Score every file at a fixed threshold and total them (NAB's scoring step). */
export function scoreAtThreshold(
  files: readonly ScoredFile[],
  cost: CostMatrix,
  threshold: number,
  probationPercent = PROBATION_PERCENT,
): { score: number; tp: number; tn: number; fp: number; fn: number; perFile: ProfileResult['perFile'] } {
  let score = 0
  let tp = 0
  let tn = 0
  let fp = 0
  let fn = 0
  const perFile: ProfileResult['perFile'] = []
  for (const f of files) {
    const pts = sweepFile(f.timestamps, f.scores, f.windows, f.name, cost, probationPercent)
    const row = rowForThreshold(scoresByThreshold(pts, cost), threshold)
    score += row.score
    tp += row.tp
    tn += row.tn
    fp += row.fp
    fn += row.fn
    perFile.push({ name: f.name, score: row.score, tp: row.tp, tn: row.tn, fp: row.fp, fn: row.fn, total: row.total })
  }
  return { score, tp, tn, fp, fn, perFile }
}

/** Optimise, score and normalise one profile. */
export function scoreProfile(
  files: readonly ScoredFile[],
  profile: string,
  cost: CostMatrix = PROFILES[profile],
  probationPercent = PROBATION_PERCENT,
): ProfileResult {
  const { threshold } = optimizeThreshold(files, cost, probationPercent)
  const scored = scoreAtThreshold(files, cost, threshold, probationPercent)

  const nullFiles = files.map((f) => ({ ...f, scores: new Array<number>(f.scores.length).fill(0.5) }))
  const nullThreshold = optimizeThreshold(nullFiles, cost, probationPercent).threshold
  const nullScore = scoreAtThreshold(nullFiles, cost, nullThreshold, probationPercent).score

  let windowCount = 0
  for (const f of files) windowCount += f.windows.length
  const perfectScore = windowCount * cost.tpWeight
  const normalizedScore =
    perfectScore === nullScore ? 0 : (100 * (scored.score - nullScore)) / (perfectScore - nullScore)

  return {
    profile,
    threshold,
    rawScore: scored.score,
    nullScore,
    perfectScore,
    normalizedScore,
    tp: scored.tp,
    tn: scored.tn,
    fp: scored.fp,
    fn: scored.fn,
    perFile: scored.perFile,
  }
}

/** Score all three standard NAB profiles. */
export function scoreAllProfiles(files: readonly ScoredFile[], probationPercent = PROBATION_PERCENT): ProfileResult[] {
  return Object.keys(PROFILES).map((p) => scoreProfile(files, p, PROFILES[p], probationPercent))
}

/**
 * Parse a NAB timestamp ("2014-02-14 14:30:00" or with ".000000" fraction) as
 * UTC milliseconds. Returns NaN when unparseable.
 */
export function parseNabTimestamp(s: string): number {
  const m = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?/.exec(s.trim())
  if (!m) return Number.NaN
  const frac = m[7] ? Math.round(Number(`0.${m[7]}`) * 1000) : 0
  return Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], m[6] ? +m[6] : 0, frac)
}
