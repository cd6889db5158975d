import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { randomUUID } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import { startOpsgenieStandIn, type OpsgenieStandIn } from '../../../tests/helpers/opsgenie-standin'
import {
  incidentFixture,
  never,
  noRedis,
  notificationFor,
  readerOf,
  rejection,
} from '../../../tests/helpers/receiver-fixtures'
import { DeliveryError } from '../types'
import { createOpsgenieReceiver, opsgenieConfig, OPSGENIE_API_URL, opsgenieRequest } from './opsgenie'

const API_KEY = randomUUID()
const env = { OPSGENIE_API_KEY: API_KEY }

describe('Opsgenie receiver against an Alert API stand-in', () => {
  let og: OpsgenieStandIn
  const receiver = (extra: Record<string, unknown> = {}, name = 'og-test', secretEnv: Record<string, string> = env) =>
    createOpsgenieReceiver(
      name,
      opsgenieConfig.parse({ api_key: { env: 'OPSGENIE_API_KEY' }, api_url: og.apiUrl, ...extra }),
      { redis: noRedis, secret: readerOf(secretEnv) },
    )

  before(async () => {
    og = await startOpsgenieStandIn({ apiKey: API_KEY })
  })
  after(async () => {
    await og.close()
  })

  it('creates an alert: alias = incident id, GenieKey auth, P1 for critical, string details with the key, responders and tags', async () => {
    const i = incidentFixture()
    const n = notificationFor(i, 'opened', { url: `https://sentinel.example/incidents/${i.id}` })
    const r = receiver({
      responders: [
        { type: 'team', name: 'sre' },
        { type: 'user', name: 'alice@example.com' },
        { type: 'schedule', id: 'sched-1' },
      ],
      tags: ['prod'],
    })
    await r.send(n, never())
    const req = og.accepted().at(-1)!
    assert.equal(req.path, '/v2/alerts')
    assert.equal(req.authorization, `GenieKey ${API_KEY}`)
    assert.equal(req.result, 'created')
    const b = req.body
    assert.equal(b.alias, i.id)
    assert.equal(b.message, 'container web-1 is down')
    assert.equal(b.priority, 'P1')
    assert.equal(b.source, 'sentinel')
    assert.equal(b.entity, 'web-1')
    assert.deepEqual(b.tags, ['sentinel', 'severity:critical', 'type:container_down', 'prod'])
    assert.deepEqual(b.responders, [
      { type: 'team', name: 'sre' },
      { type: 'user', username: 'alice@example.com' },
      { type: 'schedule', id: 'sched-1' },
    ])
    assert.equal(b.details.sentinel_idempotency_key, n.key)
    assert.equal(b.details.level, '1')
    assert.ok(Object.values(b.details).every((v) => typeof v === 'string'))
    assert.match(b.description, /Incident: inc-/)
    assert.ok(b.description.includes(n.url!))
    assert.ok(b.note.endsWith(`(idempotency key ${n.key})`))
    const alert = og.alert(i.id)!
    assert.equal(alert.status, 'open')
    assert.equal(alert.count, 1)
  })

  it('repeat and escalated create again (Opsgenie counts them), acknowledged acknowledges by alias, resolved closes it', async () => {
    const i = incidentFixture({ severity: 'warning', status: 'open' })
    const r = receiver()
    await r.send(notificationFor(i, 'opened'), never())
    await r.send(notificationFor({ ...i, status: 'escalated' }, 'escalated'), never())
    await r.send(notificationFor(i, 'repeat', { level: 2 }), never())
    assert.equal(og.alert(i.id)!.count, 3)
    assert.equal(og.alert(i.id)!.priority, 'P3')

    const at = new Date().toISOString()
    const acked = { ...i, acknowledgement: { by: 'user:alice', at } }
    const ack = notificationFor(acked, 'acknowledged')
    await r.send(ack, never())
    const ackReq = og.accepted().at(-1)!
    assert.equal(ackReq.path, `/v2/alerts/${i.id}/acknowledge`)
    assert.deepEqual(ackReq.query, { identifierType: 'alias' })
    assert.equal(ackReq.body.user, 'user:alice')
    assert.equal(ackReq.body.source, 'sentinel')
    assert.match(ackReq.body.note, /^Taken in Sentinel by user:alice at .* \(idempotency key .+\)$/)
    assert.equal(og.alert(i.id)!.acknowledged, true)

    await r.send(notificationFor({ ...acked, status: 'resolved', resolvedAt: at }, 'resolved'), never())
    const closeReq = og.accepted().at(-1)!
    assert.equal(closeReq.path, `/v2/alerts/${i.id}/close`)
    assert.deepEqual(closeReq.query, { identifierType: 'alias' })
    assert.match(closeReq.body.note, /^Resolved in Sentinel: the restart did not hold \(idempotency key /)
    assert.equal(og.alert(i.id)!.status, 'closed')

    // After the close, a new event for the same incident opens a new alert (Opsgenie's alias rule).
    await r.send(notificationFor(i, 'repeat'), never())
    assert.equal(og.alerts.filter((a) => a.alias === i.id).length, 2)
    assert.equal(og.duplicates(), 0)
  })

  it('clips every field to its Opsgenie limit, so the stand-in (which enforces them) takes it', async () => {
    const long = 'é<b>'.repeat(5000)
    const i = incidentFixture({
      title: long,
      resource: { kind: 'container', id: 'c', name: 'n'.repeat(600) },
      analysis: { summary: long.repeat(2) },
    })
    const r = receiver({ tags: ['t'.repeat(50), ...Array.from({ length: 16 }, (_, k) => `tag-${k}`)] })
    await r.send(notificationFor(i, 'opened', { key: 'k'.repeat(200) }), never())
    const b = og.accepted().at(-1)!.body
    assert.equal(b.message.length, 130)
    assert.equal(b.entity.length, 512)
    assert.ok(b.description.length <= 15_000)
    assert.equal(b.tags.length, 20)
    await r.send(
      notificationFor({ ...i, acknowledgement: { by: 'u'.repeat(300), at: 'now' } }, 'acknowledged', {
        key: 'k'.repeat(200),
      }),
      never(),
    )
    assert.equal(og.accepted().at(-1)!.body.user.length, 100)
    assert.equal(opsgenieConfig.safeParse({ api_key: { env: 'K' }, tags: ['x'.repeat(51)] }).success, false)
  })

  it('429 and 5xx are retryable with Retry-After; 401 (a wrong key) and 422 are permanent', async () => {
    const r = receiver()
    const i = incidentFixture()
    og.failNext(1, 429, '12')
    const e1 = await rejection<DeliveryError>(r.send(notificationFor(i, 'opened'), never()))
    assert.ok(e1 instanceof DeliveryError)
    assert.equal(e1.permanent, false)
    assert.equal(e1.retryAfterMs, 12_000)
    og.failNext(1, 502)
    const e2 = await rejection<DeliveryError>(r.send(notificationFor(i, 'opened'), never()))
    assert.equal(e2.permanent, false)
    await r.send(notificationFor(i, 'opened'), never())
    assert.equal(og.alert(i.id)!.count, 1)

    const wrongKey = randomUUID()
    const bad = receiver({}, 'og-wrong', { OPSGENIE_API_KEY: wrongKey })
    const e3 = await rejection<DeliveryError>(bad.send(notificationFor(i, 'opened'), never()))
    assert.equal(e3.permanent, true)
    assert.equal(e3.opts.status, 401)
    assert.match(e3.message, /answered 401: .*Could not authenticate/)
    assert.ok(!e3.message.includes(wrongKey) && !e3.message.includes(API_KEY))

    og.failNext(1, 422)
    const e4 = await rejection<DeliveryError>(r.send(notificationFor(i, 'opened'), never()))
    assert.equal(e4.permanent, true)
  })

  it('the stand-in refuses what Opsgenie refuses: no GenieKey, no message, long fields, non-string details', async () => {
    const post = async (p: string, body: unknown, auth = `GenieKey ${API_KEY}`) => {
      const res = await fetch(`${og.apiUrl}${p}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: auth },
        body: typeof body === 'string' ? body : JSON.stringify(body),
      })
      return { status: res.status, body: (await res.json()) as any }
    }
    assert.equal((await post('/v2/alerts', { message: 'm' }, `Bearer ${API_KEY}`)).status, 401)
    const noMessage = await post('/v2/alerts', { alias: 'a' })
    assert.equal(noMessage.status, 422)
    assert.equal(noMessage.body.message, 'Message can not be empty.')
    assert.equal((await post('/v2/alerts', { message: 'm'.repeat(131) })).status, 422)
    assert.equal((await post('/v2/alerts', { message: 'm', details: { n: 1 } })).status, 422)
    assert.equal((await post('/v2/alerts', { message: 'm', priority: 'P0' })).status, 422)
    assert.equal((await post('/v2/alerts', { message: 'm', responders: [{ type: 'team' }] })).status, 422)
    assert.equal((await post('/v2/alerts', '{nope')).status, 400)
    const missing = await post('/v2/alerts/no-such-alias/close?identifierType=alias', { note: 'x' })
    assert.equal(missing.status, 202, 'Opsgenie accepts it and fails it asynchronously')
    assert.equal(og.requests.at(-1)!.result, 'Alert does not exist')
  })

  it('reads the key from a file, fails at construction when it is missing, and is strict about its settings', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'sentinel-og-'))
    try {
      const file = path.join(dir, 'key')
      writeFileSync(file, `${API_KEY}\n`)
      const r = createOpsgenieReceiver('og-file', opsgenieConfig.parse({ api_key: { file } }), {
        redis: noRedis,
        secret: readerOf({}),
      })
      assert.equal(r.type, 'opsgenie')
      assert.throws(
        () =>
          createOpsgenieReceiver('og-nofile', opsgenieConfig.parse({ api_key: { file: path.join(dir, 'absent') } }), {
            redis: noRedis,
            secret: readerOf({}),
          }),
        /opsgenie receiver "og-nofile": api_key: cannot read .*absent \(ENOENT\)/,
      )
      assert.throws(
        () =>
          createOpsgenieReceiver('og-noenv', opsgenieConfig.parse({ api_key: { env: 'OG_UNSET' } }), {
            redis: noRedis,
            secret: readerOf({}),
          }),
        /environment variable OG_UNSET is not set/,
      )
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
    assert.equal(OPSGENIE_API_URL, 'https://api.opsgenie.com')
    assert.equal(opsgenieConfig.safeParse({ api_key: { env: 'K' }, region: 'eu' }).success, false)
    assert.equal(
      opsgenieConfig.safeParse({ api_key: { env: 'K' }, responders: [{ type: 'team', name: 'a', id: 'b' }] }).success,
      false,
    )
    assert.equal(
      opsgenieConfig.safeParse({ api_key: { env: 'K' }, responders: [{ type: 'group', name: 'a' }] }).success,
      false,
    )
  })

  it('opsgenieRequest encodes the alias in the path', () => {
    const i = incidentFixture({ id: 'inc/with space' })
    assert.equal(
      opsgenieRequest(notificationFor(i, 'resolved'), {}).path,
      '/v2/alerts/inc%2Fwith%20space/close?identifierType=alias',
    )
  })
})
