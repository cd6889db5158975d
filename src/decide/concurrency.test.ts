import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import path from 'node:path'
import { after, before, describe, test } from 'node:test'
import { startRedis, type TestRedis } from '../../tests/helpers/redis'
import { acquire, release, renew, running } from './concurrency'

describe('remediation concurrency cap (real Redis)', () => {
  let redis: TestRedis
  before(async () => {
    redis = await startRedis()
  })
  after(async () => {
    await redis.stop()
  })
  const unique = () => `sentinel:test:leases:${Math.random().toString(36).slice(2)}`

  test('at most cap at once; release frees a slot; re-acquiring is idempotent', async () => {
    const key = unique()
    const opts = { redis: redis.client, key }
    assert.equal(await acquire('inc-1', 2, 60_000, opts), true)
    assert.equal(await acquire('inc-2', 2, 60_000, opts), true)
    assert.equal(await acquire('inc-3', 2, 60_000, opts), false)
    assert.equal(await acquire('inc-1', 2, 60_000, opts), true, 'the holder is let in again')
    assert.deepEqual((await running(opts)).map((r) => r.incidentId).sort(), ['inc-1', 'inc-2'])
    await release('inc-1', opts)
    await release('inc-never', opts)
    assert.equal(await acquire('inc-3', 2, 60_000, opts), true)
    assert.equal(await acquire('inc-4', 2, 60_000, opts), false)
  })

  test("a crashed worker's lease runs out and frees its slot", async () => {
    const key = unique()
    let now = 1_000_000
    const opts = { redis: redis.client, key, now: () => now }
    assert.equal(await acquire('crashed', 1, 30_000, opts), true)
    now += 29_999
    assert.equal(await acquire('next', 1, 30_000, opts), false)
    assert.equal(await renew('crashed', 30_000, opts), true, 'a live lease can be renewed')
    now += 30_000
    assert.equal(await acquire('next', 1, 30_000, opts), true)
    assert.equal(await renew('crashed', 30_000, opts), false, 'a lease that ran out cannot be renewed')
    assert.deepEqual(
      (await running(opts)).map((r) => r.incidentId),
      ['next'],
    )
  })

  test('a short lease runs out on the real clock too', async () => {
    const key = unique()
    const opts = { redis: redis.client, key }
    assert.equal(await acquire('short', 1, 150, opts), true)
    const deadline = Date.now() + 10_000
    let got = false
    while (!got && Date.now() < deadline) {
      got = await acquire('after', 1, 60_000, opts)
      if (!got) await new Promise((r) => setTimeout(r, 50))
    }
    assert.equal(got, true)
  })

  test('many processes racing for 3 slots: exactly 3 win', async () => {
    const key = unique()
    const script = `
      import { Redis } from 'ioredis'
      import { acquire } from ${JSON.stringify(path.join(import.meta.dirname, 'concurrency.ts'))}
      const r = new Redis({ port: ${redis.port}, host: '127.0.0.1' })
      const id = process.argv[process.argv.length - 1]
      const won = await Promise.all([0, 1, 2, 3].map((i) => acquire(id + '-' + i, 3, 60_000, { redis: r, key: ${JSON.stringify(key)} })))
      console.log(JSON.stringify(won))
      r.disconnect()
    `
    const runOne = (id: string) =>
      new Promise<boolean[]>((resolve, reject) => {
        const p = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script, id], {
          stdio: ['ignore', 'pipe', 'inherit'],
        })
        let out = ''
        p.stdout.on('data', (d) => (out += d))
        p.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`child exited ${code}`))))
      })
    const results = (await Promise.all(['a', 'b', 'c'].map(runOne))).flat()
    assert.equal(results.filter(Boolean).length, 3)
    assert.equal((await running({ redis: redis.client, key })).length, 3)
  })

  test('bad arguments are refused', async () => {
    const opts = { redis: redis.client, key: unique() }
    await assert.rejects(acquire('', 1, 1000, opts), /incidentId/)
    await assert.rejects(acquire('x', 0, 1000, opts), /cap/)
    await assert.rejects(acquire('x', 1, 0, opts), /ttlMs/)
  })
})
