import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { startRedis, type TestRedis } from '../../../tests/helpers/redis'
import { IncidentStore } from './incidents'
import { acknowledge, escalate, note, resolve } from './lifecycle'
import type { Alert } from './model'
import { NOTIFY_OUTBOX, type OutboxEntry } from './notify-outbox'

const alert = (fp: string): Alert => ({
  fingerprint: fp,
  type: 'container_down',
  severity: 'critical',
  metric: 'container_running',
  value: 0,
  threshold: 1,
  resource: { kind: 'container', id: fp, name: fp },
  labels: {},
  source: 'test',
  at: new Date().toISOString(),
})

describe('notification outbox (written by the store, real Redis)', () => {
  let redis: TestRedis
  let store: IncidentStore
  before(async () => {
    redis = await startRedis()
    store = new IncidentStore(redis.client)
  })
  after(() => redis.stop())

  const entries = async (): Promise<OutboxEntry[]> =>
    (await redis.client.xrange(NOTIFY_OUTBOX, '-', '+')).map(([, f]) => JSON.parse(f[f.indexOf('entry') + 1]))

  it('appends one entry per event a write makes, and none for a write that makes none', async () => {
    const { incident } = await store.open(alert('outbox-1'), { title: 't', actor: 'test' })
    await store.open(alert('outbox-1'), { title: 't', actor: 'test' }) // held by the open one: no event
    await store.update(incident.id, (i) => note(i, { actor: 'test', summary: 'a note' }))
    await store.update(incident.id, (i) => escalate(i, { actor: 'test', summary: 'fix failed' }))
    await store.update(incident.id, (i) => acknowledge(i, { actor: 'user:alice', summary: 'mine' }))
    await store.update(incident.id, (i) => acknowledge(i, { actor: 'user:bob', summary: 'mine too' })) // declined
    await store.update(incident.id, (i) => resolve(i, { actor: 'test', summary: 'done' }))
    const got = (await entries()).filter((e) => e.incidentId === incident.id)
    assert.deepEqual(
      got.map((e) => e.event),
      ['opened', 'escalated', 'acknowledged', 'resolved'],
    )
    assert.deepEqual(
      got.map((e) => e.version),
      [1, 3, 4, 5],
      'each carries the version that made it',
    )
    const stored = await store.get(incident.id)
    assert.deepEqual(stored!.acknowledgement?.by, 'user:alice', 'the first acknowledgement owns it')
  })

  it('a compare-and-set that loses writes no entry', async () => {
    const { incident } = await store.open(alert('outbox-2'), { title: 't', actor: 'test' })
    const before = (await entries()).length
    // Two writers race to escalate: the store retries the loser, whose mutate then declines.
    await Promise.all([
      store.update(incident.id, (i) => escalate(i, { actor: 'a', summary: 'x' })),
      store.update(incident.id, (i) => escalate(i, { actor: 'b', summary: 'y' })),
    ])
    const added = (await entries()).slice(before).filter((e) => e.incidentId === incident.id)
    assert.deepEqual(
      added.map((e) => e.event),
      ['escalated'],
    )
  })
})
