/** Stores for step processes (each step invocation is a fresh process). */
import { getConfig } from '../platform/config/index'
import { AuditLog } from '../platform/store/audit'
import { IncidentStore } from '../platform/store/incidents'
import { getRedis } from '../platform/store/redis'

export function stepDeps(actor: string) {
  const redis = getRedis()
  return { store: new IncidentStore(redis), audit: new AuditLog(redis), actor, config: getConfig() }
}
