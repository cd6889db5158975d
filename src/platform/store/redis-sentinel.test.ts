/**
 * Redis made highly available by Redis Sentinel (REDIS_SENTINELS, REDIS_MASTER_NAME): the settings
 * are checked, and Sentinel's own connections, built from redisOptions as getRedis builds them,
 * find the primary through real Sentinels, keep what was acknowledged when the primary is killed,
 * and follow the failover to the new primary (the connection and its duplicate()).
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { Redis } from 'ioredis'
import { waitFor } from '../../../tests/helpers/ports'
import { directClient, startRedisSentinelSet, type TestRedisSentinelSet } from '../../../tests/helpers/redis-sentinel'
import { ConfigError, loadConfig, type SentinelConfig } from '../config/index'
import { note } from './lifecycle'
import { IncidentStore } from './incidents'
import type { Alert } from './model'
import { confirmReplicated, currentRedisPrimary, redisOptions, waitForReplicas } from './redis'

const problemsOf = (env: Record<string, string>, dir: string): string[] => {
  try {
    loadConfig(env, dir)
    return []
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err))
    return err.problems
  }
}

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

/** The port of the server a connection is on (CONFIG GET port). */
const serverPort = async (c: Redis) => Number(((await c.call('CONFIG', 'GET', 'port')) as string[])[1])
const roleOf = async (c: Redis) => ((await c.call('ROLE')) as unknown[])[0]

describe('REDIS_SENTINELS settings', () => {
  let dir: string
  before(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'sentinel-test-ha-config-'))
  })
  after(() => rmSync(dir, { recursive: true, force: true }))

  it('reads the Sentinels and the master name into ioredis sentinel options', () => {
    const cfg = loadConfig(
      { REDIS_SENTINELS: ' 10.0.0.5:26379, [::1]:26380,Redis-S3.example:26381 ', REDIS_MASTER_NAME: 'sentinel-redis' },
      dir,
    )
    assert.deepEqual(cfg.REDIS_SENTINELS, [
      { host: '10.0.0.5', port: 26379 },
      { host: '::1', port: 26380 },
      { host: 'redis-s3.example', port: 26381 },
    ])
    const options = redisOptions(cfg)
    assert.deepEqual(options.sentinels, cfg.REDIS_SENTINELS)
    assert.equal(options.name, 'sentinel-redis')
    assert.equal(options.role, 'master')
    assert.equal(options.host, undefined)
    assert.equal(options.failoverDetector, true)
    assert.equal(options.reconnectOnError!(new Error('READONLY You can not write against a read only replica.')), 2)
    assert.equal(options.reconnectOnError!(new Error('WRONGTYPE Operation against a key')), false)
    // Unset: one server, as before.
    const plain = redisOptions(loadConfig({}, dir))
    assert.equal(plain.sentinels, undefined)
    assert.equal(plain.port, 6380)
  })

  it('reads the Sentinels password from its file', () => {
    const secret = `sentinel-pass-${process.pid}-${Date.now()}`
    writeFileSync(path.join(dir, 'sentinel-pass'), `${secret}\n`)
    const cfg = loadConfig(
      { REDIS_SENTINELS: '127.0.0.1:26379', REDIS_MASTER_NAME: 'm', REDIS_SENTINEL_PASSWORD_FILE: 'sentinel-pass' },
      dir,
    )
    assert.equal(redisOptions(cfg).sentinelPassword, secret)
  })

  it('names every bad or conflicting setting at once', () => {
    const problems = problemsOf(
      {
        REDIS_SENTINELS: '10.0.0.5, 10.0.0.6:99999,10.0.0.7:26379',
        REDIS_MASTER_NAME: 'has space',
        REDIS_URL: 'redis://10.0.0.9:6379',
        REDIS_HOST: '10.0.0.9',
        REDIS_SENTINEL_PASSWORD_FILE: 'missing-file',
      },
      dir,
    )
    const text = problems.join('\n')
    assert.match(text, /REDIS_SENTINELS: expected host:port items.*"10\.0\.0\.5", "10\.0\.0\.6:99999"/)
    assert.match(text, /REDIS_MASTER_NAME: expected the name Sentinel monitors/)
    assert.match(text, /REDIS_SENTINELS, REDIS_URL: .*leave REDIS_URL empty/)
    assert.match(text, /REDIS_SENTINELS, REDIS_HOST: .*leave REDIS_HOST empty/)
    assert.match(text, /REDIS_SENTINEL_PASSWORD_FILE: cannot be read \(ENOENT\)/)
    assert.doesNotMatch(text, /10\.0\.0\.7/)

    assert.deepEqual(problemsOf({ REDIS_SENTINELS: '127.0.0.1:26379' }, dir), [
      'REDIS_MASTER_NAME: required with REDIS_SENTINELS (the name Sentinel monitors the primary under, as in `sentinel monitor <name> <host> <port> <quorum>`)',
    ])
    assert.match(
      problemsOf({ REDIS_MASTER_NAME: 'm' }, dir).join('\n'),
      /REDIS_MASTER_NAME: only used with REDIS_SENTINELS/,
    )
    assert.match(problemsOf({ REDIS_SENTINELS: 'a:1,a:1', REDIS_MASTER_NAME: 'm' }, dir).join(), /a:1 is listed twice/)
    // The defaults .env.example writes do not conflict.
    assert.deepEqual(
      problemsOf(
        { REDIS_SENTINELS: '127.0.0.1:26379', REDIS_MASTER_NAME: 'm', REDIS_HOST: '127.0.0.1', REDIS_PORT: '6380' },
        dir,
      ),
      [],
    )
  })
})

describe('Redis Sentinel failover (real redis-server and Sentinels)', () => {
  let ha: TestRedisSentinelSet
  let dir: string
  let cfg: SentinelConfig
  const clients: Redis[] = []
  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'sentinel-test-ha-'))
    ha = await startRedisSentinelSet()
    cfg = loadConfig({ REDIS_SENTINELS: ha.sentinelsVariable, REDIS_MASTER_NAME: ha.masterName }, dir)
  })
  after(async () => {
    for (const c of clients) c.disconnect()
    await ha?.stop()
    rmSync(dir, { recursive: true, force: true })
  })

  it('finds the primary, keeps what was acknowledged when it is killed, and follows the failover', async () => {
    assert.deepEqual(await currentRedisPrimary(cfg), { host: '127.0.0.1', port: ha.primaryPort })
    // As getRedis makes it, and as src/platform/fleet/channel.ts duplicates it.
    const redis = new Redis(redisOptions(cfg))
    redis.on('error', () => {})
    const second = redis.duplicate()
    second.on('error', () => {})
    clients.push(redis, second)
    assert.equal(await serverPort(redis), ha.primaryPort)
    assert.equal(await serverPort(second), ha.primaryPort)

    const store = new IncidentStore(redis)
    const { incident } = await store.open(alert(`fp-ha-${process.pid}`), { title: 'primary lost', actor: 'test' })
    await store.update(incident.id, (i) => note(i, { actor: 'test', summary: 'before the failover' }))
    await second.set('ha:second', 'before')
    // Acknowledged: a replica holds every write of each connection.
    assert.equal(await waitForReplicas(redis, 1, 5000), 1)
    assert.equal(await waitForReplicas(second, 1, 5000), 1)
    // What the incident store does after each write (REDIS_WAIT_REPLICAS=1 by default with Sentinels).
    assert.equal(await confirmReplicated(redis, cfg), 1)

    await ha.killPrimary()
    await waitFor(async () => (await ha.primaryAddress())?.port === ha.replicaPort, {
      timeoutMs: 25_000,
      what: 'the Sentinels to promote the replica',
    })
    assert.deepEqual(await currentRedisPrimary(cfg), { host: '127.0.0.1', port: ha.replicaPort })

    // The same connections, with nothing done to them, come back on the new primary and can write.
    // (A generous bound: each reconnect asks the Sentinels again, and on a loaded host they agree late.)
    await waitFor(async () => (await serverPort(redis)) === ha.replicaPort && (await roleOf(redis)) === 'master', {
      timeoutMs: 40_000,
      what: 'the connection to reach the new primary',
    })
    await waitFor(async () => (await serverPort(second)) === ha.replicaPort, {
      timeoutMs: 40_000,
      what: 'the duplicated connection to reach the new primary',
    })
    const finished = await store.update(incident.id, (i) => note(i, { actor: 'test', summary: 'after the failover' }))
    assert.deepEqual(
      finished.timeline.filter((t) => t.stage === 'note').map((t) => t.summary),
      ['before the failover', 'after the failover'],
    )
    await second.set('ha:second', 'after')
    // The promoted replica has no replica of its own: the wait falls short once, then pauses.
    assert.equal(await confirmReplicated(redis, cfg), 0)
    assert.equal(await confirmReplicated(redis, cfg), -1)

    // On the new primary itself: what was acknowledged before the kill, and what came after.
    const onNewPrimary = directClient(ha.replicaPort)
    clients.push(onNewPrimary)
    await onNewPrimary.connect()
    const stored = await new IncidentStore(onNewPrimary).get(incident.id)
    assert.ok(stored, 'the incident is on the new primary')
    assert.equal(stored.version, finished.version)
    assert.equal(await onNewPrimary.get('ha:second'), 'after')
    assert.ok((await new IncidentStore(onNewPrimary).openIds()).includes(incident.id))
  })
})
