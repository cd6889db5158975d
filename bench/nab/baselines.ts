/**
 * Reference detectors with published NAB scores, run through the same corpus reader and scorer as
 * Sentinel's detector. They put the local score in context: the local data is part of the corpus,
 * so a reference's local score against its published whole-corpus score shows how the local part
 * compares (a rough guide, not a conversion: each detector has its own strengths per category).
 * Like NAB, a reference may be told the file's minimum and maximum before it starts (NAB hands
 * every detector these); Sentinel's detector is not, as a live monitor cannot know them.
 *
 * windowedGaussian (NAB's "Windowed Gaussian", published standard score 39.6), written from its
 * description: the score of a value is 1 - P(|Z| beyond it), two-sided Gaussian tail from the mean
 * and standard deviation of a window of up to 6400 past values, recomputed every 100 points once
 * the window is full (after every point while it fills); the first point scores 0.
 */
import { normalTail } from '../../src/observe/anomaly-detector/stats'
import { ContextOse } from './cad-ose'
import type { DataFile, Detector } from './corpus'
import { probationaryLength } from './scorer'

export class WindowedGaussian implements Detector {
  private readonly window: number[] = []
  private readonly buffer: number[] = []
  private mean = 0
  private sd = 1e-6

  constructor(
    private readonly windowSize = 6400,
    private readonly stepSize = 100,
  ) {}

  update(value: number): number {
    const score = this.window.length > 0 ? 1 - normalTail(Math.abs(value - this.mean) / this.sd) : 0
    if (this.window.length < this.windowSize) {
      this.window.push(value)
      this.refit()
    } else {
      this.buffer.push(value)
      if (this.buffer.length === this.stepSize) {
        this.window.splice(0, this.stepSize)
        this.window.push(...this.buffer)
        this.buffer.length = 0
        this.refit()
      }
    }
    return score
  }

  private refit(): void {
    let sum = 0
    for (const v of this.window) sum += v
    this.mean = sum / this.window.length
    let ss = 0
    for (const v of this.window) ss += (v - this.mean) * (v - this.mean)
    // population standard deviation; a constant window gets a tiny one instead of zero
    this.sd = Math.sqrt(ss / this.window.length) || 1e-6
  }
}

/**
 * Upper quantile of the chi-squared distribution: the x with P(X > x) = p for `df` degrees of
 * freedom (even df only, where the survival function has the closed form
 * exp(-x/2) * sum_{k < df/2} (x/2)^k / k!), by bisection.
 */
export function chiSquaredUpperQuantile(p: number, df: number): number {
  if (df <= 0 || df % 2 !== 0) throw new Error(`chiSquaredUpperQuantile: df must be even and positive (got ${df})`)
  const survival = (x: number): number => {
    let term = 1
    let sum = 1
    for (let k = 1; k < df / 2; k++) {
      term *= x / 2 / k
      sum += term
    }
    return Math.exp(-x / 2) * sum
  }
  let lo = 0
  let hi = 1
  while (survival(hi) > p) hi *= 2
  for (let i = 0; i < 200; i++) {
    const mid = (lo + hi) / 2
    if (survival(mid) > p) lo = mid
    else hi = mid
  }
  return (lo + hi) / 2
}

/**
 * relativeEntropy (NAB's "Relative Entropy", published 54.6 / 47.6 / 58.8), written from Wang et
 * al., "Statistical techniques for online anomaly detection in data centers" (2011), with NAB's
 * settings: the last W = 52 values are quantised into 5 equal steps of the file's range
 * (ceil((v - min) / step), so the minimum gets level 0 and the maximum level 5, and levels 4 and
 * 5 share the top histogram bin); the window's histogram is tested against every stored
 * hypothesis with the statistic 2 W KL(window || hypothesis), accepted below the chi-squared
 * 0.99 quantile with 4 degrees of freedom. The first full window becomes the first hypothesis.
 * A window no hypothesis accepts scores 1 and becomes a new hypothesis; a window whose best
 * hypothesis has accepted at most c_th = 1 window before scores 1 too. Everything else scores
 * 0, as does a file whose values are all equal.
 */
export class RelativeEntropy implements Detector {
  private static readonly bins = 5
  private static readonly windowSize = 52
  private static readonly threshold = chiSquaredUpperQuantile(0.01, RelativeEntropy.bins - 1)
  private static readonly minCount = 1
  private readonly levels: number[] = []
  private readonly hypotheses: Float64Array[] = []
  private readonly counts: number[] = []
  private readonly step: number

  constructor(
    private readonly min: number,
    max: number,
  ) {
    this.step = (max - min) / RelativeEntropy.bins
  }

  update(value: number): number {
    const B = RelativeEntropy.bins
    const W = RelativeEntropy.windowSize
    if (this.step === 0 || !Number.isFinite(this.step)) return 0
    this.levels.push(Math.min(B - 1, Math.max(0, Math.ceil((value - this.min) / this.step))))
    if (this.levels.length > W) this.levels.shift()
    if (this.levels.length < W) return 0
    const hist = new Float64Array(B)
    for (const l of this.levels) hist[l] += 1 / W
    if (this.hypotheses.length === 0) {
      this.hypotheses.push(hist)
      this.counts.push(1)
      return 0
    }
    let best = -1
    let bestStat = Number.POSITIVE_INFINITY
    this.hypotheses.forEach((h, i) => {
      const stat = 2 * W * klDivergence(hist, h)
      if (stat < RelativeEntropy.threshold && stat < bestStat) {
        bestStat = stat
        best = i
      }
    })
    if (best < 0) {
      this.hypotheses.push(hist)
      this.counts.push(1)
      return 1
    }
    this.counts[best]++
    return this.counts[best] <= RelativeEntropy.minCount ? 1 : 0
  }
}

/** Kullback-Leibler divergence KL(p || q) in nats; infinite where q is 0 and p is not. */
export function klDivergence(p: ArrayLike<number>, q: ArrayLike<number>): number {
  let d = 0
  for (let i = 0; i < p.length; i++) {
    if (p[i] === 0) continue
    if (q[i] === 0) return Number.POSITIVE_INFINITY
    d += p[i] * Math.log(p[i] / q[i])
  }
  return d
}

/**
 * knnCad (NAB's "KNN CAD", published 58.0 / 43.4 / 64.8), written from Burnaev and Ishimtsev,
 * "Conformalized density- and distance-based anomaly detection in time-series data" (2016), with
 * NAB's settings: each point's item is the vector of the last dim = 19 values; items of the
 * probation period P (NAB's: 15 % of the file, at most 750) are the training set. An item's
 * non-conformity is the sum of its k = 27 smallest squared Mahalanobis distances to the training
 * items (the metric is the inverse of the training items' Gram matrix, recomputed at every
 * multiple of P and half P; the identity until then, and kept as it was when the matrix is
 * singular). The score is the fraction of the last calibration non-conformities below the new
 * one (the first calibration set is the training items' own, each leaving itself out). After
 * 2P points the training set slides. A score of at least 0.9965 is followed by P / 5 points
 * scored 0.5.
 * The Mahalanobis distance is computed as a Euclidean one between items mapped through the
 * inverse Cholesky factor of the Gram matrix (the same number, without the dim x dim product).
 */
export class KnnCad implements Detector {
  private static readonly dim = 19
  private static readonly k = 27
  private readonly buf: number[] = []
  /** raw items and their mapped versions, oldest first */
  private readonly training: Float64Array[] = []
  private mapped: Float64Array[] = []
  private readonly calibration: Float64Array[] = []
  private scores: number[] = []
  private count = 0
  private rest = -1
  /** lower Cholesky factor of the Gram matrix (null: identity metric) */
  private chol: Float64Array | null = null

  constructor(private readonly probation: number) {}

  update(value: number): number {
    const D = KnnCad.dim
    this.buf.push(value)
    if (this.buf.length > D) this.buf.shift()
    this.count++
    if (this.buf.length < D) return 0
    const item = Float64Array.from(this.buf)
    const P = this.probation
    if (this.count < P) {
      this.training.push(item)
      this.mapped.push(this.map(item))
      return 0
    }
    const phase = this.count % P
    if (phase === 0 || phase === Math.trunc(P / 2)) this.refit()
    if (this.scores.length === 0) this.scores = this.mapped.map((m) => this.nonConformity(m, true))
    const score = this.nonConformity(this.map(item), false)
    let below = 0
    for (const c of this.scores) if (c < score) below++
    const result = below / this.scores.length
    if (this.count >= 2 * P) {
      this.training.shift()
      this.mapped.shift()
      const next = this.calibration.shift() as Float64Array
      this.training.push(next)
      this.mapped.push(this.map(next))
    }
    this.scores.shift()
    this.calibration.push(item)
    this.scores.push(score)
    if (this.rest > 0) {
      this.rest--
      return 0.5
    }
    if (result >= 0.9965) this.rest = Math.trunc(P / 5)
    return result
  }

  /** Sum of the k (k + 1 when the item is itself a training item) smallest squared distances. */
  private nonConformity(m: Float64Array, itemInTraining: boolean): number {
    const d = this.mapped.map((t) => {
      let s = 0
      for (let i = 0; i < m.length; i++) s += (m[i] - t[i]) * (m[i] - t[i])
      return s
    })
    d.sort((a, b) => a - b)
    const n = Math.min(d.length, KnnCad.k + (itemInTraining ? 1 : 0))
    let sum = 0
    for (let i = 0; i < n; i++) sum += d[i]
    return sum
  }

  /** Cholesky factor of the training items' Gram matrix; unchanged when it is singular. */
  private refit(): void {
    const D = KnnCad.dim
    const g = new Float64Array(D * D)
    for (const t of this.training) for (let i = 0; i < D; i++) for (let j = 0; j < D; j++) g[i * D + j] += t[i] * t[j]
    const l = choleskyLower(g, D)
    if (l === null) return
    this.chol = l
    this.mapped = this.training.map((t) => this.map(t))
  }

  private map(x: Float64Array): Float64Array {
    return this.chol === null ? x : forwardSolve(this.chol, x)
  }
}

/** Lower Cholesky factor L (row-major) of a symmetric D x D matrix, or null when it is not positive definite. */
export function choleskyLower(g: ArrayLike<number>, D: number): Float64Array | null {
  const l = new Float64Array(D * D)
  for (let i = 0; i < D; i++) {
    for (let j = 0; j <= i; j++) {
      let s = g[i * D + j]
      for (let k = 0; k < j; k++) s -= l[i * D + k] * l[j * D + k]
      if (i === j) {
        if (!(s > 1e-12 * Math.max(1, g[i * D + i]))) return null
        l[i * D + i] = Math.sqrt(s)
      } else l[i * D + j] = s / l[j * D + j]
    }
  }
  return l
}

/** y = L^-1 x for a lower-triangular L, so that |y|^2 = x' (L L')^-1 x: the squared Mahalanobis norm of x. */
export function forwardSolve(l: ArrayLike<number>, x: ArrayLike<number>): Float64Array {
  const D = x.length
  const y = new Float64Array(D)
  for (let i = 0; i < D; i++) {
    let s = x[i]
    for (let k = 0; k < i; k++) s -= l[i * D + k] * y[k]
    y[i] = s / l[i * D + i]
  }
  return y
}

function fileRange(file: DataFile): [number, number] {
  let min = Number.POSITIVE_INFINITY
  let max = Number.NEGATIVE_INFINITY
  for (const v of file.values) {
    if (v < min) min = v
    if (v > max) max = v
  }
  return [min, max]
}

/** Published whole-corpus scores: standard, reward low FP, reward low FN. */
export interface PublishedScores {
  standard: number
  reward_low_FP_rate: number
  reward_low_FN_rate: number
}

export const BASELINES: Record<string, { make: (file: DataFile) => Detector; published: PublishedScores }> = {
  windowedGaussian: {
    make: () => new WindowedGaussian(),
    published: { standard: 39.6, reward_low_FP_rate: 20.9, reward_low_FN_rate: 47.4 },
  },
  knnCad: {
    make: (file) => new KnnCad(probationaryLength(file.values.length)),
    published: { standard: 58.0, reward_low_FP_rate: 43.4, reward_low_FN_rate: 64.8 },
  },
  contextOSE: {
    // NAB hands it the file's range; its rest period is a fifth of the probation
    make: (file) => new ContextOse(...fileRange(file), probationaryLength(file.values.length) / 5),
    published: { standard: 69.9, reward_low_FP_rate: 67.0, reward_low_FN_rate: 73.2 },
  },
  contextOSEv2: {
    // the later edition in NAB's repository: scores only a point whose sensor facts were not all predicted
    make: (file) =>
      new ContextOse(...fileRange(file), probationaryLength(file.values.length) / 5, 0.75, 7, 15, 3, true, 65536),
    published: { standard: 69.9, reward_low_FP_rate: 67.0, reward_low_FN_rate: 73.2 },
  },
  relativeEntropy: {
    make: (file) => new RelativeEntropy(...fileRange(file)),
    published: { standard: 54.6, reward_low_FP_rate: 47.6, reward_low_FN_rate: 58.8 },
  },
}
