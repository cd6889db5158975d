// @long: a whole Sentinel with five receivers, escalation timers and a kill -9.
/**
 * On-call notifications end to end: a real Sentinel reads a routing file and pages stand-ins that
 * speak PagerDuty's Events API v2, Opsgenie's Alert API, SMTP (a real SMTP server), Slack's Web API
 * and a signed webhook, through the real client libraries. Incidents come in as Alertmanager
 * alerts of a kind Sentinel has no fix for, so each escalates at once.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { IncidentStore } from '../../src/platform/store/incidents'
import { startOpsgenieStandIn, type OpsgenieStandIn } from '../helpers/opsgenie-standin'
import { startPagerdutyStandIn, type PagerdutyStandIn } from '../helpers/pagerduty-standin'
import { sleep, waitFor } from '../helpers/ports'
import { startRedis, type TestRedis } from '../helpers/redis'
import { startSentinel, type SentinelInstance } from '../helpers/sentinel'
import { startSlackStandIn, type SlackStandIn } from '../helpers/slack-standin'
import { startSmtpStandIn, type SmtpStandIn } from '../helpers/smtp-standin'
import { startWebhookStandIn, type WebhookStandIn } from '../helpers/webhook-standin'
import { createIdle, docker, removeContainers, uniqueName } from '../helpers/docker'
import { WATCH_ARG } from '../helpers/sentinel'

const RUN = randomBytes(3).toString('hex')
const HOOK_SECRET = randomBytes(24).toString('hex')
const PD_KEY = randomBytes(16).toString('hex') // 32 characters, as PagerDuty wants
const OG_KEY = `${randomBytes(8).toString('hex')}-og`
const SLACK_TOKEN = `xoxb-test-${randomBytes(8).toString('hex')}`

const routingFile = (u: { hook: string; level2: string; pd: string; og: string; smtpPort: number; slack: string }) => `
receivers:
  - name: hook
    webhook: { url: '${u.hook}', secret: { env: NOTIFY_TEST_HOOK_SECRET } }
  - name: level2
    webhook: { url: '${u.level2}', secret: { env: NOTIFY_TEST_HOOK_SECRET } }
  - name: pd
    pagerduty: { url: '${u.pd}', routing_key: { env: NOTIFY_TEST_PD_KEY } }
  - name: og
    opsgenie: { api_url: '${u.og}', api_key: { env: NOTIFY_TEST_OG_KEY } }
  - name: mail
    email: { host: 127.0.0.1, port: ${u.smtpPort}, from: 'sentinel@test.invalid', to: ['oncall@test.invalid'] }
  - name: chat
    slack: { channel: C0ONCALL, api_url: '${u.slack}' }
route:
  receiver: hook
  group_wait: 0s
  repeat_interval: 2s
  events: [escalated, acknowledged, resolved]
  routes:
    # The 50 incidents of the kill -9 case go to the webhook alone, on opening.
    - matchers: ['batch="kill9-${RUN}"']
      receiver: hook
      events: [opened]
    - { receiver: pd, continue: true }
    - { receiver: og, continue: true }
    - { receiver: mail, continue: true }
    - { receiver: chat, continue: true }
    - { receiver: hook }
escalation:
  severities: [critical]
  levels:
    - receivers: [hook]
    - receivers: [level2]
delivery:
  max_attempts: 8
  backoff_base: 100ms
  backoff_max: 1s
  timeout: 5s
`

describe('on-call notifications (real Sentinel; PagerDuty, Opsgenie, SMTP, Slack, webhook stand-ins)', () => {
  let redis: TestRedis
  let sentinel: SentinelInstance
  let hook: WebhookStandIn
  let level2: WebhookStandIn
  let pd: PagerdutyStandIn
  let og: OpsgenieStandIn
  let smtp: SmtpStandIn
  let slack: SlackStandIn
  let dir: string
  const containers: string[] = []

  before(async () => {
    redis = await startRedis()
    ;[hook, level2, pd, og, smtp, slack] = await Promise.all([
      startWebhookStandIn({ secret: HOOK_SECRET }),
      startWebhookStandIn({ secret: HOOK_SECRET }),
      startPagerdutyStandIn(),
      startOpsgenieStandIn({ apiKey: OG_KEY }),
      startSmtpStandIn(),
      startSlackStandIn({ token: SLACK_TOKEN }),
    ])
    dir = mkdtempSync(path.join(os.tmpdir(), 'sentinel-notify-'))
    const file = path.join(dir, 'routing.yml')
    writeFileSync(
      file,
      routingFile({
        hook: hook.url,
        level2: level2.url,
        pd: pd.url,
        og: og.apiUrl,
        smtpPort: smtp.port,
        slack: slack.apiUrl,
      }),
    )
    sentinel = await startSentinel({
      redisPort: redis.port,
      env: {
        NOTIFY_CONFIG: file,
        ESCALATE_AFTER_MINUTES: '0.05', // 3 s: level 2 is paged 3 s after level 1
        NOTIFY_TEST_HOOK_SECRET: HOOK_SECRET,
        NOTIFY_TEST_PD_KEY: PD_KEY,
        NOTIFY_TEST_OG_KEY: OG_KEY,
        SLACK_BOT_TOKEN: SLACK_TOKEN,
        SLACK_SIGNING_SECRET: randomBytes(16).toString('hex'),
        SLACK_CHANNEL: 'C0ONCALL',
        SLACK_API_URL: slack.apiUrl,
      },
    })
  })

  after(async () => {
    await sentinel?.cleanup()
    await removeContainers(...containers)
    await Promise.allSettled([hook, level2, pd, og, smtp, slack].map((s) => s?.close()))
    await redis?.stop()
    if (dir) rmSync(dir, { recursive: true, force: true })
  })

  /** Opens an incident through Alertmanager's webhook; resolves it with `status: 'resolved'`. */
  const alertmanager = async (name: string, status: 'firing' | 'resolved', labels: Record<string, string> = {}) => {
    const now = new Date().toISOString()
    const res = await sentinel.post(
      '/api/alerts/alertmanager',
      {
        version: '4',
        status,
        receiver: 'sentinel',
        groupKey: `{}:{alertname="${name}"}`,
        groupLabels: { alertname: name },
        commonLabels: { alertname: name },
        commonAnnotations: {},
        externalURL: 'http://127.0.0.1:9093',
        alerts: [
          {
            status,
            labels: { alertname: name, severity: 'critical', ...labels },
            annotations: { summary: `${name} for the notification test` },
            startsAt: now,
            endsAt: status === 'resolved' ? now : '0001-01-01T00:00:00Z',
            fingerprint: createFingerprint(name),
          },
        ],
      },
      'operator',
    )
    assert.ok(res.status < 300, `alertmanager webhook: ${res.status} ${JSON.stringify(res.body)}`)
    return res.body
  }
  const fingerprints = new Map<string, string>()
  const createFingerprint = (name: string) => {
    if (!fingerprints.has(name)) fingerprints.set(name, randomBytes(8).toString('hex'))
    return fingerprints.get(name)!
  }

  const incidentFor = async (name: string) =>
    waitFor(
      async () => {
        const r = await sentinel.get('/api/incidents?limit=200')
        const list: any[] = r.body.incidents ?? r.body
        return list.find((i) => i.resource?.name === name && i.status !== 'resolved')
      },
      { timeoutMs: 20_000, what: `an incident for ${name}` },
    )
  const escalated = async (name: string) => {
    const first = await incidentFor(name)
    return waitFor(
      async () => {
        const r = await sentinel.get(`/api/incidents/${first.id}`)
        return r.body.status === 'escalated' ? r.body : null
      },
      { timeoutMs: 30_000, what: `incident ${first.id} (${name}) to escalate` },
    )
  }
  const keyCount = (standIn: { keys: Map<string, number> }, key: string) => standIn.keys.get(key) ?? 0
  const mailsFor = (id: string) =>
    smtp.messages.filter((m) => m.header('x-sentinel-idempotency-key')?.startsWith(`${id}:`))

  it('an escalated incident reaches every routed receiver once; the ack stops the repeats; the resolve closes the alerts', async () => {
    const name = `NotifyEscalation${RUN}`
    await alertmanager(name, 'firing')
    const incident = await escalated(name)
    const id = incident.id
    await waitFor(
      () =>
        keyCount(hook, `${id}:escalated:hook`) === 1 &&
        pd.alert(id)?.status === 'triggered' &&
        og.alert(id)?.status === 'open' &&
        mailsFor(id).some((m) => /ESCALATED/i.test(m.subject ?? '')) &&
        slack.messages.some((m) => m.channel === 'C0ONCALL' && JSON.stringify(m.blocks ?? m.text).includes(id)),
      { timeoutMs: 20_000, what: `the escalation of ${id} at every receiver` },
    )
    assert.equal(keyCount(hook, `${id}:escalated:hook`), 1)
    assert.equal(
      pd.accepted().filter((e) => e.dedup_key === id && e.payload?.custom_details?.kind === 'escalated').length,
      1,
    )
    assert.equal(
      mailsFor(id).filter((m) => m.header('x-sentinel-idempotency-key') === `${id}:escalated:mail`).length,
      1,
    )
    assert.equal(
      slack.messages.filter(
        (m) => m.channel === 'C0ONCALL' && !m.text?.startsWith('reply') && JSON.stringify(m.blocks ?? '').includes(id),
      ).length >= 1,
      true,
    )

    // Nobody acknowledges: it repeats (repeat_interval 2 s) and reaches level 2 (after 3 s).
    await waitFor(() => level2.received().some((b) => b.incident.id === id && b.level === 2), {
      timeoutMs: 20_000,
      what: 'level 2 to be paged',
    })
    await waitFor(() => hook.received().some((b) => b.incident.id === id && b.kind === 'repeat'), {
      timeoutMs: 20_000,
      what: 'level 1 to be paged again (repeat_interval)',
    })

    const viewer = await sentinel.post(`/api/incidents/${id}/ack`, {}, 'viewer')
    assert.equal(viewer.status, 403)
    const ack = await sentinel.post(`/api/incidents/${id}/ack`, { comment: 'on it' }, 'operator')
    assert.equal(ack.status, 200, JSON.stringify(ack.body))
    await waitFor(() => pd.alert(id)?.status === 'acknowledged' && og.alert(id)?.acknowledged === true, {
      timeoutMs: 20_000,
      what: 'PagerDuty and Opsgenie to hear of the acknowledgement',
    })
    const repeats = () =>
      [hook, level2].map((s) => s.received().filter((b) => b.incident.id === id && b.kind === 'repeat').length)
    await sleep(500)
    const before = repeats()
    await sleep(4500) // longer than repeat_interval and the escalation step
    assert.deepEqual(repeats(), before, 'no page after the acknowledgement')

    await alertmanager(name, 'resolved')
    await waitFor(() => pd.alert(id)?.status === 'resolved' && og.alert(id)?.status === 'closed', {
      timeoutMs: 20_000,
      what: 'the PagerDuty incident resolved and the Opsgenie alert closed',
    })
    for (const s of [hook, level2, pd, og, smtp]) assert.equal(s.duplicates(), 0)
    const metrics = await fetch(`${sentinel.url}/metrics`).then((r) => r.text())
    assert.match(metrics, /sentinel_notifications_total\{receiver="pd",result="delivered"\} [1-9]/)
    assert.match(metrics, /sentinel_notification_delivery_seconds_count\{receiver="hook"\} [1-9]/)
  })

  it('a receiver that fails three times, then recovers, gets the page once', async () => {
    const name = `NotifyFlaky${RUN}`
    hook.failNext(3, 503, '0')
    const failedBefore = hook.requests.filter((r) => r.status === 503).length
    await alertmanager(name, 'firing')
    const { id } = await escalated(name)
    await waitFor(() => keyCount(hook, `${id}:escalated:hook`) === 1, {
      timeoutMs: 20_000,
      what: 'the page after three failures',
    })
    assert.equal(hook.requests.filter((r) => r.status === 503).length - failedBefore, 3)
    await sleep(500)
    assert.equal(keyCount(hook, `${id}:escalated:hook`), 1)
    await sentinel.post(`/api/incidents/${id}/ack`, {}, 'operator')
    await alertmanager(name, 'resolved')
  })

  it('a silence stops the pages, not the fix', async () => {
    const name = uniqueName('silenced')
    containers.push(name)
    await createIdle(name, WATCH_ARG)
    await docker('start', name)
    const silence = await sentinel.post(
      '/api/silences',
      { matchers: [`container="${name}"`], duration: '1h', comment: 'maintenance of the test container' },
      'operator',
    )
    assert.equal(silence.status, 201, JSON.stringify(silence.body))
    await docker('kill', name)
    const resolved = await waitFor(
      async () => {
        const r = await sentinel.get('/api/incidents?limit=200')
        const list: any[] = r.body.incidents ?? r.body
        return list.find((i) => i.resource?.name === name && i.status === 'resolved')
      },
      { timeoutMs: 60_000, what: 'the silenced container to be restarted and its incident resolved' },
    )
    const status = await sentinel.get('/api/notifications')
    assert.equal(status.status, 200)
    assert.ok(
      status.body.recent.some((d: any) => d.incidentId === resolved.id && d.state === 'muted'),
      `a muted outcome for ${resolved.id}: ${JSON.stringify(status.body.recent.slice(0, 5))}`,
    )
    const pagedFor = (standIn: { keys: Map<string, number> }) =>
      [...standIn.keys.keys()].filter((k) => k.startsWith(`${resolved.id}:`))
    assert.deepEqual([hook, level2, pd, og, smtp].flatMap(pagedFor), [], 'nothing was paged for the silenced container')
    assert.ok(!slack.messages.some((m) => JSON.stringify(m.blocks ?? m.text ?? '').includes(resolved.id)))
  })

  it('kill -9 with 50 notifications queued: after the restart each is delivered, none twice', async () => {
    hook.failNext(1_000_000, 503) // the receiver is down: the 50 pages wait in the queue
    const store = new IncidentStore(redis.client)
    const ids: string[] = []
    for (let n = 0; n < 50; n++) {
      const { incident } = await store.open(
        {
          fingerprint: `notify-kill9-${RUN}-${n}`,
          type: 'anomaly',
          severity: 'warning',
          metric: 'test',
          value: 1,
          threshold: 0,
          resource: { kind: 'series', id: `kill9-${RUN}-${n}`, name: `kill9-${RUN}-${n}` },
          labels: { batch: `kill9-${RUN}` },
          source: 'notification test',
          at: new Date().toISOString(),
        },
        { title: `kill -9 case ${n}`, actor: 'test' },
      )
      ids.push(incident.id)
    }
    await waitFor(async () => (await sentinel.get('/api/notifications')).body.pending >= 50, {
      timeoutMs: 20_000,
      what: '50 deliveries waiting',
    })
    await sentinel.kill9()
    hook.failNext(0)
    await sentinel.restart()
    const expected = ids.map((id) => `${id}:opened:hook`)
    await waitFor(() => expected.every((k) => keyCount(hook, k) >= 1), {
      timeoutMs: 60_000,
      what: 'all 50 pages after the restart',
    })
    assert.deepEqual(
      expected.filter((k) => keyCount(hook, k) !== 1),
      [],
      'each delivered exactly once',
    )
    assert.equal(hook.duplicates(), 0)
  })

  it('a bad routing file stops the start, naming the line', async () => {
    const file = path.join(dir, 'bad.yml')
    writeFileSync(
      file,
      'receivers:\n  - name: x\n    webhook: { url: http://127.0.0.1:9/x, secret: { env: NOPE_NOT_SET } }\nroute:\n  receiver: y\n  group_wait: soon\n',
    )
    await assert.rejects(
      startSentinel({ redisPort: redis.port, env: { NOTIFY_CONFIG: file } }),
      (err: Error) =>
        /line 2: receivers\.0: .*NOPE_NOT_SET is not set/.test(err.message) &&
        /line 5: route\.receiver: no receiver is named y/.test(err.message) &&
        /line 6: route\.group_wait: "soon" is not a duration/.test(err.message),
    )
  })
})
