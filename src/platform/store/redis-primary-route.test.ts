/**
 * The local socket Motia's node-redis client is pointed at with REDIS_SENTINELS: a real primary,
 * replica and three Sentinels; a node-redis client (the library Motia's state, cron and streams
 * use) writes through the route, the primary is SIGKILLed, and the same client, with nothing done
 * to it, writes again on the promoted replica.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, statSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { createClient } from 'redis'
import { waitFor } from '../../../tests/helpers/ports'
import { directClient, startRedisSentinelSet, type TestRedisSentinelSet } from '../../../tests/helpers/redis-sentinel'
import { RedisPrimaryRoute } from './redis-primary-route'

describe('RedisPrimaryRoute (real Redis Sentinel failover, node-redis client)', () => {
  let ha: TestRedisSentinelSet
  let dir: string
  let route: RedisPrimaryRoute
  let client: ReturnType<typeof createClient> | undefined
  const warnings: string[] = []

  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'sentinel-test-route-'))
    ha = await startRedisSentinelSet()
    route = new RedisPrimaryRoute({
      socketPath: path.join(dir, 'redis-primary.sock'),
      locate: async () => {
        const found = await ha.primaryAddress()
        if (!found) throw new Error('no Sentinel answered')
        return found
      },
      pollMs: 200,
      log: (_level, message) => warnings.push(message),
    })
    await route.start()
  })
  after(async () => {
    await client?.quit().catch(() => {})
    await route?.stop()
    await ha?.stop()
    rmSync(dir, { recursive: true, force: true })
  })

  it('listens on a socket only its user can open', () => {
    assert.equal(statSync(route.socketPath).mode & 0o777, 0o600)
    assert.deepEqual(route.primary, { host: '127.0.0.1', port: ha.primaryPort })
  })

  it('keeps a client on the primary the Sentinels name, across a failover', async () => {
    client = createClient({
      socket: { path: route.socketPath, reconnectStrategy: (retries) => Math.min(100 * (retries + 1), 1000) },
    })
    client.on('error', () => {})
    await client.connect()
    const key = `route-${process.pid}`
    await client.set(key, 'before')
    assert.equal(await client.configGet('port').then((c) => c.port), String(ha.primaryPort))
    // Acknowledged: a replica has it (WAIT), so the failover cannot take it away.
    assert.equal(await client.sendCommand(['WAIT', '1', '5000']), 1)

    await ha.killPrimary()
    await waitFor(async () => route.primary?.port === ha.replicaPort, {
      timeoutMs: 25_000,
      what: 'the route to follow the Sentinels to the promoted replica',
    })
    assert.equal(route.switches, 1)
    assert.ok(warnings.some((w) => /primary moved/.test(w)))

    // The same client object: it reconnects through the route and writes on the new primary.
    await waitFor(
      async () => {
        try {
          await client!.set(key + ':after', 'after')
          return true
        } catch {
          return false
        }
      },
      { timeoutMs: 15_000, what: 'the client to write again' },
    )
    assert.equal(await client.configGet('port').then((c) => c.port), String(ha.replicaPort))
    assert.equal(await client.get(key), 'before')

    const onNewPrimary = directClient(ha.replicaPort)
    try {
      await onNewPrimary.connect()
      assert.equal(await onNewPrimary.get(key + ':after'), 'after')
      assert.equal(((await onNewPrimary.call('ROLE')) as unknown[])[0], 'master')
    } finally {
      onNewPrimary.disconnect()
    }
  })

  it('fails to start when no Sentinel names a primary', async () => {
    const idle = new RedisPrimaryRoute({
      socketPath: path.join(dir, 'never.sock'),
      locate: async () => {
        throw new Error('no Sentinel in REDIS_SENTINELS named the Redis primary')
      },
    })
    await assert.rejects(idle.start(), /named the Redis primary/)
  })
})
