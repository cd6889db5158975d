/** The stores a stage works with, on one Redis client (the process's own by default). */
import type { Redis } from 'ioredis'
import { AuditLog } from './audit'
import { ExecutionStore } from './executions'
import { IncidentStore } from './incidents'
import { getRedis } from './redis'

export interface Stores {
  redis: Redis
  store: IncidentStore
  audit: AuditLog
  executions: ExecutionStore
}

export function stores(redis: Redis = getRedis()): Stores {
  return { redis, store: new IncidentStore(redis), audit: new AuditLog(redis), executions: new ExecutionStore(redis) }
}
