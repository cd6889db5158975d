/**
 * The SSE hub against a real Redis: each test's hubs share a log key of their own, so tests do
 * not see each other's events. The hub's cross-controller behaviour is in ./shared-log.test.ts.
 */
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, describe, test } from 'node:test'
import { startRedis, type TestRedis } from '../../../tests/helpers/redis'
import { issueStreamToken, verifyStreamToken } from '../auth/stream-token'
import { streamGrantPolicy } from './grant-policy'
import { compareStreamIds, createStreamHub, type StreamHub, type StreamHubOptions, type TokenCheck } from './hub'
import { publishToStream } from './publish'
import { connectSse, type SseConnection } from './sse-client'

const TOKENS: Record<string, string> = { 'tok-viewer': 'viewer', 'tok-operator': 'operator', 'tok-admin': 'admin' }
const verifyToken = (t: string) => (TOKENS[t] ? { ok: true, role: TOKENS[t] } : null)

let redis: TestRedis
before(async () => (redis = await startRedis()))
after(() => redis.stop())

interface Served {
  hub: StreamHub
  base: string
  logKey: string
  open: SseConnection[]
  connect(query?: string, headers?: Record<string, string>): Promise<SseConnection>
  /** Publishes and returns the log id (never null here: Redis is up). */
  pub(type: Parameters<StreamHub['publish']>[0], data: unknown): Promise<string>
  stop(): Promise<void>
}

/** A hub on its own log key, attached to the test Redis. */
async function attachedHub(opts: Partial<StreamHubOptions> = {}) {
  const logKey = opts.logKey ?? `test:stream:${randomUUID()}`
  const hub = createStreamHub({ verifyToken, heartbeatMs: 0, logKey, ...opts })
  await hub.attachLog(redis.client)
  return { hub, logKey }
}

async function serve(opts: Partial<StreamHubOptions> = {}): Promise<Served> {
  const { hub, logKey } = await attachedHub(opts)
  const server = http.createServer((req, res) => {
    if (req.url?.startsWith('/api/stream')) void hub.handler(req, res)
    else res.writeHead(404).end()
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  const open: SseConnection[] = []
  return {
    hub,
    base,
    logKey,
    open,
    async connect(query = 'token=tok-viewer', headers = {}) {
      const c = await connectSse(`${base}/api/stream?${query}`, headers)
      open.push(c)
      return c
    },
    async pub(type, data) {
      const id = await hub.publish(type, data)
      assert.ok(id, `${type} was appended to the log`)
      // Appended is not yet delivered: wait for this hub's tail, so a fresh client's `ready` is after it.
      await until(() => compareStreamIds(hub.stats().lastId, id) >= 0, `the tail to deliver ${id}`)
      return id
    },
    async stop() {
      for (const c of open) c.close()
      await hub.close()
      server.closeAllConnections()
      await new Promise((r) => server.close(r))
    },
  }
}

/** Ids of the real events, leaving out the `ready` greeting of fresh connections. */
const ids = (c: SseConnection) => c.events.filter((e) => e.event !== 'ready').map((e) => e.id)
const real = (c: SseConnection) => c.events.filter((e) => e.event !== 'ready')
async function until(pred: () => boolean, what: string) {
  const started = Date.now()
  while (!pred()) {
    if (Date.now() - started > 10_000) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 10))
  }
}
const waitClients = (s: Served, n: number) =>
  new Promise<void>((ok, fail) => {
    const started = Date.now()
    const tick = () =>
      s.hub.clientCount() === n
        ? ok()
        : Date.now() - started > 10_000
          ? fail(new Error(`clientCount stayed ${s.hub.clientCount()}, wanted ${n}`))
          : setTimeout(tick, 10)
    tick()
  })

describe('stream hub: authentication', { timeout: 30_000 }, () => {
  let s: Served
  before(async () => (s = await serve()))
  after(() => s.stop())

  for (const [what, query] of [
    ['no token', ''],
    ['an unknown token', 'token=nope'],
    ['an empty token', 'token='],
  ]) {
    test(`${what} → 401 JSON, never a stream`, async () => {
      const c = await s.connect(query)
      await c.ended$
      assert.equal(c.status, 401)
      assert.match(String(c.headers['content-type']), /^application\/json/)
      assert.equal(JSON.parse(c.body).error, 'unauthorized')
      assert.equal(c.events.length, 0)
    })
  }

  test('a verifier that throws or says ok:false → 401', async () => {
    const t = await serve({
      verifyToken: (tok) =>
        tok === 'boom'
          ? (() => {
              throw new Error('x')
            })()
          : { ok: false, role: 'admin' },
    })
    try {
      for (const q of ['token=boom', 'token=whatever']) {
        const c = await t.connect(q)
        await c.ended$
        assert.equal(c.status, 401)
      }
      assert.equal(t.hub.stats().rejected, 2)
      assert.equal(t.hub.clientCount(), 0)
    } finally {
      await t.stop()
    }
  })

  test('the real stream tokens from src/platform/auth plug in directly; an expired one is refused', async () => {
    const t = await serve({ verifyToken: verifyStreamToken })
    try {
      const good = issueStreamToken('operator', 'k1', 60)
      const expired = issueStreamToken('operator', 'k1', 1, Date.now() - 10_000)
      const ok = await t.connect(`token=${encodeURIComponent(good.token)}`)
      assert.equal(ok.status, 200)
      const late = await t.connect(`token=${encodeURIComponent(expired.token)}`)
      await late.ended$
      assert.equal(late.status, 401)
      const forged = await t.connect(`token=${encodeURIComponent(good.token.slice(0, -2) + 'AA')}`)
      await forged.ended$
      assert.equal(forged.status, 401)
    } finally {
      await t.stop()
    }
  })

  test('a request whose body a middleware already read still streams, and stays counted', async () => {
    // Express middlewares may consume the request; Node then marks it destroyed although the
    // connection is open. The hub must not take that for a disconnect.
    const { hub } = await attachedHub()
    const server = http.createServer((req, res) => {
      req.resume()
      req.on('end', () => setTimeout(() => void hub.handler(req, res), 50))
    })
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    try {
      const c = await connectSse(
        `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/stream?token=tok-viewer`,
      )
      assert.equal(c.status, 200)
      await c.waitFor(() => hub.clientCount() === 1, 10_000, 'the client to be counted')
      await new Promise((r) => setTimeout(r, 100))
      assert.equal(hub.clientCount(), 1)
      const id = await hub.publish('metrics', { ok: true })
      assert.ok(id)
      await c.waitFor((x) => x.events.some((e) => e.id === id))
      c.close()
      await c.waitFor(() => hub.clientCount() === 0, 10_000, 'the disconnect to be seen')
    } finally {
      await hub.close()
      server.closeAllConnections()
      await new Promise((r) => server.close(r))
    }
  })

  test('a valid token opens an event stream', async () => {
    const c = await s.connect('token=tok-viewer')
    assert.equal(c.status, 200)
    assert.match(String(c.headers['content-type']), /^text\/event-stream/)
    await waitClients(s, 1)
    const before = s.hub.stats().lastId
    const id = await s.pub('container', { id: 'c1', name: 'web', state: 'running' })
    await c.waitFor((x) => x.events.length === 2)
    // A fresh connection is first told where the stream stands.
    assert.equal(c.events[0].event, 'ready')
    assert.equal(c.events[0].id, before)
    assert.equal(c.events[1].event, 'container')
    assert.equal(c.events[1].id, id)
    assert.ok(compareStreamIds(id, before) > 0)
    assert.deepEqual(JSON.parse(c.events[1].data), { id: 'c1', name: 'web', state: 'running' })
    c.close()
    await waitClients(s, 0)
  })
})

describe('stream hub: replay', { timeout: 30_000 }, () => {
  test('a client reconnecting with Last-Event-ID gets exactly the events it missed, then live ones', async () => {
    const s = await serve()
    try {
      const a = await s.connect()
      await waitClients(s, 1)
      for (let i = 1; i <= 3; i++) await s.pub('metrics', { n: i })
      await a.waitFor((c) => real(c).length === 3, 10_000, 'first three')
      const ids1 = ids(a)
      for (let i = 1; i < ids1.length; i++) assert.ok(compareStreamIds(ids1[i]!, ids1[i - 1]!) > 0, 'ids grow')
      a.close()
      await waitClients(s, 0)

      const missed: string[] = []
      for (let i = 4; i <= 8; i++) missed.push(await s.pub(i % 2 ? 'incident.updated' : 'metrics', { n: i }))

      const b = await s.connect('token=tok-viewer', { 'Last-Event-ID': real(a)[2].id! })
      await waitClients(s, 1)
      const live = await s.pub('container', { n: 9 })
      await b.waitFor((c) => c.events.some((e) => e.id === live), 10_000, 'live event')
      assert.deepEqual(ids(b), [...missed, live])
      assert.deepEqual(
        b.events.map((e) => JSON.parse(e.data).n),
        [4, 5, 6, 7, 8, 9],
      )
      assert.deepEqual(
        b.events.map((e) => e.event),
        ['metrics', 'incident.updated', 'metrics', 'incident.updated', 'metrics', 'container'],
      )
      assert.equal(s.hub.stats().replayed, 5)
    } finally {
      await s.stop()
    }
  })

  test('samples go out live, without an id, and are neither logged nor replayed', async () => {
    const s = await serve()
    try {
      const a = await s.connect()
      await waitClients(s, 1)
      const before = await s.pub('incident.updated', { n: 1 })
      await a.waitFor((c) => ids(c).includes(before), 10_000, 'the first event')
      for (let i = 0; i < 10; i++) assert.equal(await s.hub.publish('sample', { i }), null)
      await a.waitFor((c) => real(c).filter((e) => e.event === 'sample').length === 10, 10_000, 'ten samples')
      assert.ok(
        real(a)
          .filter((e) => e.event === 'sample')
          .every((e) => !e.id),
        'samples carry no id',
      )
      assert.equal(await redis.client.xlen(s.logKey), 1, 'samples are not in the log')
      a.close()
      await waitClients(s, 0)
      const after = await s.pub('incident.updated', { n: 2 })
      await s.hub.publish('sample', { i: 10 })
      const b = await s.connect('token=tok-viewer', { 'Last-Event-ID': before })
      await b.waitFor((c) => ids(c).includes(after), 10_000, 'the missed event')
      assert.deepEqual(
        real(b).map((e) => e.event),
        ['incident.updated'],
      )
    } finally {
      await s.stop()
    }
  })

  test('lastEventId query parameter works for clients that cannot set headers', async () => {
    const s = await serve()
    try {
      const first = await s.pub('audit', { n: 1 })
      const second = await s.pub('metrics', { n: 2 })
      const third = await s.pub('metrics', { n: 3 })
      const c = await s.connect(`token=tok-viewer&lastEventId=${first}`)
      await c.waitFor((x) => x.events.length === 2)
      assert.deepEqual(ids(c), [second, third])
    } finally {
      await s.stop()
    }
  })

  test('up to date, exactly at the edge of the trimmed log, too far behind, unknown and malformed ids', async () => {
    const s = await serve()
    try {
      const published: string[] = []
      for (let i = 0; i < 12; i++) published.push(await s.pub('metrics', { n: i }))
      // What MAXLEN trimming does, exactly: the log keeps the last 6 (published[6..11]).
      await redis.client.xtrim(s.logKey, 'MAXLEN', 6)
      const latest = published[11]
      const [ms, seq] = latest.split('-')

      // Up to date: nothing replayed, no reset; the next live event arrives.
      const upToDate = await s.connect('token=tok-viewer', { 'Last-Event-ID': latest })
      // The oldest id still in the log: everything after it is there.
      const edge = await s.connect('token=tok-viewer', { 'Last-Event-ID': published[6] })
      // Its predecessor was trimmed away → reset.
      const behind = await s.connect('token=tok-viewer', { 'Last-Event-ID': published[5] })
      // An id the log never held (another Redis, a made-up one) → reset.
      const future = await s.connect('token=tok-viewer', { 'Last-Event-ID': `${BigInt(ms) + 1000n}-${seq}` })
      // Not a log id at all (a numeric id from an older Sentinel) → reset.
      const malformed = await s.connect('token=tok-viewer', { 'Last-Event-ID': '1700000000000001' })
      await waitClients(s, 5)
      // Each resume answered before the next event: an entry the tail delivers while a reset is being
      // decided is part of the state the client reloads (the reset carries its id), not sent apart.
      for (const c of [behind, future, malformed]) await c.waitFor((x) => x.events.some((e) => e.event === 'reset'))
      await edge.waitFor((x) => x.events.length >= 5)
      const live = await s.pub('container', { n: 'live' })
      for (const [n, c] of Object.entries({ upToDate, edge, behind, future, malformed }))
        await c.waitFor((x) => x.events.some((e) => e.id === live), 3000, `${n} ${JSON.stringify(c.events)}`)

      assert.deepEqual(ids(upToDate), [live])
      assert.deepEqual(ids(edge), [...published.slice(7), live])
      for (const c of [behind, future, malformed]) {
        assert.equal(c.events.length, 2)
        assert.equal(c.events[0].event, 'reset')
        assert.equal(c.events[0].id, latest, 'the reset carries the latest id so the next reconnect resumes from it')
        assert.equal(JSON.parse(c.events[0].data).latestId, latest)
        assert.equal(c.events[1].id, live)
      }
      assert.equal(JSON.parse(behind.events[0].data).reason, 'too_far_behind')
      assert.equal(JSON.parse(future.events[0].data).reason, 'unknown_id')
      assert.equal(JSON.parse(malformed.events[0].data).reason, 'unknown_id')
      assert.equal(s.hub.stats().resets, 3)
    } finally {
      await s.stop()
    }
  })

  test("the hub's appends keep the log near its bound", async () => {
    const s = await serve({ logMaxLen: 5 })
    try {
      const blob = 'q'.repeat(8 * 1024)
      for (let i = 0; i < 40; i++) await s.pub('incident.updated', { i, blob })
      const length = await redis.client.xlen(s.logKey)
      // `~` trims whole nodes; a node holds at most 4 KiB of entries by default, so here one each.
      assert.ok(length >= 5 && length < 40, `${length} entries kept`)
    } finally {
      await s.stop()
    }
  })

  test('a replay bigger than replayMaxBytes earns a reset instead', async () => {
    const s = await serve({ replayMaxBytes: 64 * 1024 })
    try {
      const blob = 'b'.repeat(10 * 1024)
      const published: string[] = []
      for (let i = 0; i < 20; i++) published.push(await s.pub('incident.updated', { i, blob }))
      const small = await s.connect('token=tok-viewer', { 'Last-Event-ID': published[15] })
      const big = await s.connect('token=tok-viewer', { 'Last-Event-ID': published[0] })
      await small.waitFor((x) => x.events.length === 4)
      assert.deepEqual(ids(small), published.slice(16))
      await big.waitFor((x) => x.events.length === 1)
      assert.equal(big.events[0].event, 'reset')
      assert.equal(JSON.parse(big.events[0].data).reason, 'too_far_behind')
    } finally {
      await s.stop()
    }
  })

  test('audit events reach admins only, live and in replay', async () => {
    const s = await serve()
    try {
      const start = await s.pub('metrics', { n: 0 })
      const viewer = await s.connect('token=tok-viewer')
      const admin = await s.connect('token=tok-admin')
      await waitClients(s, 2)
      const auditId = await s.pub('audit', { kind: 'approved' })
      const metricId = await s.pub('metrics', { n: 1 })
      for (const c of [viewer, admin]) await c.waitFor((x) => x.events.some((e) => e.id === metricId))
      assert.deepEqual(ids(viewer), [metricId])
      assert.deepEqual(ids(admin), [auditId, metricId])
      const replayOperator = await s.connect('token=tok-operator', { 'Last-Event-ID': start })
      const replayAdmin = await s.connect('token=tok-admin', { 'Last-Event-ID': start })
      await replayOperator.waitFor((x) => x.events.length >= 1)
      await replayAdmin.waitFor((x) => x.events.length >= 2)
      assert.deepEqual(ids(replayOperator), [metricId])
      assert.deepEqual(ids(replayAdmin), [auditId, metricId])
    } finally {
      await s.stop()
    }
  })
})

describe('stream hub: liveness', { timeout: 30_000 }, () => {
  test('heartbeat comments arrive on an idle stream', async () => {
    const s = await serve({ heartbeatMs: 50 })
    try {
      const c = await s.connect()
      await c.waitFor((x) => x.comments.filter((t) => t === 'ping').length >= 3, 10_000, 'three pings')
      assert.equal(real(c).length, 0)
      assert.ok(!c.ended)
    } finally {
      await s.stop()
    }
  })

  test('a client that stops reading is dropped while a fast one keeps receiving everything', async () => {
    const s = await serve({ maxBufferedBytes: 64 * 1024, logMaxLen: 20 })
    try {
      const slow = await s.connect()
      const fast = await s.connect()
      await waitClients(s, 2)
      slow.pause()
      const blob = 'x'.repeat(16 * 1024)
      const sent: string[] = []
      // Loopback socket buffers hold several MB before the server's own buffer grows: publish until
      // the drop, one event at a time, so the fast reader is never the one behind.
      for (let i = 0; i < 4000 && s.hub.stats().dropped === 0; i++) {
        sent.push(await s.pub('metrics', { i, blob }))
        await fast.waitFor((x) => real(x).length === sent.length, 10_000, `fast client event ${i}`)
      }
      assert.equal(s.hub.stats().dropped, 1, 'the slow client was dropped')
      assert.equal(s.hub.clientCount(), 1)
      sent.push(await s.pub('metrics', { i: 'after' }))
      await fast.waitFor((x) => real(x).length === sent.length)
      assert.deepEqual(ids(fast), sent)
      assert.ok(!fast.ended)
      slow.res.socket.resume()
      slow.res.resume()
      await slow.ended$
      assert.ok(slow.events.length < sent.length, 'the slow client did not get everything')
    } finally {
      await s.stop()
    }
  })

  test('a large replay to a reconnecting client is not mistaken for a slow client', async () => {
    const s = await serve({ maxBufferedBytes: 64 * 1024, logMaxLen: 2000 })
    try {
      const start = await s.pub('metrics', { first: true })
      const blob = 'z'.repeat(8 * 1024)
      const sent: string[] = []
      for (let i = 0; i < 1000; i++) sent.push(await s.pub('metrics', { i, blob }))
      // 8 MB of missed events: far more than the per-client limit, but bounded by replayMaxBytes.
      const c = await s.connect('token=tok-viewer', { 'Last-Event-ID': start })
      await c.waitFor((x) => real(x).length === 1000, 20_000, 'the whole replay')
      assert.deepEqual(ids(c), sent)
      assert.equal(s.hub.stats().dropped, 0)
      // Afterwards the normal limit applies again: live events still flow.
      const live = await s.pub('metrics', { live: true })
      await c.waitFor((x) => x.events.some((e) => e.id === live))
      assert.equal(s.hub.clientCount(), 1)
    } finally {
      await s.stop()
    }
  })

  test('a socket that stays blocked past drainTimeoutMs is dropped even under the byte limit', async () => {
    const s = await serve({ maxBufferedBytes: 512 * 1024 * 1024, drainTimeoutMs: 200, heartbeatMs: 50, logMaxLen: 20 })
    try {
      const slow = await s.connect()
      await waitClients(s, 1)
      slow.pause()
      const blob = 'y'.repeat(64 * 1024)
      for (let i = 0; i < 2000 && s.hub.stats().dropped === 0; i++) {
        await s.pub('metrics', { i, blob })
      }
      await waitClients(s, 0)
      assert.equal(s.hub.stats().dropped, 1)
    } finally {
      await s.stop()
    }
  })

  test('without a log attached, events are dropped (and said so), samples still go out', async () => {
    const notes: string[] = []
    const hub = createStreamHub({ verifyToken, heartbeatMs: 0, log: (m) => notes.push(m) })
    try {
      assert.equal(await hub.publish('metrics', {}), null)
      assert.equal(await hub.publish('sample', {}), null)
      assert.equal(hub.stats().lost, 1)
      assert.equal(hub.stats().published, 1)
      assert.deepEqual(notes, ['stream event dropped: no log attached'])
    } finally {
      await hub.close()
    }
  })

  test('close() ends every stream and refuses new ones', async () => {
    const s = await serve()
    const c = await s.connect()
    await waitClients(s, 1)
    await s.hub.close()
    await c.ended$
    const late = await connectSse(`${s.base}/api/stream?token=tok-viewer`)
    await late.ended$
    assert.equal(late.status, 503)
    await s.stop()
  })

  test('publish refuses unknown event types', () => {
    const hub = createStreamHub({ verifyToken })
    assert.throws(() => void hub.publish('reset' as never, {}), /unknown stream event type/)
    void hub.close()
  })
})

describe('stream hub: a stream ends when its grant no longer holds', { timeout: 30_000 }, () => {
  /** The test tokens, each issued for the key `key-<role>`; a key in `revoked` no longer holds. */
  const withKeys = (revoked: Set<string>, opts: Partial<StreamHubOptions> = {}) =>
    serve({
      verifyToken: (t) => (TOKENS[t] ? { ok: true, role: TOKENS[t], keyId: `key-${TOKENS[t]}` } : null),
      recheckGrant: (g) => (revoked.has(g.keyId!) ? { ok: false, reason: 'key_revoked' } : { ok: true }),
      recheckMs: 50,
      ...opts,
    })

  test('a revoked key: its stream gets a final reauth event carrying the current id, then ends; other streams stay', async () => {
    const revoked = new Set<string>()
    const s = await withKeys(revoked)
    try {
      const viewer = await s.connect('token=tok-viewer')
      const admin = await s.connect('token=tok-admin')
      await waitClients(s, 2)
      const id = await s.pub('metrics', { n: 1 })
      await viewer.waitFor((c) => ids(c).includes(id))
      // Several rechecks pass while the key holds.
      await new Promise((r) => setTimeout(r, 200))
      assert.equal(viewer.ended, false)

      revoked.add('key-viewer')
      await viewer.waitFor((x) => x.ended, 5000, 'the stream to end')
      const last = viewer.events.at(-1)!
      assert.equal(last.event, 'reauth')
      assert.deepEqual(JSON.parse(last.data), { reason: 'key_revoked' })
      assert.equal(last.id, id, 'a reconnect resumes exactly where the stream ended')
      assert.equal(last.id, s.hub.stats().lastId)
      assert.equal(s.hub.stats().endedForReauth, 1)

      await new Promise((r) => setTimeout(r, 200))
      assert.equal(admin.ended, false, 'the admin key still holds')
      assert.equal(s.hub.clientCount(), 1)
      const after = await s.pub('metrics', { n: 2 })
      await admin.waitFor((c) => ids(c).includes(after))
    } finally {
      await s.stop()
    }
  })

  test('a token whose key was revoked after it was issued cannot open a stream', async () => {
    const s = await withKeys(new Set(['key-operator']))
    try {
      const c = await s.connect('token=tok-operator')
      await c.ended$
      assert.equal(c.status, 401)
      assert.match(JSON.parse(c.body).message, /no longer holds \(key_revoked\)/)
      assert.equal(s.hub.clientCount(), 0)
      assert.equal(s.hub.stats().rejected, 1)
    } finally {
      await s.stop()
    }
  })

  test('a check that throws ends the stream (a grant that cannot be confirmed is not kept); an async check is awaited', async () => {
    let failing = false
    const s = await serve({
      verifyToken: (t) => (TOKENS[t] ? { ok: true, role: TOKENS[t], keyId: t } : null),
      recheckGrant: async () => {
        await new Promise((r) => setTimeout(r, 5))
        if (failing) throw new Error('key file unreadable')
        return { ok: true }
      },
      recheckMs: 50,
    })
    try {
      const c = await s.connect()
      await waitClients(s, 1)
      await new Promise((r) => setTimeout(r, 200))
      assert.equal(c.ended, false)
      failing = true
      await c.waitFor((x) => x.ended, 5000, 'the stream to end')
      assert.deepEqual(JSON.parse(c.events.at(-1)!.data), { reason: 'check_failed' })
    } finally {
      await s.stop()
    }
  })

  test('a client that is not reading is cut off, not waited for', async () => {
    const revoked = new Set<string>()
    const s = await withKeys(revoked, { maxBufferedBytes: 512 * 1024 * 1024, drainTimeoutMs: 60_000, logMaxLen: 1000 })
    try {
      const slow = await s.connect()
      await waitClients(s, 1)
      slow.pause()
      const blob = 'w'.repeat(64 * 1024)
      // Well past what the loopback socket buffers hold, so the server's writes are blocked.
      const last = (await Promise.all(Array.from({ length: 400 }, (_, i) => s.pub('metrics', { i, blob })))).at(-1)
      await until(() => s.hub.stats().lastId === last, 'the tail to deliver all 400')
      revoked.add('key-viewer')
      await waitClients(s, 0)
      slow.res.socket.resume()
      slow.res.resume()
      await slow.waitFor((x) => x.ended, 5000, 'the stream to end')
      assert.ok(
        !slow.events.some((e) => e.event === 'reauth'),
        'cut off: the queued events and the reauth frame were never delivered',
      )
      assert.equal(s.hub.stats().endedForReauth, 1)
    } finally {
      await s.stop()
    }
  })

  test('real stream tokens with the grant policy: the stream ends maxSecondsAfterExpiry after its token expired', async () => {
    const keys = new Set(['k-viewer'])
    const s = await serve({
      verifyToken: (token): TokenCheck | null => {
        const t = verifyStreamToken(token)
        return t.ok ? { ok: true, role: t.role, keyId: t.keyId, expiresAt: t.expiresAt } : null
      },
      recheckGrant: streamGrantPolicy({ keyExists: (id) => keys.has(id), maxSecondsAfterExpiry: 1 }),
      recheckMs: 50,
    })
    try {
      // Two seconds: expiry is in whole seconds, so a one-second token issued late in a second could
      // expire before a loaded machine has opened the stream.
      const { token, expiresAt } = issueStreamToken('viewer', 'k-viewer', 2)
      const c = await s.connect(`token=${encodeURIComponent(token)}`)
      assert.equal(c.status, 200)
      await c.waitFor((x) => x.ended, 5000, 'the stream to end')
      const endedAt = Date.now()
      const due = (expiresAt + 1) * 1000
      assert.ok(endedAt >= due, `ended ${due - endedAt} ms before expiry + 1 s`)
      assert.ok(endedAt < due + 1000, `ended ${endedAt - due} ms after expiry + 1 s`)
      assert.deepEqual(JSON.parse(c.events.at(-1)!.data), { reason: 'token_expired' })
    } finally {
      await s.stop()
    }
  })
})

describe('stream hub: step processes append to the log', { timeout: 30_000 }, () => {
  test('publishToStream from another connection reaches SSE clients; bad entries are skipped, not fatal', async () => {
    const s = await serve()
    const stepRedis = redis.client.duplicate()
    try {
      const c = await s.connect('token=tok-admin')
      await waitClients(s, 1)
      // A separate connection stands in for a step process.
      const place = { key: s.logKey }
      assert.equal(await publishToStream(stepRedis, 'container', { id: 'abc', name: 'web', state: 'down' }, place), 1)
      // Entries that are not ours are skipped: an unknown type, no data, a raw line break in the data.
      await stepRedis.xadd(s.logKey, '*', 'type', 'reset', 'data', '{}')
      await stepRedis.xadd(s.logKey, '*', 'type', 'metrics')
      await stepRedis.xadd(s.logKey, '*', 'type', 'metrics', 'data', '1\nevent: audit')
      assert.equal(await publishToStream(stepRedis, 'audit', { kind: 'acted' }, place), 1)
      await c.waitFor((x) => real(x).length === 2, 10_000, 'two relayed events')
      assert.deepEqual(
        real(c).map((e) => [e.event, JSON.parse(e.data)]),
        [
          ['container', { id: 'abc', name: 'web', state: 'down' }],
          ['audit', { kind: 'acted' }],
        ],
      )
      // The caller's own connection is still usable: the hub blocks on a duplicate.
      assert.equal(await redis.client.ping(), 'PONG')
    } finally {
      stepRedis.disconnect()
      await s.stop()
    }
  })

  test('publishToStream never throws when Redis is unreachable', async () => {
    const failing = {
      call: async () => {
        throw new Error('ECONNREFUSED')
      },
    }
    assert.equal(await publishToStream(failing, 'metrics', {}), 0)
    await assert.rejects(publishToStream(failing, 'nope' as never, {}), /unknown stream event type/)
  })
})
