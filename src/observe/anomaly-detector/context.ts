/**
 * Contextual novelty model, in the spirit of NAB's contextual anomaly
 * detector: quantise the values, remember which short sequences of levels
 * have occurred, and flag a point that continues the recent levels in a way
 * never seen before.
 *
 * Each value is quantised into `levels` equal bins between the robust range
 * [lo, hi] supplied by the caller (the value model's tail thresholds), plus
 * one bin below and one above it. For every order k = 1..order the transition
 * "last k levels -> this level" is hashed into a bit set of 2^tableBits bits.
 * The novelty of a point is decided by the shortest order whose transition
 * was never seen: 1 when even the last level never led to this one, down to
 * 1/order when only the longest context is new, 0 when every order is known.
 * Memory is fixed: two generations of 2^tableBits bits (see the rotation in contextUpdate).
 */
import { clamp } from './stats'

export interface ContextModel {
  /** most recent levels, newest last (at most `order`) */
  recent: number[]
  /** bit set of seen transitions (the current generation) */
  seen: Uint8Array
  /** the previous generation (null until the first rotation) */
  old: Uint8Array | null
  /** bits set in `seen` */
  fill: number
}

export interface ContextShape {
  levels: number
  order: number
  tableBits: number
  /** fraction of the bits set at which a new generation starts (0 = never) */
  maxFill: number
  /** start value of the transition hash (FNV-1a's offset basis by default) */
  seed?: number
}

const tableBytes = (shape: ContextShape) => Math.max(1, (1 << shape.tableBits) >>> 3)

export function contextCreate(shape: ContextShape): ContextModel {
  return { recent: [], seen: new Uint8Array(tableBytes(shape)), old: null, fill: 0 }
}

export function contextClone(c: ContextModel): ContextModel {
  return { recent: c.recent.slice(), seen: c.seen.slice(), old: c.old ? c.old.slice() : null, fill: c.fill }
}

/** JSON form: the bit sets as base64 (about 1.3 characters per byte). */
export interface ContextJson {
  recent: number[]
  seen: string
  /** absent before the first rotation, and in states saved before generations existed */
  old?: string
}

export function contextToJson(c: ContextModel): ContextJson {
  return {
    recent: c.recent.slice(),
    seen: Buffer.from(c.seen).toString('base64'),
    ...(c.old ? { old: Buffer.from(c.old).toString('base64') } : {}),
  }
}

function popcount(bytes: Uint8Array): number {
  let n = 0
  for (let b of bytes) {
    while (b) {
      b &= b - 1
      n++
    }
  }
  return n
}

export function contextFromJson(j: ContextJson, shape: ContextShape): ContextModel {
  if (
    typeof j !== 'object' ||
    j === null ||
    typeof j.seen !== 'string' ||
    !Array.isArray(j.recent) ||
    (j.old !== undefined && typeof j.old !== 'string')
  ) {
    throw new Error('anomaly: bad context model in state')
  }
  const bytes = Buffer.from(j.seen, 'base64')
  const old = j.old !== undefined ? Buffer.from(j.old, 'base64') : null
  const expected = tableBytes(shape)
  if (bytes.length !== expected || (old && old.length !== expected))
    throw new Error('anomaly: context table size does not match the options')
  if (j.recent.length > shape.order || !j.recent.every((v) => Number.isInteger(v) && v >= 0 && v < shape.levels + 2)) {
    throw new Error('anomaly: bad context levels in state')
  }
  const seen = new Uint8Array(bytes)
  return { recent: j.recent.slice(), seen, old: old ? new Uint8Array(old) : null, fill: popcount(seen) }
}

/** FNV-1a style mixing of small integers into a 32-bit hash. */
function mix(h: number, x: number): number {
  return Math.imul(h ^ x, 16777619) >>> 0
}

/** Learn one value (or with `learn` false only judge it); returns its novelty in [0, 1]. */
export function contextUpdate(
  c: ContextModel,
  x: number,
  lo: number,
  hi: number,
  shape: ContextShape,
  learn = true,
): number {
  const { levels, order } = shape
  const span = hi - lo
  // bins 1..levels inside [lo, hi], 0 below, levels + 1 above
  const level =
    span > 0 ? clamp(Math.floor(((x - lo) / span) * levels), -1, levels) + 1 : x < lo ? 0 : x > hi ? levels + 1 : 1
  const mask = (1 << shape.tableBits) - 1
  const r = c.recent
  let firstUnseen = 0
  let h = mix(shape.seed ?? 2166136261, level)
  for (let k = 1; k <= r.length; k++) {
    h = mix(mix(h, r[r.length - k] + 1), k)
    const slot = h & mask
    const byte = slot >>> 3
    const bit = 1 << (slot & 7)
    if ((c.seen[byte] & bit) === 0) {
      // seen in the previous generation: known, and carried into this one
      if (firstUnseen === 0 && (c.old === null || (c.old[byte] & bit) === 0)) firstUnseen = k
      if (!learn) {
        if (firstUnseen !== 0) break
        continue
      }
      c.seen[byte] |= bit
      c.fill++
    }
  }
  // A table that fills up answers "seen" for new transitions by collision, more so the longer the
  // series: past `maxFill`, the current generation becomes the previous one and a new one starts,
  // so what has not recurred for a whole generation is forgotten and the collision rate stays bounded.
  if (learn && shape.maxFill > 0 && c.fill > shape.maxFill * c.seen.length * 8) {
    c.old = c.seen
    c.seen = new Uint8Array(c.seen.length)
    c.fill = 0
  }
  if (!learn) return firstUnseen === 0 ? 0 : (order - firstUnseen + 1) / order
  r.push(level)
  if (r.length > order) r.shift()
  return firstUnseen === 0 ? 0 : (order - firstUnseen + 1) / order
}
