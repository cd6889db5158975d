import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import { startRedis, type TestRedis } from '../../../tests/helpers/redis'
import { firstInCronSlot } from './cron-slot'

describe('once per cron slot (real Redis)', () => {
  let redis: TestRedis
  before(async () => {
    redis = await startRedis()
  })
  after(() => redis.stop())

  it('lets one runner per slot through, whoever fires late, and the next slot again', async () => {
    const job = `job-${randomBytes(3).toString('hex')}`
    const every10s = '*/10 * * * * *'
    // Three controllers firing the 12:00:00 slot, one of them 4 s late.
    const at = (s: number) => new Date(Date.UTC(2026, 11, 4, 12, 0, s, 0))
    const runs = await Promise.all([0.05, 0.2, 4].map((s) => firstInCronSlot(redis.client, job, every10s, at(s))))
    assert.deepEqual(runs.filter(Boolean).length, 1)
    // The 12:00:10 slot is another.
    assert.equal(await firstInCronSlot(redis.client, job, every10s, at(10.1)), true)
    assert.equal(await firstInCronSlot(redis.client, job, every10s, at(12)), false)
    // Another job's slot is its own.
    assert.equal(await firstInCronSlot(redis.client, `${job}-other`, every10s, at(0.3)), true)
  })
})
