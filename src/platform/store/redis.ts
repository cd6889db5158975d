/**
 * Sentinel's own Redis connection (ioredis), shared by the main process and step processes.
 * Motia's state adapter keeps its values at `motia:state:<group>:<key>` as JSON strings; the
 * incident store writes the same keys (so Motia state, the Workbench and `ctx.state` see the
 * incidents) but through compare-and-set scripts, because several processes update one incident.
 */
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { Redis, type RedisOptions } from 'ioredis'
import { getConfig, type SentinelConfig } from '../config/index'
import { logTo } from '../telemetry/log'

/**
 * The password: REDIS_PASSWORD, or the first line of REDIS_PASSWORD_FILE (how a node agent is
 * given its own user's password: a file is in no process's environment or arguments).
 */
export function redisPassword(
  cfg: Pick<SentinelConfig, 'REDIS_PASSWORD' | 'REDIS_PASSWORD_FILE' | 'projectRoot'>,
): string | undefined {
  if (!cfg.REDIS_PASSWORD_FILE) return cfg.REDIS_PASSWORD
  return readFileSync(path.resolve(cfg.projectRoot, cfg.REDIS_PASSWORD_FILE), 'utf8').split(/\r?\n/)[0].trim()
}

/** The Sentinels' own password (`requirepass` in sentinel.conf): REDIS_SENTINEL_PASSWORD_FILE's first line. */
export function redisSentinelPassword(
  cfg: Pick<SentinelConfig, 'REDIS_SENTINEL_PASSWORD_FILE' | 'projectRoot'>,
): string | undefined {
  if (!cfg.REDIS_SENTINEL_PASSWORD_FILE) return undefined
  return readFileSync(path.resolve(cfg.projectRoot, cfg.REDIS_SENTINEL_PASSWORD_FILE), 'utf8').split(/\r?\n/)[0].trim()
}

/** A write refused by a replica: the connection is on a primary that a failover has since demoted. */
export const isReadOnlyError = (err: Error) => err.message.startsWith('READONLY')

/** ioredis's delay (ms) before it asks every Sentinel again after none answered: never gives up. */
export const sentinelRetryDelay = (attempt: number) => Math.min(attempt * 250, 2000)

let client: Redis | undefined

/**
 * ioredis's options from the configuration. REDIS_URL needs nothing here: the configuration has
 * put its parts in REDIS_HOST, REDIS_PORT, REDIS_USERNAME, REDIS_PASSWORD and REDIS_TLS (rediss://).
 * With REDIS_SENTINELS, ioredis asks the Sentinels for REDIS_MASTER_NAME's primary on every
 * (re)connection, so a connection lost in a failover comes back on the new primary; every
 * `duplicate()` copies these options and follows too.
 */
export function redisOptions(cfg: SentinelConfig = getConfig()): RedisOptions {
  const common = {
    ...(cfg.REDIS_USERNAME ? { username: cfg.REDIS_USERNAME } : {}),
    password: redisPassword(cfg),
    lazyConnect: false,
    // A node agent's ACL user may not run INFO (src/platform/fleet/acl.ts), which the ready check sends.
    enableReadyCheck: cfg.SENTINEL_ROLE !== 'agent',
    maxRetriesPerRequest: 3,
    enableOfflineQueue: true,
    connectTimeout: 5000,
  }
  if (!cfg.REDIS_SENTINELS.length)
    return { host: cfg.REDIS_HOST, port: cfg.REDIS_PORT, ...common, ...(cfg.REDIS_TLS ? { tls: {} } : {}) }
  return {
    ...common,
    sentinels: cfg.REDIS_SENTINELS.map((s) => ({ host: s.host, port: s.port })),
    name: cfg.REDIS_MASTER_NAME,
    // The ready check's INFO confirms the node is a primary (an agent skips it: READONLY below covers it).
    role: 'master',
    sentinelPassword: redisSentinelPassword(cfg),
    // Every Sentinel unreachable at once is an outage to ride out: null here would end the client for good.
    sentinelRetryStrategy: sentinelRetryDelay,
    // Subscribed to the Sentinels' +switch-master: reconnect as soon as they elect a new primary,
    // not only when the old socket fails (a primary cut off by a partition may keep it open).
    failoverDetector: true,
    // A write that lands on a demoted primary: reconnect (through the Sentinels) and send it again.
    reconnectOnError: (err: Error) => (isReadOnlyError(err) ? 2 : false),
    ...(cfg.REDIS_TLS ? { tls: {}, sentinelTLS: {}, enableTLSForSentinelMode: true } : {}),
  }
}

/**
 * Where the Redis primary is now: REDIS_HOST:REDIS_PORT, or with REDIS_SENTINELS the address the
 * first Sentinel that answers gives for REDIS_MASTER_NAME (SENTINEL GET-MASTER-ADDR-BY-NAME). For
 * clients that take one fixed address (Motia's, made from motia.config.ts): they reach the primary
 * of the moment they start and do not follow a later failover.
 */
export async function currentRedisPrimary(cfg: SentinelConfig = getConfig()): Promise<{ host: string; port: number }> {
  if (!cfg.REDIS_SENTINELS.length) return { host: cfg.REDIS_HOST, port: cfg.REDIS_PORT }
  return askSentinels(cfg, 'named the Redis primary', async (ask, where) => {
    const reply = (await ask.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', cfg.REDIS_MASTER_NAME!)) as
      [string, string] | null
    if (!reply) throw new Error(`${where} knows no primary named ${cfg.REDIS_MASTER_NAME}`)
    return { host: reply[0], port: Number(reply[1]) }
  })
}

/**
 * Asks each Sentinel in REDIS_SENTINELS in turn, over a connection of its own that fails at once
 * (a tool or a start must not wait on retries), until one answers `question`; throws naming every
 * Sentinel's failure when none does.
 */
async function askSentinels<T>(
  cfg: SentinelConfig,
  what: string,
  question: (ask: Redis, where: string) => Promise<T>,
): Promise<T> {
  const failures: string[] = []
  for (const sentinel of cfg.REDIS_SENTINELS) {
    const where = `${sentinel.host}:${sentinel.port}`
    const ask = new Redis({
      host: sentinel.host,
      port: sentinel.port,
      password: redisSentinelPassword(cfg),
      ...(cfg.REDIS_TLS ? { tls: {} } : {}),
      lazyConnect: true,
      connectTimeout: 3000,
      commandTimeout: 3000,
      retryStrategy: () => null,
      maxRetriesPerRequest: 0,
      enableOfflineQueue: false,
    })
    // connect() only says "Connection is closed"; the cause (ECONNREFUSED, NOAUTH...) comes here.
    let cause: Error | undefined
    ask.on('error', (err: Error) => (cause ??= err))
    try {
      await ask.connect()
      return await question(ask, where)
    } catch (err) {
      const message = (cause ?? (err as Error)).message
      failures.push(message.startsWith(where) ? message : `${where}: ${message}`)
    } finally {
      ask.disconnect()
    }
  }
  throw new Error(`no Sentinel in REDIS_SENTINELS ${what} (${failures.join('; ')})`)
}

/**
 * Every data node: REDIS_HOST:REDIS_PORT alone, or with REDIS_SENTINELS the primary and each replica
 * the first Sentinel that answers knows (SENTINEL REPLICAS), with what it says of the replica
 * (`flags`: s_down, disconnected...). For what Redis does not replicate, such as ACL users: a node
 * agent's user must exist on the replica it will find after a failover.
 */
export async function redisDataNodes(
  cfg: SentinelConfig = getConfig(),
): Promise<Array<{ host: string; port: number; role: 'primary' | 'replica'; flags?: string }>> {
  const primary = await currentRedisPrimary(cfg)
  if (!cfg.REDIS_SENTINELS.length) return [{ ...primary, role: 'primary' }]
  const replicas = await askSentinels(cfg, 'listed the replicas', async (ask) => {
    const replies = (await ask.call('SENTINEL', 'REPLICAS', cfg.REDIS_MASTER_NAME!)) as string[][]
    return replies.map((flat) => {
      const field = (name: string) => flat[flat.indexOf(name) + 1]
      return { host: field('ip'), port: Number(field('port')), role: 'replica' as const, flags: field('flags') }
    })
  })
  return [{ ...primary, role: 'primary' }, ...replicas]
}

/**
 * Waits until `replicas` replicas have received every write this connection made (Redis's WAIT),
 * for at most timeoutMs; returns how many had. Redis replicates asynchronously: a write a primary
 * acknowledged and then died with is lost in a failover unless a replica had it. Call this before
 * telling a client a write is done when that write must survive the primary's loss.
 */
export async function waitForReplicas(redis: Redis, replicas: number, timeoutMs: number): Promise<number> {
  return Number(await redis.call('WAIT', String(replicas), String(timeoutMs)))
}

let replicaWaitPausedUntil = 0

/**
 * With REDIS_SENTINELS, waits until REDIS_WAIT_REPLICAS replicas hold this connection's writes
 * (at most REDIS_WAIT_TIMEOUT_MS) before a write is confirmed to anyone. When too few answer in
 * time (a replica down, the set degraded to one node), the write still goes on and waiting pauses
 * for 10 s in this process: WAIT blocks the whole shared connection while it waits, and a degraded
 * set must not make every write half a second slower. Returns how many replicas confirmed (-1:
 * not asked).
 */
export async function confirmReplicated(redis: Redis, cfg: SentinelConfig = getConfig()): Promise<number> {
  const wanted = cfg.REDIS_SENTINELS.length ? cfg.REDIS_WAIT_REPLICAS : 0
  if (!wanted || Date.now() < replicaWaitPausedUntil) return -1
  const got = await waitForReplicas(redis, wanted, cfg.REDIS_WAIT_TIMEOUT_MS).catch(() => 0)
  if (got < wanted) {
    replicaWaitPausedUntil = Date.now() + 10_000
    logTo('redis')('warn', 'fewer Redis replicas than REDIS_WAIT_REPLICAS confirmed a write; not waiting for 10 s', {
      wanted,
      confirmed: got,
      timeoutMs: cfg.REDIS_WAIT_TIMEOUT_MS,
    })
  }
  return got
}

export function getRedis(): Redis {
  if (!client) {
    client = new Redis(redisOptions())
    // Errors surface through the commands that fail; an unhandled 'error' event would crash.
    client.on('error', () => {})
  }
  return client
}

export async function closeRedis(): Promise<void> {
  if (client) {
    const c = client
    client = undefined
    await c.quit().catch(() => c.disconnect())
  }
}

export const STATE_PREFIX = 'motia:state:'
export const stateKey = (group: string, key: string) => `${STATE_PREFIX}${group}:${key}`
