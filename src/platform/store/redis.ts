/**
 * Sentinel's own Redis connection (ioredis), shared by the main process and step processes.
 * Motia's state adapter keeps its values at `motia:state:<group>:<key>` as JSON strings; the
 * incident store writes the same keys (so Motia state, the Workbench and `ctx.state` see the
 * incidents) but through compare-and-set scripts, because several processes update one incident.
 */
import { Redis } from 'ioredis'
import { getConfig } from '../config/index'

let client: Redis | undefined

export function redisOptions() {
  const cfg = getConfig()
  return {
    host: cfg.REDIS_HOST,
    port: cfg.REDIS_PORT,
    password: cfg.REDIS_PASSWORD,
    lazyConnect: false,
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
