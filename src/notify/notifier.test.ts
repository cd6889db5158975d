import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, afterEach, before, describe, it } from 'node:test'
import { startRedis, type TestRedis } from '../../tests/helpers/redis'
import { waitFor } from '../../tests/helpers/ports'
import { IncidentStore } from '../platform/store/incidents'
import { acknowledge, escalate, resolve } from '../platform/store/lifecycle'
import type { Alert, Severity } from '../platform/store/model'
import { NOTIFY_OUTBOX } from '../platform/store/notify-outbox'
import type { NotifyConfig, Route } from './config'
import { parseMatcher } from './matchers'
import { startNotifier, type Notifier } from './notifier'
import { DeliveryQueue } from './queue'
import { DeliveryError, type Notification, type Receiver } from './types'

/**
 * The notifier against a real Redis and the real incident store (whose writes append the outbox
 * entries). The receivers are in-process recorders: the notifier's contract with a receiver is
 * the Receiver interface; the receivers' own wire protocols are tested in ./receivers/.
 */
class RecordingReceiver implements Receiver {
  readonly type = 'webhook' as const
  received: Notification[] = []
  /** Each call takes the next; an empty list means success. */
  failures: DeliveryError[] = []
  calls = 0
  constructor(readonly name: string) {}
  async send(n: Notification): Promise<void> {
    this.calls++
    const f = this.failures.shift()
    if (f) throw f
    this.received.push(n)
  }
  kinds = (incidentId?: string) =>
    this.received.filter((n) => !incidentId || n.incident.id === incidentId).map((n) => n.kind)
}

const route = (over: Partial<Route> = {}): Route => ({
  receiver: 'team',
  matchers: [],
  continue: false,
  groupWaitMs: 0,
  repeatIntervalMs: 3_600_000,
  events: ['opened', 'approval_requested', 'escalated', 'acknowledged', 'resolved'],
  quietHours: [],
  routes: [],
  ...over,
})

const config = (over: Partial<NotifyConfig> = {}): NotifyConfig => ({
  source: 'test',
  receivers: [],
  route: route(),
  escalation: null,
  delivery: { maxAttempts: 5, backoffBaseMs: 20, backoffMaxMs: 200, timeoutMs: 2000, concurrency: 4 },
  ...over,
})

const alert = (severity: Severity = 'critical', labels: Record<string, string> = {}): Alert => {
  const fp = `notify-${randomBytes(4).toString('hex')}`
  return {
    fingerprint: fp,
    type: 'container_down',
    severity,
    metric: 'container_running',
    value: 0,
    threshold: 1,
    resource: { kind: 'container', id: fp, name: fp },
    labels,
    source: 'test',
    at: new Date().toISOString(),
  }
}

const noSilences = { mutedBy: async () => null }
const noMetrics = { notification: async () => {} }
const quiet = () => {}

describe('notifier (real Redis, real incident store)', () => {
  let redis: TestRedis
  let store: IncidentStore
  let notifier: Notifier | undefined
  before(async () => {
    redis = await startRedis()
    store = new IncidentStore(redis.client)
  })
  afterEach(async () => {
    await notifier?.stop()
    notifier = undefined
    await redis.client.flushdb()
  })
  after(() => redis.stop())

  const start = (
    cfg: NotifyConfig,
    receivers: Receiver[],
    extra: Partial<Parameters<typeof startNotifier>[0]> = {},
  ) => {
    notifier = startNotifier({
      redis: redis.client,
      config: cfg,
      receivers: new Map(receivers.map((r) => [r.name, r])),
      getIncident: (id) => store.get(id),
      silences: noSilences,
      metrics: noMetrics,
      log: quiet,
      tickMs: 20,
      ...extra,
    })
    return notifier
  }

  it('pages each routed receiver once per event, in order, and closes what it paged', async () => {
    const team = new RecordingReceiver('team')
    const pager = new RecordingReceiver('pager')
    const critical = route({
      receiver: 'pager',
      matchers: [parseMatcher('severity="critical"')],
      continue: true,
      events: ['escalated', 'resolved'],
    })
    // As in Alertmanager, a parent's receiver takes only what none of its children took.
    start(config({ route: route({ receiver: 'nobody', routes: [critical, route({ receiver: 'team' })] }) }), [
      team,
      pager,
    ])
    const until = (what: string, ok: () => boolean) =>
      waitFor(async () => ok(), { timeoutMs: 10_000, intervalMs: 20, what })
    const { incident } = await store.open(alert('critical'), { title: 'web down', actor: 'test' })
    await until('the opened page', () => team.received.length === 1)
    await store.update(incident.id, (i) => escalate(i, { actor: 'test', summary: 'fix failed' }))
    await until('the escalated pages', () => team.received.length === 2 && pager.received.length === 1)
    await store.update(incident.id, (i) => resolve(i, { actor: 'test', summary: 'a person fixed it' }))
    await until('the resolutions', () => team.received.length === 3 && pager.received.length === 2)
    assert.deepEqual(team.kinds(), ['opened', 'escalated', 'resolved'])
    assert.deepEqual(pager.kinds(), ['escalated', 'resolved'])
    assert.equal(new Set(team.received.map((n) => n.key)).size, 3, 'one key per event')
    assert.equal(team.received[2].incident.status, 'resolved', 'drawn from the incident at delivery time')
    await until('the outbox to empty', () => true)
    assert.equal(await redis.client.xlen(NOTIFY_OUTBOX), 0, 'outbox entries are removed once routed')
  })

  it('does not page for an escalation that was resolved before its page went out', async () => {
    const pager = new RecordingReceiver('pager')
    start(config({ route: route({ receiver: 'pager', events: ['escalated', 'resolved'] }) }), [pager])
    const { incident } = await store.open(alert('critical'), { title: 'gone quickly', actor: 'test' })
    await store.update(incident.id, (i) => escalate(i, { actor: 'test', summary: 'fix failed' }))
    await store.update(incident.id, (i) => resolve(i, { actor: 'test', summary: 'alert cleared' }))
    const q = new DeliveryQueue(redis.client)
    await waitFor(async () => (await q.recent(10)).length >= 2, { timeoutMs: 10_000, intervalMs: 20, what: 'outcomes' })
    assert.equal(pager.calls, 0)
  })

  it('sends nothing for an incident healed within group_wait', async () => {
    const team = new RecordingReceiver('team')
    start(config({ route: route({ groupWaitMs: 600 }) }), [team])
    const { incident } = await store.open(alert('warning'), { title: 'blip', actor: 'test' })
    await store.update(incident.id, (i) => resolve(i, { actor: 'test', summary: 'restarted' }))
    const q = new DeliveryQueue(redis.client)
    await waitFor(async () => (await q.recent(10)).length >= 2, {
      timeoutMs: 10_000,
      intervalMs: 20,
      what: 'the expected deliveries',
    })
    assert.equal(team.calls, 0)
    const outcomes = (await q.recent(10)).map((d) => `${d.kind}:${d.state}`).sort()
    assert.deepEqual(outcomes, ['opened:skipped', 'resolved:skipped'])
  })

  it('retries a failing receiver with backoff, honouring Retry-After, and delivers once', async () => {
    const team = new RecordingReceiver('team')
    team.failures = [
      new DeliveryError('503', { status: 503 }),
      new DeliveryError('429', { status: 429, retryAfterMs: 300 }),
      new DeliveryError('socket hang up'),
    ]
    start(config(), [team])
    const t0 = Date.now()
    const { incident } = await store.open(alert(), { title: 'flaky receiver', actor: 'test' })
    await waitFor(async () => team.received.length === 1, {
      timeoutMs: 10_000,
      intervalMs: 20,
      what: 'the expected deliveries',
    })
    assert.equal(team.calls, 4)
    assert.ok(Date.now() - t0 >= 300, 'waited at least the Retry-After')
    assert.equal(team.received[0].incident.id, incident.id)
    await new Promise((r) => setTimeout(r, 200))
    assert.equal(team.received.length, 1, 'delivered once')
  })

  it('dead-letters after the last attempt or a permanent refusal, and the lane goes on', async () => {
    const team = new RecordingReceiver('team')
    team.failures = [new DeliveryError('400 bad event', { permanent: true, status: 400 })]
    start(config(), [team])
    const { incident } = await store.open(alert(), { title: 'refused', actor: 'test' })
    await store.update(incident.id, (i) => escalate(i, { actor: 'test', summary: 'x' }))
    await waitFor(async () => team.received.length === 1, {
      timeoutMs: 10_000,
      intervalMs: 20,
      what: 'the expected deliveries',
    })
    const dead = await new DeliveryQueue(redis.client).deadLetters(10)
    assert.equal(dead.length, 1)
    assert.equal(dead[0].kind, 'opened')
    assert.match(dead[0].lastError ?? '', /400 bad event/)
    assert.deepEqual(team.kinds(), ['escalated'])
  })

  it('repeats until acknowledged, escalates level by level, and stops at the acknowledgement', async () => {
    const team = new RecordingReceiver('team')
    const second = new RecordingReceiver('second')
    const admins = new RecordingReceiver('admins')
    start(
      config({
        route: route({ repeatIntervalMs: 250, events: ['escalated', 'acknowledged', 'resolved'] }),
        escalation: { afterMs: 400, severities: ['critical'], levels: [['team'], ['second'], ['admins']] },
      }),
      [team, second, admins],
    )
    const { incident } = await store.open(alert('critical'), { title: 'db down', actor: 'test' })
    await store.update(incident.id, (i) => escalate(i, { actor: 'test', summary: 'fix failed' }))
    // Level 3 and a repeat to level 1 both come, in whichever order a loaded machine runs the clock.
    await waitFor(async () => admins.received.length >= 1 && team.kinds().includes('repeat'), {
      timeoutMs: 10_000,
      intervalMs: 20,
      what: 'level 3 and a repeat to level 1',
    })
    assert.equal(second.received[0].level, 2)
    assert.equal(admins.received[0].level, 3)
    await store.update(incident.id, (i) => acknowledge(i, { actor: 'user:alice', summary: 'mine' }))
    await waitFor(async () => second.kinds().includes('acknowledged'), {
      timeoutMs: 10_000,
      intervalMs: 20,
      what: 'the expected deliveries',
    })
    const counts = [team, second, admins].map((r) => r.received.length)
    await new Promise((r) => setTimeout(r, 800))
    assert.deepEqual(
      [team, second, admins].map((r) => r.received.length),
      counts,
      'nothing more after the acknowledgement',
    )
    assert.equal(admins.kinds().at(-1), 'acknowledged', 'the admins hear who took it')
    assert.equal(admins.received[0].kind, 'repeat')
  })

  it('a silence holds the pages back but not the incident', async () => {
    const team = new RecordingReceiver('team')
    const silences = {
      mutedBy: async (labels: Record<string, string>) => (labels.env === 'staging' ? { id: 'sil-1' } : null),
    }
    start(config(), [team], { silences })
    const muted = await store.open(alert('critical', { env: 'staging' }), { title: 'staging down', actor: 'test' })
    const paged = await store.open(alert('critical', { env: 'prod' }), { title: 'prod down', actor: 'test' })
    await waitFor(async () => team.received.length === 1, {
      timeoutMs: 10_000,
      intervalMs: 20,
      what: 'the expected deliveries',
    })
    assert.equal(team.received[0].incident.id, paged.incident.id)
    const recent = await new DeliveryQueue(redis.client).recent(10)
    assert.ok(recent.some((d) => d.incidentId === muted.incident.id && d.state === 'muted'))
  })

  it('a replayed outbox entry queues nothing twice', async () => {
    const team = new RecordingReceiver('team')
    // Read the entry before the notifier consumes it, then replay it by hand afterwards.
    const { incident } = await store.open(alert(), { title: 'replay', actor: 'test' })
    const [[, fields]] = (await redis.client.xrange(NOTIFY_OUTBOX, '-', '+')) as [string, string[]][]
    start(config(), [team])
    await waitFor(async () => team.received.length === 1, {
      timeoutMs: 10_000,
      intervalMs: 20,
      what: 'the expected deliveries',
    })
    await redis.client.xadd(NOTIFY_OUTBOX, '*', ...fields)
    await new Promise((r) => setTimeout(r, 300))
    assert.equal(team.received.length, 1)
    assert.equal(team.received[0].incident.id, incident.id)
  })
})
