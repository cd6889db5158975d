/**
 * Sentinel's own Redis connection (ioredis), shared by the main process and step processes.
 * Motia's state adapter keeps its values at `motia:state:<group>:<key>` as JSON strings; the
 * incident store writes the same keys (so Motia state, the Workbench and `ctx.state` see the
 * incidents) but through compare-and-set scripts, because several processes update one incident.
 */
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { Redis } from 'ioredis'
import { getConfig, type SentinelConfig } from '../config/index'

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

let client: Redis | undefined

/**
 * ioredis's options from the configuration. REDIS_URL needs nothing here: the configuration has
 * put its parts in REDIS_HOST, REDIS_PORT, REDIS_USERNAME, REDIS_PASSWORD and REDIS_TLS (rediss://).
 */
export function redisOptions(cfg: SentinelConfig = getConfig()) {
  return {
    host: cfg.REDIS_HOST,
    port: cfg.REDIS_PORT,
    ...(cfg.REDIS_USERNAME ? { username: cfg.REDIS_USERNAME } : {}),
    password: redisPassword(cfg),
    ...(cfg.REDIS_TLS ? { tls: {} } : {}),
    lazyConnect: false,
    // A node agent's ACL user may not run INFO (src/platform/fleet/acl.ts), which the ready check sends.
    enableReadyCheck: cfg.SENTINEL_ROLE !== 'agent',
    maxRetriesPerRequest: 3,
    enableOfflineQueue: true,
    connectTimeout: 5000,
  }
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
