/**
 * Small numeric helpers for the anomaly detector (no dependencies).
 */

/**
 * Complementary error function with small relative error over the whole real
 * line (Chebyshev fit, Numerical Recipes `erfcc`; fractional error < 1.2e-7),
 * so that far tails (1e-10 and below) keep their precision.
 */
export function erfc(x: number): number {
  const z = Math.abs(x)
  const t = 1 / (1 + 0.5 * z)
  const r =
    t *
    Math.exp(
      -z * z -
        1.26551223 +
        t *
          (1.00002368 +
            t *
              (0.37409196 +
                t *
                  (0.09678418 +
                    t *
                      (-0.18628806 +
                        t *
                          (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    )
  return x >= 0 ? r : 2 - r
}

/** Upper tail probability of the standard normal: P(Z > z). */
export function normalTail(z: number): number {
  return 0.5 * erfc(z / Math.SQRT2)
}

/** Clamp to [lo, hi]. */
export function clamp(x: number, lo: number, hi: number): number {
  return x < lo ? lo : x > hi ? hi : x
}

/** A fixed-capacity ring buffer of numbers whose whole state is plain JSON. */
export interface Ring {
  /** capacity */
  cap: number
  /** index of the next write */
  head: number
  /** number of valid entries (<= cap) */
  size: number
  data: number[]
}

export function ringCreate(cap: number): Ring {
  return { cap, head: 0, size: 0, data: new Array<number>(cap).fill(0) }
}

/** Push a value; returns the value that was overwritten (or NaN if none). */
export function ringPush(r: Ring, v: number): number {
  const old = r.size === r.cap ? r.data[r.head] : Number.NaN
  r.data[r.head] = v
  r.head = r.head + 1 === r.cap ? 0 : r.head + 1
  if (r.size < r.cap) r.size++
  return old
}

/** The k-th most recent value (k = 0 is the newest). Caller ensures k < size. */
export function ringAt(r: Ring, k: number): number {
  let i = r.head - 1 - k
  if (i < 0) i += r.cap
  return r.data[i]
}

/** Copy of the valid values, oldest first. */
export function ringValues(r: Ring): number[] {
  const out = new Array<number>(r.size)
  for (let k = 0; k < r.size; k++) out[r.size - 1 - k] = ringAt(r, k)
  return out
}

export function ringClone(r: Ring): Ring {
  return { cap: r.cap, head: r.head, size: r.size, data: r.data.slice() }
}

export function isRing(x: unknown): x is Ring {
  if (typeof x !== 'object' || x === null) return false
  const r = x as Ring
  return (
    Number.isInteger(r.cap) &&
    r.cap > 0 &&
    Number.isInteger(r.head) &&
    Number.isInteger(r.size) &&
    r.size >= 0 &&
    r.size <= r.cap &&
    r.head >= 0 &&
    r.head < r.cap &&
    Array.isArray(r.data) &&
    r.data.length === r.cap &&
    r.data.every((v) => typeof v === 'number' && Number.isFinite(v))
  )
}

/** Quantile (linear interpolation, q in [0,1]) of an array (sorted in place). */
export function quantileInPlace(values: number[], q: number): number {
  if (values.length === 0) return Number.NaN
  values.sort((a, b) => a - b)
  const pos = clamp(q, 0, 1) * (values.length - 1)
  const lo = Math.floor(pos)
  const hi = Math.ceil(pos)
  return values[lo] + (values[hi] - values[lo]) * (pos - lo)
}
