/**
 * Execution records keyed by incident and action. An action is claimed (recorded as started)
 * before it runs and marked finished after, so a retried or duplicated event, or a restart of
 * Sentinel in the middle, never performs the same action twice for one incident.
 */
import type { Redis } from 'ioredis'
import { getRedis } from './redis'

export interface ExecutionRecord {
  incidentId: string
  actionId: string
  status: 'started' | 'succeeded' | 'failed'
  owner: string
  startedAt: string
  finishedAt?: string
  result?: Record<string, unknown>
  error?: string
}

const key = (incidentId: string, actionId: string) => `sentinel:exec:${incidentId}:${actionId}`
// Execution records outlive their incident's remediation by far; a month is plenty for audits,
// which keep their own permanent copy.
const TTL_SECONDS = 30 * 24 * 3600

export class ExecutionStore {
  constructor(private readonly redis: Redis = getRedis()) {}

  /** Claims the execution. Returns null when claimed now, or the existing record. */
  async claim(incidentId: string, actionId: string, owner: string): Promise<ExecutionRecord | null> {
    const record: ExecutionRecord = {
      incidentId,
      actionId,
      status: 'started',
      owner,
      startedAt: new Date().toISOString(),
    }
    const ok = await this.redis.set(key(incidentId, actionId), JSON.stringify(record), 'EX', TTL_SECONDS, 'NX')
    if (ok === 'OK') return null
    return this.get(incidentId, actionId)
  }

  async get(incidentId: string, actionId: string): Promise<ExecutionRecord | null> {
    const raw = await this.redis.get(key(incidentId, actionId))
    return raw ? (JSON.parse(raw) as ExecutionRecord) : null
  }

  async finish(
    incidentId: string,
    actionId: string,
    outcome: { status: 'succeeded' | 'failed'; result?: Record<string, unknown>; error?: string },
  ): Promise<ExecutionRecord> {
    const current = (await this.get(incidentId, actionId)) ?? {
      incidentId,
      actionId,
      owner: 'unknown',
      status: 'started' as const,
      startedAt: new Date().toISOString(),
    }
    const next: ExecutionRecord = { ...current, ...outcome, finishedAt: new Date().toISOString() }
    await this.redis.set(key(incidentId, actionId), JSON.stringify(next), 'EX', TTL_SECONDS)
    return next
  }
}
