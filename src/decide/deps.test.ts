import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { startRedis, type TestRedis } from '../../tests/helpers/redis'
import { getConfig, resetConfigCache } from '../platform/config/index'
import { closeRedis } from '../platform/store/redis'
import { REMEDIATION_LANE, remediationSlots, slotLaneFor } from './deps'

const down = (node?: string) => ({
  type: 'container_down',
  alert: { labels: (node ? { node } : {}) as Record<string, string> },
})

describe('the caps on actions at once: remediations and recoveries (real Redis)', () => {
  let redis: TestRedis
  before(async () => {
    redis = await startRedis()
    // The slots use the process's own Redis client.
    process.env.REDIS_PORT = String(redis.port)
    resetConfigCache()
  })
  after(async () => {
    await closeRedis()
    await redis.stop()
  })

  test('a start of a dead container is a recovery on its node; anything else a remediation', () => {
    assert.deepEqual(slotLaneFor(down('n1'), 'restart_container'), { kind: 'recovery', node: 'n1' })
    assert.deepEqual(slotLaneFor(down(), 'restart_container'), { kind: 'recovery', node: 'local' })
    // A restart of a running but unhealthy container stops something that runs.
    assert.deepEqual(slotLaneFor({ ...down('n1'), type: 'container_unhealthy' }, 'restart_container'), REMEDIATION_LANE)
    assert.deepEqual(slotLaneFor(down('n1'), 'update_memory_limit'), REMEDIATION_LANE)
    assert.deepEqual(slotLaneFor({ type: 'memory', alert: {} }, 'clean_sandbox'), REMEDIATION_LANE)
  })

  test('each lane has its own cap; recoveries are counted per node', async () => {
    const slots = remediationSlots({ ...getConfig(), MAX_CONCURRENT_REMEDIATIONS: 1, MAX_CONCURRENT_RECOVERIES: 2 })
    const tag = Math.random().toString(36).slice(2)
    const n1 = { kind: 'recovery' as const, node: `n1-${tag}` }
    const n2 = { kind: 'recovery' as const, node: `n2-${tag}` }
    assert.equal(await slots.acquire(`fix-a-${tag}`), true)
    assert.equal(await slots.acquire(`fix-b-${tag}`), false, 'the remediation cap is 1')
    // The remediation lane full does not hold recoveries back.
    assert.equal(await slots.acquire(`start-a-${tag}`, n1), true)
    assert.equal(await slots.acquire(`start-b-${tag}`, n1), true)
    assert.equal(await slots.acquire(`start-c-${tag}`, n1), false, 'two recoveries at once on n1')
    assert.equal(await slots.acquire(`start-c-${tag}`, n2), true, 'another node has its own two')
    await slots.release(`start-a-${tag}`, n1)
    assert.equal(await slots.acquire(`start-c-${tag}`, n1), true, 'a released slot is free again')
    // Releasing in the wrong lane frees nothing.
    await slots.release(`fix-a-${tag}`, n1)
    assert.equal(await slots.acquire(`fix-b-${tag}`), false)
    await slots.release(`fix-a-${tag}`)
    assert.equal(await slots.acquire(`fix-b-${tag}`), true)
  })
})
