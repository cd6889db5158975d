import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import { startRedis, type TestRedis } from '../../tests/helpers/redis'
import { IncidentStore } from '../platform/store/incidents'
import type { Alert, AlertType, Incident } from '../platform/store/model'
import { memoryEvidence, recallSimilar } from './memory'

describe('incident memory (real Redis)', () => {
  let redis: TestRedis
  let store: IncidentStore
  before(async () => {
    redis = await startRedis()
    store = new IncidentStore(redis.client)
  })
  after(() => redis.stop())

  const name = `web-${randomBytes(3).toString('hex')}`
  const alert = (type: AlertType, resource = name): Alert => ({
    fingerprint: `${type}:${resource}:${randomBytes(4).toString('hex')}`,
    type,
    severity: 'critical',
    metric: 'container_running',
    value: 0,
    threshold: 1,
    resource: { kind: 'container', id: randomBytes(6).toString('hex'), name: resource },
    labels: {},
    source: 'test',
    at: new Date().toISOString(),
  })
  /** An incident of `name`, closed the way `close` says (the lifecycle's effect, written directly). */
  async function past(
    type: AlertType,
    close: { status?: Incident['status']; cause?: string; fix?: [string, 'succeeded' | 'failed'] },
    opts: { test?: boolean; resource?: string } = {},
  ): Promise<string> {
    const { incident } = await store.open(alert(type, opts.resource), { title: type, actor: 'test', test: opts.test })
    await store.update(incident.id, (i) => {
      i.status = close.status ?? 'resolved'
      i.analysis = { analyser: 'rules', root_cause: `${type} happened`, ...(close.cause ? { cause: close.cause } : {}) }
      if (close.fix)
        i.actions = [{ actionId: close.fix[0], params: {}, status: close.fix[1], startedAt: new Date().toISOString() }]
    })
    await new Promise((r) => setTimeout(r, 3)) // distinct opening times
    return incident.id
  }

  it('recalls closed incidents of the same resource, the same type and cause first, never tests or itself', async () => {
    const oomFixed = await past('container_down', { cause: 'oom', fix: ['update_memory_limit', 'succeeded'] })
    const killedFixed = await past('container_down', { cause: 'killed', fix: ['restart_container', 'succeeded'] })
    const cpu = await past('cpu', { cause: 'cpu_hog' })
    const escalated = await past('container_down', { cause: 'oom', status: 'escalated' }) // with a person: not closed
    await past('container_down', { cause: 'oom' }, { test: true }) // a test incident: never recalled
    await past('container_down', { cause: 'oom' }, { resource: `${name}-other` }) // another resource
    const { incident: stillOpen } = await store.open(alert('container_down'), { title: 'open', actor: 'test' })
    const { incident: now } = await store.open(alert('container_down'), { title: 'now', actor: 'test' })

    const recalled = await recallSimilar(store, now, { cause: 'oom' })
    assert.deepEqual(
      recalled.map((p) => p.id),
      [oomFixed, killedFixed, cpu],
    )
    assert.ok(!recalled.some((p) => [stillOpen.id, now.id, escalated].includes(p.id)))
    assert.deepEqual(recalled[0], {
      id: oomFixed,
      openedAt: recalled[0].openedAt,
      type: 'container_down',
      status: 'resolved',
      cause: 'oom',
      rootCause: 'container_down happened',
      fix: { action: 'update_memory_limit', status: 'succeeded' },
    })
    // Without a cause, the newest of the same type comes first.
    assert.deepEqual(
      (await recallSimilar(store, now, { limit: 2 })).map((p) => p.id),
      [killedFixed, oomFixed],
    )
    assert.match(
      memoryEvidence(recalled)[0],
      /seen before: .* container_down, oom\) ended resolved after update_memory_limit \(succeeded\)/,
    )
    assert.match(memoryEvidence(recalled)[2], /cpu, cpu_hog\) ended resolved with no fix run/)
    // A test incident being analysed recalls nothing.
    assert.deepEqual(await recallSimilar(store, { ...now, test: true }), [])
  })
})
