import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import path from 'node:path'
import { createInterface } from 'node:readline'
import { after, before, describe, it } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { Redis } from 'ioredis'
import { waitFor } from '../../../tests/helpers/ports'
import { startRedis, type TestRedis } from '../../../tests/helpers/redis'
import { FencedError, Leadership, leaseOf } from './index'

const LEASE_MS = 900
const quiet = () => {}

describe('leases with fencing tokens (real Redis)', () => {
  let redis: TestRedis
  const clients: Redis[] = []
  const leaderships: Leadership[] = []

  before(async () => {
    redis = await startRedis()
  })
  after(async () => {
    for (const l of leaderships) await l.stop().catch(() => {})
    for (const c of clients) c.disconnect()
    await redis.stop()
  })

  const client = () => {
    const c = new Redis({ host: '127.0.0.1', port: redis.port, maxRetriesPerRequest: 1 })
    c.on('error', () => {})
    clients.push(c)
    return c
  }

  /** A controller: its leadership of `duty`, and a log of its duty's starts and stops. */
  function controller(id: string, duty: string) {
    const events: string[] = []
    const conn = client()
    const l = new Leadership({ redis: conn, controllerId: id, leaseMs: LEASE_MS, log: quiet })
    l.add({ name: duty, start: (t) => void events.push(`start ${t}`), stop: () => void events.push('stop') })
    leaderships.push(l)
    return { l, events, conn }
  }

  it('one leader at a time; a stopped leader hands over to another, with a larger token', async () => {
    const duty = `d-${randomBytes(3).toString('hex')}`
    const a = controller('ctl-a', duty)
    const b = controller('ctl-b', duty)
    const c = controller('ctl-c', duty)
    for (const x of [a, b, c]) x.l.start()
    await waitFor(async () => [a, b, c].some((x) => x.l.isLeading(duty)), { timeoutMs: 5000, what: 'a leader' })
    // Several renewals later there is still exactly one, the same one.
    await sleep(LEASE_MS * 2)
    const leaders = [a, b, c].filter((x) => x.l.isLeading(duty))
    assert.equal(leaders.length, 1)
    const first = leaders[0]
    assert.deepEqual(first.events, [`start ${first.l.leading()[duty]}`])
    const { holder } = await leaseOf(redis.client, duty)
    assert.equal(holder?.holder, first.l.holder)

    await first.l.stop()
    assert.deepEqual(first.events.at(-1), 'stop')
    const others = [a, b, c].filter((x) => x !== first)
    await waitFor(async () => others.some((x) => x.l.isLeading(duty)), { timeoutMs: 5000, what: 'a new leader' })
    const next = others.find((x) => x.l.isLeading(duty))!
    assert.ok(next.l.leading()[duty] > holder!.token, 'a new holder, a larger token')
    assert.equal(others.filter((x) => x.l.isLeading(duty)).length, 1)
  })

  it('a leader that cannot reach Redis stops at once; its fence refuses after another took over', async () => {
    const duty = `d-${randomBytes(3).toString('hex')}`
    const a = controller('ctl-a', duty)
    a.l.start()
    await waitFor(async () => a.l.isLeading(duty), { timeoutMs: 5000, what: 'a to lead' })
    const fence = a.l.fence(duty)!
    await fence.check()
    // Cut off: its connection is gone (no reconnect), so no renewal succeeds.
    a.conn.disconnect(false)
    await waitFor(async () => !a.l.isLeading(duty), { timeoutMs: LEASE_MS * 2, what: 'a to stop leading' })
    await waitFor(async () => a.events.at(-1) === 'stop', { timeoutMs: 1000, what: 'its duty to be stopped' })
    await assert.rejects(fence.check(), FencedError)
    // Another takes the lease once it runs out in Redis, with a newer token.
    const b = controller('ctl-b', duty)
    b.l.start()
    await waitFor(async () => b.l.isLeading(duty), { timeoutMs: 5000, what: 'b to lead' })
    assert.ok(b.l.leading()[duty] > fence.token)
  })

  it('a controller paused past its lease (SIGSTOP) acts on nothing when it continues: fenced', async () => {
    const duty = `d-${randomBytes(3).toString('hex')}`
    // A real process leading the duty; on each line "act" it checks the fence of its term.
    const script = `
      import { Redis } from 'ioredis'
      import { createInterface } from 'node:readline'
      import { Leadership } from ${JSON.stringify(path.join(import.meta.dirname, 'index.ts'))}
      const redis = new Redis({ host: '127.0.0.1', port: ${redis.port} })
      const l = new Leadership({ redis, controllerId: 'paused', leaseMs: ${LEASE_MS}, log: () => {} })
      let fence = null
      l.add({ name: ${JSON.stringify(duty)}, start: (t) => { fence = l.fence(${JSON.stringify(duty)}); console.log('leading ' + t) }, stop: () => {} })
      l.start()
      createInterface({ input: process.stdin }).on('line', async () => {
        try { await fence.check(); console.log('acted ' + fence.token) } catch (err) { console.log('fenced ' + err.name) }
      })
    `
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      stdio: ['pipe', 'pipe', 'inherit'],
    })
    try {
      const lines: string[] = []
      createInterface({ input: child.stdout! }).on('line', (l) => lines.push(l))
      await waitFor(async () => lines.some((l) => l.startsWith('leading')), {
        timeoutMs: 15_000,
        what: 'the child to lead',
      })
      child.stdin!.write('act\n')
      await waitFor(async () => lines.some((l) => l.startsWith('acted')), { timeoutMs: 5000, what: 'the child to act' })

      child.kill('SIGSTOP')
      const b = controller('ctl-b', duty)
      b.l.start()
      await waitFor(async () => b.l.isLeading(duty), { timeoutMs: 10_000, what: 'b to take over' })
      const before = lines.length
      child.kill('SIGCONT')
      child.stdin!.write('act\n')
      await waitFor(async () => lines.length > before, { timeoutMs: 10_000, what: 'the child to answer' })
      assert.equal(lines.at(-1), 'fenced FencedError')
      assert.ok(b.l.isLeading(duty), 'the new leader keeps the duty')
    } finally {
      child.kill('SIGKILL')
    }
  })
  it('a leader whose process died (SIGKILL) is replaced without waiting out its lease', async () => {
    const duty = `d-${randomBytes(3).toString('hex')}`
    // A lease far longer than this test waits: only the presence check can hand the duty over.
    const longLeaseMs = 120_000
    const script = `
      import { Redis } from 'ioredis'
      import { Leadership } from ${JSON.stringify(path.join(import.meta.dirname, 'index.ts'))}
      const redis = new Redis({ host: '127.0.0.1', port: ${redis.port} })
      const l = new Leadership({ redis, controllerId: 'killed', leaseMs: ${longLeaseMs}, log: () => {} })
      l.add({ name: ${JSON.stringify(duty)}, start: (t) => console.log('leading ' + t), stop: () => {} })
      l.start()
    `
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    const lines: string[] = []
    createInterface({ input: child.stdout! }).on('line', (l) => lines.push(l))
    try {
      await waitFor(async () => lines.some((l) => l.startsWith('leading')), {
        timeoutMs: 15_000,
        what: 'the child to lead',
      })
      const oldToken = Number(lines.find((l) => l.startsWith('leading'))!.split(' ')[1])
      const standbyEvents: string[] = []
      const standby = new Leadership({ redis: client(), controllerId: 'standby', leaseMs: longLeaseMs, log: quiet })
      standby.add({ name: duty, start: (t) => void standbyEvents.push(`start ${t}`), stop: () => {} })
      leaderships.push(standby)
      standby.start()
      // While the leader's process lives, its presence keeps the duty with it.
      await sleep(2500)
      assert.equal(standby.isLeading(duty), false)

      const exited = new Promise((r) => child.once('exit', r))
      child.kill('SIGKILL')
      await exited
      await waitFor(async () => standby.isLeading(duty), { timeoutMs: 30_000, what: 'the standby to take over' })
      assert.ok(standby.leading()[duty] > oldToken, 'a new holder, a larger token')
      assert.deepEqual(standbyEvents, [`start ${standby.leading()[duty]}`])
      // The lease the dead process held had most of its two minutes left.
      assert.equal((await leaseOf(redis.client, duty)).holder?.holder, standby.holder)
    } finally {
      child.kill('SIGKILL')
    }
  })

  it("a controller started again on the same host and port takes its dead predecessor's duties at once", async () => {
    const duty = `d-${randomBytes(3).toString('hex')}`
    const dead = controller('web-1:3000', duty)
    dead.l.start()
    await waitFor(async () => dead.l.isLeading(duty), { timeoutMs: 5000, what: 'the first process to lead' })
    const oldToken = dead.l.leading()[duty]
    // Killed: no release, its lease still live in Redis. A stranger waits; its successor does not.
    dead.conn.disconnect(false)
    const stranger = controller('web-2:3000', duty)
    const successor = controller('web-1:3000', duty)
    stranger.l.start()
    successor.l.start()
    await waitFor(async () => successor.l.isLeading(duty), { timeoutMs: LEASE_MS / 2, what: 'the successor to lead' })
    assert.ok(successor.l.leading()[duty] > oldToken)
    assert.equal(stranger.l.isLeading(duty), false)
  })
})
