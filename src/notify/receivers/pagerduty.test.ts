import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, describe, it } from 'node:test'
import { startPagerdutyStandIn, type PagerdutyStandIn } from '../../../tests/helpers/pagerduty-standin'
import {
  incidentFixture,
  never,
  noRedis,
  notificationFor,
  readerOf,
  rejection,
} from '../../../tests/helpers/receiver-fixtures'
import { DeliveryError, type NotificationKind } from '../types'
import { createPagerdutyReceiver, pagerdutyConfig, PAGERDUTY_EVENTS_URL } from './pagerduty'

const KEY = randomBytes(16).toString('hex') // 32 characters, like an integration key
const env = { PD_ROUTING_KEY: KEY }

describe('PagerDuty receiver against an Events API v2 stand-in', () => {
  let pd: PagerdutyStandIn
  const receiver = () =>
    createPagerdutyReceiver('pd-test', pagerdutyConfig.parse({ routing_key: { env: 'PD_ROUTING_KEY' }, url: pd.url }), {
      redis: noRedis,
      secret: readerOf(env),
    })

  before(async () => {
    pd = await startPagerdutyStandIn()
  })
  after(async () => {
    await pd.close()
  })

  it('triggers an alert with dedup_key = incident id, the mapped severity, the key in custom_details and a link', async () => {
    const i = incidentFixture()
    const n = notificationFor(i, 'escalated', { url: `https://sentinel.example/incidents/${i.id}` })
    await receiver().send(n, never())
    const e = pd.accepted().at(-1)
    assert.equal(e.routing_key, KEY)
    assert.equal(e.event_action, 'trigger')
    assert.equal(e.dedup_key, i.id)
    assert.equal(e.payload.severity, 'critical')
    assert.equal(e.payload.source, 'node-a')
    assert.equal(e.payload.component, 'web-1')
    assert.equal(e.payload.class, 'container_down')
    assert.equal(e.payload.group, 'docker')
    assert.equal(e.payload.timestamp, n.at)
    assert.match(e.payload.summary, /^\[ESCALATED\] container web-1 is down \(web-1\)$/)
    assert.equal(e.payload.custom_details.sentinel_idempotency_key, n.key)
    assert.equal(e.payload.custom_details.status, 'escalated')
    assert.equal(e.payload.custom_details.kind, 'escalated')
    assert.equal(e.payload.custom_details.level, 1)
    assert.deepEqual(e.links, [{ href: n.url, text: 'Open the incident in Sentinel' }])
    assert.equal(e.client_url, n.url)
    assert.equal(pd.alert(i.id)?.status, 'triggered')
  })

  it('maps every kind: four trigger (de-duplicated into one alert), then acknowledge, then resolve', async () => {
    const i = incidentFixture({ status: 'awaiting_approval' })
    const r = receiver()
    const expected: [NotificationKind, string][] = [
      ['opened', 'trigger'],
      ['approval_requested', 'trigger'],
      ['escalated', 'trigger'],
      ['repeat', 'trigger'],
      ['acknowledged', 'acknowledge'],
      ['resolved', 'resolve'],
    ]
    const before = pd.accepted().length
    for (const [kind] of expected) {
      const incident =
        kind === 'acknowledged'
          ? { ...i, acknowledgement: { by: 'user:alice', at: new Date().toISOString() } }
          : kind === 'resolved'
            ? { ...i, status: 'resolved' as const, resolvedAt: new Date().toISOString() }
            : i
      await r.send(notificationFor(incident, kind, { level: kind === 'repeat' ? 2 : 1 }), never())
      if (kind === 'repeat') assert.equal(pd.alert(i.id)?.triggers, 4)
      if (kind === 'acknowledged') assert.equal(pd.alert(i.id)?.status, 'acknowledged')
    }
    const sent = pd.accepted().slice(before)
    assert.deepEqual(
      sent.map((e) => [e.payload.custom_details.kind, e.event_action]),
      expected,
    )
    assert.ok(sent.every((e) => e.dedup_key === i.id))
    assert.match(sent[3].payload.summary, /^\[STILL UNACKNOWLEDGED \(level 2\)\]/)
    assert.equal(pd.alert(i.id)?.status, 'resolved')
    assert.equal(pd.alerts.filter((a) => a.dedupKey === i.id).length, 1, 'one alert for the incident')
    assert.equal(pd.duplicates(), 0)
  })

  it("maps Sentinel's severities and clips a long summary to 1024 characters", async () => {
    const r = receiver()
    for (const [severity, pdSeverity] of [
      ['critical', 'critical'],
      ['warning', 'warning'],
      ['info', 'info'],
    ] as const) {
      const i = incidentFixture({ severity, title: 'x'.repeat(3000) })
      await r.send(notificationFor(i, 'opened'), never())
      const e = pd.accepted().at(-1)
      assert.equal(e.payload.severity, pdSeverity)
      assert.equal(e.payload.summary.length, 1024)
    }
  })

  it('a 429 or a 5xx is retryable with Retry-After in milliseconds (seconds or an HTTP date); the next try lands', async () => {
    const r = receiver()
    const i = incidentFixture()
    pd.failNext(1, 429, '7')
    const e1 = await rejection<DeliveryError>(r.send(notificationFor(i, 'opened'), never()))
    assert.ok(e1 instanceof DeliveryError)
    assert.equal(e1.permanent, false)
    assert.equal(e1.retryAfterMs, 7000)
    assert.equal(e1.opts.status, 429)

    pd.failNext(1, 503, new Date(Date.now() + 30_000).toUTCString())
    const e2 = await rejection<DeliveryError>(r.send(notificationFor(i, 'opened'), never()))
    assert.equal(e2.permanent, false)
    assert.ok(e2.retryAfterMs! > 25_000 && e2.retryAfterMs! <= 30_000, String(e2.retryAfterMs))

    pd.failNext(1, 500)
    const e3 = await rejection<DeliveryError>(r.send(notificationFor(i, 'opened'), never()))
    assert.equal(e3.permanent, false)
    assert.equal(e3.retryAfterMs, undefined)

    await r.send(notificationFor(i, 'opened'), never())
    assert.equal(pd.alert(i.id)?.status, 'triggered')
  })

  it('another 4xx is permanent and says what the service answered', async () => {
    pd.failNext(1, 400)
    const err = await rejection<DeliveryError>(receiver().send(notificationFor(incidentFixture(), 'opened'), never()))
    assert.equal(err.permanent, true)
    assert.equal(err.opts.status, 400)
    assert.match(
      err.message,
      /^pagerduty receiver "pd-test": http:\/\/127\.0\.0\.1:\d+ answered 400: .*Event object is invalid/,
    )
  })

  it('the stand-in refuses malformed events as PagerDuty does', async () => {
    const post = async (body: unknown) => {
      const res = await fetch(pd.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: typeof body === 'string' ? body : JSON.stringify(body),
      })
      return { status: res.status, body: (await res.json()) as any }
    }
    const short = await post({ routing_key: 'abc', event_action: 'trigger', payload: {} })
    assert.equal(short.status, 400)
    assert.equal(short.body.message, 'Event object is invalid')
    assert.ok(short.body.errors.some((e: string) => /routing_key.*32/.test(e)))
    assert.ok(short.body.errors.some((e: string) => /payload\.summary/.test(e)))
    const noDedup = await post({ routing_key: KEY, event_action: 'resolve' })
    assert.equal(noDedup.status, 400)
    assert.ok(noDedup.body.errors.includes("'dedup_key' is missing or blank"))
    assert.equal((await post({ routing_key: KEY, event_action: 'snooze', dedup_key: 'x' })).status, 400)
    assert.equal((await post('{not json')).status, 400)
    const ok = await post({
      routing_key: KEY,
      event_action: 'trigger',
      payload: { summary: 's', source: 'h', severity: 'error' },
    })
    assert.equal(ok.status, 202)
    assert.equal(ok.body.status, 'success')
  })

  it('a missing or malformed routing key fails at construction, without showing the key', () => {
    const cfg = pagerdutyConfig.parse({ routing_key: { env: 'PD_NOT_SET' } })
    assert.throws(
      () => createPagerdutyReceiver('pd-missing', cfg, { redis: noRedis, secret: readerOf({}) }),
      /pagerduty receiver "pd-missing": routing_key: environment variable PD_NOT_SET is not set/,
    )
    const wrong = 'short-key-value-123'
    assert.throws(
      () =>
        createPagerdutyReceiver('pd-short', pagerdutyConfig.parse({ routing_key: { env: 'K' } }), {
          redis: noRedis,
          secret: readerOf({ K: wrong }),
        }),
      (err: Error) => /has 19 characters/.test(err.message) && !err.message.includes(wrong),
    )
    assert.equal(pagerdutyConfig.parse({ routing_key: { env: 'K' } }).url, undefined)
    assert.equal(PAGERDUTY_EVENTS_URL, 'https://events.pagerduty.com/v2/enqueue')
    assert.equal(
      pagerdutyConfig.safeParse({ routing_key: 'plain-text-key' }).success,
      false,
      'a reference, never a value',
    )
    assert.equal(pagerdutyConfig.safeParse({ routing_key: { env: 'K' }, extra: 1 }).success, false, 'strict')
    assert.equal(pagerdutyConfig.safeParse({ routing_key: { env: 'K' }, url: 'ftp://x' }).success, false)
  })

  it('no error text carries the routing key, even when the service echoes the request', async () => {
    const echo = http.createServer((req, res) => {
      const chunks: Buffer[] = []
      req.on('data', (c) => chunks.push(c))
      req.on('end', () => {
        res.writeHead(400, { 'content-type': 'application/json' })
        res.end(Buffer.concat(chunks))
      })
    })
    await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r))
    try {
      const url = `http://127.0.0.1:${(echo.address() as AddressInfo).port}/v2/enqueue?token=${KEY}`
      const r = createPagerdutyReceiver(
        'pd-echo',
        pagerdutyConfig.parse({ routing_key: { env: 'PD_ROUTING_KEY' }, url }),
        {
          redis: noRedis,
          secret: readerOf(env),
        },
      )
      const err = await rejection<DeliveryError>(r.send(notificationFor(incidentFixture(), 'opened'), never()))
      assert.equal(err.permanent, true)
      assert.ok(err.message.includes('routing_key'), 'the echoed body is in the message')
      assert.ok(!err.message.includes(KEY), err.message)
      assert.ok(err.message.includes('[redacted]'))
      assert.ok(!err.message.includes('/v2/enqueue'), 'no path or query in the message')
    } finally {
      echo.closeAllConnections()
      await new Promise((r) => echo.close(r))
    }
  })

  it('a refused connection and a cancelled delivery are retryable', async () => {
    const closed = http.createServer()
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r))
    const port = (closed.address() as AddressInfo).port
    await new Promise((r) => closed.close(r))
    const r = createPagerdutyReceiver(
      'pd-down',
      pagerdutyConfig.parse({ routing_key: { env: 'PD_ROUTING_KEY' }, url: `http://127.0.0.1:${port}/v2/enqueue` }),
      { redis: noRedis, secret: readerOf(env) },
    )
    const err = await rejection<DeliveryError>(r.send(notificationFor(incidentFixture(), 'opened'), never()))
    assert.ok(err instanceof DeliveryError)
    assert.equal(err.permanent, false)
    assert.match(err.message, /ECONNREFUSED/)

    const ac = new AbortController()
    ac.abort()
    const aborted = await rejection<DeliveryError>(
      receiver().send(notificationFor(incidentFixture(), 'opened'), ac.signal),
    )
    assert.equal(aborted.permanent, false)
    assert.match(aborted.message, /cancelled/)
  })
})
