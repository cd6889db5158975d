import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { Redis } from 'ioredis'
import { freePort } from '../../../tests/helpers/ports'
import { startRedis } from '../../../tests/helpers/redis'
import { isStoreUnavailable } from './unavailable'

/** The error a real ioredis client gives for one command, with these client options. */
async function commandError(port: number, opts: Record<string, unknown>): Promise<unknown> {
  const client = new Redis({ host: '127.0.0.1', port, lazyConnect: false, retryStrategy: () => null, ...opts })
  client.on('error', () => {})
  try {
    await client.get('sentinel:test:key')
    return null
  } catch (err) {
    return err
  } finally {
    client.disconnect()
  }
}

describe('isStoreUnavailable', () => {
  it("recognises a real client's errors when Redis cannot be reached", async () => {
    const port = await freePort() // nothing listens there
    const queued = await commandError(port, { maxRetriesPerRequest: 0 })
    assert.ok(queued, 'the command failed')
    assert.equal(isStoreUnavailable(queued), true, String(queued))
    const unqueued = await commandError(port, { enableOfflineQueue: false })
    assert.ok(unqueued, 'the command failed')
    assert.equal(isStoreUnavailable(unqueued), true, String(unqueued))
  })

  it('recognises a connection lost under a client, and not a Redis reply error or a fault of ours', async () => {
    const redis = await startRedis()
    try {
      const client = new Redis({
        host: '127.0.0.1',
        port: redis.port,
        retryStrategy: () => null,
        maxRetriesPerRequest: 0,
      })
      client.on('error', () => {})
      await client.set('sentinel:test:key', 'x')
      const wrongType = await client.hget('sentinel:test:key', 'f').catch((err: unknown) => err)
      assert.equal(isStoreUnavailable(wrongType), false, 'WRONGTYPE is an answer, not an outage')
      await redis.kill()
      const lost = await client.get('sentinel:test:key').catch((err: unknown) => err)
      assert.equal(isStoreUnavailable(lost), true, String(lost))
      client.disconnect()
    } finally {
      await redis.stop()
    }
    assert.equal(isStoreUnavailable(new TypeError("Cannot read properties of undefined (reading 'id')")), false)
    assert.equal(isStoreUnavailable(null), false)
  })
})
