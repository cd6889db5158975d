/**
 * The agent ACL users against a real Redis 7 (Debian's redis-server) run with an ACL file and a
 * password on its default user, as a controller's Redis should be: what an agent may run on its own
 * keys (each command for real, logged in as the agent), what it is refused, and the fleet:acl script.
 */
import assert from 'node:assert/strict'
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { after, before, describe, test } from 'node:test'
import { inspect, promisify } from 'node:util'
import { Redis, type RedisOptions } from 'ioredis'
import { freePort, waitFor } from '../../../tests/helpers/ports'
import { startRedis } from '../../../tests/helpers/redis'
import { incidentKeys } from '../store/incidents'
import {
  AGENT_USER_PREFIX,
  agentAclRules,
  agentGrants,
  agentUserName,
  createAgentUser,
  deleteAgentUser,
  saveAclFile,
} from './acl'
import { AGENT_GROUP, CONTROLLER_GROUP, FLEET_NODES_KEY, FLEET_SEEN_KEY, nodeKeys, nodePrefix } from './keys'

const exec = promisify(execFile)
const ROOT = path.resolve(import.meta.dirname, '..', '..', '..')
const TSX = path.join(ROOT, 'node_modules', '.bin', 'tsx')

const newSecret = () => randomBytes(24).toString('hex')

describe('agent ACL rules', () => {
  test('a name that could widen a key pattern or split a rule is refused', () => {
    for (const bad of ['a*', 'a?', 'a[b]', 'a\\b', 'a^b', 'a b', 'a(b)', 'a:b', '', '-a', 'x'.repeat(64)]) {
      assert.throws(() => agentAclRules(bad), /not a node name/, JSON.stringify(bad))
      assert.throws(() => agentUserName(bad), /not a node name/, JSON.stringify(bad))
    }
  })

  test("every key pattern is one of the node's own keys or the registry, with no wildcard but the id's", () => {
    for (const node of ['a', 'A', 'node-1.example_com', '9']) {
      const own = nodeKeys(node)
      const patterns = agentGrants(node).flatMap((g) => g.keys.map((k) => k.pattern))
      for (const pattern of patterns) {
        if (pattern === FLEET_NODES_KEY) continue
        assert.ok(pattern.startsWith(nodePrefix(node)), pattern)
        // The only glob character is the `*` standing for a request id, at the very end.
        assert.doesNotMatch(pattern.replace(/:\*$/, ':'), /[*?[\]\\]/, pattern)
      }
      // Every key keys.ts gives a node is granted (a key added there must be granted here too).
      const expected = Object.values(own).map((k) => (typeof k === 'function' ? k('*') : k))
      assert.deepEqual(new Set(patterns), new Set([FLEET_NODES_KEY, ...expected]))
      assert.equal(agentUserName(node), `${AGENT_USER_PREFIX}${node}`)
    }
  })

  test('the rules start from nothing, deny everything first and hold no password', () => {
    const rules = agentAclRules('a')
    assert.equal(rules[0], 'reset')
    const denyAll = rules.indexOf('-@all')
    assert.ok(denyAll > 0)
    assert.ok(rules.every((r, i) => !(r.startsWith('+') || r.startsWith('(')) || i > denyAll))
    // No password (>pass, #hash), and nothing that opens every key, command or channel.
    const forbidden = /^[><#!]|nopass|allkeys|allcommands|allchannels|\+@all|~\*|&\*/
    assert.deepEqual(
      rules.filter((r) => forbidden.test(r)),
      [],
    )
  })
})

/** A redis-server with an ACL file whose default user needs a password, for this file only. */
async function startAclRedis() {
  const port = await freePort()
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sentinel-test-acl-redis-'))
  const aclFile = path.join(dir, 'users.acl')
  const adminPassword = newSecret()
  writeFileSync(aclFile, `user default on >${adminPassword} ~* &* +@all\n`, { mode: 0o600 })
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no']
  const proc: ChildProcess = spawn('redis-server', [...args, '--aclfile', aclFile], { stdio: 'ignore' })
  const exited = new Promise((r) => proc.once('exit', r))
  const admin = new Redis({ port, host: '127.0.0.1', password: adminPassword, lazyConnect: true })
  admin.on('error', () => {})
  await waitFor(
    async () => {
      try {
        if (admin.status !== 'ready') await admin.connect()
        return (await admin.ping()) === 'PONG'
      } catch {
        admin.disconnect()
        return false
      }
    },
    { timeoutMs: 10_000, what: `redis on ${port}` },
  )
  return {
    port,
    aclFile,
    adminPassword,
    admin,
    async stop() {
      admin.disconnect()
      if (proc.exitCode === null) {
        proc.kill('SIGTERM')
        await exited
      }
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

describe('agent users on a real Redis 7', () => {
  let server: Awaited<ReturnType<typeof startAclRedis>>
  const clients: Redis[] = []
  const password = { a: newSecret(), b: newSecret() }
  const a = nodeKeys('a')
  const b = nodeKeys('b')

  /** A connection logged in as `user`, the way an agent connects (no ready check: INFO is refused). */
  async function login(user: string, pass: string, extra: RedisOptions = {}): Promise<Redis> {
    const client = new Redis({
      port: server.port,
      host: '127.0.0.1',
      username: user,
      password: pass,
      enableReadyCheck: false,
      retryStrategy: () => null,
      maxRetriesPerRequest: 0,
      lazyConnect: true,
      ...extra,
    })
    // connect() only says "Connection is closed"; the reason (WRONGPASS) comes as an 'error' event.
    let cause: Error | undefined
    client.on('error', (err: Error) => (cause ??= err))
    clients.push(client)
    try {
      await client.connect()
      await client.ping()
    } catch (err) {
      throw cause ?? err
    }
    return client
  }

  before(async () => {
    server = await startAclRedis()
    await createAgentUser(server.admin, 'a', password.a)
    await createAgentUser(server.admin, 'b', password.b)
  })
  after(async () => {
    for (const c of clients) c.disconnect()
    await server?.stop()
  })

  test('a runs every command an agent runs, on its own keys', async () => {
    const agent = await login(agentUserName('a'), password.a, { connectionName: 'agent-a' })
    const clientList = String(await server.admin.client('LIST'))
    assert.match(clientList, /name=agent-a .*user=sentinel-agent-a/, 'CLIENT SETNAME at connect')
    assert.equal(await agent.client('SETNAME', 'agent-a-main'), 'OK')
    assert.equal(await agent.ping(), 'PONG')
    const [seconds] = await agent.time()
    assert.ok(Number(seconds) > 0)

    assert.equal(await agent.sadd(FLEET_NODES_KEY, 'a'), 1)
    assert.deepEqual(await server.admin.smembers(FLEET_NODES_KEY), ['a'])
    const status = JSON.stringify({ node: 'a', seq: 1 })
    assert.equal(await agent.set(a.status, status, 'EX', 30), 'OK')
    assert.equal(await server.admin.get(a.status), status)
    assert.ok(await agent.xadd(a.events, 'MAXLEN', '~', '10000', '*', 'kind', 'sweep'))
    assert.equal(await server.admin.xlen(a.events), 1)

    assert.equal(await agent.xgroup('CREATE', a.requests, AGENT_GROUP, '$', 'MKSTREAM'), 'OK')
    await assert.rejects(agent.xgroup('CREATE', a.requests, AGENT_GROUP, '$', 'MKSTREAM'), /BUSYGROUP/)
    const entryId = await server.admin.xadd(a.requests, '*', 'id', 'r1', 'op', 'list')
    const fresh = (await agent.xreadgroup(
      'GROUP',
      AGENT_GROUP,
      'c1',
      'COUNT',
      '10',
      'BLOCK',
      '100',
      'STREAMS',
      a.requests,
      '>',
    )) as [string, [string, string[]][]][]
    assert.deepEqual(
      fresh[0][1].map(([id]) => id),
      [entryId],
    )
    const pending = (await agent.xreadgroup('GROUP', AGENT_GROUP, 'c1', 'COUNT', '10', 'STREAMS', a.requests, '0')) as [
      string,
      [string, string[]][],
    ][]
    assert.deepEqual(
      pending[0][1].map(([id]) => id),
      [entryId],
    )
    const claimed = (await agent.xautoclaim(a.requests, AGENT_GROUP, 'c2', 0, '0-0', 'COUNT', 10)) as [
      string,
      [string, string[]][],
    ]
    assert.deepEqual(
      claimed[1].map(([id]) => id),
      [entryId],
    )
    assert.equal(await agent.xack(a.requests, AGENT_GROUP, entryId!), 1)

    assert.equal(await agent.set(a.claim('r1'), 'agent', 'EX', 60, 'NX'), 'OK')
    assert.equal(await agent.set(a.claim('r1'), 'agent', 'EX', 60, 'NX'), null)
    assert.equal(await agent.get(a.claim('r1')), 'agent')
    assert.equal(await agent.set(a.result('r1'), '{"ok":true}', 'EX', 3600), 'OK')
    assert.equal(await agent.get(a.result('r1')), '{"ok":true}')
    assert.equal(await agent.lpush(a.reply('r1'), '{"ok":true}'), 1)
    assert.equal(await agent.expire(a.reply('r1'), 3600), 1)
    assert.deepEqual(await server.admin.lrange(a.reply('r1'), 0, -1), ['{"ok":true}'])
    assert.equal(await agent.set(a.position, '1700000000000'), 'OK')
    assert.equal(await agent.get(a.position), '1700000000000')
    assert.ok(await agent.xadd(a.offline, '*', 'action', 'restart'))
    assert.equal(await server.admin.xlen(a.offline), 1)
    assert.equal(await agent.quit(), 'OK')
  })

  test('a logs in with HELLO as well as AUTH', async () => {
    const bare = await new Promise<Redis>((resolve) => {
      const c = new Redis({ port: server.port, host: '127.0.0.1', enableReadyCheck: false, retryStrategy: () => null })
      c.on('error', () => {})
      clients.push(c)
      c.once('ready', () => resolve(c))
    })
    await assert.rejects(bare.ping(), /NOAUTH/)
    await bare.call('HELLO', '2', 'AUTH', agentUserName('a'), password.a, 'SETNAME', 'agent-a-hello')
    assert.equal(await bare.ping(), 'PONG')
    assert.match(String(await server.admin.client('LIST')), /name=agent-a-hello .*user=sentinel-agent-a/)
  })

  test("a connects with ioredis's defaults too: the ready check's INFO is refused and skipped", async () => {
    const warnings: string[] = []
    const warn = console.warn
    console.warn = (...args: unknown[]) => void warnings.push(args.map(String).join(' '))
    try {
      const agent = new Redis({
        port: server.port,
        host: '127.0.0.1',
        username: agentUserName('a'),
        password: password.a,
      })
      agent.on('error', () => {})
      clients.push(agent)
      assert.equal(await agent.ping(), 'PONG')
      assert.equal(await agent.set(a.status, '{}', 'EX', 30), 'OK')
    } finally {
      console.warn = warn
    }
    assert.ok(
      warnings.some((w) => /NOPERM/.test(w) && /info/i.test(w)),
      `expected ioredis to skip its ready check: ${warnings.join(' | ')}`,
    )
  })

  test("a is refused every key of b's, even those a may use on its own", async () => {
    await server.admin.set(b.status, '{"node":"b"}')
    await server.admin.xadd(b.events, '*', 'kind', 'sweep')
    await server.admin.xgroup('CREATE', b.requests, AGENT_GROUP, '$', 'MKSTREAM')
    const bEntry = await server.admin.xadd(b.requests, '*', 'id', 'r9')
    await server.admin.set(b.claim('r9'), 'agent')
    await server.admin.set(b.result('r9'), '{"secret":"b"}')
    await server.admin.lpush(b.reply('r9'), 'x')
    await server.admin.set(b.position, '5')
    await server.admin.xadd(b.offline, '*', 'action', 'x')
    const agent = await login(agentUserName('a'), password.a)

    const attempts: [string, () => Promise<unknown>][] = [
      ['SET status', () => agent.set(b.status, '{"node":"b","forged":true}', 'EX', 30)],
      ['GET status', () => agent.get(b.status)],
      ['XADD events', () => agent.xadd(b.events, 'MAXLEN', '~', '10000', '*', 'kind', 'forged')],
      ['XGROUP CREATE requests', () => agent.xgroup('CREATE', b.requests, 'agent2', '$', 'MKSTREAM')],
      [
        'XREADGROUP requests >',
        () => agent.xreadgroup('GROUP', AGENT_GROUP, 'c1', 'COUNT', '1', 'STREAMS', b.requests, '>'),
      ],
      [
        'XREADGROUP requests 0',
        () => agent.xreadgroup('GROUP', AGENT_GROUP, 'c1', 'COUNT', '1', 'STREAMS', b.requests, '0'),
      ],
      ['XACK requests', () => agent.xack(b.requests, AGENT_GROUP, bEntry!)],
      ['XAUTOCLAIM requests', () => agent.xautoclaim(b.requests, AGENT_GROUP, 'c1', 0, '0-0')],
      ['SET claim NX', () => agent.set(b.claim('r10'), 'agent', 'EX', 60, 'NX')],
      ['GET claim', () => agent.get(b.claim('r9'))],
      ['SET result', () => agent.set(b.result('r9'), '{"forged":true}', 'EX', 60)],
      ['GET result', () => agent.get(b.result('r9'))],
      ['LPUSH reply', () => agent.lpush(b.reply('r9'), '{"forged":true}')],
      ['EXPIRE reply', () => agent.expire(b.reply('r9'), 1)],
      ['GET position', () => agent.get(b.position)],
      ['SET position', () => agent.set(b.position, '0')],
      ['XADD offline', () => agent.xadd(b.offline, '*', 'action', 'forged')],
    ]
    for (const [what, attempt] of attempts) await assert.rejects(attempt(), /NOPERM/, `${what} on b's key`)
    assert.equal(await server.admin.get(b.status), '{"node":"b"}')
    assert.equal(await server.admin.xlen(b.events), 1)
    assert.equal(await server.admin.exists(b.claim('r10')), 0)
    assert.equal(await server.admin.get(b.result('r9')), '{"secret":"b"}')
    assert.equal(await server.admin.ttl(b.reply('r9')), -1)
    assert.equal(await server.admin.xlen(b.offline), 1)
  })

  test("a cannot read the controller's keys nor run anything beyond its commands", async () => {
    const incidentId = `inc-${newSecret()}`
    await server.admin.set(incidentKeys.doc(incidentId), '{"id":"x"}')
    await server.admin.sadd(incidentKeys.open, incidentId)
    await server.admin.hset(FLEET_SEEN_KEY, 'a', '1')
    const agent = await login(agentUserName('a'), password.a)
    const attempts: [string, () => Promise<unknown>][] = [
      ['GET an incident', () => agent.get(incidentKeys.doc(incidentId))],
      ['SET an incident', () => agent.set(incidentKeys.doc(incidentId), '{}')],
      ['SADD the open incidents', () => agent.sadd(incidentKeys.open, 'forged')],
      ['SET the seen record', () => agent.set(FLEET_SEEN_KEY, 'x')],
      ['read the registry', () => agent.get(FLEET_NODES_KEY)],
      ['SMEMBERS the registry', () => agent.smembers(FLEET_NODES_KEY)],
      ['KEYS', () => agent.keys('*')],
      ['SCAN', () => agent.scan('0')],
      ['FLUSHALL', () => agent.flushall()],
      ['FLUSHDB', () => agent.flushdb()],
      ['CONFIG GET', () => agent.config('GET', '*')],
      ['ACL LIST', () => agent.acl('LIST')],
      ['EVAL', () => agent.eval('return 1', 0)],
      ['INFO', () => agent.info()],
      ['PUBLISH', () => agent.publish('sentinel', 'x')],
      ['SELECT', () => agent.select(1)],
      ['DEL its own status', () => agent.del(a.status)],
    ]
    for (const [what, attempt] of attempts) await assert.rejects(attempt(), /NOPERM/, what)
    assert.equal(await server.admin.get(incidentKeys.doc(incidentId)), '{"id":"x"}')
  })

  test('on its own keys, a may run each command only where the agent uses it', async () => {
    const user = agentUserName('a')
    const dryRun = async (...command: string[]) => String(await server.admin.call('ACL', 'DRYRUN', user, ...command))
    const refused: string[][] = [
      ['SET', a.events, 'x'],
      ['SET', a.requests, 'x'],
      ['SET', a.reply('r1'), 'x'],
      ['SET', a.offline, 'x'],
      ['SET', a.status, 'x', 'GET'],
      ['GET', a.status],
      ['GET', a.reply('r1')],
      ['XADD', a.requests, '*', 'id', 'forged'],
      ['XADD', a.status, '*', 'k', 'v'],
      ['LPUSH', a.status, 'x'],
      ['EXPIRE', a.status, '1'],
      ['XACK', a.events, CONTROLLER_GROUP, '1-1'],
      ['XREADGROUP', 'GROUP', CONTROLLER_GROUP, 'c', 'STREAMS', a.events, '>'],
      ['XGROUP', 'DESTROY', a.requests, AGENT_GROUP],
    ]
    for (const command of refused) assert.match(await dryRun(...command), /no permissions/, command.join(' '))
    for (const command of [
      ['SET', a.status, 'x', 'EX', '30'],
      ['GET', a.claim('r1')],
      ['XACK', a.requests, AGENT_GROUP, '1-1'],
    ])
      assert.equal(await dryRun(...command), 'OK', command.join(' '))
  })

  test('createAgentUser replaces the rules and password of an existing user', async () => {
    await createAgentUser(server.admin, 'c', newSecret())
    const rulesBefore = await server.admin.call('ACL', 'GETUSER', agentUserName('c'))
    await server.admin.call('ACL', 'SETUSER', agentUserName('c'), '+info', '~*')
    const oldPassword = newSecret()
    await server.admin.call('ACL', 'SETUSER', agentUserName('c'), `>${oldPassword}`)
    const next = newSecret()
    assert.deepEqual(await createAgentUser(server.admin, 'c', next), { user: agentUserName('c'), created: false })
    const rulesAfter = (await server.admin.call('ACL', 'GETUSER', agentUserName('c'))) as unknown[]
    // Same rules as a fresh user: the widening is gone; only the password hash differs.
    const withoutPasswords = (g: unknown) => JSON.stringify(g).replace(/"passwords",\[[^\]]*\]/, '')
    assert.equal(withoutPasswords(rulesAfter), withoutPasswords(rulesBefore))
    await assert.rejects(login(agentUserName('c'), oldPassword), /WRONGPASS/)
    const agent = await login(agentUserName('c'), next)
    await assert.rejects(agent.info(), /NOPERM/)
  })

  test('the password stays out of SLOWLOG and out of the errors createAgentUser throws', async () => {
    const slowlogLimit = (await server.admin.config('GET', 'slowlog-log-slower-than')) as string[]
    await server.admin.config('SET', 'slowlog-log-slower-than', '0')
    await server.admin.slowlog('RESET')
    const secret = newSecret()
    try {
      await createAgentUser(server.admin, 'd', secret)
      const slowlog = JSON.stringify(await server.admin.slowlog('GET', 128))
      assert.match(slowlog, /SETUSER/)
      assert.ok(!slowlog.includes(secret))
    } finally {
      await server.admin.config('SET', 'slowlog-log-slower-than', slowlogLimit[1])
    }
    // An administrator who may read users but not change them: ACL SETUSER fails with NOPERM.
    const weakPassword = newSecret()
    await server.admin.call('ACL', 'SETUSER', 'weak-admin', 'on', `>${weakPassword}`, '+ping', '+acl|getuser')
    const weak = await login('weak-admin', weakPassword)
    const err = await createAgentUser(weak, 'e', secret).then(
      () => assert.fail('expected NOPERM'),
      (e: unknown) => e,
    )
    assert.match(String((err as Error).message), /NOPERM/)
    assert.ok(!inspect(err, { depth: 10, showHidden: true }).includes(secret))
  })

  test('deleteAgentUser closes the agent connections; saveAclFile keeps users, hashed', async () => {
    const secret = newSecret()
    await createAgentUser(server.admin, 'f', secret)
    assert.equal(await saveAclFile(server.admin), true)
    const saved = readFileSync(server.aclFile, 'utf8')
    assert.match(saved, /^user sentinel-agent-f on .*\(%W~sentinel:fleet:node:f:status .*\+set\)/m)
    assert.ok(!saved.includes(secret))
    const agent = await login(agentUserName('f'), secret)
    assert.equal(await deleteAgentUser(server.admin, 'f'), true)
    await assert.rejects(agent.ping())
    await assert.rejects(login(agentUserName('f'), secret), /WRONGPASS/)
    assert.equal(await deleteAgentUser(server.admin, 'f'), false)
    assert.equal(await saveAclFile(server.admin), true)
    assert.doesNotMatch(readFileSync(server.aclFile, 'utf8'), /sentinel-agent-f/)
  })

  test('saveAclFile says false on a Redis without an ACL file', async () => {
    const plain = await startRedis()
    try {
      assert.equal(await saveAclFile(plain.client), false)
    } finally {
      await plain.stop()
    }
  })

  describe('npm run fleet:acl', () => {
    let dir: string
    before(() => {
      dir = mkdtempSync(path.join(os.tmpdir(), 'sentinel-test-fleet-acl-'))
    })
    after(() => rmSync(dir, { recursive: true, force: true }))

    const run = (args: string[]) =>
      exec(TSX, ['scripts/fleet-acl.ts', ...args], {
        cwd: ROOT,
        timeout: 60_000,
        env: {
          ...process.env,
          npm_lifecycle_event: '',
          REDIS_HOST: '127.0.0.1',
          REDIS_PORT: String(server.port),
          REDIS_PASSWORD: server.adminPassword,
        },
      }).then(
        ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
        (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
      )

    test('creates a working user, then replaces its password only with --force, then revokes it', async () => {
      const file = path.join(dir, 'g.password')
      const user = agentUserName('g')
      const first = await run(['--node', 'g', '--password-file', file])
      assert.equal(first.code, 0, first.stderr)
      const firstPassword = readFileSync(file, 'utf8')
      assert.match(firstPassword, /^[0-9a-f]{64}$/)
      assert.equal(statSync(file).mode & 0o777, 0o600)
      assert.match(first.stdout, /^REDIS_USERNAME=sentinel-agent-g$/m)
      assert.match(
        first.stdout,
        new RegExp(`^REDIS_PASSWORD_FILE=${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'm'),
      )
      assert.match(first.stdout, /Saved to Redis's ACL file/)
      assert.ok(!(first.stdout + first.stderr).includes(firstPassword))
      const agent = await login(user, firstPassword)
      assert.equal(await agent.set(nodeKeys('g').status, '{}', 'EX', 30), 'OK')

      const refused = await run(['--node', 'g', '--password-file', file])
      assert.equal(refused.code, 1)
      assert.match(refused.stderr, /exists: pass --force/)
      assert.equal(readFileSync(file, 'utf8'), firstPassword)
      await login(user, firstPassword)

      const again = await run(['--node', 'g', '--password-file', file, '--force'])
      assert.equal(again.code, 0, again.stderr)
      const secondPassword = readFileSync(file, 'utf8')
      assert.notEqual(secondPassword, firstPassword)
      assert.equal(statSync(file).mode & 0o777, 0o600)
      assert.match(again.stdout, /Updated the Redis user sentinel-agent-g/)
      assert.ok(!(again.stdout + again.stderr).includes(secondPassword))
      await assert.rejects(login(user, firstPassword), /WRONGPASS/)
      const renewed = await login(user, secondPassword)
      assert.equal(await renewed.set(nodeKeys('g').status, '{}', 'EX', 30), 'OK')
      await assert.rejects(renewed.get(nodeKeys('h').status), /NOPERM/)
      const users = (await server.admin.acl('USERS')) as string[]
      assert.equal(users.filter((u) => u === user).length, 1)
      assert.deepEqual(
        readdirSync(dir).filter((f) => f.endsWith('.tmp')),
        [],
        'no staging file left',
      )

      const revoked = await run(['--node', 'g', '--revoke'])
      assert.equal(revoked.code, 0, revoked.stderr)
      assert.match(revoked.stdout, /Deleted the Redis user sentinel-agent-g/)
      assert.ok(!((await server.admin.acl('USERS')) as string[]).includes(user))
      await assert.rejects(login(user, secondPassword), /WRONGPASS/)
    })

    test('refuses a bad command line, naming what was wrong, and touches nothing', async () => {
      const file = path.join(dir, 'bad.password')
      const badName = await run(['--node', 'x*', '--password-file', file])
      assert.equal(badName.code, 2)
      assert.match(badName.stderr, /--node: "x\*" is not a node name/)
      const noFile = await run(['--node', 'x'])
      assert.equal(noFile.code, 2)
      assert.match(noFile.stderr, /--password-file PATH is required/)
      const both = await run(['--node', 'x', '--revoke', '--password-file', file])
      assert.equal(both.code, 2)
      assert.match(both.stderr, /--revoke takes no --password-file/)
      assert.equal(existsSync(file), false)
      assert.ok(!((await server.admin.acl('USERS')) as string[]).includes(agentUserName('x')))
    })

    test('says which Redis it could not log in to, and leaves no password file', async () => {
      const file = path.join(dir, 'denied.password')
      const denied = await exec(TSX, ['scripts/fleet-acl.ts', '--node', 'x', '--password-file', file], {
        cwd: ROOT,
        timeout: 60_000,
        env: {
          ...process.env,
          REDIS_HOST: '127.0.0.1',
          REDIS_PORT: String(server.port),
          REDIS_PASSWORD: newSecret(),
        },
      }).then(
        () => assert.fail('expected a refusal'),
        (e: { code: number; stderr: string }) => e,
      )
      assert.equal(denied.code, 1)
      assert.match(denied.stderr, new RegExp(`cannot reach Redis at 127\\.0\\.0\\.1:${server.port}: WRONGPASS`))
      assert.equal(existsSync(file), false)
    })
  })
})
