/**
 * A streaming CAD: the method of NAB's CAD OSE (reproduced row for row in cad-ose.ts) rewritten as a
 * live monitor would need it, studied for issue #24 as the candidate to ship and rejected by the
 * cross-validation (README, "Anomaly detection on NAB"). It stays here, beside the reference, so
 * the comparison can be rerun (`npm run bench:nab -- --cv --detectors cad,cad-file-range,...`).
 *
 * The method, per point: the value becomes a few "sensor facts" (the bits of its quantised level);
 * the previous step's facts (its sensor facts plus the ids of the contexts that were wholly
 * confirmed, as "neuron" facts) and the new sensor facts form a context "left -> right". Every
 * stored context whose left side the previous facts contain is "selected"; one whose right side
 * occurred as well is "active". When this step's context was never seen, the partial overlaps of
 * the stored first-level contexts become new, shorter contexts. The score is
 *   (1 - active / selected + new contexts / possible new contexts) / 2.
 * While any raw score of the last `restPoints` reached `restLevel`, the point scores 0.
 *
 * What a live monitor needs that CAD OSE does not have:
 *  - A range. CAD OSE is handed each file's minimum and maximum before it starts. Here the first
 *    `warmup` values fix the range (widened by `margin` of it on each side; `running` widens it to
 *    every value instead); a value outside it gets a level of its own (more bits above, a fact space
 *    of its own below), so a level shift or a drop to zero forms contexts never seen.
 *  - Bounded memory. CAD OSE keeps every context (64 000 on a 4 000-point noise file). Here a store
 *    holds at most `maxContexts`; at half, a successor store starts learning beside it and takes
 *    over when the first is full (at most twice `maxContexts` in all), so learning goes on in
 *    fixed memory with no blind spot.
 * Ties between equally active contexts go to the older context (CAD OSE breaks them by Python 2's
 * tuple hashes). Told the file's range and given CAD OSE's first-context quirk (`skipFirst`), it
 * gives CAD OSE's rows exactly on the files where no such tie arises, and the same fold scores
 * within noise on the rest (cad-stream.test.ts, and the `cad-as-ose` candidate).
 *
 * Why it is not shipped: without the file's range it loses 6 to 30 points of the folds' mean
 * whatever the warm-up, margin or running range, and it is 50 to 100 times slower than the shipped
 * detector (the inverted index is crossed by sensor facts that half of all contexts hold).
 */

export interface CadOptions {
  /** values that fix the range before any score (score 0 until then) */
  warmup: number
  /** the range is widened by this fraction of itself on each side */
  margin: number
  /** bits of the quantised level inside the range (2^bits levels) */
  bits: number
  /** longest left side of a context formed from partial overlaps */
  maxLeft: number
  /** active contexts carried to the next step as neuron facts */
  maxActive: number
  /** a store holds at most this many contexts (a successor starts at half) */
  maxContexts: number
  /** a score at least this starts a rest */
  restLevel: number
  /** points after such a score that score 0 */
  restPoints: number
  /** keep widening the range to every value seen (true), or fix it after the warm-up (false) */
  running: boolean
  /** CAD OSE's quirk: the first context is never selected unless a new one was just stored */
  skipFirst: boolean
  /** a known range [min, max] instead of the warm-up (NAB hands its detectors the file's; tests) */
  range?: [number, number]
}

export const DEFAULT_CAD_OPTIONS: CadOptions = {
  warmup: 600,
  margin: 1,
  bits: 3,
  maxLeft: 7,
  maxActive: 15,
  maxContexts: 8192,
  restLevel: 0.75,
  restPoints: 120,
  skipFirst: false,
  running: false,
}

/** Neuron facts are this plus a context id; sensor facts stay far below it. */
const NEURON = 1 << 16
/** Sensor facts of levels below and above the range: fact spaces of their own. */
const BELOW = 1 << 8
const ABOVE = 1 << 9

/** A growable list of ints. */
class IntList {
  a: Int32Array
  n = 0
  constructor(cap = 16) {
    this.a = new Int32Array(cap)
  }
  push(x: number): void {
    if (this.n === this.a.length) {
      const b = new Int32Array(this.a.length * 2)
      b.set(this.a)
      this.a = b
    }
    this.a[this.n++] = x
  }
}

/**
 * One store of contexts. Semi-contexts (the left and right sides) are fact sets shared between
 * contexts; an inverted index from each fact to the semi-contexts holding it finds, for a step's
 * facts, how many of each semi-context's facts occurred.
 */
class ContextStore {
  /** semi-context facts, flat; offsets per semi-context */
  private readonly semiFacts = new IntList(1024)
  private readonly semiStart = new IntList(256)
  private readonly semiLen = new IntList(256)
  private readonly semiByKey = new Map<string, number>()
  /** fact -> semi-contexts holding it (left and right sides share ids: a semi is either) */
  private readonly byFact = new Map<number, IntList>()
  /** per left semi: its contexts (ids), as a linked list through ctxNext */
  private readonly leftFirst = new IntList(256)
  /** per context */
  private readonly ctxRight = new IntList(256)
  private readonly ctxNext = new IntList(256)
  private readonly ctxZero = new IntList(256)
  private ctxSelected = new Float64Array(256)
  private ctxOccurred = new Float64Array(256)
  private ctxActive = new Float64Array(256)
  /** (left, right) -> context id */
  private readonly ctxByPair = new Map<number, Map<number, number>>()
  /** overlap counts of the current crossing, per semi; and which semis were touched */
  private leftCount = new Int32Array(256)
  private rightCount = new Int32Array(256)
  private touchedLeft = new IntList(256)
  private touchedRight = new IntList(256)
  /** the step's left facts, as a set for the partial crossings */
  private leftFactSet = new Set<number>()
  /** the context of this step, excluded from its own crossing (as in CAD OSE) */
  private newContext = -1
  /** points learned */
  points = 0

  get contexts(): number {
    return this.ctxRight.n
  }

  private semi(facts: readonly number[]): number {
    const key = facts.join(',')
    let id = this.semiByKey.get(key)
    if (id !== undefined) return id
    id = this.semiStart.n
    this.semiByKey.set(key, id)
    this.semiStart.push(this.semiFacts.n)
    this.semiLen.push(facts.length)
    this.leftFirst.push(-1)
    for (const f of facts) {
      this.semiFacts.push(f)
      let list = this.byFact.get(f)
      if (!list) this.byFact.set(f, (list = new IntList(8)))
      list.push(id)
    }
    if (id >= this.leftCount.length) {
      const l = new Int32Array(this.leftCount.length * 2)
      l.set(this.leftCount)
      this.leftCount = l
      const r = new Int32Array(this.rightCount.length * 2)
      r.set(this.rightCount)
      this.rightCount = r
    }
    return id
  }

  /** Store a context unless known; returns [id, whether it was new]. */
  private add(left: readonly number[], right: readonly number[], zero: boolean): [number, boolean] {
    const l = this.semi(left)
    const r = this.semi(right)
    let rights = this.ctxByPair.get(l)
    if (!rights) this.ctxByPair.set(l, (rights = new Map()))
    const known = rights.get(r)
    if (known !== undefined) {
      if (zero) this.ctxZero.a[known] = 1
      return [known, false]
    }
    const id = this.ctxRight.n
    rights.set(r, id)
    this.ctxRight.push(r)
    this.ctxNext.push(this.leftFirst.a[l])
    this.leftFirst.a[l] = id
    this.ctxZero.push(zero ? 1 : 0)
    if (id >= this.ctxSelected.length) {
      const grow = (x: Float64Array) => {
        const y = new Float64Array(x.length * 2)
        y.set(x)
        return y
      }
      this.ctxSelected = grow(this.ctxSelected)
      this.ctxOccurred = grow(this.ctxOccurred)
      this.ctxActive = grow(this.ctxActive)
    }
    return [id, true]
  }

  private facts(semi: number): Int32Array {
    const s = this.semiStart.a[semi]
    return this.semiFacts.a.subarray(s, s + this.semiLen.a[semi])
  }

  /** Count, per semi-context, how many of `facts` it holds; returns the touched semis. */
  private cross(facts: readonly number[], counts: Int32Array, touched: IntList): void {
    for (let i = 0; i < touched.n; i++) counts[touched.a[i]] = 0
    touched.n = 0
    for (const f of facts) {
      const list = this.byFact.get(f)
      if (!list) continue
      for (let i = 0; i < list.n; i++) {
        const s = list.a[i]
        if (counts[s] === 0) touched.push(s)
        counts[s]++
      }
    }
  }

  /**
   * One step: `left` are the previous step's facts (empty on the first), `sensors` the new sensor
   * facts. Returns the raw score parts and the next step's left facts.
   */
  step(
    left: readonly number[],
    sensors: readonly number[],
    maxLeft: number,
    maxActive: number,
    skipFirst: boolean,
  ): { selectedActive: number; addedNew: number; next: number[] } {
    this.points++
    let isNew = false
    const unique = new Set<string>()
    if (left.length > 0 && sensors.length > 0) {
      unique.add(`${left.join(',')}|${sensors.join(',')}`)
      const [id, created] = this.add(left, sensors, true)
      isNew = created
      this.newContext = created ? id : -1
    }

    // right side: the new sensor facts against the contexts the previous left facts selected
    this.cross(sensors, this.rightCount, this.touchedRight)
    let selected = 0
    const active: number[] = []
    const potential: [number[], number[]][] = []
    const tl = this.touchedLeft
    for (let i = 0; i < tl.n; i++) {
      const l = tl.a[i]
      const lc = this.leftCount[l]
      const whole = lc === this.semiLen.a[l]
      if (!whole && !(isNew && lc <= maxLeft)) continue
      for (let c = this.leftFirst.a[l]; c >= 0; c = this.ctxNext.a[c]) {
        if (c === this.newContext || (skipFirst && this.newContext < 0 && c === 0)) continue
        const r = this.ctxRight.a[c]
        const rc = this.rightCount[r]
        const rlen = this.semiLen.a[r]
        if (whole) {
          selected++
          this.ctxSelected[c] += rlen
          if (rc > 0) {
            this.ctxOccurred[c] += rc
            if (rc === rlen) {
              this.ctxActive[c]++
              active.push(c)
            } else if (isNew && this.ctxZero.a[c] === 1 && lc <= maxLeft) {
              potential.push([this.overlap(l, left), this.overlap(r, sensors)])
            }
          }
        } else if (rc > 0 && this.ctxZero.a[c] === 1) {
          potential.push([this.overlap(l, left), this.overlap(r, sensors)])
        }
      }
    }
    this.newContext = -1
    const selectedActive = selected > 0 ? active.length / selected : 0

    // the most often active contexts become neuron facts (ties: the older context)
    if (active.length > maxActive) {
      active.sort((a, b) => this.ctxActive[a] - this.ctxActive[b] || b - a)
      active.splice(0, active.length - maxActive)
    }
    const next = sensors.slice()
    for (const c of active) next.push(NEURON + c)
    next.sort((a, b) => a - b)

    // store the new shorter contexts, then cross the next left facts for the next step
    let added = 0
    for (const [pl, pr] of potential) {
      const key = `${pl.join(',')}|${pr.join(',')}`
      if (unique.has(key)) continue
      unique.add(key)
      if (this.add(pl, pr, false)[1]) added++
    }
    this.cross(next, this.leftCount, this.touchedLeft)
    const addedNew = isNew && unique.size > 0 ? (added + 1) / unique.size : 0
    return { selectedActive, addedNew, next }
  }

  /** The facts of a semi-context that are in `facts` (both sorted). */
  private overlap(semi: number, facts: readonly number[]): number[] {
    const mine = this.facts(semi)
    const out: number[] = []
    let j = 0
    for (let i = 0; i < mine.length; i++) {
      const f = mine[i]
      while (j < facts.length && facts[j] < f) j++
      if (j < facts.length && facts[j] === f) out.push(f)
    }
    return out
  }
}

/**
 * Sensor facts of a quantised level: its `bits` bits inside the range (0 .. 2^bits - 1); a level
 * above or below the range gets the bits of its distance from the range in a fact space of its
 * own, so it shares no fact with a level inside it (CAD OSE's levels never leave the range; with
 * shared bits, a level of 9 would confirm every context that predicted a 1).
 */
export function sensorFacts(level: number, bits: number): number[] {
  const top = 2 ** bits - 1
  const base = level < 0 ? BELOW : level > top ? ABOVE : 0
  const magnitude = level < 0 ? -level - 1 : level > top ? level - top - 1 : level
  const width = Math.max(bits, magnitude > 0 ? Math.floor(Math.log2(magnitude)) + 1 : 0)
  const out: number[] = []
  for (let k = 0; k < width && k < 64; k++) out.push(base + k * 2 + (Math.floor(magnitude / 2 ** k) % 2))
  return out
}

export class StreamingCad {
  readonly options: CadOptions
  private readonly warm: number[] = []
  private lo = 0
  private step = 1
  private primary = new ContextStore()
  private successor: ContextStore | null = null
  private leftPrimary: number[] = []
  private leftSuccessor: number[] = []
  private restLeft = 0

  constructor(opts: Partial<CadOptions> = {}) {
    this.options = { ...DEFAULT_CAD_OPTIONS, ...opts }
    const r = this.options.range
    if (r) {
      this.options.warmup = 0
      this.lo = r[0]
      this.step = r[1] > r[0] ? (r[1] - r[0]) / (2 ** this.options.bits - 1) : 1
      // CAD OSE rests from its first point
      this.restLeft = this.options.restPoints
    }
  }

  get contexts(): number {
    return this.primary.contexts + (this.successor?.contexts ?? 0)
  }

  update(value: number): number {
    const o = this.options
    if (!Number.isFinite(value)) return 0
    if (this.warm.length < o.warmup) {
      this.warm.push(value)
      if (this.warm.length === o.warmup) {
        let min = Infinity
        let max = -Infinity
        for (const v of this.warm) {
          if (v < min) min = v
          if (v > max) max = v
        }
        const levels = 2 ** o.bits
        const range = max - min
        const lo = min - range * o.margin
        const hi = max + range * o.margin
        // a constant warm-up: one level per 1 % of the value (or per unit at 0)
        this.lo = hi > lo ? lo : min - (Math.abs(min) * 0.01 * levels) / 2 || min - levels / 2
        this.step = hi > lo ? (hi - lo) / (levels - 1) : Math.abs(min) * 0.01 || 1
        for (const v of this.warm) this.learn(v)
      }
      return 0
    }
    const raw = this.learn(value)
    // as CAD OSE: a point scores 0 while any raw score of the last `restPoints` reached the level
    const resting = this.restLeft > 0
    if (resting) this.restLeft--
    if (raw >= o.restLevel) this.restLeft = o.restPoints
    return resting ? 0 : raw
  }

  private min = Infinity
  private max = -Infinity

  private learn(value: number): number {
    const o = this.options
    if (o.running) {
      if (value < this.min) this.min = value
      if (value > this.max) this.max = value
      const range = this.max - this.min
      const levels = 2 ** o.bits
      this.lo = this.min - range * o.margin
      this.step = range > 0 ? (range * (1 + 2 * o.margin)) / (levels - 1) : 1
    }
    const sensors = sensorFacts(Math.floor((value - this.lo) / this.step), o.bits).sort((a, b) => a - b)
    const p = this.primary.step(this.leftPrimary, sensors, o.maxLeft, o.maxActive, o.skipFirst)
    this.leftPrimary = p.next
    if (this.successor === null && this.primary.contexts >= o.maxContexts / 2) {
      this.successor = new ContextStore()
      this.leftSuccessor = []
    }
    if (this.successor !== null) {
      this.leftSuccessor = this.successor.step(this.leftSuccessor, sensors, o.maxLeft, o.maxActive, o.skipFirst).next
      if (this.primary.contexts >= o.maxContexts) {
        this.primary = this.successor
        this.leftPrimary = this.leftSuccessor
        this.successor = null
      }
    }
    return (1 - p.selectedActive + p.addedNew) / 2
  }
}
