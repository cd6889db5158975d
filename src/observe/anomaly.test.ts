/**
 * Anomaly scoring of the monitored series against a real Redis: a level shift under the fixed
 * threshold becomes one anomaly alert with its evidence after its `for`; the detectors' state
 * survives a restart (a new process reloads it from Redis and scores exactly as if it had never
 * stopped).
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import { Redis } from 'ioredis'
import { startRedis, type TestRedis } from '../../tests/helpers/redis'
import type { ResourceRef } from '../platform/store/model'
import { AnomalyScorer, anomalyFingerprint, minDeviation } from './anomaly'
import { checkReadings, resolveChecks } from './checks'
import { Monitor } from './monitor'
import { AlertTracker } from './tracker'
import { readingSeries, type Reading, type ReadingMetric, type ReadingUnit } from './types'

let redis: TestRedis
before(async () => {
  redis = await startRedis()
})
after(async () => {
  await redis.stop()
})

const prefix = () => `sentinel:test:${randomBytes(4).toString('hex')}:`
const T0 = 1_700_000_000_000
const STEP = 2000
const checks = resolveChecks()

/** Deterministic Gaussian noise (mulberry32 + Box-Muller). */
function noise(seed: number): () => number {
  let a = seed >>> 0
  const u = () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = Math.imul(a ^ (a >>> 15), a | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  return () => Math.sqrt(-2 * Math.log(Math.max(u(), 1e-12))) * Math.cos(2 * Math.PI * u())
}

const endpoint: ResourceRef = {
  kind: 'endpoint',
  id: 'http://127.0.0.1:8080/health',
  name: 'http://127.0.0.1:8080/health',
}
const host: ResourceRef = { kind: 'host', id: 'test-host', name: 'test-host' }

function reading(metric: ReadingMetric, unit: ReadingUnit, resource: ResourceRef, value: number, i: number): Reading {
  return {
    series: readingSeries(metric, resource),
    metric,
    value,
    unit,
    resource,
    labels: {},
    source: 'collector',
    query: `collector:${metric}`,
    at: new Date(T0 + i * STEP).toISOString(),
  }
}
const latency = (value: number, i: number) => reading('latency_ms', 'ms', endpoint, value, i)
const cpu = (value: number, i: number) => reading('cpu_busy_percent', 'percent', host, value, i)

/** ~6 ms with noise for `baseline` ticks, then `shifted` ms. */
function latencySeries(baseline: number, total: number, shifted: number, seed = 1): number[] {
  const g = noise(seed)
  return Array.from({ length: total }, (_, i) =>
    i < baseline ? Math.round((6 + 1.2 * g()) * 100) / 100 : shifted + g(),
  )
}

describe('AnomalyScorer (real Redis)', () => {
  it('turns a level shift under the fixed threshold into one anomaly incident after its `for`, with the evidence', async () => {
    const p = prefix()
    const scorer = new AnomalyScorer(redis.client, { prefix: `${p}anomaly:`, threshold: 0.5 })
    const tracker = new AlertTracker(redis.client, {
      prefix: `${p}alerts:`,
      forMs: 0,
      forMsByType: { anomaly: 3 * STEP },
      holdDownMs: 0,
    })
    const values = latencySeries(40, 50, 60)
    const opened = []
    for (let i = 0; i < values.length; i++) {
      const checked = checkReadings([latency(values[i], i)], checks)
      assert.equal(checked[0].breaching, false, 'no fixed threshold catches it (200 ms)')
      const round = await scorer.score(checked, T0 + i * STEP)
      if (i < 40)
        assert.equal(round.alerts.length, 0, `baseline tick ${i} (${values[i]} ms) scored ${round.scores[0].score}`)
      else {
        assert.equal(round.alerts.length, 1, `shifted tick ${i} is anomalous (score ${round.scores[0].score})`)
        assert.equal(round.scores[0].learned, false, 'held out of the model while anomalous')
      }
      const ev = await tracker.evaluate({ breaching: round.alerts, clear: round.clear, now: T0 + i * STEP })
      opened.push(...ev.toOpen.map((a) => ({ i, a })))
    }
    assert.equal(opened.length, 1)
    assert.equal(opened[0].i, 43, 'opens once the anomaly has held for `for` (3 ticks)')
    const a = opened[0].a
    assert.equal(a.type, 'anomaly')
    assert.equal(a.fingerprint, anomalyFingerprint('latency_ms|endpoint|http://127.0.0.1:8080/health'))
    assert.equal(a.metric, 'latency_ms')
    assert.deepEqual(a.resource, endpoint)
    const d = a.details as Record<string, any>
    assert.equal(d.series, 'latency_ms|endpoint|http://127.0.0.1:8080/health')
    assert.equal(d.observed, a.value)
    assert.ok((a.value ?? 0) > 55, `observed ${a.value}`)
    assert.ok(
      d.expectedLow < 6 && d.expectedHigh > 6 && d.expectedHigh < 20,
      `expected range ${d.expectedLow}..${d.expectedHigh} is the baseline's`,
    )
    assert.ok(d.score > 0.5 && d.score <= 1, `score ${d.score}`)
    assert.equal(d.samples, 40)
    assert.equal(d.anomalousSince, new Date(T0 + 40 * STEP).toISOString())
  })

  it('leaves a series breaching its fixed threshold to that alert, and ignores changes too small to matter', async () => {
    const p = prefix()
    const scorer = new AnomalyScorer(redis.client, { prefix: `${p}anomaly:` })
    const g = noise(3)
    const disk = (value: number, i: number) =>
      reading('disk_used_percent', 'percent', { kind: 'filesystem', id: 'test-host:/data', name: '/data' }, value, i)
    for (let i = 0; i < 40; i++)
      await scorer.score(checkReadings([cpu(20 + 3 * g(), i), disk(41.2, i)], checks), T0 + i * STEP)
    const round = await scorer.score(checkReadings([cpu(95, 40), disk(41.5, 40)], checks), T0 + 40 * STEP)
    const [c, dsk] = round.scores
    assert.ok(c.anomalous, 'CPU at 95 % is anomalous')
    assert.ok(dsk.score > 0.5, `a near-constant disk finds 41.5 % improbable (score ${dsk.score})`)
    assert.equal(dsk.anomalous, false, 'but 0.3 of a percent is no incident')
    assert.equal(round.alerts.length, 0, 'the CPU threshold alert (80 %) covers it')
    assert.deepEqual(round.clear.sort(), [c.fingerprint, dsk.fingerprint].sort())
  })

  it("pages only for a move large in the series' own units: a probe's jitter is improbable, not an incident", async () => {
    const p = prefix()
    const scorer = new AnomalyScorer(redis.client, {
      prefix: `${p}anomaly:`,
      minChange: { ms: 20, percent: 10, ratio: 0.2 },
    })
    const g = noise(5)
    // A quiet 20 ms probe, then ordinary jitter to 32 ms: improbable to the detector, 12 ms in fact.
    for (let i = 0; i < 40; i++) await scorer.score(checkReadings([latency(20 + 0.3 * g(), i)], checks), T0 + i * STEP)
    const jitter = (await scorer.score(checkReadings([latency(32, 40)], checks), T0 + 40 * STEP)).scores[0]
    assert.ok(jitter.score > 0.5, `the detector finds 32 ms improbable (score ${jitter.score})`)
    assert.equal(jitter.anomalous, false, 'but 12 ms is under ANOMALY_MIN_CHANGE_MS')
    const shift = (await scorer.score(checkReadings([latency(60, 41)], checks), T0 + 41 * STEP)).scores[0]
    assert.equal(shift.anomalous, true, '40 ms more (and 3x the usual level) is an anomaly')
    // The same 40 ms on a 1 s endpoint is under 20 % of its usual level.
    assert.equal(minDeviation('ms', 1000), 200)
    assert.equal(minDeviation('ms', 20), 20)
    assert.equal(minDeviation('percent', 40), 10)
    assert.equal(minDeviation('bytes', 100 * 1024 ** 2), 20 * 1024 ** 2)
  })

  it('keeps its state across a restart: a new process scores exactly as if it had never stopped', async () => {
    const p = prefix()
    const values = latencySeries(300, 400, 45, 7).map((v, i) => (i === 150 ? 40 : v))
    const continuous = new AnomalyScorer(undefined, { baselinePoints: 15 })
    const expected: number[] = []
    for (let i = 0; i < values.length; i++)
      expected.push(
        (await continuous.score(checkReadings([latency(values[i], i)], checks), T0 + i * STEP)).scores[0].score,
      )

    const got: number[] = []
    const firstClient = new Redis({ port: redis.port, host: '127.0.0.1' })
    const secondClient = new Redis({ port: redis.port, host: '127.0.0.1', lazyConnect: true })
    try {
      const first = new AnomalyScorer(firstClient, { prefix: `${p}anomaly:` })
      for (let i = 0; i < 200; i++)
        got.push((await first.score(checkReadings([latency(values[i], i)], checks), T0 + i * STEP)).scores[0].score)
      firstClient.disconnect()
      const series = 'latency_ms|endpoint|http://127.0.0.1:8080/health'
      const raw = await redis.client.get(first.key(series))
      assert.ok(raw && raw.length < 16_000, `state is bounded (${raw?.length} bytes)`)
      const ttl = await redis.client.pttl(first.key(series))
      assert.ok(ttl > 86_400_000, 'the state expires when its series is gone')

      const second = new AnomalyScorer(secondClient, { prefix: `${p}anomaly:` })
      assert.equal(
        (await second.state(series))?.detector.n,
        199,
        'the point at 150 was held out; the other 199 were learned',
      )
      for (let i = 200; i < values.length; i++)
        got.push((await second.score(checkReadings([latency(values[i], i)], checks), T0 + i * STEP)).scores[0].score)
    } finally {
      firstClient.disconnect()
      secondClient.disconnect()
    }
    assert.deepEqual(got, expected)
    assert.ok(
      got.slice(300).every((s) => s > 0.5),
      'the shift after the restart is scored against the learned baseline',
    )

    // A fresh detector, by contrast, would still be learning at the shift.
    const fresh = new AnomalyScorer(undefined, {})
    const freshScores = []
    for (let i = 300; i < 315; i++)
      freshScores.push(
        (await fresh.score(checkReadings([latency(values[i], i)], checks), T0 + i * STEP)).scores[0].score,
      )
    assert.ok(
      freshScores.every((s) => s === 0),
      'a fresh detector is still in its baseline',
    )
  })

  it('learns a shift that lasts past adaptAfterMs as the new normal', async () => {
    const scorer = new AnomalyScorer(redis.client, { prefix: `${prefix()}anomaly:`, adaptAfterMs: 10 * STEP })
    const values = latencySeries(60, 400, 60, 11)
    const rounds = []
    for (let i = 0; i < values.length; i++)
      rounds.push(await scorer.score(checkReadings([latency(values[i], i)], checks), T0 + i * STEP))
    assert.ok(
      rounds.slice(60, 70).every((r) => r.alerts.length === 1 && !r.scores[0].learned),
      'anomalous and held out for adaptAfterMs',
    )
    assert.ok(rounds[70].scores[0].learned, 'learned once the anomaly has lasted adaptAfterMs')
    const lastAlert = rounds.map((r) => r.alerts.length > 0).lastIndexOf(true)
    assert.ok(lastAlert < 399, 'the new level stops being anomalous')
    assert.ok(
      rounds.slice(lastAlert + 1).every((r) => r.alerts.length === 0 && r.scores[0].learned),
      'quiet and learning afterwards',
    )
  })

  it('is wired into the Monitor: every checked series of a real tick is scored, its state kept in Redis', async () => {
    const p = prefix()
    const monitor = new Monitor({
      docker: false,
      history: false,
      redis: redis.client,
      keyPrefix: p,
      tracker: { prefix: `${p}alerts:` },
      anomaly: { baselinePoints: 1 },
    })
    await monitor.tick()
    const tick = await monitor.tick()
    const checked = monitor.evaluate(tick.readings).checked
    assert.ok(
      checked.some((c) => c.reading.metric === 'memory_used_percent') &&
        checked.some((c) => c.reading.metric === 'cpu_busy_percent'),
      'host memory and CPU are checked',
    )
    assert.deepEqual(tick.anomaly?.scores.map((s) => s.series).sort(), checked.map((c) => c.reading.series).sort())
    for (const c of checked)
      assert.equal(
        (await monitor.anomaly!.state(c.reading.series))?.detector.n,
        2,
        `${c.reading.series} learned both ticks`,
      )
    assert.equal(monitor.anomaly!.prefix, `${p}anomaly:`)
  })

  it('skips a tick that overlaps another, and starts afresh from a state it cannot read', async () => {
    const p = prefix()
    const scorer = new AnomalyScorer(redis.client, { prefix: `${p}anomaly:` })
    await redis.client.set(`${p}anomaly:lock`, 'other-tick', 'PX', 60_000)
    const skipped = await scorer.score(checkReadings([latency(6, 0)], checks), T0)
    assert.match(skipped.skipped ?? '', /another tick/)
    assert.deepEqual([skipped.alerts, skipped.clear, skipped.scores], [[], [], []])
    await redis.client.del(`${p}anomaly:lock`)

    const series = 'latency_ms|endpoint|http://127.0.0.1:8080/health'
    await redis.client.set(scorer.key(series), '{"v":1,"detector":{"version":99}}')
    const r = await scorer.score(checkReadings([latency(6, 1)], checks), T0 + STEP)
    assert.equal(r.skipped, undefined)
    assert.equal((await scorer.state(series))?.detector.n, 1)
    assert.equal(await redis.client.get(`${p}anomaly:lock`), null, 'the lock is released')
  })
})
