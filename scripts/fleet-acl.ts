/**
 * npm run fleet:acl -- --node NAME --password-file PATH [--force]
 * npm run fleet:acl -- --node NAME --revoke
 *
 * Creates (or updates) the Redis ACL user of one fleet node agent, `sentinel-agent-<NAME>`, on the
 * Redis Sentinel is configured with (REDIS_HOST, REDIS_PORT, REDIS_PASSWORD; with REDIS_SENTINELS,
 * on the primary and every replica, since Redis does not replicate ACL users), with a new random
 * password written to PATH (mode 0600) and never printed; then prints the agent's environment
 * lines. The rules are those of src/platform/fleet/acl.ts. An existing password file is refused
 * unless --force (which replaces it and the user's password). --revoke deletes the user, which
 * closes its connections. When Redis has an ACL file (`aclfile`), the change is saved to it.
 *
 * The password file is written before Redis is touched and put in place after, so that a failure
 * leaves neither a user whose password nobody has nor a file whose password Redis does not know.
 * Exit codes: 0 done, 1 Redis or the password file refused, 2 a bad command line or configuration.
 */
import { randomBytes } from 'node:crypto'
import { closeSync, existsSync, fsyncSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs'
import path from 'node:path'
import { parseArgs } from 'node:util'
import { Redis } from 'ioredis'
import { agentAclRules, agentUserName, createAgentUser, deleteAgentUser, saveAclFile } from '../src/platform/fleet/acl'
import { NODE_NAME_PATTERN, isNodeName } from '../src/platform/fleet/keys'

const PASSWORD_BYTES = 32

function usage(): string {
  return [
    'usage: npm run fleet:acl -- --node NAME --password-file PATH [--force]',
    '       npm run fleet:acl -- --node NAME --revoke',
    '',
    "Creates or updates the Redis user of a fleet node's agent (sentinel-agent-NAME) with a new",
    'random password, written to PATH (mode 0600) and never printed, then prints the environment',
    'the agent needs. Uses REDIS_HOST, REDIS_PORT and REDIS_PASSWORD, as Sentinel does; with',
    'REDIS_SENTINELS, every data node the Sentinels know (Redis does not replicate ACL users).',
    '',
    '  --node NAME            the node (letters, digits, dot, dash, underscore; up to 63 characters)',
    '  --password-file PATH   where to write the new password (refused if it exists, unless --force)',
    "  --force                replace an existing password file (and the user's password)",
    "  --revoke               delete the node's user instead (closes its connections)",
    '  -h, --help             this text',
    '',
    'Put "--" between `npm run fleet:acl` and the flags: without it npm keeps them for itself.',
  ].join('\n')
}

const fail = (message: string): number => {
  console.error(`fleet:acl: ${message}\nRun \`npm run fleet:acl -- --help\` for the usage.`)
  return 2
}

const refuse = (message: string): number => {
  console.error(`fleet:acl: ${message}`)
  return 1
}

/** The flags npm kept for itself (they come before "--"): npm hands them on as npm_config_<name>. */
function flagsNpmKept(env: NodeJS.ProcessEnv = process.env): string[] {
  if (env.npm_lifecycle_event !== 'fleet:acl') return []
  return ['node', 'password-file', 'force', 'revoke', 'help'].filter((name) => {
    const value = env[`npm_config_${name.replace(/-/g, '_')}`]
    return value !== undefined && value !== ''
  })
}

interface DataNode {
  /** host:port, for messages. */
  where: string
  role: 'primary' | 'replica'
  redis: Redis
}

/**
 * Every data node of Sentinel's Redis, connected once each (a tool must fail fast, not retry for
 * ever): REDIS_HOST:REDIS_PORT, or with REDIS_SENTINELS the primary and every replica the Sentinels
 * know. Redis does not replicate ACL users, so an agent's user goes to each: without it on a
 * replica, the agent could not log in to the primary a failover makes of it.
 */
async function connectDataNodes(): Promise<{ nodes: DataNode[]; unreachable: string[] }> {
  const { redisOptions, redisDataNodes } = await import('../src/platform/store/redis')
  const { getConfig } = await import('../src/platform/config/index')
  const cfg = getConfig()
  const { username, password, tls } = redisOptions(cfg)
  const nodes = await redisDataNodes(cfg)
  const connected: DataNode[] = []
  const unreachable: string[] = []
  try {
    for (const node of nodes) {
      const where = `${node.host}:${node.port}`
      if (node.flags && /s_down|o_down|disconnected/.test(node.flags)) {
        unreachable.push(`the ${node.role} ${where} (${node.flags})`)
        continue
      }
      const redis = new Redis({
        host: node.host,
        port: node.port,
        ...(username ? { username } : {}),
        password,
        ...(tls ? { tls } : {}),
        lazyConnect: true,
        connectionName: 'sentinel-fleet-acl',
        retryStrategy: () => null,
        maxRetriesPerRequest: 0,
        enableOfflineQueue: false,
      })
      // connect() only says "Connection is closed"; the cause (ECONNREFUSED, WRONGPASS...) comes here.
      let cause: Error | undefined
      redis.on('error', (err: Error) => (cause ??= err))
      try {
        await redis.connect()
        await redis.ping()
      } catch (err) {
        redis.disconnect()
        const why = (cause ?? (err as Error)).message
        // The primary must answer; a replica that does not is reported (revoking goes on without it).
        if (node.role === 'primary') throw new Error(`cannot reach Redis at ${where}: ${why}`)
        unreachable.push(`the replica ${where} (${why})`)
        continue
      }
      connected.push({ where, role: node.role, redis })
    }
  } catch (err) {
    for (const c of connected) c.redis.disconnect()
    throw err
  }
  return { nodes: connected, unreachable }
}

/** Writes the password to a new file of mode 0600 (never over an existing one). */
function writeNewSecretFile(file: string, secret: string): void {
  const fd = openSync(file, 'wx', 0o600)
  try {
    writeSync(fd, secret)
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
}

async function main(): Promise<number> {
  const kept = flagsNpmKept()
  if (kept.length) {
    const flags = kept.map((name) => `--${name}`).join(' ')
    return fail(
      `npm kept ${flags} for itself (flags before "--" go to npm, not to this script): type \`npm run fleet:acl -- ${flags} ...\``,
    )
  }
  let args
  try {
    args = parseArgs({
      options: {
        node: { type: 'string' },
        'password-file': { type: 'string' },
        force: { type: 'boolean', default: false },
        revoke: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h' },
      },
      allowPositionals: true,
      strict: true,
    })
  } catch (err) {
    return fail((err as Error).message)
  }
  const { values, positionals } = args
  if (values.help || (positionals.length === 1 && positionals[0] === 'help')) {
    console.log(usage())
    return 0
  }
  if (positionals.length) return fail(`unexpected argument ${JSON.stringify(positionals[0])} (flags start with --)`)
  const node = values.node
  if (node === undefined) return fail('--node NAME is required')
  if (!isNodeName(node))
    return fail(`--node: ${JSON.stringify(node)} is not a node name (expected ${NODE_NAME_PATTERN})`)
  const user = agentUserName(node)
  if (values.revoke && (values['password-file'] !== undefined || values.force))
    return fail('--revoke takes no --password-file or --force')
  if (!values.revoke && values['password-file'] === undefined)
    return fail('--password-file PATH is required (where the new password is written)')

  const file = values['password-file'] === undefined ? undefined : path.resolve(values['password-file'])
  if (file !== undefined && existsSync(file) && !values.force)
    return refuse(`${file} exists: pass --force to replace it and the password of ${user}`)

  let nodes: DataNode[]
  let unreachable: string[]
  let sentinels: Array<{ host: string; port: number }>
  let masterName: string | undefined
  try {
    const cfg = (await import('../src/platform/config/index')).getConfig()
    sentinels = cfg.REDIS_SENTINELS
    masterName = cfg.REDIS_MASTER_NAME
    ;({ nodes, unreachable } = await connectDataNodes())
  } catch (err) {
    const message = (err as Error).message
    if ((err as Error).name === 'ConfigError') return fail(message)
    return refuse(message)
  }
  const on = (n: DataNode) => (nodes.length > 1 ? ` on the ${n.role} ${n.where}` : '')
  try {
    if (values.revoke) {
      // Revoking goes as far as it can: a node that is down must not keep a compromised agent's
      // user everywhere else. What could not be reached is named, and the exit code says so.
      for (const n of nodes) {
        const deleted = await deleteAgentUser(n.redis, node)
        console.log(
          deleted
            ? `Deleted the Redis user ${user}${on(n)}; its connections are closed.`
            : `No Redis user ${user}${on(n)}.`,
        )
        await reportPersistence(n.redis)
      }
      if (unreachable.length) return refuse(`not revoked on ${unreachable.join(', ')}: run this again once it is up`)
      return 0
    }
    // Creating needs every data node: a user missing on a replica fails its agent after a failover.
    if (unreachable.length)
      return refuse(
        `${unreachable.join(', ')} cannot be reached: an agent's user must be on every data node; run this again once it is up`,
      )
    if (file === undefined) return fail('--password-file PATH is required')
    const password = randomBytes(PASSWORD_BYTES).toString('hex')
    // With --force the new password waits in a temporary file until Redis has it, so that the old
    // file (and password) survive a failure; without it the file is created exclusively now.
    const staging = values.force ? `${file}.${randomBytes(6).toString('hex')}.tmp` : file
    try {
      writeNewSecretFile(staging, password)
    } catch (err) {
      const e = err as NodeJS.ErrnoException
      if (e.code === 'EEXIST') return refuse(`${file} exists: pass --force to replace it and the password of ${user}`)
      return refuse(`cannot write the password file ${staging}: ${e.message}`)
    }
    const done: DataNode[] = []
    let created = false
    for (const n of nodes) {
      try {
        created = (await createAgentUser(n.redis, node, password)).created || created
        done.push(n)
      } catch (err) {
        // Nothing has the new password yet: no file is left behind. Some nodes have it: the file
        // stays (it is their password now) and the operator reruns with --force once the node is back.
        if (!done.length) {
          unlinkSync(staging)
          return refuse(`${(err as Error).message}${on(n)}`)
        }
        if (staging !== file) renameSync(staging, file)
        return refuse(
          `${user} has its new password on ${done.map((d) => d.where).join(', ')} but not${on(n)} (${(err as Error).message}); ` +
            `the password is in ${file}: run this again with --force once that node answers`,
        )
      }
    }
    if (staging !== file) {
      try {
        renameSync(staging, file)
      } catch (err) {
        return refuse(
          `${user} has its new password, but moving it into ${file} failed (${(err as Error).message}): it is in ${staging}`,
        )
      }
    }
    console.log(
      created
        ? `Created the Redis user ${user}${nodes.length > 1 ? ` on ${nodes.length} data nodes (${nodes.map((n) => n.where).join(', ')})` : ''}.`
        : `Updated the Redis user ${user}: new rules and password (the old password no longer logs in; connections already open stay until they reconnect).`,
    )
    console.log(`ACL rules: ${agentAclRules(node).join(' ')}`)
    console.log(`The password is in ${file} (mode 0600); it is not shown. Copy the file to the node's host.`)
    for (const n of nodes) await reportPersistence(n.redis)
    if (sentinels.length) {
      console.log(
        "\nThe agent's environment (the Sentinels as this host reaches them; the node may need other addresses):",
      )
      console.log(
        `REDIS_SENTINELS=${sentinels.map((x) => `${x.host.includes(':') ? `[${x.host}]` : x.host}:${x.port}`).join(',')}`,
      )
      console.log(`REDIS_MASTER_NAME=${masterName}`)
    } else console.log("\nThe agent's environment (REDIS_HOST and REDIS_PORT: this Redis as the node reaches it):")
    console.log(`NODE_NAME=${node}`)
    console.log(`REDIS_USERNAME=${user}`)
    console.log(`REDIS_PASSWORD_FILE=${file}`)
    return 0
  } catch (err) {
    return refuse((err as Error).message)
  } finally {
    for (const n of nodes) await n.redis.quit().catch(() => n.redis.disconnect())
  }
}

async function reportPersistence(redis: Redis): Promise<void> {
  let saved: boolean
  try {
    saved = await saveAclFile(redis)
  } catch (err) {
    throw new Error(`the change is made, but saving Redis's ACL file failed: ${(err as Error).message}`)
  }
  if (saved) console.log("Saved to Redis's ACL file.")
  else
    console.log(
      'Warning: this Redis has no ACL file (aclfile), so the change lives in memory and is lost when Redis restarts.\n' +
        '  Keep it: set aclfile in redis.conf, restart Redis and rerun with --force, or run CONFIG REWRITE (writes the users into redis.conf).',
    )
}

process.exitCode = await main()
