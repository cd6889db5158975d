/**
 * Two controllers, one log: two hubs in this process, each with its own HTTP server, on one real
 * Redis, plus a "step process" appending from a connection of its own. A dashboard that reads from
 * one and reconnects to the other with its Last-Event-ID gets exactly what it missed.
 */
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, describe, test } from 'node:test'
import type { Redis } from 'ioredis'
import { startRedis, type TestRedis } from '../../../tests/helpers/redis'
import { compareStreamIds, createStreamHub, type StreamHub } from './hub'
import { publishToStream } from './publish'
import { connectSse, type SseConnection } from './sse-client'

const verifyToken = (t: string) => (t === 'tok-admin' ? { ok: true, role: 'admin' } : null)

interface Controller {
  hub: StreamHub
  base: string
  stop(): Promise<void>
}

async function controller(redis: Redis, logKey: string): Promise<Controller> {
  const hub = createStreamHub({ verifyToken, heartbeatMs: 0, logKey })
  await hub.attachLog(redis)
  const server = http.createServer((req, res) => void hub.handler(req, res))
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  return {
    hub,
    base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    async stop() {
      await hub.close()
      server.closeAllConnections()
      await new Promise((r) => server.close(r))
    },
  }
}

const real = (c: SseConnection) => c.events.filter((e) => e.event !== 'ready')
const ns = (c: SseConnection) => real(c).map((e) => JSON.parse(e.data).n as number)

describe('one event log shared by several controllers', { timeout: 60_000 }, () => {
  let redis: TestRedis
  let step: Redis
  let logKey: string
  let a: Controller
  let b: Controller
  let bRedis: Redis
  const open: SseConnection[] = []
  const connect = async (c: Controller, lastEventId?: string) => {
    const conn = await connectSse(
      `${c.base}/api/stream?token=tok-admin`,
      lastEventId ? { 'Last-Event-ID': lastEventId } : {},
    )
    open.push(conn)
    return conn
  }
  /** Every entry of the log after `from`, as Redis holds them: what a resuming client must get. */
  const logAfter = async (from: string) =>
    (await redis.client.xrange(logKey, `(${from}`, '+')).map(([id, f]) => ({ id, n: JSON.parse(f[3]).n }))

  before(async () => {
    redis = await startRedis()
    // The step process's own connection, as a short-lived step would open it.
    step = redis.client.duplicate()
    logKey = `test:stream:${randomUUID()}`
    a = await controller(redis.client, logKey)
    // A controller on a connection of its own, as another process would have.
    bRedis = redis.client.duplicate()
    b = await controller(bRedis, logKey)
  })
  after(async () => {
    for (const c of open) c.close()
    await a?.stop()
    await b?.stop()
    step?.disconnect()
    bRedis?.disconnect()
    await redis?.stop()
  })

  let n = 0
  /** Publishes the next numbered event through `via`: controller A, controller B or the step process. */
  const publishVia = async (via: 'a' | 'b' | 'step') => {
    const data = { n: ++n }
    if (via === 'step') assert.equal(await publishToStream(step, 'incident.updated', data, { key: logKey }), 1)
    else assert.ok(await (via === 'a' ? a : b).hub.publish('metrics', data))
    return data.n
  }

  test('every controller delivers every event once, in log order, with the same ids', async () => {
    const onA = await connect(a)
    const onB = await connect(b)
    await onA.waitFor((c) => c.events.length === 1, 10_000, 'ready on A')
    await onB.waitFor((c) => c.events.length === 1, 10_000, 'ready on B')
    const first = onA.events[0].id!
    const sent: number[] = []
    for (const via of ['a', 'b', 'step', 'b', 'a', 'step'] as const) sent.push(await publishVia(via))
    for (const c of [onA, onB]) await c.waitFor((x) => real(x).length === sent.length, 10_000, 'all six')
    assert.deepEqual(ns(onA), sent)
    assert.deepEqual(
      real(onA).map((e) => e.id),
      real(onB).map((e) => e.id),
      'the same event has the same id on both',
    )
    assert.deepEqual(
      real(onA).map((e) => ({ id: e.id, n: JSON.parse(e.data).n })),
      await logAfter(first),
    )
  })

  test('a dashboard moving from A to B gets exactly what it missed, even while events keep coming', async () => {
    const onA = await connect(a)
    await onA.waitFor((c) => c.events.length === 1, 10_000, 'ready on A')
    for (const via of ['a', 'step', 'b'] as const) await publishVia(via)
    await onA.waitFor((c) => real(c).length === 3, 10_000, 'three on A')
    const seen = real(onA).at(-1)!.id!
    onA.close()

    // Missed while away, from all three producers.
    for (const via of ['b', 'step', 'a', 'step'] as const) await publishVia(via)
    // More arrive while the reconnect runs (not awaited: they race with its replay).
    const during = ['a', 'step', 'b', 'step', 'a'].map((via) => publishVia(via as 'a' | 'b' | 'step'))
    const onB = await connect(b, seen)
    await Promise.all(during)
    const last = await publishVia('b')
    await onB.waitFor((c) => ns(c).includes(last), 10_000, 'the last event on B')

    const expected = await logAfter(seen)
    assert.equal(expected.at(-1)!.n, last)
    assert.deepEqual(
      real(onB).map((e) => ({ id: e.id, n: JSON.parse(e.data).n })),
      expected,
      'no gap, no duplicate, in log order',
    )
    assert.ok(!onB.events.some((e) => e.event === 'reset' || e.event === 'ready'))
  })

  test('resuming at the seam: reconnects during a steady stream of appends each get exactly the rest', async () => {
    const writer = (async () => {
      for (let i = 0; i < 120; i++) await publishVia(i % 3 === 0 ? 'step' : i % 3 === 1 ? 'a' : 'b')
    })()
    // Resume points taken from the log as it grows, some not yet delivered by the hub resumed on.
    const resumed: { from: string; conn: SseConnection }[] = []
    for (let k = 0; k < 6; k++) {
      await new Promise((r) => setTimeout(r, 5))
      const tip = await redis.client.xrevrange(logKey, '+', '-', 'COUNT', 1)
      const from = tip[0][0]
      resumed.push({ from, conn: await connect(k % 2 ? a : b, from) })
    }
    await writer
    // One more after the writer, so that even a client resumed at the very end has something to wait for.
    const final = await publishVia('step')
    for (const { from, conn } of resumed) {
      await conn.waitFor((c) => ns(c).includes(final), 10_000, `everything after ${from}`)
      const got = real(conn).map((e) => ({ id: e.id, n: JSON.parse(e.data).n }))
      assert.deepEqual(got, await logAfter(from), `resumed from ${from}`)
      for (let i = 1; i < got.length; i++) assert.ok(compareStreamIds(got[i].id!, got[i - 1].id!) > 0)
    }
  })

  test('an id trimmed out of the log gets a reset on any controller, then live events', async () => {
    const old = (await redis.client.xrange(logKey, '-', '+', 'COUNT', 1))[0][0]
    await publishVia('a')
    await redis.client.xtrim(logKey, 'MAXLEN', 1)
    const onB = await connect(b, old)
    await onB.waitFor((c) => c.events.length === 1, 10_000, 'the reset')
    assert.equal(onB.events[0].event, 'reset')
    assert.equal(JSON.parse(onB.events[0].data).reason, 'too_far_behind')
    const live = await publishVia('step')
    await onB.waitFor((c) => ns(c).includes(live), 10_000, 'a live event after the reset')
    assert.equal(real(onB).length, 2)
  })
})
