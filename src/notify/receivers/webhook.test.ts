import assert from 'node:assert/strict'
import { createHmac, randomBytes } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import {
  incidentFixture,
  never,
  noRedis,
  notificationFor,
  readerOf,
  rejection,
} from '../../../tests/helpers/receiver-fixtures'
import { startWebhookStandIn, type WebhookStandIn } from '../../../tests/helpers/webhook-standin'
import { DeliveryError } from '../types'
import {
  createWebhookReceiver,
  verifyWebhookSignature,
  webhookConfig,
  webhookSignature,
  WEBHOOK_HEADERS,
} from './webhook'

const SECRET = randomBytes(24).toString('hex')
const env = { WEBHOOK_SECRET: SECRET }

describe('webhook receiver against a receiver that verifies the signature', () => {
  let hook: WebhookStandIn
  const receiver = (extra: Record<string, unknown> = {}, name = 'hook-test', secretEnv = env) =>
    createWebhookReceiver(name, webhookConfig.parse({ url: hook.url, secret: { env: 'WEBHOOK_SECRET' }, ...extra }), {
      redis: noRedis,
      secret: readerOf(secretEnv),
    })

  before(async () => {
    hook = await startWebhookStandIn({ secret: SECRET })
  })
  after(async () => {
    await hook.close()
  })

  it('POSTs the documented JSON, signed, with the idempotency key and the extra headers', async () => {
    const i = incidentFixture({
      acknowledgement: { by: 'user:bob', at: new Date().toISOString() },
      decision: {
        route: 'escalate',
        risk: 'high',
        actionId: null,
        params: {},
        reasons: ['node gone'],
        rule: 'node-down',
        decidedAt: new Date().toISOString(),
      },
    })
    const n = notificationFor(i, 'escalated', { level: 2, url: `https://sentinel.example/incidents/${i.id}` })
    await receiver({ headers: { 'X-Tenant': 'blue' } }).send(n, never())
    const req = hook.requests.at(-1)!
    assert.equal(req.status, 200)
    assert.equal(req.headers['content-type'], 'application/json')
    assert.equal(req.headers['x-tenant'], 'blue')
    assert.equal(req.headers['x-sentinel-idempotency-key'], n.key)
    const ts = Number(req.headers['x-sentinel-request-timestamp'])
    assert.ok(Math.abs(ts - Date.now() / 1000) < 5)
    const expected = `v1=${createHmac('sha256', SECRET).update(`v1:${ts}:${req.raw}`).digest('hex')}`
    assert.equal(req.headers['x-sentinel-signature'], expected)
    assert.deepEqual(req.body, {
      version: 1,
      key: n.key,
      kind: 'escalated',
      level: 2,
      at: n.at,
      url: n.url,
      incident: {
        id: i.id,
        title: i.title,
        status: 'escalated',
        severity: 'critical',
        type: 'container_down',
        resource: i.resource,
        labels: {
          host: 'node-a',
          job: 'docker',
          severity: 'critical',
          type: 'container_down',
          status: 'escalated',
          node: 'node-a',
          container: 'web-1',
          resource: 'web-1',
          test: 'false',
        },
        openedAt: i.openedAt,
        resolvedAt: null,
        acknowledgement: i.acknowledgement,
        decision: {
          route: 'escalate',
          risk: 'high',
          actionId: null,
          rule: 'node-down',
          decidedAt: i.decision!.decidedAt,
        },
      },
    })
  })

  it('every kind is delivered once; the same notification sent twice carries the same key, so the receiver can drop it', async () => {
    const i = incidentFixture()
    const r = receiver()
    const before = hook.received().length
    for (const kind of ['opened', 'approval_requested', 'escalated', 'acknowledged', 'resolved', 'repeat'] as const)
      await r.send(notificationFor(i, kind), never())
    assert.deepEqual(
      hook
        .received()
        .slice(before)
        .map((b) => b.kind),
      ['opened', 'approval_requested', 'escalated', 'acknowledged', 'resolved', 'repeat'],
    )
    assert.equal(hook.duplicates(), 0)
    const n = notificationFor(i, 'resolved')
    await r.send(n, never())
    await r.send(n, never())
    assert.equal(hook.keys.get(n.key), 2)
    assert.equal(hook.duplicates(), 1)
  })

  it('a 503 or 429 is retryable with Retry-After; a 4xx is permanent; a wrong secret gets 401, permanent', async () => {
    const r = receiver()
    const n = notificationFor(incidentFixture(), 'opened')
    hook.failNext(1, 503, '3')
    const e1 = await rejection<DeliveryError>(r.send(n, never()))
    assert.ok(e1 instanceof DeliveryError)
    assert.equal(e1.permanent, false)
    assert.equal(e1.retryAfterMs, 3000)
    hook.failNext(1, 429, '0.5')
    assert.equal((await rejection<DeliveryError>(r.send(n, never()))).retryAfterMs, 500)
    hook.failNext(1, 422)
    const e2 = await rejection<DeliveryError>(r.send(n, never()))
    assert.equal(e2.permanent, true)
    assert.equal(e2.opts.status, 422)

    const wrong = randomBytes(24).toString('hex')
    const forged = receiver({}, 'hook-wrong', { WEBHOOK_SECRET: wrong })
    const e3 = await rejection<DeliveryError>(forged.send(n, never()))
    assert.equal(e3.permanent, true)
    assert.equal(e3.opts.status, 401)
    assert.match(e3.message, /invalid signature/)
    assert.ok(!e3.message.includes(wrong))
    await r.send(n, never())
    assert.equal(hook.keys.get(n.key), 1, 'only the accepted delivery counts')
  })

  it('no answer within timeout_seconds is retryable, and so is a refused connection', async () => {
    hook.delayNext(1, 1500)
    const r = receiver({ timeout_seconds: 0.3 })
    const started = Date.now()
    const err = await rejection<DeliveryError>(r.send(notificationFor(incidentFixture(), 'opened'), never()))
    assert.ok(Date.now() - started < 1400, 'gave up at the timeout')
    assert.equal(err.permanent, false)
    assert.match(err.message, /no answer within 300 ms/)
    const down = createWebhookReceiver(
      'hook-down',
      webhookConfig.parse({ url: 'http://127.0.0.1:9/hook?token=abc', secret: { env: 'WEBHOOK_SECRET' } }),
      { redis: noRedis, secret: readerOf(env) },
    )
    const e2 = await rejection<DeliveryError>(down.send(notificationFor(incidentFixture(), 'opened'), never()))
    assert.equal(e2.permanent, false)
    assert.ok(!e2.message.includes('token=abc'), 'no query in the message')
  })

  it('the stand-in refuses a forged, tampered, stale or unsigned request with 401', async () => {
    const body = JSON.stringify({ version: 1, key: 'k1', kind: 'opened', incident: { id: 'i' } })
    const send = (headers: Record<string, string>, b = body) =>
      fetch(hook.url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: b })
    const ts = Math.floor(Date.now() / 1000)
    const good = {
      [WEBHOOK_HEADERS.timestamp]: String(ts),
      [WEBHOOK_HEADERS.signature]: webhookSignature(SECRET, ts, body),
      [WEBHOOK_HEADERS.idempotencyKey]: 'k1',
    }
    assert.equal((await send(good)).status, 200)
    assert.equal((await send(good, body.replace('opened', 'resolved'))).status, 401, 'tampered')
    assert.equal(
      (await send({ ...good, [WEBHOOK_HEADERS.signature]: webhookSignature('other', ts, body) })).status,
      401,
    )
    const old = ts - 301
    assert.equal(
      (
        await send({
          ...good,
          [WEBHOOK_HEADERS.timestamp]: String(old),
          [WEBHOOK_HEADERS.signature]: webhookSignature(SECRET, old, body),
        })
      ).status,
      401,
      'stale',
    )
    assert.equal((await send({ [WEBHOOK_HEADERS.idempotencyKey]: 'k1' })).status, 401, 'unsigned')
  })

  it('a missing secret fails at construction; the settings are strict and reserved headers refused', () => {
    assert.throws(
      () =>
        createWebhookReceiver(
          'hook-nosecret',
          webhookConfig.parse({ url: 'https://x.example/', secret: { env: 'HOOK_UNSET' } }),
          {
            redis: noRedis,
            secret: readerOf({}),
          },
        ),
      /webhook receiver "hook-nosecret": secret: environment variable HOOK_UNSET is not set/,
    )
    const base = { url: 'https://x.example/', secret: { env: 'S' } }
    assert.equal(webhookConfig.parse(base).timeout_seconds, 10)
    assert.equal(webhookConfig.safeParse({ ...base, headers: { 'X-Sentinel-Signature': 'x' } }).success, false)
    assert.equal(webhookConfig.safeParse({ ...base, headers: { 'Content-Type': 'text/plain' } }).success, false)
    assert.equal(webhookConfig.safeParse({ ...base, headers: { 'X-Ok': 'a\r\nInjected: 1' } }).success, false)
    assert.equal(webhookConfig.safeParse({ ...base, headers: { 'Bad Name': 'v' } }).success, false)
    assert.equal(webhookConfig.safeParse({ ...base, url: 'file:///etc/passwd' }).success, false)
    assert.equal(webhookConfig.safeParse({ ...base, secret: 'inline' }).success, false)
    assert.equal(webhookConfig.safeParse({ ...base, retries: 3 }).success, false)
  })
})

describe('verifyWebhookSignature', () => {
  const secret = 'a-shared-secret'
  const body = '{"version":1}'
  const now = 1_718_000_000
  const sig = webhookSignature(secret, now, body)

  it('accepts the signature of this body, timestamp and secret, within the tolerance, for a string or a Buffer', () => {
    assert.match(sig, /^v1=[0-9a-f]{64}$/)
    assert.equal(sig, `v1=${createHmac('sha256', secret).update(`v1:${now}:${body}`).digest('hex')}`)
    assert.equal(verifyWebhookSignature(secret, String(now), sig, body, now), true)
    assert.equal(verifyWebhookSignature(secret, String(now), sig, Buffer.from(body), now + 300), true)
    assert.equal(verifyWebhookSignature(secret, String(now), sig, body, now - 300), true)
  })

  it('refuses another body, secret or timestamp, an old or future timestamp, and malformed headers', () => {
    assert.equal(verifyWebhookSignature(secret, String(now), sig, `${body} `, now), false)
    assert.equal(verifyWebhookSignature('other', String(now), sig, body, now), false)
    assert.equal(verifyWebhookSignature(secret, String(now + 1), sig, body, now), false)
    assert.equal(verifyWebhookSignature(secret, String(now), sig, body, now + 301), false)
    assert.equal(verifyWebhookSignature(secret, String(now), sig, body, now - 301), false)
    assert.equal(verifyWebhookSignature(secret, String(now), sig, body, now + 60, 30), false)
    assert.equal(verifyWebhookSignature(secret, undefined, sig, body, now), false)
    assert.equal(verifyWebhookSignature(secret, String(now), undefined, body, now), false)
    assert.equal(verifyWebhookSignature(secret, `${now}.5`, sig, body, now), false)
    assert.equal(verifyWebhookSignature(secret, String(now), sig.slice(0, -1), body, now), false)
    assert.equal(verifyWebhookSignature(secret, String(now), sig.replace('v1=', 'v0='), body, now), false)
    assert.equal(verifyWebhookSignature('', String(now), sig, body, now), false)
  })
})
