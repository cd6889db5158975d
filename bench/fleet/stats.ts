/** Order statistics and the number formats of the fleet benchmark's tables. */

/** Linear-interpolated quantile (q in 0..1); NaN for no values. */
export function quantile(xs: number[], q: number): number {
  if (xs.length === 0) return NaN
  const s = [...xs].sort((a, b) => a - b)
  const pos = (s.length - 1) * q
  const lo = Math.floor(pos)
  return s[lo] + (s[Math.min(lo + 1, s.length - 1)] - s[lo]) * (pos - lo)
}

export const median = (xs: number[]) => quantile(xs, 0.5)

/** Milliseconds, right-aligned to `width`; "-" when there is no figure. */
export const ms = (x: number, width = 6) => (Number.isFinite(x) ? `${x.toFixed(0)}` : '-').padStart(width)

export const mib = (bytes: number, width = 6) =>
  (Number.isFinite(bytes) ? (bytes / 2 ** 20).toFixed(0) : '-').padStart(width)

export const pct = (x: number, width = 5) => (Number.isFinite(x) ? x.toFixed(1) : '-').padStart(width)

export const ratio = (a: number, b: number) => (Number.isFinite(a / b) && b > 0 ? (a / b).toFixed(2) : '-')
