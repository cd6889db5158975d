import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import { Redis } from 'ioredis'
import { startRedis, type TestRedis } from '../../tests/helpers/redis'
import type { Alert } from '../platform/store/model'
import { alertFingerprint } from './checks'
import { AlertTracker } from './tracker'

let redis: TestRedis
const clients: Redis[] = []

before(async () => {
  redis = await startRedis()
})
after(async () => {
  for (const c of clients) c.disconnect()
  await redis.stop()
})

const prefix = () => `sentinel:test:${randomBytes(4).toString('hex')}:`

function alert(i: number, value = 90): Alert {
  const resource = { kind: 'host' as const, id: `host-${i}`, name: `host-${i}` }
  return {
    fingerprint: alertFingerprint('cpu', resource),
    type: 'cpu',
    severity: 'warning',
    metric: 'cpu_busy_percent',
    value,
    threshold: 80,
    resource,
    labels: { instance: resource.id },
    source: 'test',
    at: new Date().toISOString(),
  }
}

describe('AlertTracker (real Redis)', () => {
  it('10 000 concurrent observations over 100 fingerprints in 10 s open exactly 100 alerts', async () => {
    for (let i = 0; i < 4; i++) {
      const c = new Redis({ port: redis.port, host: '127.0.0.1' })
      c.on('error', () => {})
      clients.push(c)
    }
    const p = prefix()
    // Several trackers on several connections, as several step processes would be.
    const trackers = clients.map((c) => new AlertTracker(c, { prefix: p, forMs: 2000, holdDownMs: 5000 }))
    const t0 = Date.now()
    const alerts = Array.from({ length: 100 }, (_, i) => alert(i))
    // 10 000 observations: 100 per 100 ms of simulated time over 10 s, sent in batches of 25 all at once.
    const batches: Array<{ now: number; breaching: Alert[] }> = []
    for (let n = 0; n < 10_000; n += 25) {
      const now = t0 + Math.floor((n / 10_000) * 10_000)
      batches.push({ now, breaching: Array.from({ length: 25 }, (_, k) => alerts[(n + k) % 100]) })
    }
    const results = await Promise.all(batches.map((b, i) => trackers[i % trackers.length].evaluate({ ...b })))
    const opened = results.flatMap((r) => r.toOpen.map((a) => a.fingerprint))
    assert.equal(results.reduce((s, r) => s + r.toOpen.length + r.pending.length, 0) > 0, true)
    assert.equal(opened.length, 100, `expected 100 openings, got ${opened.length}`)
    assert.equal(new Set(opened).size, 100)
    assert.equal(results.flatMap((r) => r.flapping).length, 0)
    assert.equal(results.flatMap((r) => r.toResolve).length, 0)
    const states = await trackers[0].states(alerts.map((a) => a.fingerprint))
    assert.ok([...states.values()].every((s) => s.state === 'firing'))
    assert.equal((await trackers[0].active()).length, 100)
    // Observing again opens nothing more.
    const again = await trackers[1].evaluate({ breaching: alerts, now: t0 + 11_000 })
    assert.equal(again.toOpen.length, 0)
  })

  it('waits `for` before opening and the hold-down before resolving; a breach cancels a resolution', async () => {
    const t = new AlertTracker(redis.client, { prefix: prefix(), forMs: 1000, holdDownMs: 2000 })
    const a = alert(1)
    const t0 = 1_700_000_000_000
    let r = await t.evaluate({ breaching: [a], now: t0 })
    assert.deepEqual([r.toOpen.length, r.pending.length], [0, 1])
    assert.equal((await t.states([a.fingerprint])).get(a.fingerprint)?.state, 'pending')
    r = await t.evaluate({ breaching: [a], now: t0 + 999 })
    assert.equal(r.toOpen.length, 0)
    r = await t.evaluate({ breaching: [a], now: t0 + 1000 })
    assert.equal(r.toOpen.length, 1)
    assert.equal(r.toOpen[0].details?.state, 'firing')
    r = await t.evaluate({ clear: [a.fingerprint], now: t0 + 1500 })
    assert.equal(r.toResolve.length, 0)
    r = await t.evaluate({ breaching: [a], now: t0 + 2000 })
    assert.equal(r.toOpen.length, 0, 'still firing: no second opening')
    r = await t.evaluate({ clear: [a.fingerprint], now: t0 + 3000 })
    r = await t.evaluate({ clear: [a.fingerprint], now: t0 + 4999 })
    assert.equal(r.toResolve.length, 0, 'the breach at +2000 restarted the hold-down')
    r = await t.evaluate({ clear: [a.fingerprint], now: t0 + 5000 })
    assert.equal(r.toResolve.length, 1)
    assert.equal(r.toResolve[0].fingerprint, a.fingerprint)
    assert.equal(r.toResolve[0].details?.state, 'ok')
    assert.equal((await t.states([a.fingerprint])).get(a.fingerprint)?.state, 'ok')
  })

  it('applies a type its own `for` (anomalies), the others the default', async () => {
    const t = new AlertTracker(redis.client, {
      prefix: prefix(),
      forMs: 1000,
      forMsByType: { anomaly: 5000 },
      holdDownMs: 0,
    })
    const cpu = alert(10)
    const anomaly: Alert = { ...alert(11), type: 'anomaly', fingerprint: `anomaly:${randomBytes(8).toString('hex')}` }
    const t0 = 1_700_000_000_000
    await t.evaluate({ breaching: [cpu, anomaly], now: t0 })
    let r = await t.evaluate({ breaching: [cpu, anomaly], now: t0 + 1000 })
    assert.deepEqual(
      r.toOpen.map((a) => a.type),
      ['cpu'],
    )
    assert.deepEqual(
      r.pending.map((a) => a.type),
      ['anomaly'],
    )
    r = await t.evaluate({ breaching: [cpu, anomaly], now: t0 + 5000 })
    assert.deepEqual(
      r.toOpen.map((a) => a.type),
      ['anomaly'],
    )
    assert.throws(
      () => new AlertTracker(redis.client, { forMsByType: { anomaly: -1 } }),
      /forMsByType\.anomaly must be >= 0/,
    )
  })

  it('a pending alert that clears never opens', async () => {
    const t = new AlertTracker(redis.client, { prefix: prefix(), forMs: 1000, holdDownMs: 0 })
    const a = alert(2)
    const t0 = 1_700_000_000_000
    await t.evaluate({ breaching: [a], now: t0 })
    const r1 = await t.evaluate({ clear: [a.fingerprint], now: t0 + 500 })
    assert.deepEqual([r1.toOpen.length, r1.toResolve.length], [0, 0])
    const r2 = await t.evaluate({ breaching: [a], now: t0 + 1200 })
    assert.equal(r2.toOpen.length, 0, 'pending restarted at +1200')
    const r3 = await t.evaluate({ breaching: [a], now: t0 + 2200 })
    assert.equal(r3.toOpen.length, 1)
  })

  it('marks an alert that keeps opening and clearing as flapping instead of opening it again', async () => {
    const t = new AlertTracker(redis.client, {
      prefix: prefix(),
      forMs: 0,
      holdDownMs: 0,
      flapThreshold: 3,
      flapWindowMs: 60_000,
    })
    const a = alert(3)
    const t0 = 1_700_000_000_000
    const r1 = await t.evaluate({ breaching: [a], now: t0 })
    assert.equal(r1.toOpen.length, 1)
    const r2 = await t.evaluate({ clear: [a.fingerprint], now: t0 + 1000 })
    assert.equal(r2.toResolve.length, 1)
    const r3 = await t.evaluate({ breaching: [a], now: t0 + 2000 })
    assert.equal(r3.toOpen.length, 0)
    assert.equal(r3.flapping.length, 1)
    assert.equal(r3.flapping[0].details?.flapping, true)
    assert.equal((await t.states([a.fingerprint])).get(a.fingerprint)?.flapping, true)
    const r4 = await t.evaluate({ clear: [a.fingerprint], now: t0 + 3000 })
    assert.equal(r4.toResolve.length, 1)
    const r5 = await t.evaluate({ breaching: [a], now: t0 + 4000 })
    assert.equal(r5.flapping.length, 1)
    // Once the window has passed, it is a normal opening again.
    await t.evaluate({ clear: [a.fingerprint], now: t0 + 5000 })
    const r6 = await t.evaluate({ breaching: [a], now: t0 + 200_000 })
    assert.equal(r6.toOpen.length, 1)
    assert.equal(r6.flapping.length, 0)
  })

  it('resolves an alert nobody observes any more (stale), and keeps state across a Redis restart', async () => {
    const p = prefix()
    const t = new AlertTracker(redis.client, { prefix: p, forMs: 0, holdDownMs: 0, staleAfterMs: 60_000 })
    const a = alert(4)
    const b = alert(5)
    const t0 = Date.now()
    assert.equal((await t.evaluate({ breaching: [a, b], now: t0 })).toOpen.length, 2)
    // appendfsync everysec: let the AOF reach the disk, then restart the server.
    await new Promise((r) => setTimeout(r, 1500))
    await redis.kill()
    await redis.restart()
    const fresh = new Redis({ port: redis.port, host: '127.0.0.1' })
    fresh.on('error', () => {})
    clients.push(fresh)
    const t2 = new AlertTracker(fresh, { prefix: p, forMs: 0, holdDownMs: 0, staleAfterMs: 60_000 })
    const states = await t2.states([a.fingerprint, b.fingerprint])
    assert.equal(states.get(a.fingerprint)?.state, 'firing')
    assert.equal(states.get(a.fingerprint)?.alert?.resource.id, 'host-4')
    const again = await t2.evaluate({ breaching: [a], now: t0 + 30_000 })
    assert.equal(again.toOpen.length, 0, 'no second opening after the restart')
    // b was not observed for more than staleAfterMs: it resolves; a was, it stays.
    const swept = await t2.evaluate({ breaching: [a], now: t0 + 61_000 })
    assert.deepEqual(
      swept.toResolve.map((x) => x.fingerprint),
      [b.fingerprint],
    )
    assert.equal(swept.toResolve[0].details?.stale, true)
  })

  it('fingerprints are stable and differ by type and resource', () => {
    const r = { kind: 'host' as const, id: 'h1', name: 'h1' }
    assert.equal(alertFingerprint('cpu', r), alertFingerprint('cpu', { ...r }))
    assert.notEqual(alertFingerprint('cpu', r), alertFingerprint('memory', r))
    assert.notEqual(alertFingerprint('cpu', r), alertFingerprint('cpu', { ...r, id: 'h2', name: 'h2' }))
    // A container is the same container across a recreation (new id, same name).
    assert.equal(
      alertFingerprint('memory', { kind: 'container', id: 'aaa', name: 'web' }),
      alertFingerprint('memory', { kind: 'container', id: 'bbb', name: 'web' }),
    )
    assert.match(alertFingerprint('disk', r), /^disk:[0-9a-f]{16}$/)
  })
})
