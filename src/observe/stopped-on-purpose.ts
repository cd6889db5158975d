/**
 * Watched containers left stopped on purpose, as the Docker event path learnt it (`docker stop`,
 * the engine shutting down, a clean exit found at start-up). The event path knows it from the
 * signals it saw; alerts reach Sentinel elsewhere (Alertmanager's webhook, the monitor step) and
 * must leave those containers alone too, so the knowledge is kept in Redis. A record lasts until
 * the container starts again or is removed.
 */
import type { Redis } from 'ioredis'
import { getRedis } from '../platform/store/redis'

export interface StopRecord {
  containerId: string
  name: string
  /** When it stopped (ISO). */
  at: string
  /** How Sentinel knows it was on purpose, for people. */
  how: string
}

const key = (containerId: string) => `sentinel:containers:stopped-on-purpose:${containerId}`

export class StoppedOnPurpose {
  constructor(private readonly redis: Redis = getRedis()) {}

  async record(stop: StopRecord): Promise<void> {
    await this.redis.set(key(stop.containerId), JSON.stringify(stop))
  }

  async forget(containerId: string): Promise<void> {
    await this.redis.del(key(containerId))
  }

  async get(containerId: string): Promise<StopRecord | null> {
    const raw = await this.redis.get(key(containerId))
    return raw ? (JSON.parse(raw) as StopRecord) : null
  }
}
