import { ringCreate, ringPush, type Ring } from './stats'

/**
 * Streaming tail-probability estimator for a non-negative "surprise" statistic
 * (peaks-over-threshold, as in SPOT / extreme value theory):
 *  - u is the q-quantile of the recent history of the statistic,
 *  - excesses over u are modelled as exponential with mean beta,
 *  - P(S > s) = frac * exp(-(s - u) / beta) for s > u, and a log-linear
 *    interpolation between 1 (s = 0) and frac (s = u) below.
 * The quantile and mean excess are refreshed every `refresh` observations
 * from a bounded ring buffer, so memory and amortised time are bounded.
 */
export interface TailState {
  hist: Ring
  /** observations since the last refresh */
  sinceRefresh: number
  u: number
  beta: number
  frac: number
  /** number of samples the current fit is based on */
  fitted: number
}

export function tailCreate(cap: number): TailState {
  return { hist: ringCreate(cap), sinceRefresh: 0, u: 0, beta: 1, frac: 1, fitted: 0 }
}

export function tailClone(t: TailState): TailState {
  return { ...t, hist: { ...t.hist, data: t.hist.data.slice() } }
}

/** Fit u, beta, frac from the history. */
let scratchBuf = new Float64Array(1024)

export function tailRefresh(t: TailState, q: number, minBeta: number): void {
  const h = t.hist
  const n = h.size
  t.sinceRefresh = 0
  t.fitted = n
  if (n === 0) return
  if (scratchBuf.length < n) scratchBuf = new Float64Array(n)
  const scratch = scratchBuf.subarray(0, n)
  for (let i = 0; i < n; i++) scratch[i] = h.data[i]
  scratch.sort()
  let k = Math.floor(q * n)
  if (k > n - 1) k = n - 1
  const u = scratch[k]
  let sum = 0
  let cnt = 0
  for (let i = n - 1; i >= 0 && scratch[i] > u; i--) {
    sum += scratch[i] - u
    cnt++
  }
  t.u = u
  t.frac = Math.max(cnt, 1) / n
  const beta = cnt > 0 ? sum / cnt : 0
  t.beta = beta > minBeta ? beta : minBeta
}

/** log10 of the estimated P(S > s). */
export function tailLog10(t: TailState, s: number): number {
  const lf = Math.log10(t.frac)
  if (s > t.u) return lf - ((s - t.u) / t.beta) * Math.LOG10E
  if (t.u <= 0) return 0
  return (s / t.u) * lf
}

export function tailAdd(t: TailState, s: number): void {
  ringPush(t.hist, s)
  t.sinceRefresh++
}

/**
 * Two-sided peaks-over-threshold model of the values themselves: how
 * unprecedented is a value compared with the recent history of the series?
 */
export interface ValueTailState {
  hist: Ring
  sinceRefresh: number
  fitted: number
  uHi: number
  uLo: number
  betaHi: number
  betaLo: number
  fracHi: number
  fracLo: number
}

export function valueTailCreate(cap: number): ValueTailState {
  return { hist: ringCreate(cap), sinceRefresh: 0, fitted: 0, uHi: 0, uLo: 0, betaHi: 1, betaLo: 1, fracHi: 1, fracLo: 1 }
}

export function valueTailClone(t: ValueTailState): ValueTailState {
  return { ...t, hist: { ...t.hist, data: t.hist.data.slice() } }
}

export function valueTailRefresh(t: ValueTailState, q: number, minBetaFrac: number): void {
  const h = t.hist
  const n = h.size
  t.sinceRefresh = 0
  t.fitted = n
  if (n === 0) return
  if (scratchBuf.length < n) scratchBuf = new Float64Array(n)
  const a = scratchBuf.subarray(0, n)
  for (let i = 0; i < n; i++) a[i] = h.data[i]
  a.sort()
  let kHi = Math.floor(q * n)
  if (kHi > n - 1) kHi = n - 1
  let kLo = Math.floor((1 - q) * n)
  if (kLo > n - 1) kLo = n - 1
  const uHi = a[kHi]
  const uLo = a[kLo]
  let sHi = 0
  let cHi = 0
  for (let i = n - 1; i >= 0 && a[i] > uHi; i--) {
    sHi += a[i] - uHi
    cHi++
  }
  let sLo = 0
  let cLo = 0
  for (let i = 0; i < n && a[i] < uLo; i++) {
    sLo += uLo - a[i]
    cLo++
  }
  const floor = minBetaFrac * (a[n - 1] - a[0]) + 1e-9 * (Math.abs(a[n >> 1]) + 1e-9)
  t.uHi = uHi
  t.uLo = uLo
  t.fracHi = Math.max(cHi, 1) / n
  t.fracLo = Math.max(cLo, 1) / n
  const bHi = cHi > 0 ? sHi / cHi : 0
  const bLo = cLo > 0 ? sLo / cLo : 0
  t.betaHi = bHi > floor ? bHi : floor
  t.betaLo = bLo > floor ? bLo : floor
}

/** log10 of the estimated probability of a value at least this extreme (0 inside the bulk). */
export function valueTailLog10(t: ValueTailState, x: number): number {
  if (x > t.uHi) return Math.log10(t.fracHi) - ((x - t.uHi) / t.betaHi) * Math.LOG10E
  if (x < t.uLo) return Math.log10(t.fracLo) - ((t.uLo - x) / t.betaLo) * Math.LOG10E
  return 0
}

export function valueTailAdd(t: ValueTailState, x: number): void {
  ringPush(t.hist, x)
  t.sinceRefresh++
}
