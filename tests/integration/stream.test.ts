/**
 * The live stream (SSE) of a real Sentinel: stream tokens, who sees what, container events from
 * Docker, and a client that disconnects and reconnects with Last-Event-ID getting exactly the
 * events it missed (compared with a client that stayed connected the whole time).
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { compareStreamIds } from '../../src/platform/stream/hub'
import { connectSse, type SseConnection, type SseEvent } from '../../src/platform/stream/sse-client'
import { killMainProcess, removeContainers, runContainer, uniqueName } from '../helpers/docker'
import { startRedis, type TestRedis } from '../helpers/redis'
import { type SentinelInstance, startSentinel, type TestRole, WATCHED } from '../helpers/sentinel'

describe('live stream against a real Sentinel', () => {
  let redis: TestRedis
  let sentinel: SentinelInstance
  const open: SseConnection[] = []
  const containers: string[] = []

  before(async () => {
    redis = await startRedis()
    sentinel = await startSentinel({ redisPort: redis.port, env: { VERIFY_STABLE_SECONDS: '0.5' } })
  })
  after(async () => {
    for (const c of open) c.close()
    await removeContainers(...containers)
    await sentinel?.cleanup()
    await redis?.stop()
  })

  const token = async (as: TestRole) => {
    const r = await sentinel.post('/api/stream/token', {}, as)
    assert.equal(r.status, 200, JSON.stringify(r.body))
    return r.body.token as string
  }
  const connect = async (as: TestRole, headers: Record<string, string> = {}) => {
    const c = await connectSse(`${sentinel.url}/api/stream?token=${encodeURIComponent(await token(as))}`, headers)
    open.push(c)
    assert.equal(c.status, 200)
    return c
  }
  const openedFor = (resource: string) => (c: SseConnection) =>
    c.events.some((e) => e.event === 'incident.opened' && JSON.parse(e.data).resource?.name === resource)
  // Ids are the shared log's entry ids (`<ms>-<seq>`), compared as such.
  const idOf = (e: SseEvent) => e.id!
  const isAfter = (a: string, b: string) => compareStreamIds(a, b) > 0
  const trigger = async (resource: string) => {
    const r = await sentinel.post('/api/trigger-alert', { type: 'cpu', resource, value: 97 }, 'admin')
    assert.equal(r.status, 202, JSON.stringify(r.body))
  }

  it('needs a stream token obtained with a key; the key never goes in the URL', async () => {
    assert.equal((await sentinel.post('/api/stream/token', {}, null)).status, 401)
    const t = await sentinel.post('/api/stream/token', {}, 'viewer')
    assert.equal(t.status, 200)
    assert.ok(t.body.expiresAt * 1000 > Date.now())
    const noToken = await connectSse(`${sentinel.url}/api/stream`)
    assert.equal(noToken.status, 401)
    const apiKeyAsToken = await connectSse(
      `${sentinel.url}/api/stream?token=${encodeURIComponent(sentinel.keys.admin)}`,
    )
    assert.equal(apiKeyAsToken.status, 401)
    const tampered = await connectSse(
      `${sentinel.url}/api/stream?token=${encodeURIComponent(t.body.token.slice(0, -2) + 'xx')}`,
    )
    assert.equal(tampered.status, 401)
    const ok = await connectSse(`${sentinel.url}/api/stream?token=${encodeURIComponent(t.body.token)}`)
    open.push(ok)
    assert.equal(ok.status, 200)
    assert.match(String(ok.headers['content-type']), /^text\/event-stream/)
    await ok.waitFor((c) => c.events.some((e) => e.event === 'ready'), 10_000, 'the ready event')
    ok.close()
  })

  it('a client reconnecting with Last-Event-ID gets exactly the events it missed', async () => {
    const run = uniqueName('stream')
    const reference = await connect('viewer')
    const client = await connect('viewer')
    await trigger(`${run}-1`)
    await client.waitFor(openedFor(`${run}-1`), 30_000, 'the first incident on the client')
    const lastSeen = idOf(client.events.filter((e) => e.id !== null).at(-1)!)
    client.close()
    await client.ended$

    // Missed while away: two incidents and whatever the flow publishes for them.
    await trigger(`${run}-2`)
    await trigger(`${run}-3`)
    await reference.waitFor(openedFor(`${run}-3`), 30_000, 'the third incident on the reference')

    const back = await connect('viewer', { 'Last-Event-ID': lastSeen })
    await trigger(`${run}-4`)
    await back.waitFor(openedFor(`${run}-4`), 30_000, 'the fourth incident after reconnecting')
    await reference.waitFor(openedFor(`${run}-4`), 30_000, 'the fourth incident on the reference')
    const marker = idOf(
      back.events.find((e) => e.event === 'incident.opened' && JSON.parse(e.data).resource?.name === `${run}-4`)!,
    )

    const got = back.events.filter((e) => e.id !== null && !isAfter(idOf(e), marker)).map(idOf)
    const want = reference.events
      .filter((e) => e.id !== null && e.event !== 'ready' && isAfter(idOf(e), lastSeen) && !isAfter(idOf(e), marker))
      .map(idOf)
    assert.ok(want.length >= 3, `the reference saw the missed events (${want.length})`)
    assert.equal(
      back.events.filter((e) => e.event === 'reset' || e.event === 'ready').length,
      0,
      'a resume is neither a reset nor a fresh start',
    )
    assert.deepEqual(got, want, 'exactly the missed events, in order, no more, no fewer')
    assert.equal(new Set(got).size, got.length, 'no duplicates')
    const gotMissed = back.events
      .filter((e) => e.event === 'incident.opened')
      .map((e) => JSON.parse(e.data).resource.name)
    assert.deepEqual(
      gotMissed.filter((n: string) => n.startsWith(run)),
      [`${run}-2`, `${run}-3`, `${run}-4`],
    )

    // A position the buffer no longer holds (or never held) earns a reset, not a wrong replay.
    const stale = await connect('viewer', { 'Last-Event-ID': '1' })
    await stale.waitFor((c) => c.events.some((e) => e.event === 'reset'), 10_000, 'a reset event')
  })

  it('audit events go to admins only; container events follow Docker', async () => {
    const admin = await connect('admin')
    const viewer = await connect('viewer')
    const name = uniqueName('stream-ct')
    containers.push(name)
    await runContainer(name, { labels: WATCHED })
    const listed = await sentinel.get('/api/containers', 'viewer')
    assert.equal(listed.status, 200)
    assert.equal((await sentinel.get('/api/containers', null)).status, 401)
    await killMainProcess(name)
    const states = (c: SseConnection) =>
      c.events
        .filter((e) => e.event === 'container' && JSON.parse(e.data).name === name)
        .map((e) => JSON.parse(e.data).state)
    await viewer.waitFor(
      (c) => states(c).includes('down') && states(c).lastIndexOf('running') > states(c).indexOf('down'),
      30_000,
      'down then running',
    )
    const last = viewer.events.filter((e) => e.event === 'container' && JSON.parse(e.data).name === name).at(-1)!
    assert.equal(JSON.parse(last.data).restarts, 1)
    const now = (await sentinel.get('/api/containers', 'viewer')).body.containers.find(
      (c: { name: string }) => c.name === name,
    )
    assert.equal(now?.state, 'running')
    await admin.waitFor((c) => c.events.some((e) => e.event === 'audit'), 30_000, 'audit events for the admin')
    await admin.waitFor(
      (c) => c.events.some((e) => e.event === 'incident.resolved' && JSON.parse(e.data).resource?.name === name),
      30_000,
      'the incident resolved',
    )
    assert.equal(viewer.events.filter((e) => e.event === 'audit').length, 0, 'a viewer never receives audit events')
  })
})
