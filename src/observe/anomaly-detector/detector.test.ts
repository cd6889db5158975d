import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { AnomalyDetector, DetectorRegistry, evidenceFromWindow } from './index'

/** Deterministic PRNG (mulberry32) and a Gaussian from it. */
function rng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
function gauss(r: () => number): () => number {
  return () => {
    const u = Math.max(r(), 1e-12)
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * r())
  }
}

const T0 = Date.UTC(2024, 0, 1)
const STEP = 5 * 60_000

/** Noisy series with a daily-ish cycle. */
function series(n: number, seed: number, f: (i: number, x: number) => number = (_i, x) => x): number[] {
  const g = gauss(rng(seed))
  const out: number[] = []
  for (let i = 0; i < n; i++) out.push(f(i, 50 + 10 * Math.sin((2 * Math.PI * i) / 288) + 2 * g()))
  return out
}

function runAll(det: AnomalyDetector, values: number[], start = 0): number[] {
  return values.map((v, i) => det.update(v, T0 + (start + i) * STEP))
}

describe('AnomalyDetector', () => {
  it('is silent (score 0) during the baseline, even for wild values', () => {
    const det = new AnomalyDetector()
    const wild = [1, 1e6, -5e5, 3, 0, 42, 1e9, 7, -1, 2, 1e7, 5, 5, 5, -1e8]
    assert.equal(wild.length, 15)
    assert.deepEqual(runAll(det, wild), new Array(15).fill(0))
    const det2 = new AnomalyDetector({ baseline: 40 })
    const s2 = runAll(
      det2,
      series(60, 1, (i, x) => (i % 7 === 0 ? x * 100 : x)),
    )
    assert.deepEqual(s2.slice(0, 40), new Array(40).fill(0))
    assert.ok(
      s2.slice(40).some((s) => s > 0),
      'scores after the baseline are not all zero',
    )
  })

  it('returns finite scores in [0, 1]', () => {
    const det = new AnomalyDetector()
    const r = rng(7)
    const values = series(5000, 2, (i, x) => (r() < 0.01 ? x * (1 + 20 * r()) : i > 3000 ? x - 30 : x))
    for (const s of runAll(det, values)) {
      assert.ok(Number.isFinite(s) && s >= 0 && s <= 1, `score ${s} out of range`)
    }
  })

  it('detects a level shift on synthetic data', () => {
    const det = new AnomalyDetector()
    const shiftAt = 2000
    const scores = runAll(
      det,
      series(2600, 3, (i, x) => (i >= shiftAt ? x + 40 : x)),
    )
    const before = Math.max(...scores.slice(300, shiftAt))
    const after = Math.max(...scores.slice(shiftAt, shiftAt + 20))
    assert.ok(after >= 0.5, `shift score ${after} should be >= 0.5`)
    assert.ok(after > before + 0.1, `shift score ${after} should exceed the pre-shift maximum ${before}`)
  })

  it('detects an isolated spike', () => {
    // the value tails and the novelty alone: with the spatial anomaly (on by default) an earlier new
    // record of the range also scores 1
    const values = series(1700, 4, (i, x) => (i === 1500 ? x + 60 : x))
    const scores = runAll(new AnomalyDetector({ spatialTolerance: 0 }), values)
    const before = Math.max(...scores.slice(300, 1500))
    assert.ok(scores[1500] > before, `spike score ${scores[1500]} vs before ${before}`)
    assert.ok(scores[1500] >= 0.5)
    assert.ok(runAll(new AnomalyDetector(), values)[1500] >= 0.9, 'and the shipped detector')
  })

  it('gives lower scores on regular data than at anomalies (no constant alarm)', () => {
    const det = new AnomalyDetector()
    const scores = runAll(det, series(4000, 5))
    const high = scores.slice(500).filter((s) => s >= 0.5).length
    assert.ok(high < 20, `${high} alerts on clean data`)
  })

  it('is deterministic', () => {
    const v = series(3000, 6, (i, x) => (i % 500 === 0 ? x * 3 : x))
    assert.deepEqual(runAll(new AnomalyDetector(), v), runAll(new AnomalyDetector(), v))
  })

  it('ignores non-finite values', () => {
    const det = new AnomalyDetector()
    runAll(det, series(100, 8))
    const n = det.count
    assert.equal(det.update(Number.NaN, T0), 0)
    assert.equal(det.update(Number.POSITIVE_INFINITY, T0), 0)
    assert.equal(det.count, n)
  })

  it('restores from JSON and gives identical subsequent scores', () => {
    const values = series(4000, 9, (i, x) => (i === 2500 ? x + 50 : i > 3200 ? x + 25 : x))
    const a = new AnomalyDetector()
    runAll(a, values.slice(0, 1700))
    const json = JSON.stringify(a)
    const b = AnomalyDetector.fromJSON(JSON.parse(json))
    assert.deepEqual(b.toJSON(), a.toJSON())
    const c = AnomalyDetector.fromJSON(json)
    const rest = values.slice(1700)
    const sa = runAll(a, rest, 1700)
    const sb = runAll(b, rest, 1700)
    const sc = runAll(c, rest, 1700)
    assert.deepEqual(sb, sa)
    assert.deepEqual(sc, sa)
    assert.ok(
      sa.some((s) => s > 0.5),
      'the continuation contains anomalies',
    )
    assert.equal(JSON.stringify(b), JSON.stringify(a))
  })

  it('peek gives the score update would give, without learning', () => {
    const values = series(3000, 21, (i, x) => (i === 2100 ? x + 60 : i > 2500 && i < 2600 ? 50 : x))
    // damping (decaying maximum and rest periods) is the only difference; peek applies neither
    for (const opts of [
      { dampDecay: 0, restPoints: 0 },
      { dampDecay: 0, restPoints: 0, contextWeight: 0 },
    ]) {
      const det = new AnomalyDetector(opts)
      let high = 0
      values.forEach((v, i) => {
        const before = JSON.stringify(det)
        const peeked = det.peek(v)
        assert.equal(JSON.stringify(det), before, `peek changed the state at ${i}`)
        assert.equal(det.update(v, T0 + i * STEP), peeked, `point ${i}`)
        if (peeked > 0.5) high++
      })
      assert.ok(high > 0, 'the series has points scoring above 0.5')
    }
    assert.equal(new AnomalyDetector().peek(1e9), 0, 'nothing during the baseline')
  })

  it('damps the points after an alert for a rest period, unless a much stronger anomaly comes', () => {
    // a lasting shift: its later points are the same incident
    const values = series(1500, 21, (i, x) => (i >= 1000 && i < 1020 ? x + 15 : x))
    // without the spatial anomaly, whose score of 1 at the shift leaves no stronger score to escape by
    const opts = { dampDecay: 0, spatialTolerance: 0 }
    const rest = runAll(new AnomalyDetector({ ...opts, restPoints: 50, restLevel: 0.45 }), values)
    const noRest = runAll(new AnomalyDetector({ ...opts, restPoints: 0 }), values)
    const alerts = (scores: number[]): number => scores.slice(1000, 1050).filter((s) => s >= 0.45).length
    assert.ok(alerts(noRest) > 1, `without rest the shift alerts ${alerts(noRest)} times`)
    assert.equal(alerts(rest), 1, 'with rest the shift alerts once')
    const first = noRest.findIndex((v, i) => i >= 1000 && v >= 0.45)
    assert.equal(rest[first], noRest[first], 'the first alert keeps its score')
    // during the rest, a far stronger anomaly still alerts
    const spike = values.slice()
    spike[1030] = 500
    const withSpike = runAll(new AnomalyDetector({ ...opts, restPoints: 50, restLevel: 0.45 }), spike)
    assert.ok(withSpike[1030] >= 0.9, `spike in the rest period scored ${withSpike[1030]}`)
  })

  it('rests for at most restAge times the points seen, so a young series is not muted as long', () => {
    // the same lasting shift, once at point 150 and once at point 1000
    const shifted = (at: number): number[] => series(at + 100, 27, (i, x) => (i >= at && i < at + 60 ? x + 15 : x))
    const opts = { dampDecay: 0, restPoints: 100, restLevel: 0.45, restAge: 0.2 }
    // the rest period an alert starts, as the detector's state holds it right after the alert
    const restLength = (at: number): number => {
      const det = new AnomalyDetector(opts)
      const values = shifted(at)
      for (let i = 0; i < values.length; i++) {
        const score = det.update(values[i], T0 + i * STEP)
        if (i >= at && score >= 0.45) return det.toJSON().restLeft
      }
      throw new Error(`the shift at ${at} never alerted`)
    }
    const young = restLength(150)
    const old = restLength(1000)
    assert.ok(young > 0 && young <= Math.round(0.2 * 160), `at point ~150 the rest lasts ${young} points`)
    assert.equal(old, 100, 'at point ~1000 it lasts restPoints')
  })

  it('restores a state saved before rest periods existed', () => {
    const values = series(600, 22)
    const a = new AnomalyDetector()
    runAll(a, values.slice(0, 400))
    const old = JSON.parse(JSON.stringify(a)) as Record<string, unknown>
    delete old.restLeft
    delete old.restScore
    const b = AnomalyDetector.fromJSON(old as never)
    // such a state has no rest period in progress: it goes on like the same detector with none
    const expected = AnomalyDetector.fromJSON({ ...JSON.parse(JSON.stringify(a)), restLeft: 0, restScore: 0 })
    assert.deepEqual(runAll(b, values.slice(400), 400), runAll(expected, values.slice(400), 400))
  })

  it('decays the damping maximum faster while the series is young', () => {
    // a strong score at point 100, then a moderate one 150 points later
    const values = series(400, 25).map((v) => v * 0.01 + 10)
    values[100] = 30
    values[250] = 10.75
    const young = runAll(new AnomalyDetector({ restPoints: 0, dampAge: 2 }), values)
    const fixed = runAll(new AnomalyDetector({ restPoints: 0 }), values)
    const none = runAll(new AnomalyDetector({ restPoints: 0, dampDecay: 0 }), values)
    assert.ok(young[100] > 0.9 && fixed[100] > 0.9, `the strong score ${young[100]}`)
    assert.ok(none[250] > 0.2, `undamped, the later score is ${none[250]}`)
    // the fixed decay (0.999^150 = 0.86 of the maximum) still damps it; the age-scaled one has forgotten
    assert.equal(fixed[250], none[250] * new AnomalyDetector().options.dampFactor)
    assert.equal(young[250], none[250])
  })

  it('restores a state saved before score calibration existed', () => {
    const values = series(600, 23)
    const a = new AnomalyDetector()
    runAll(a, values.slice(0, 400))
    const old = JSON.parse(JSON.stringify(a)) as Record<string, unknown> & { options: Record<string, unknown> }
    for (const k of ['rsShort', 'rsMean', 'rsVar', 'rsCount']) delete old[k]
    for (const k of ['scoreLikelihoodShort', 'scoreLikelihoodLong', 'scoreLikelihoodMinSd']) delete old.options[k]
    const b = AnomalyDetector.fromJSON(old as never)
    assert.equal(b.options.scoreLikelihoodLong, new AnomalyDetector().options.scoreLikelihoodLong)
    const scores = runAll(b, values.slice(400), 400)
    assert.ok(
      scores.every((s) => s >= 0 && s <= 1),
      'scores in [0, 1]',
    )
    assert.ok(AnomalyDetector.fromJSON(JSON.stringify(b)).toJSON().rsCount === 200, 'calibration history starts afresh')
  })

  it('does not alert more as a quiet series ages', () => {
    // The local NAB files are about 4 000 points long; on longer series the old novelty floor let the
    // variance of a mature model shrink until chance contexts read as anomalies (README, "Anomaly
    // detection on NAB"). Four seeded anomaly-free series of 16 000 points: alerts (score >= 0.4)
    // in points 750-4 750 against the last 4 000.
    const alerts = (opts: { noveltyMinVar?: number }): { early: number; late: number } => {
      let early = 0
      let late = 0
      for (const seed of [31, 32, 33, 34]) {
        const scores = runAll(new AnomalyDetector(opts), series(16_000, seed))
        scores.forEach((s, i) => {
          if (s < 0.4) return
          if (i >= 750 && i < 4750) early++
          else if (i >= 12_000) late++
        })
      }
      return { early, late }
    }
    const shipped = alerts({})
    const before = alerts({ noveltyMinVar: 1e-4 })
    assert.ok(shipped.early > 0, 'the test series do alert now and then')
    assert.ok(shipped.late <= 2 * shipped.early + 2, `late ${shipped.late} against early ${shipped.early}`)
    // the floor of detector state version 3 fails the same bound
    assert.ok(before.late > 2 * before.early + 2, `version 3: late ${before.late} against early ${before.early}`)
  })

  it('migrates a version 3 state to the third round of #24, keeping what it learned', () => {
    const values = series(800, 41)
    // as version 3 saved it: the old novelty floor, no spatial anomaly, no range
    const a = new AnomalyDetector({ noveltyMinVar: 1e-4, spatialTolerance: 0, spatialWarmup: 0 })
    runAll(a, values.slice(0, 600))
    const old = JSON.parse(JSON.stringify(a)) as Record<string, unknown> & { options: Record<string, unknown> }
    old.version = 3
    const b = AnomalyDetector.fromJSON(old as never)
    const shipped = new AnomalyDetector().options
    assert.equal(b.options.noveltyMinVar, shipped.noveltyMinVar)
    assert.equal(b.options.spatialTolerance, shipped.spatialTolerance)
    assert.equal(b.options.spatialWarmup, shipped.spatialWarmup)
    const st = b.toJSON()
    assert.equal(st.version, 4)
    assert.equal(b.count, 600)
    assert.deepEqual(st.context, a.toJSON().context)
    // the range is that of the values it held, so its next ordinary value is no spatial anomaly
    assert.equal(st.spMin, Math.min(...values.slice(0, 600)))
    assert.equal(st.spMax, Math.max(...values.slice(0, 600)))
    // and from then on it scores as a version 4 state with that history would
    const same = AnomalyDetector.fromJSON({
      ...a.toJSON(),
      options: { ...b.options },
      spMin: st.spMin,
      spMax: st.spMax,
    })
    assert.deepEqual(runAll(b, values.slice(600), 600), runAll(same, values.slice(600), 600))
  })

  it('score calibration only raises scores, most where they are unusual for the series', () => {
    const values = series(3000, 24, (i, x) => (i === 2100 ? x + 25 : i > 2500 && i < 2600 ? 50 : x))
    const opts = { dampDecay: 0, restPoints: 0 }
    const raw = runAll(new AnomalyDetector({ ...opts, scoreLikelihoodLong: 0 }), values)
    const calibrated = runAll(new AnomalyDetector(opts), values)
    let raised = 0
    raw.forEach((r, i) => {
      assert.ok(calibrated[i] >= r, `point ${i}: ${calibrated[i]} < ${r}`)
      if (calibrated[i] > r) raised++
    })
    assert.ok(raised > 0 && raised < values.length / 2, `${raised} points raised`)
  })

  it('round-trips with non-default model shapes, and with the novelty model off', () => {
    const values = series(2000, 14, (i, x) => (i === 1500 ? x + 70 : i > 1700 && i < 1800 ? 50 : x))
    for (const opts of [
      { valueWindow: 500, valueBlocks: 5, contextLevels: 4, contextOrder: 3, contextTableBits: 10 },
      { contextWeight: 0 },
    ]) {
      const a = new AnomalyDetector(opts)
      runAll(a, values.slice(0, 900))
      const b = AnomalyDetector.fromJSON(JSON.stringify(a))
      const sa = runAll(a, values.slice(900), 900)
      assert.deepEqual(runAll(b, values.slice(900), 900), sa)
      assert.equal(JSON.stringify(b), JSON.stringify(a))
      assert.ok(sa[1500 - 900] >= 0.5, `spike scored ${sa[1500 - 900]} with ${JSON.stringify(opts)}`)
    }
  })

  it('flags a change of shape that stays inside the usual range (flat stretch in a periodic series)', () => {
    // square-ish daily cycle between 0 and 80; at day 12 it goes flat at the middle level
    const g = gauss(rng(15))
    const period = 288
    const flatAt = 12 * period + 100
    const values = Array.from({ length: 14 * period }, (_, i) =>
      i >= flatAt && i < flatAt + period ? 40 + g() : (i % period < period / 3 ? 80 : 0) + 2 * g(),
    )
    const scores = runAll(new AnomalyDetector(), values)
    const before = Math.max(...scores.slice(4 * period, flatAt))
    const during = Math.max(...scores.slice(flatAt, flatAt + period))
    assert.ok(during >= 0.5 && during > before, `flat stretch ${during} vs before ${before}`)
    const valueOnly = runAll(new AnomalyDetector({ contextWeight: 0 }), values)
    assert.ok(
      Math.max(...valueOnly.slice(flatAt, flatAt + period)) < during,
      'the novelty model adds evidence the value model lacks',
    )
  })

  it('spatial anomaly: a value beyond the range seen by the tolerance scores spatialScore', () => {
    // flat noise in [40, 60]: 61 lies beyond that range by 5 % of it, 70 by 50 %
    const r = rng(31)
    const values = Array.from({ length: 600 }, () => 40 + 20 * r())
    const lo = Math.min(...values)
    const hi = Math.max(...values)
    const off = new AnomalyDetector({ dampDecay: 0, restPoints: 0, spatialTolerance: 0 })
    const on = new AnomalyDetector({ dampDecay: 0, restPoints: 0, spatialTolerance: 0.05, spatialScore: 0.9 })
    runAll(off, values)
    runAll(on, values)
    const beyond = hi + 0.2 * (hi - lo)
    const inside = hi + 0.01 * (hi - lo)
    assert.ok(on.peek(beyond) >= 0.9, `beyond the range: ${on.peek(beyond)}`)
    assert.ok(off.peek(beyond) < 0.9, 'the value tails alone give less')
    assert.equal(on.peek(inside), off.peek(inside), 'within the tolerance nothing changes')
    // peek is what update gives (no damping here), and update widens the range
    const peeked = on.peek(beyond)
    assert.equal(on.update(beyond, T0 + 600 * STEP), peeked)
    assert.equal(on.toJSON().spMax, beyond)
    // not before spatialWarmup points: until then the detector scores as without it
    const young = new AnomalyDetector({ spatialTolerance: 0.05, spatialWarmup: 100, dampDecay: 0, restPoints: 0 })
    const plain = new AnomalyDetector({ dampDecay: 0, restPoints: 0 })
    runAll(young, values.slice(0, 50))
    runAll(plain, values.slice(0, 50))
    assert.equal(young.peek(beyond), plain.peek(beyond))
    assert.equal(new AnomalyDetector({ spatialTolerance: 0.05 }).toJSON().spMin, undefined)
    // with spatialPersist 2 one point beyond is not enough (nor learned into the range); two in a row are
    const persist = new AnomalyDetector({ dampDecay: 0, restPoints: 0, spatialTolerance: 0.05, spatialPersist: 2 })
    runAll(persist, values)
    assert.equal(persist.peek(beyond), off.peek(beyond), 'the first point beyond scores as without spatial')
    persist.update(beyond, T0 + 600 * STEP)
    assert.equal(persist.toJSON().spMax, hi, 'and stays out of the range')
    assert.ok(persist.peek(beyond) >= 0.9, 'the second point beyond is a spatial anomaly')
  })

  it("round-trips with each of #24's studied options, and restores states saved before them", () => {
    const values = series(2600, 32, (i, x) => (i === 1500 ? x + 70 : i > 1900 && i < 2000 ? 50 : x))
    for (const opts of [
      { spatialTolerance: 0.05, spatialForget: 1e-5 },
      { spatialTolerance: 0.05, spatialPersist: 2 },
      { contextPair: 1 },
      { contextPair: 2 },
      { scoreSmoothing: 0.7 },
      { restFreeze: 1 },
      { alertBudget: 0.001 },
      { restEscapeJump: 1 },
    ]) {
      const a = new AnomalyDetector(opts)
      runAll(a, values.slice(0, 1200))
      const b = AnomalyDetector.fromJSON(JSON.stringify(a))
      assert.deepEqual(b.toJSON(), a.toJSON(), JSON.stringify(opts))
      const sa = runAll(a, values.slice(1200), 1200)
      assert.deepEqual(runAll(b, values.slice(1200), 1200), sa, JSON.stringify(opts))
      assert.equal(JSON.stringify(b), JSON.stringify(a))
    }
    // a state without the second contextual model (saved before it, or with contextPair 0) starts it afresh
    const a = new AnomalyDetector({ contextPair: 1 })
    runAll(a, values.slice(0, 400))
    const st = JSON.parse(JSON.stringify(a))
    delete st.context2
    const b = AnomalyDetector.fromJSON(st)
    assert.ok(b.toJSON().context2, 'a fresh second model')
    // and a state saved before these options existed restores as the shipped detector
    const shipped = new AnomalyDetector()
    runAll(shipped, values.slice(0, 400))
    const old = JSON.parse(JSON.stringify(shipped))
    for (const k of ['spatialTolerance', 'spatialScore', 'contextPair', 'scoreSmoothing', 'noveltyMinVar'])
      delete old.options[k]
    const restored = AnomalyDetector.fromJSON(old)
    assert.deepEqual(runAll(restored, values.slice(400), 400), runAll(shipped, values.slice(400), 400))
    // a corrupt range is refused
    const bad = JSON.parse(JSON.stringify(new AnomalyDetector({ spatialTolerance: 0.05 })))
    bad.spMax = 'x'
    assert.throws(() => AnomalyDetector.fromJSON(bad), /spMax/)
  })

  it('rejects a state whose context table does not match its options', () => {
    const a = new AnomalyDetector()
    runAll(a, series(300, 16))
    const st = JSON.parse(JSON.stringify(a))
    st.options.contextTableBits = 12
    assert.throws(() => AnomalyDetector.fromJSON(st), /context table/)
    const st2 = JSON.parse(JSON.stringify(a))
    st2.valueTail.curHi = 'x'
    assert.throws(() => AnomalyDetector.fromJSON(st2), /value model/)
  })

  it('rejects corrupted state', () => {
    const a = new AnomalyDetector()
    runAll(a, series(50, 10))
    const st = JSON.parse(JSON.stringify(a))
    st.version = 99
    assert.throws(() => AnomalyDetector.fromJSON(st))
  })

  it('keeps memory bounded per series', () => {
    const det = new AnomalyDetector()
    const v = series(60_000, 11, (i, x) => x + (i % 977 === 0 ? 40 : 0) + i * 0.001)
    runAll(det, v.slice(0, 5000))
    const size5k = JSON.stringify(det).length
    runAll(det, v.slice(5000), 5000)
    const size60k = JSON.stringify(det).length
    // at most one more generation of the contextual model's table (8 KB, base64) over the early state
    const table = Math.ceil(2 ** det.options.contextTableBits / 8 / 3) * 4
    assert.ok(size60k <= size5k + table + 2000, `state grew from ${size5k} to ${size60k} chars`)
    assert.ok(size60k < 2 * table + 10_000, `state is ${size60k} chars`)
    const st = det.toJSON()
    const countNumbers = (x: unknown): number =>
      typeof x === 'number'
        ? 1
        : x !== null && typeof x === 'object'
          ? Object.values(x).reduce((a: number, v) => a + countNumbers(v), 0)
          : 0
    const numbers = countNumbers(st)
    assert.ok(numbers < 1000, `state holds ${numbers} numbers`)
    assert.ok(st.valueTail.hiBlocks.length <= det.options.valueBlocks)
  })

  it('explains an alert with an expected range and the observed value', () => {
    const det = new AnomalyDetector()
    runAll(det, series(1000, 13))
    const s = det.update(200, T0 + 1000 * STEP)
    assert.ok(s > 0.5)
    const ev = det.evidence(3)
    assert.ok(ev !== null)
    assert.equal(ev.observed, 200)
    assert.ok(ev.expectedHigh < 200 && ev.expectedLow < ev.expectedHigh)
    assert.ok(ev.p99 < 200 && ev.p01 <= ev.p50 && ev.p50 <= ev.p99)
    assert.ok(ev.zScore > 3)
    const direct = evidenceFromWindow([1, 2, 3, 4, 5], 10, 2)
    assert.ok(direct !== null)
    assert.equal(direct.mean, 3)
    assert.ok(Math.abs(direct.sd - Math.sqrt(2.5)) < 1e-12)
    assert.ok(Math.abs(direct.expectedHigh - (3 + 2 * Math.sqrt(2.5))) < 1e-12)
    assert.equal(direct.p50, 3)
    assert.equal(evidenceFromWindow([], 1), null)
  })
})

describe('DetectorRegistry', () => {
  it('keeps one detector per series and caps the series count (LRU eviction)', () => {
    const reg = new DetectorRegistry({ maxSeries: 2 })
    reg.update('a', 1, T0)
    reg.update('b', 1, T0)
    reg.update('a', 2, T0 + STEP)
    reg.update('c', 1, T0)
    assert.equal(reg.size, 2)
    assert.deepEqual(reg.keys().sort(), ['a', 'c'])
    assert.equal(reg.get('a')?.count, 2)
  })

  it('serialises its whole state and restores it exactly', () => {
    const reg = new DetectorRegistry({ maxSeries: 10, detector: { baseline: 20 } })
    const data: Record<string, number[]> = {
      'cpu:web-1': series(2500, 21, (i, x) => (i === 1900 ? x * 4 : x)),
      'mem:web-1': series(2500, 22, (i, x) => (i > 2100 ? x + 30 : x)),
      'lat:db': series(2500, 23),
    }
    const keys = Object.keys(data)
    for (let i = 0; i < 1500; i++) for (const k of keys) reg.update(k, data[k][i], T0 + i * STEP)
    const json = JSON.stringify(reg)
    const restored = DetectorRegistry.fromJSON(json)
    assert.equal(JSON.stringify(restored), json)
    assert.equal(restored.get('lat:db')?.options.baseline, 20)
    const a: number[] = []
    const b: number[] = []
    for (let i = 1500; i < 2500; i++) {
      for (const k of keys) {
        a.push(reg.update(k, data[k][i], T0 + i * STEP))
        b.push(restored.update(k, data[k][i], T0 + i * STEP))
      }
    }
    assert.deepEqual(b, a)
    assert.ok(a.some((s) => s > 0.5))
  })
})
