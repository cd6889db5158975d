/**
 * Two-sided peaks-over-threshold model of a series' recent values (extreme
 * value theory, as in SPOT): how unprecedented is a value compared with the
 * last ~`blocks * blockSize` values?
 *
 * Beyond the q-quantile u, excesses are modelled as exponential with the
 * observed mean excess beta, so P(X > x) = frac * exp(-(x - u) / beta).
 *
 * Only the tails matter, so instead of the raw history the model keeps, for
 * each block of `blockSize` consecutive values, its `keep` largest and `keep`
 * smallest values. With keep > (1 - q) * window the quantile and the excesses
 * computed from these are exact unless one block holds more than `keep` of the
 * window's extreme values (then they are slightly underestimated). The window
 * slides one block at a time. Memory: (blocks + 1) * 2 * keep numbers.
 */
export interface ValueTailState {
  /** completed blocks, oldest first: largest values (descending) and smallest values (ascending) */
  hiBlocks: number[][]
  loBlocks: number[][]
  /** block being filled */
  curHi: number[]
  curLo: number[]
  curCount: number
  /** observations since the last refit */
  sinceRefresh: number
  /** number of values the current fit is based on (0 = never fitted) */
  fitted: number
  uHi: number
  uLo: number
  betaHi: number
  betaLo: number
  fracHi: number
  fracLo: number
}

export interface ValueTailShape {
  blocks: number
  blockSize: number
  keep: number
}

export function valueTailCreate(): ValueTailState {
  return {
    hiBlocks: [],
    loBlocks: [],
    curHi: [],
    curLo: [],
    curCount: 0,
    sinceRefresh: 0,
    fitted: 0,
    uHi: 0,
    uLo: 0,
    betaHi: 1,
    betaLo: 1,
    fracHi: 1,
    fracLo: 1,
  }
}

export function valueTailClone(t: ValueTailState): ValueTailState {
  return {
    ...t,
    hiBlocks: t.hiBlocks.map((b) => b.slice()),
    loBlocks: t.loBlocks.map((b) => b.slice()),
    curHi: t.curHi.slice(),
    curLo: t.curLo.slice(),
  }
}

/** Insert x into a list kept sorted by `before` (at most `keep` entries). */
function insertBounded(list: number[], x: number, keep: number, descending: boolean): void {
  const n = list.length
  if (n >= keep && (descending ? x <= list[n - 1] : x >= list[n - 1])) return
  let i = n < keep ? n : n - 1
  if (n < keep) list.push(x)
  while (i > 0 && (descending ? list[i - 1] < x : list[i - 1] > x)) {
    list[i] = list[i - 1]
    i--
  }
  list[i] = x
}

export function valueTailAdd(t: ValueTailState, x: number, shape: ValueTailShape): void {
  insertBounded(t.curHi, x, shape.keep, true)
  insertBounded(t.curLo, x, shape.keep, false)
  t.curCount++
  t.sinceRefresh++
  if (t.curCount >= shape.blockSize) {
    t.hiBlocks.push(t.curHi)
    t.loBlocks.push(t.curLo)
    if (t.hiBlocks.length > shape.blocks) {
      t.hiBlocks.shift()
      t.loBlocks.shift()
    }
    t.curHi = []
    t.curLo = []
    t.curCount = 0
  }
}

let scratch = new Float64Array(512)

/** Gather the retained extremes of one side, sorted descending (hi) or ascending (lo). */
function gather(blocks: number[][], cur: number[], descending: boolean): Float64Array {
  let len = cur.length
  for (const b of blocks) len += b.length
  if (scratch.length < len) scratch = new Float64Array(len * 2)
  const a = scratch.subarray(0, len)
  let j = 0
  for (const b of blocks) for (const v of b) a[j++] = v
  for (const v of cur) a[j++] = v
  a.sort()
  if (descending) a.reverse()
  return a
}

/** Refit the two tails: q-quantile thresholds, fractions beyond them and mean excesses. */
export function valueTailRefresh(t: ValueTailState, q: number, minBetaFrac: number, shape: ValueTailShape): void {
  const n = t.hiBlocks.length * shape.blockSize + t.curCount
  t.sinceRefresh = 0
  t.fitted = n
  if (n === 0) return
  // index (from the extreme end) of the q-quantile
  const m = Math.max(0, n - 1 - Math.floor(q * n))
  // the two sides share one scratch buffer: each is used up before the other is gathered
  const hi = gather(t.hiBlocks, t.curHi, true)
  const uHi = hi[Math.min(m, hi.length - 1)]
  const max = hi[0]
  const [cHi, bHi] = excesses(hi, uHi, 1)
  const lo = gather(t.loBlocks, t.curLo, false)
  const uLo = lo[Math.min(m, lo.length - 1)]
  const min = lo[0]
  const [cLo, bLo] = excesses(lo, uLo, -1)
  // a floor on the mean excess keeps a near-constant series from alerting on rounding noise
  const floor = minBetaFrac * (max - min) + 1e-9 * (Math.abs(uHi) + Math.abs(uLo) + 1e-9)
  t.uHi = uHi
  t.uLo = uLo
  t.fracHi = Math.max(cHi, 1) / n
  t.fracLo = Math.max(cLo, 1) / n
  t.betaHi = bHi > floor ? bHi : floor
  t.betaLo = bLo > floor ? bLo : floor
}

/** Number of values beyond u (`sorted` from the extreme end; `side` 1 above u, -1 below) and their mean excess. */
function excesses(sorted: Float64Array, u: number, side: 1 | -1): [number, number] {
  let sum = 0
  let count = 0
  for (let i = 0; i < sorted.length && side * (sorted[i] - u) > 0; i++) {
    sum += side * (sorted[i] - u)
    count++
  }
  return [count, count > 0 ? sum / count : 0]
}

/** log10 of the estimated probability of a value at least this extreme (0 inside the bulk). */
export function valueTailLog10(t: ValueTailState, x: number): number {
  if (x > t.uHi) return Math.log10(t.fracHi) - ((x - t.uHi) / t.betaHi) * Math.LOG10E
  if (x < t.uLo) return Math.log10(t.fracLo) - ((t.uLo - x) / t.betaLo) * Math.LOG10E
  return 0
}

function isNumList(x: unknown, max: number): x is number[] {
  return Array.isArray(x) && x.length <= max && x.every((v) => typeof v === 'number' && Number.isFinite(v))
}

export function isValueTail(x: unknown, shape: ValueTailShape): x is ValueTailState {
  if (typeof x !== 'object' || x === null) return false
  const t = x as ValueTailState
  return (
    Array.isArray(t.hiBlocks) &&
    Array.isArray(t.loBlocks) &&
    t.hiBlocks.length === t.loBlocks.length &&
    t.hiBlocks.length <= shape.blocks &&
    t.hiBlocks.every((b) => isNumList(b, shape.keep)) &&
    t.loBlocks.every((b) => isNumList(b, shape.keep)) &&
    isNumList(t.curHi, shape.keep) &&
    isNumList(t.curLo, shape.keep) &&
    Number.isInteger(t.curCount) &&
    t.curCount >= 0 &&
    t.curCount < shape.blockSize &&
    [t.sinceRefresh, t.fitted, t.uHi, t.uLo, t.betaHi, t.betaLo, t.fracHi, t.fracLo].every(
      (v) => typeof v === 'number' && Number.isFinite(v),
    ) &&
    t.betaHi > 0 &&
    t.betaLo > 0
  )
}
