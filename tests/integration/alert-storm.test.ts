/**
 * One incident per problem under a storm: 10 000 Alertmanager alerts over 100 fingerprints, sent
 * as 100 concurrent-ish webhook calls, open exactly 100 incidents and lose none.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { stormPayload } from '../helpers/alertmanager'
import { startRedis, type TestRedis } from '../helpers/redis'
import { type SentinelInstance, startSentinel } from '../helpers/sentinel'

describe('alert storm', () => {
  let redis: TestRedis
  let sentinel: SentinelInstance
  before(async () => {
    redis = await startRedis()
    // Shadow mode: the storm's incidents are analysed and decided, and nothing acts on this machine.
    sentinel = await startSentinel({ redisPort: redis.port, env: { SHADOW_MODE: 'true' } })
  })
  after(async () => {
    await sentinel?.cleanup()
    await redis?.stop()
  })

  it('opens exactly one incident per fingerprint', async () => {
    const startsAt = new Date().toISOString()
    // Each call carries all 100 fingerprints, in a different order.
    const payload = (batch: number, value?: (k: number) => string) =>
      stormPayload({ batch, startsAt, order: (i) => (i * 37 + batch) % 100, value })
    let next = 0
    const statuses: number[] = []
    const opened: string[] = []
    await Promise.all(
      Array.from({ length: 10 }, async () => {
        while (next < 100) {
          const r = await sentinel.post('/api/alerts/alertmanager', payload(next++), 'operator')
          statuses.push(r.status)
          if (r.status === 200) opened.push(...r.body.opened)
        }
      }),
    )
    assert.equal(statuses.filter((s) => s === 200).length, 100, `statuses: ${[...new Set(statuses)].join(',')}`)
    assert.equal(opened.length, 100)
    assert.equal(new Set(opened).size, 100)
    const stored = await redis.client.keys('motia:state:incidents:*')
    assert.equal(stored.length, 100, 'no other incident, none lost')

    // A changed value reaches every incident; within one payload the later alert of a fingerprint wins.
    const changed = payload(0, (k) => String(1000 + k))
    changed.alerts.push({ ...changed.alerts[0], annotations: { value: '-1' } })
    const r = await sentinel.post('/api/alerts/alertmanager', changed, 'operator')
    assert.equal(r.status, 200, JSON.stringify(r.body))
    assert.deepEqual(r.body.opened, [])
    assert.equal(new Set(r.body.updated).size, 100)
    const byFingerprint = new Map<string, any>()
    for (const key of stored) {
      const doc = JSON.parse((await redis.client.get(key))!)
      byFingerprint.set(doc.fingerprint, doc)
    }
    const first = changed.alerts[0].fingerprint
    for (const a of changed.alerts.slice(1, 100))
      assert.equal(byFingerprint.get(`am:${a.fingerprint}`).alert.value, Number(a.annotations.value))
    assert.equal(byFingerprint.get(`am:${first}`).alert.value, -1)
  })
})
