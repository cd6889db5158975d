/**
 * `npm run fleet:acl` with REDIS_SENTINELS: Redis does not replicate ACL users, so a node agent's
 * user is created on the primary and on every replica the Sentinels know; after the primary is
 * SIGKILLed, the agent's user logs in to the promoted replica. --revoke removes it from each.
 * Real redis-server data nodes and Sentinels (tests/helpers/redis-sentinel.ts).
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { promisify } from 'node:util'
import { Redis } from 'ioredis'
import { waitFor } from '../../../tests/helpers/ports'
import { directClient, startRedisSentinelSet, type TestRedisSentinelSet } from '../../../tests/helpers/redis-sentinel'
import { agentUserName } from './acl'

const exec = promisify(execFile)
const ROOT = path.resolve(import.meta.dirname, '..', '..', '..')
const TSX = path.join(ROOT, 'node_modules', '.bin', 'tsx')

describe('npm run fleet:acl with REDIS_SENTINELS (real primary, replica and Sentinels)', () => {
  let ha: TestRedisSentinelSet
  let dir: string
  const node = `edge-${process.pid}`
  const user = agentUserName(node)

  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'sentinel-test-acl-ha-'))
    ha = await startRedisSentinelSet()
  })
  after(async () => {
    await ha?.stop()
    rmSync(dir, { recursive: true, force: true })
  })

  const run = (args: string[]) =>
    exec(TSX, ['scripts/fleet-acl.ts', ...args], {
      cwd: ROOT,
      timeout: 60_000,
      env: {
        ...process.env,
        npm_lifecycle_event: '',
        REDIS_SENTINELS: ha.sentinelsVariable,
        REDIS_MASTER_NAME: ha.masterName,
        REDIS_HOST: '',
        REDIS_PORT: '',
      },
    }).then(
      ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
      (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
    )

  const hasUser = async (port: number) => {
    const c = directClient(port)
    try {
      await c.connect()
      return ((await c.call('ACL', 'USERS')) as string[]).includes(user)
    } finally {
      c.disconnect()
    }
  }

  it("creates the agent's user on every data node; it logs in to the primary a failover makes", async () => {
    const file = path.join(dir, `${node}.password`)
    const made = await run(['--node', node, '--password-file', file])
    assert.equal(made.code, 0, made.stderr)
    assert.match(made.stdout, /on 2 data nodes/)
    assert.match(made.stdout, new RegExp(`^REDIS_SENTINELS=${ha.sentinelsVariable}$`, 'm'))
    assert.match(made.stdout, new RegExp(`^REDIS_MASTER_NAME=${ha.masterName}$`, 'm'))
    assert.equal(await hasUser(ha.primaryPort), true, 'on the primary')
    assert.equal(await hasUser(ha.replicaPort), true, 'on the replica')

    await ha.killPrimary()
    await waitFor(async () => (await ha.primaryAddress())?.port === ha.replicaPort, {
      timeoutMs: 25_000,
      what: 'the Sentinels to promote the replica',
    })
    const password = readFileSync(file, 'utf8').trim()
    const agent = new Redis({ host: '127.0.0.1', port: ha.replicaPort, username: user, password, lazyConnect: true })
    agent.on('error', () => {})
    try {
      // connect() authenticates as the agent's user: it fails with WRONGPASS if the user is missing.
      await agent.connect()
      assert.equal(await agent.ping(), 'PONG')
    } finally {
      agent.disconnect()
    }

    // The old primary is down (Sentinel lists it as a replica now): another agent's user cannot be
    // made, since it would be missing there; a revoke goes through where it can and names the rest.
    const refused = await run(['--node', `${node}-b`, '--password-file', path.join(dir, 'b.password')])
    assert.equal(refused.code, 1, refused.stdout)
    assert.match(refused.stderr, /cannot be reached: an agent's user must be on every data node/)
    const revoked = await run(['--node', node, '--revoke'])
    assert.equal(revoked.code, 1, revoked.stdout)
    assert.match(revoked.stdout, new RegExp(`Deleted the Redis user ${user}`))
    assert.match(revoked.stderr, new RegExp(`not revoked on the replica 127\\.0\\.0\\.1:${ha.primaryPort}`))
    assert.equal(await hasUser(ha.replicaPort), false, 'revoked on the node that answers')
  })
})
