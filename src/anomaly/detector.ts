import { clamp, isRing, normalTail, ringClone, ringCreate, ringPush, ringValues, quantileInPlace, type Ring } from './stats'
import { tailAdd, tailClone, tailCreate, tailLog10, tailRefresh, valueTailAdd, valueTailClone, valueTailCreate, valueTailLog10, valueTailRefresh, type TailState, type ValueTailState } from './tail'

/**
 * Streaming anomaly detector for one metric series.
 *
 * Default pipeline for each point (value, timestamp):
 *  1. value extremeness: the value is compared with the series' own recent
 *     history (`valueWindow` values) by a two-sided peaks-over-threshold model
 *     (extreme value theory, as in SPOT): beyond the `valueQuantile` quantile
 *     excesses are exponential with the observed mean excess, which gives a
 *     tail probability. A series that is naturally spiky needs a bigger
 *     excursion to alert.
 *  2. score = -log10(tail probability) / 10, clipped to [0, 1]
 *     (tail 1e-5 -> 0.5, 1e-10 -> 1).
 *  3. repeated alerts are damped: a score that does not exceed the decaying
 *     maximum of recent scores is multiplied by `dampFactor`, so one incident
 *     gives one alert.
 * Optional models (off by default; they lowered the NAB score in tests):
 * local |z| against an exponentially weighted mean/variance (`usePoint`),
 * a sustained-shift statistic (`useSustain`), and jump extremeness on first
 * differences (`diffWindow`); their tail probabilities are combined with a
 * Bonferroni correction.
 *
 * No score before `baseline` points. Memory per series is bounded (fixed-size
 * ring buffers); everything is deterministic and the whole state is plain JSON.
 */

export interface DetectorOptions {
  /** points observed before any non-zero score (default 15) */
  baseline: number
  /** recent values kept for the evidence helper (default 256) */
  window: number
  /** smoothing factor of the exponentially weighted mean/variance */
  alpha: number
  /** winsorise updates of the mean/variance at this many sd (0 = off) */
  clip: number
  /** length of the sustained-shift average */
  sustainK: number
  /** history length of each surprise statistic for the tail fit */
  tailWindow: number
  /** quantile above which the tail is modelled */
  tailQuantile: number
  /** refit the tail every this many points */
  tailRefresh: number
  /** minimum mean excess of the tail model */
  minBeta: number
  /** samples needed before the fitted tail is trusted (Gaussian prior before) */
  minFit: number
  /** exponent applied to |z| to form the surprise */
  power: number
  /** per-point decay of the recent-maximum used for damping (0 = no damping) */
  dampDecay: number
  /** factor applied to scores that do not exceed the recent maximum */
  dampFactor: number
  /** history of values for the value-extremeness model (0 = off) */
  valueWindow: number
  /** history of first differences for a jump-extremeness model (0 = off) */
  diffWindow: number
  /** quantile defining the value tails */
  valueQuantile: number
  /** minimum mean excess of the value tails, as a fraction of the history range */
  valueMinBeta: number
  /** weights (1 = on, 0 = off) of the local point / sustained statistics */
  usePoint: number
  useSustain: number
  /** how the value-extremeness evidence is combined with the local evidence: 0 = either suffices, 1 = both needed, in between = weighted mean of log-probabilities */
  combine: number
}

export const DEFAULT_OPTIONS: DetectorOptions = {
  baseline: 15,
  window: 256,
  alpha: 0.05,
  clip: 0,
  sustainK: 10,
  tailWindow: 1024,
  tailQuantile: 0.98,
  tailRefresh: 32,
  minBeta: 0.1,
  minFit: 50,
  power: 1,
  dampDecay: 0.995,
  dampFactor: 0.3,
  valueWindow: 2048,
  diffWindow: 0,
  valueQuantile: 0.995,
  valueMinBeta: 0.01,
  usePoint: 0,
  useSustain: 0,
  combine: 0,
}

export interface DetectorState {
  version: 2
  options: DetectorOptions
  /** points seen (finite values only) */
  n: number
  lastTimestamp: number | null
  lastValue: number | null
  lastScore: number
  /** exponentially weighted mean / variance */
  ewMean: number
  ewVar: number
  /** recent raw values */
  values: Ring
  /** recent signed z values */
  zs: Ring
  zSum: number
  /** tail models of the point and sustained statistics */
  tailPoint: TailState
  tailSustain: TailState
  /** decaying maximum of recent scores (damping) */
  recentMax: number
  /** value-extremeness model (null when valueWindow is 0) */
  valueTail: ValueTailState | null
  /** jump-extremeness model on first differences (null when diffWindow is 0) */
  diffTail: ValueTailState | null
}

/** Evidence for an alert: what was expected and what was observed. */
export interface AnomalyEvidence {
  observed: number
  /** mean of the recent window */
  mean: number
  /** standard deviation of the recent window */
  sd: number
  /** expected range: mean +- k*sd */
  expectedLow: number
  expectedHigh: number
  /** quantiles of the recent window */
  p01: number
  p50: number
  p99: number
  /** signed distance from the mean in standard deviations (0 when sd is 0 and observed equals the mean) */
  zScore: number
  /** number of recent values behind these figures */
  samples: number
}


function toFiniteOr(x: unknown, d: number): number {
  return typeof x === 'number' && Number.isFinite(x) ? x : d
}

export function normaliseOptions(opts: Partial<DetectorOptions> = {}): DetectorOptions {
  const o: DetectorOptions = { ...DEFAULT_OPTIONS }
  for (const k of Object.keys(DEFAULT_OPTIONS) as (keyof DetectorOptions)[]) {
    const v = opts[k]
    if (v !== undefined) o[k] = toFiniteOr(v, DEFAULT_OPTIONS[k])
  }
  o.baseline = Math.max(0, Math.floor(o.baseline))
  o.window = Math.max(2, Math.floor(o.window))
  o.sustainK = Math.max(1, Math.floor(o.sustainK))
  o.tailWindow = Math.max(8, Math.floor(o.tailWindow))
  o.tailRefresh = Math.max(1, Math.floor(o.tailRefresh))
  o.minFit = Math.max(1, Math.floor(o.minFit))
  o.alpha = clamp(o.alpha, 1e-6, 1)
  o.tailQuantile = clamp(o.tailQuantile, 0.5, 0.999)
  o.dampDecay = clamp(o.dampDecay, 0, 1)
  o.dampFactor = clamp(o.dampFactor, 0, 1)
  o.minBeta = Math.max(1e-9, o.minBeta)
  o.power = clamp(o.power, 0.25, 4)
  o.valueWindow = Math.max(0, Math.floor(o.valueWindow))
  if (o.valueWindow > 0 && o.valueWindow < 8) o.valueWindow = 8
  o.diffWindow = Math.max(0, Math.floor(o.diffWindow))
  if (o.diffWindow > 0 && o.diffWindow < 8) o.diffWindow = 8
  o.valueQuantile = clamp(o.valueQuantile, 0.5, 0.999)
  o.valueMinBeta = Math.max(0, o.valueMinBeta)
  return o
}

/** log10 of the two-sided Gaussian tail P(|Z| > z), accurate far into the tail. */
function log10GaussTail2(z: number): number {
  if (z < 8) return Math.log10(Math.max(2 * normalTail(z), 1e-300))
  // asymptotic expansion of the Mills ratio
  return (-(z * z) / 2 - Math.log(z) - 0.5 * Math.log(2 * Math.PI) + Math.log(2) + Math.log(1 - 1 / (z * z))) * Math.LOG10E
}

export class AnomalyDetector {
  private s: DetectorState

  constructor(opts: Partial<DetectorOptions> = {}) {
    const options = normaliseOptions(opts)
    this.s = {
      version: 2,
      options,
      n: 0,
      lastTimestamp: null,
      lastValue: null,
      lastScore: 0,
      ewMean: 0,
      ewVar: 0,
      values: ringCreate(options.window),
      zs: ringCreate(options.sustainK),
      zSum: 0,
      tailPoint: tailCreate(options.tailWindow),
      tailSustain: tailCreate(options.tailWindow),
      recentMax: 0,
      valueTail: options.valueWindow > 0 ? valueTailCreate(options.valueWindow) : null,
      diffTail: options.diffWindow > 0 ? valueTailCreate(options.diffWindow) : null,
    }
  }

  get options(): Readonly<DetectorOptions> {
    return this.s.options
  }

  /** Number of points learned so far. */
  get count(): number {
    return this.s.n
  }

  /** Score of the latest point. */
  get lastScore(): number {
    return this.s.lastScore
  }

  /**
   * Learn one point and return its anomaly score in [0, 1]. Non-finite values
   * are ignored (score 0, nothing learned).
   */
  update(value: number, timestampMs: number = Date.now()): number {
    const s = this.s
    const o = s.options
    if (!Number.isFinite(value)) return 0

    // ---- 1. surprise against the state before this point
    let z = 0
    if (s.n >= 1) {
      const scale = Math.abs(s.ewMean) + 1e-6
      const sd = Math.sqrt(s.ewVar) + 1e-6 * scale
      z = (value - s.ewMean) / sd
      if (z > 1e6) z = 1e6
      else if (z < -1e6) z = -1e6
    }

    // ---- 2. learn the value
    if (s.n === 0) {
      s.ewMean = value
      s.ewVar = 0
    } else {
      let d = value - s.ewMean
      if (o.clip > 0 && s.n > o.baseline) {
        const lim = o.clip * Math.sqrt(s.ewVar)
        if (d > lim) d = lim
        else if (d < -lim) d = -lim
      }
      s.ewMean += o.alpha * d
      s.ewVar = (1 - o.alpha) * (s.ewVar + o.alpha * d * d)
    }
    const prevValue = s.lastValue
    ringPush(s.values, value)
    s.n++
    s.lastTimestamp = Number.isFinite(timestampMs) ? timestampMs : s.lastTimestamp
    s.lastValue = value

    // value-extremeness model: scored against the history before this point
    let lv = 0
    const vtm = s.valueTail
    if (vtm !== null) {
      if (vtm.fitted >= Math.max(2, Math.min(o.minFit, o.baseline))) lv = valueTailLog10(vtm, value)
      valueTailAdd(vtm, value)
      if (vtm.sinceRefresh >= o.tailRefresh || vtm.fitted < o.minFit) valueTailRefresh(vtm, o.valueQuantile, o.valueMinBeta)
    }

    let ld = 0
    const dtm = s.diffTail
    if (dtm !== null && prevValue !== null) {
      const dv = value - prevValue
      if (dtm.fitted >= Math.max(2, Math.min(o.minFit, o.baseline))) ld = valueTailLog10(dtm, dv)
      valueTailAdd(dtm, dv)
      if (dtm.sinceRefresh >= o.tailRefresh || dtm.fitted < o.minFit) valueTailRefresh(dtm, o.valueQuantile, o.valueMinBeta)
    }

    if (s.n <= o.baseline) {
      s.lastScore = 0
      return 0
    }

    // sustained statistic
    const old = ringPush(s.zs, z)
    s.zSum += z - (Number.isNaN(old) ? 0 : old)
    const zMean = s.zSum / s.zs.size

    const aPoint = Math.abs(z)
    const aSus = Math.abs(zMean) * Math.sqrt(s.zs.size)
    const sPoint = o.power === 1 ? aPoint : Math.pow(aPoint, o.power)
    const sSus = o.power === 1 ? aSus : Math.pow(aSus, o.power)

    // ---- 3. calibrated tail probabilities
    const tp = s.tailPoint
    const ts = s.tailSustain
    let lp = 0
    let ls = 0
    if (o.usePoint > 0) {
      lp = tp.fitted >= o.minFit ? tailLog10(tp, sPoint) : log10GaussTail2(aPoint)
      tailAdd(tp, sPoint)
      if (tp.sinceRefresh >= o.tailRefresh || tp.fitted < o.minFit) tailRefresh(tp, o.tailQuantile, o.minBeta)
    }
    if (o.useSustain > 0) {
      ls = ts.fitted >= o.minFit ? tailLog10(ts, sSus) : log10GaussTail2(aSus)
      tailAdd(ts, sSus)
      if (ts.sinceRefresh >= o.tailRefresh || ts.fitted < o.minFit) tailRefresh(ts, o.tailQuantile, o.minBeta)
    }
    let logTail = Math.min(o.usePoint > 0 ? lp : 0, o.useSustain > 0 ? ls : 0)
    let nTests = (o.usePoint > 0 ? 1 : 0) + (o.useSustain > 0 ? 1 : 0)
    if (s.valueTail !== null) {
      if (nTests === 0) logTail = lv
      else if (o.combine <= 0) logTail = Math.min(lv, logTail)
      else logTail = Math.min(lv, logTail) * (1 - o.combine) + Math.max(lv, logTail) * o.combine
      nTests++
    }
    if (s.diffTail !== null) {
      logTail = nTests === 0 ? ld : Math.min(ld, logTail)
      nTests++
    }
    if (nTests > 1) logTail += Math.log10(nTests)

    // (+ 0 turns -0 into 0 so that scores and state survive JSON unchanged)
    let score = clamp(-logTail / 10, 0, 1) + 0

    // ---- 4. damping of repeated alerts
    if (o.dampDecay > 0) {
      const prevMax = s.recentMax * o.dampDecay
      if (score <= prevMax) {
        s.recentMax = prevMax
        score *= o.dampFactor
      } else {
        s.recentMax = score
      }
    }

    s.lastScore = score
    return score
  }

  /** Evidence for the latest point (or for `observed` if given). */
  evidence(k = 3, observed?: number): AnomalyEvidence | null {
    return evidenceFromWindow(ringValues(this.s.values), observed ?? this.s.lastValue ?? Number.NaN, k)
  }

  toJSON(): DetectorState {
    const s = this.s
    return {
      ...s,
      options: { ...s.options },
      values: ringClone(s.values),
      zs: ringClone(s.zs),
      tailPoint: tailClone(s.tailPoint),
      tailSustain: tailClone(s.tailSustain),
      valueTail: s.valueTail === null ? null : valueTailClone(s.valueTail),
      diffTail: s.diffTail === null ? null : valueTailClone(s.diffTail),
    }
  }

  static fromJSON(state: DetectorState | string): AnomalyDetector {
    const st: DetectorState = typeof state === 'string' ? (JSON.parse(state) as DetectorState) : state
    validateState(st)
    const d = new AnomalyDetector(st.options)
    d.s = {
      ...st,
      options: normaliseOptions(st.options),
      values: ringClone(st.values),
      zs: ringClone(st.zs),
      tailPoint: tailClone(st.tailPoint),
      tailSustain: tailClone(st.tailSustain),
      valueTail: st.valueTail === null ? null : valueTailClone(st.valueTail),
      diffTail: st.diffTail === null ? null : valueTailClone(st.diffTail),
    }
    return d
  }
}

function isTail(t: unknown, cap: number): t is TailState {
  if (typeof t !== 'object' || t === null) return false
  const x = t as TailState
  return (
    isRing(x.hist) &&
    x.hist.cap === cap &&
    [x.sinceRefresh, x.u, x.beta, x.frac, x.fitted].every((v) => typeof v === 'number' && Number.isFinite(v)) &&
    x.beta > 0 &&
    x.frac > 0
  )
}

function validateState(st: DetectorState): void {
  if (typeof st !== 'object' || st === null || st.version !== 2 || typeof st.options !== 'object' || st.options === null) {
    throw new Error('anomaly: unsupported detector state')
  }
  const nums: (keyof DetectorState)[] = ['n', 'lastScore', 'ewMean', 'ewVar', 'zSum', 'recentMax']
  for (const k of nums) {
    if (typeof st[k] !== 'number' || !Number.isFinite(st[k] as number)) throw new Error(`anomaly: bad state field ${k}`)
  }
  const o = normaliseOptions(st.options)
  if (!isRing(st.values) || st.values.cap !== o.window || !isRing(st.zs) || st.zs.cap !== o.sustainK) {
    throw new Error('anomaly: bad ring buffer in state')
  }
  if (!isTail(st.tailPoint, o.tailWindow) || !isTail(st.tailSustain, o.tailWindow)) throw new Error('anomaly: bad tail model in state')
  if (o.valueWindow > 0 ? !(st.valueTail && isRing(st.valueTail.hist) && st.valueTail.hist.cap === o.valueWindow) : st.valueTail !== null) {
    throw new Error('anomaly: bad value model in state')
  }
  if (o.diffWindow > 0 ? !(st.diffTail && isRing(st.diffTail.hist) && st.diffTail.hist.cap === o.diffWindow) : st.diffTail !== null) {
    throw new Error('anomaly: bad jump model in state')
  }
}

/**
 * Evidence helper: expected range (mean +- k*sd, and quantiles) of a window of
 * recent values, and where `observed` sits. Returns null for an empty window.
 */
export function evidenceFromWindow(values: readonly number[], observed: number, k = 3): AnomalyEvidence | null {
  const n = values.length
  if (n === 0) return null
  let sum = 0
  for (const v of values) sum += v
  const mean = sum / n
  let ss = 0
  for (const v of values) ss += (v - mean) * (v - mean)
  const sd = n > 1 ? Math.sqrt(ss / (n - 1)) : 0
  const sorted = values.slice()
  const p01 = quantileInPlace(sorted, 0.01)
  const p50 = quantileInPlace(sorted, 0.5)
  const p99 = quantileInPlace(sorted, 0.99)
  return {
    observed,
    mean,
    sd,
    expectedLow: mean - k * sd,
    expectedHigh: mean + k * sd,
    p01,
    p50,
    p99,
    zScore: sd > 0 ? (observed - mean) / sd : observed === mean ? 0 : Math.sign(observed - mean) * Number.MAX_VALUE,
    samples: n,
  }
}
