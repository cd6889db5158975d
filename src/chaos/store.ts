/**
 * Chaos in Redis: the desired state (written by the API steps), the engine's state (rewritten by
 * the engine every poll, so its age says whether an engine is running) and the bounded fault
 * history (one hash of records, plus a time index for order and trimming).
 */
import type { Redis } from 'ioredis'
import type { ChaosDesired, ChaosState, FaultRecord } from './types'

export const CHAOS_KEYS = {
  desired: 'sentinel:chaos:desired',
  state: 'sentinel:chaos:state',
  faults: 'sentinel:chaos:faults',
  faultsByTime: 'sentinel:chaos:faults:by_time',
}

export const HISTORY_MAX = 500
/** An engine that has not written its state for this long is not running. */
export const ENGINE_STALE_MS = 5000

const parse = <T>(raw: string | null): T | null => {
  if (!raw) return null
  try {
    return JSON.parse(raw) as T
  } catch {
    return null
  }
}

export class ChaosStore {
  constructor(
    private readonly redis: Redis,
    private readonly historyMax = HISTORY_MAX,
  ) {}

  async desired(): Promise<ChaosDesired | null> {
    return parse<ChaosDesired>(await this.redis.get(CHAOS_KEYS.desired))
  }

  async setDesired(d: ChaosDesired): Promise<void> {
    await this.redis.set(CHAOS_KEYS.desired, JSON.stringify(d))
  }

  async state(): Promise<ChaosState | null> {
    return parse<ChaosState>(await this.redis.get(CHAOS_KEYS.state))
  }

  async setState(s: ChaosState): Promise<void> {
    await this.redis.set(CHAOS_KEYS.state, JSON.stringify(s))
  }

  /** Adds or replaces a record; the oldest ones beyond the bound are dropped. */
  async putFault(r: FaultRecord): Promise<void> {
    await this.redis
      .multi()
      .hset(CHAOS_KEYS.faults, r.faultId, JSON.stringify(r))
      .zadd(CHAOS_KEYS.faultsByTime, Date.parse(r.at), r.faultId)
      .exec()
    const excess = (await this.redis.zcard(CHAOS_KEYS.faultsByTime)) - this.historyMax
    if (excess > 0) {
      const old = await this.redis.zrange(CHAOS_KEYS.faultsByTime, 0, excess - 1)
      if (old.length)
        await this.redis
          .multi()
          .zrem(CHAOS_KEYS.faultsByTime, ...old)
          .hdel(CHAOS_KEYS.faults, ...old)
          .exec()
    }
  }

  async fault(faultId: string): Promise<FaultRecord | null> {
    return parse<FaultRecord>(await this.redis.hget(CHAOS_KEYS.faults, faultId))
  }

  /** Newest first. */
  async history(limit = 100, runId?: string): Promise<FaultRecord[]> {
    const ids = await this.redis.zrevrange(CHAOS_KEYS.faultsByTime, 0, runId ? this.historyMax - 1 : limit - 1)
    if (ids.length === 0) return []
    const raws = await this.redis.hmget(CHAOS_KEYS.faults, ...ids)
    const records = raws.map((r) => parse<FaultRecord>(r)).filter((r): r is FaultRecord => r !== null)
    return (runId ? records.filter((r) => r.runId === runId) : records).slice(0, limit)
  }
}

/** True when an engine wrote its state recently. */
export const engineAlive = (s: ChaosState | null, now = Date.now()) =>
  !!s && !s.engine?.stoppedAt && now - Date.parse(s.heartbeatAt) < ENGINE_STALE_MS

/** True when the desired state asks for a run now. */
export const wantsRun = (d: ChaosDesired | null, now = Date.now()): boolean =>
  !!d && d.status === 'running' && Date.parse(d.until) > now
