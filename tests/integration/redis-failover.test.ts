/**
 * A whole controller on a Redis made highly available by Redis Sentinel (a real primary, replica
 * and three Sentinels): an incident waits for an operator's approval, the primary is SIGKILLed,
 * the Sentinels promote the replica, and the approval given after the failover runs the fix
 * through Motia's event queue (BullMQ, following the Sentinels) and its state (node-redis, through
 * the local primary route) to a resolved incident. What was confirmed before the kill, the incident
 * and its pending approval, is on the new primary.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { waitFor } from '../helpers/ports'
import { directClient, startRedisSentinelSet, type TestRedisSentinelSet } from '../helpers/redis-sentinel'
import { type SentinelInstance, startSentinel } from '../helpers/sentinel'

describe('a controller through a Redis failover (REDIS_SENTINELS)', () => {
  let ha: TestRedisSentinelSet
  let sentinel: SentinelInstance
  let root: string

  before(async () => {
    root = mkdtempSync(path.join(os.tmpdir(), 'sentinel-test-failover-'))
    const sandbox = path.join(root, 'sandbox')
    for (const d of ['logs', 'temp', 'data']) mkdirSync(path.join(sandbox, d), { recursive: true })
    writeFileSync(path.join(sandbox, 'logs/app.log'), randomBytes(300_000))
    writeFileSync(path.join(sandbox, 'temp/blob.bin'), randomBytes(300_000))
    ha = await startRedisSentinelSet()
    sentinel = await startSentinel({
      redisPort: ha.primaryPort,
      env: {
        REDIS_SENTINELS: ha.sentinelsVariable,
        REDIS_MASTER_NAME: ha.masterName,
        REDIS_HOST: '',
        REDIS_PORT: '',
        SANDBOX_DIR: sandbox,
        VERIFY_STABLE_SECONDS: '0.5',
        VERIFY_TIMEOUT_SECONDS: '5',
      },
    })
  })
  after(async () => {
    await sentinel?.cleanup()
    await ha?.stop()
    rmSync(root, { recursive: true, force: true })
  })

  it('finishes an incident opened before the primary was killed', { timeout: 180_000 }, async () => {
    const trig = await sentinel.post('/api/trigger-alert', { type: 'disk', resource: '/', value: 97 })
    assert.equal(trig.status, 202, JSON.stringify(trig.body))
    const id = trig.body.incidentId as string
    await waitFor(
      async () =>
        (await sentinel.get('/api/approvals/pending')).body.approvals?.some((a: any) => a.incidentId === id) ?? false,
      { timeoutMs: 30_000, what: 'the clean_sandbox approval' },
    )

    await ha.killPrimary()
    await waitFor(async () => (await ha.primaryAddress())?.port === ha.replicaPort, {
      timeoutMs: 25_000,
      what: 'the Sentinels to promote the replica',
    })

    // Confirmed before the kill: on the new primary, still waiting for its approval.
    const onNewPrimary = directClient(ha.replicaPort)
    try {
      await onNewPrimary.connect()
      const stored = JSON.parse((await onNewPrimary.get(`motia:state:incidents:${id}`)) ?? 'null')
      assert.equal(stored?.approval?.status, 'pending', 'the pending incident survived the failover')
    } finally {
      onNewPrimary.disconnect()
    }

    // The controller is not restarted: its connections find the new primary by themselves.
    await waitFor(async () => (await sentinel.post(`/api/incidents/${id}/approve`, {}, 'operator')).status === 200, {
      timeoutMs: 30_000,
      what: 'the approval to be accepted after the failover',
    })
    const done = await waitFor(
      async () => {
        const r = (await sentinel.get(`/api/incidents/${id}`)).body
        return r.status === 'resolved' ? r : null
      },
      { timeoutMs: 60_000, what: 'the incident to resolve after the failover' },
    ).catch(async (err) => {
      const r = (await sentinel.get(`/api/incidents/${id}`)).body
      throw new Error(`${(err as Error).message}: ${JSON.stringify(r.timeline)}\n${sentinel.output().slice(-4000)}`)
    })
    assert.ok(done.timeline.some((t: any) => /clean_sandbox/.test(JSON.stringify(t))))
    // Motia's own node-redis connections were moved by the primary route, not by a restart.
    assert.match(sentinel.output(), /Redis primary moved/)
    const health = await sentinel.get('/healthz')
    assert.equal(health.status, 200)
  })
})
