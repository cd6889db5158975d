import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import { Redis } from 'ioredis'
import { startRedis, type TestRedis } from '../../tests/helpers/redis'
import { HttpError, parseOr400 } from '../platform/http/errors'
import { RecentReadings, recentReadingsBody, recentReadingsQuery, thin } from './recent-readings'
import { readingSeries, type Reading, type ReadingMetric, type ReadingUnit } from './types'

let redis: TestRedis

before(async () => {
  redis = await startRedis()
})
after(async () => {
  await redis?.stop()
})

const prefix = () => `sentinel:test:recent:${randomBytes(4).toString('hex')}:`
const T0 = Date.parse('2030-01-01T00:00:00Z')
const MIN = 60_000

function reading(
  at: number,
  value: number,
  metric: ReadingMetric = 'cpu_busy_percent',
  name = 'node-1',
  unit: ReadingUnit = 'percent',
): Reading {
  const resource = { kind: 'host' as const, id: name, name }
  return {
    series: readingSeries(metric, resource),
    metric,
    value,
    unit,
    resource,
    labels: {},
    source: 'collector',
    query: 'collector:test',
    at: new Date(at).toISOString(),
  }
}

/** Every key in Redis under a prefix. */
async function keysUnder(p: string): Promise<string[]> {
  const out: string[] = []
  let cursor = '0'
  do {
    const [next, batch] = await redis.client.scan(cursor, 'MATCH', `${p}*`, 'COUNT', 1000)
    cursor = next
    out.push(...batch)
  } while (cursor !== '0')
  return out.sort()
}

describe('RecentReadings (real Redis)', () => {
  it('records a tick and reads every series back, oldest point first, with its metric, unit and resource', async () => {
    let now = T0
    const store = new RecentReadings(redis.client, { prefix: prefix(), now: () => now })
    for (let i = 0; i < 5; i++) {
      now = T0 + i * 2 * MIN
      const written = await store.record([
        reading(now, 10 + i),
        reading(now, 50 + i, 'memory_used_percent'),
        reading(now, 120 + i, 'latency_ms', 'http://web/health', 'ms'),
      ])
      assert.equal(written, 3)
    }
    const series = await store.read()
    assert.deepEqual(
      series.map((s) => s.series),
      ['cpu_busy_percent|host|node-1', 'latency_ms|host|http://web/health', 'memory_used_percent|host|node-1'],
    )
    const cpu = series[0]
    assert.equal(cpu.metric, 'cpu_busy_percent')
    assert.equal(cpu.unit, 'percent')
    assert.deepEqual(cpu.resource, { kind: 'host', id: 'node-1', name: 'node-1' })
    assert.deepEqual(
      cpu.points,
      [0, 1, 2, 3, 4].map((i) => [T0 + i * 2 * MIN, 10 + i]),
    )
    assert.equal(series[1].unit, 'ms')
  })

  it('reads every series in one round trip to Redis', async () => {
    const client = new Redis({ port: redis.port, host: '127.0.0.1' })
    try {
      const store = new RecentReadings(client, { prefix: prefix(), now: () => T0 })
      await store.record(
        Array.from({ length: 40 }, (_, i) => reading(T0 - i * 1000, i, 'cpu_busy_percent', `host-${i % 8}`)),
      )
      let commands = 0
      const send = client.sendCommand.bind(client)
      client.sendCommand = ((...args: Parameters<typeof send>) => {
        commands++
        return send(...args)
      }) as typeof client.sendCommand
      const series = await store.read()
      assert.equal(series.length, 8)
      assert.equal(commands, 1, 'one command (a Lua script) for all series')
    } finally {
      client.disconnect()
    }
  })

  it('keeps only the last hour: older points are trimmed from Redis, not just filtered on reading', async () => {
    let now = T0
    const p = prefix()
    const store = new RecentReadings(redis.client, { prefix: p, now: () => now })
    // Two hours at the default schedule (a reading every 2 minutes).
    for (let i = 0; i <= 60; i++) {
      now = T0 + i * 2 * MIN
      await store.record([reading(now, i)])
    }
    const [cpu] = await store.read()
    assert.equal(cpu.points[0][0], now - 60 * MIN, 'the oldest point kept is one hour old')
    assert.equal(cpu.points.at(-1)![0], now)
    assert.equal(cpu.points.length, 31)
    assert.equal(await redis.client.zcard(store.seriesKey(cpu.series)), 31, 'Redis holds only the window')
    // A reading older than the window is not kept at all.
    assert.equal(await store.record([reading(now - 61 * MIN, 1, 'cpu_busy_percent', 'late-host')]), 0)
    assert.deepEqual(
      (await store.read()).map((s) => s.series),
      [cpu.series],
    )
  })

  it('bounds the points per series, so a one-second schedule cannot grow it without limit', async () => {
    let now = T0
    const store = new RecentReadings(redis.client, { prefix: prefix(), now: () => now, maxPointsPerSeries: 100 })
    for (let i = 0; i < 1000; i += 50) {
      // 50 readings a call, a second apart.
      const batch = Array.from({ length: 50 }, (_, j) => reading(T0 + (i + j) * 1000, i + j))
      now = T0 + (i + 49) * 1000
      await store.record(batch)
    }
    const [cpu] = await store.read()
    assert.equal(await redis.client.zcard(store.seriesKey(cpu.series)), 100)
    assert.equal(cpu.points.length, 100)
    assert.deepEqual(cpu.points.at(-1), [T0 + 999_000, 999], 'the newest are the ones kept')
    assert.deepEqual(cpu.points[0], [T0 + 900_000, 900])
  })

  it('bounds the number of series: the least recently written go, with their points', async () => {
    let now = T0
    const store = new RecentReadings(redis.client, { prefix: prefix(), now: () => now, maxSeries: 5 })
    for (let i = 0; i < 8; i++) {
      now = T0 + i * 1000
      await store.record([reading(now, i, 'cpu_busy_percent', `host-${i}`)])
    }
    const names = (await store.read()).map((s) => s.resource.name)
    assert.deepEqual(names, ['host-3', 'host-4', 'host-5', 'host-6', 'host-7'])
    for (const gone of ['host-0', 'host-1', 'host-2'])
      assert.equal(
        await redis.client.exists(
          store.seriesKey(readingSeries('cpu_busy_percent', { kind: 'host', id: gone, name: gone })),
        ),
        0,
      )
  })

  it('keeps every key under its prefix, with an expiry; series named like its own keys do not collide', async () => {
    const p = prefix()
    const store = new RecentReadings(redis.client, { prefix: p, now: () => T0 })
    const odd = (series: string): Reading => ({ ...reading(T0, 7), series })
    await store.record([odd('index'), odd('meta'), odd('s:index'), reading(T0, 1)])
    const keys = await keysUnder(p)
    assert.deepEqual(
      keys,
      [
        `${p}index`,
        `${p}meta`,
        `${p}s:cpu_busy_percent|host|node-1`,
        `${p}s:index`,
        `${p}s:meta`,
        `${p}s:s:index`,
      ].sort(),
    )
    for (const k of keys) {
      const ttl = await redis.client.pttl(k)
      assert.ok(ttl > 60 * MIN && ttl <= 65 * MIN, `${k} expires a little after the window (${ttl} ms)`)
    }
    const series = await store.read()
    assert.deepEqual(series.map((s) => s.series).sort(), ['cpu_busy_percent|host|node-1', 'index', 'meta', 's:index'])
    for (const s of series) assert.equal(s.points.length, 1)
    // Another prefix sees none of it.
    assert.deepEqual(await new RecentReadings(redis.client, { prefix: prefix(), now: () => T0 }).read(), [])
  })

  it('filters by metric and thins long series evenly, keeping the newest point', async () => {
    let now = T0
    const store = new RecentReadings(redis.client, { prefix: prefix(), now: () => now })
    for (let i = 0; i < 360; i++) {
      now = T0 + i * 10_000
      await store.record([
        reading(now, i),
        reading(now, 100 + i, 'latency_ms', 'probe', 'ms'),
        { ...reading(now, NaN, 'disk_used_percent') },
      ])
    }
    const lat = await store.read({ metrics: ['latency_ms'], maxPoints: 50 })
    assert.deepEqual(
      lat.map((s) => s.metric),
      ['latency_ms'],
    )
    assert.equal(lat[0].points.length, 50)
    assert.deepEqual(lat[0].points.at(-1), [now, 459])
    assert.deepEqual(lat[0].points[0], [T0, 100])
    // A reading that is not a number is never stored.
    assert.deepEqual((await store.read()).map((s) => s.metric).sort(), ['cpu_busy_percent', 'latency_ms'])
    const body = await recentReadingsBody(
      store,
      recentReadingsQuery.parse({ minutes: '10', metric: 'cpu_busy_percent', maxPoints: '1000' }),
      now,
    )
    assert.equal(body.series.length, 1)
    assert.equal(body.series[0].points.length, 61, 'ten minutes at one reading per 10 s, both ends included')
    assert.equal(body.to, new Date(now).toISOString())
  })

  it('thin() spreads the points it keeps and always keeps the last', () => {
    assert.deepEqual(thin([1, 2, 3], 5), [1, 2, 3])
    assert.deepEqual(thin([1, 2, 3, 4, 5, 6, 7, 8, 9], 3), [1, 5, 9])
    assert.deepEqual(thin([1, 2, 3], 1), [3])
  })

  it('the API query: defaults, and a 400 naming the bad field', () => {
    assert.deepEqual(recentReadingsQuery.parse({}), { minutes: 60, maxPoints: 720 })
    assert.deepEqual(
      recentReadingsQuery.parse({ metric: ['cpu_busy_percent,latency_ms', 'memory_used_percent'] }).metric,
      ['cpu_busy_percent', 'latency_ms', 'memory_used_percent'],
    )
    const bad = (q: Record<string, unknown>) => {
      try {
        parseOr400(recentReadingsQuery, q, 'query')
      } catch (err) {
        assert.ok(err instanceof HttpError)
        assert.equal(err.status, 400)
        return err.message
      }
      assert.fail(`accepted ${JSON.stringify(q)}`)
    }
    assert.match(bad({ minutes: '61' }), /query\.minutes/)
    assert.match(bad({ minutes: 'soon' }), /query\.minutes/)
    assert.match(bad({ maxPoints: '1' }), /query\.maxPoints/)
    assert.match(bad({ metric: 'cpu; DROP' }), /query\.metric/)
    assert.match(bad({ minuts: '5' }), /minuts/)
  })
})
