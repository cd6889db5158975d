/** Stores for step processes (each step invocation is a fresh process). */
import { getConfig } from '../config/index'
import { AuditLog } from '../store/audit'
import { IncidentStore } from '../store/incidents'
import { getRedis } from '../store/redis'

export function stepDeps(actor: string) {
  const redis = getRedis()
  return { store: new IncidentStore(redis), audit: new AuditLog(redis), actor, config: getConfig() }
}
