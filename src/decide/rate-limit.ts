/**
 * Sliding-window rate limit per action and resource, in Redis so every process shares it.
 * The incident id is the member, so a retried decision for the same incident is not counted twice.
 */
import type { Redis } from 'ioredis'
import { getRedis } from '../platform/store/redis'

const LUA = `
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local max = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZSCORE', KEYS[1], ARGV[4]) then return {1, redis.call('ZCARD', KEYS[1])} end
local count = redis.call('ZCARD', KEYS[1])
if count >= max then return {0, count} end
redis.call('ZADD', KEYS[1], now, ARGV[4])
redis.call('PEXPIRE', KEYS[1], window)
return {1, count + 1}
`

export interface RateLimitResult {
  allowed: boolean
  /** Actions counted in the window, this one included when allowed. */
  count: number
  max: number
  windowSeconds: number
}

export async function takeRateLimit(
  actionId: string,
  resourceId: string,
  incidentId: string,
  max: number,
  windowSeconds: number,
  redis: Redis = getRedis(),
  nowMs = Date.now(),
): Promise<RateLimitResult> {
  const key = `sentinel:ratelimit:${actionId}:${resourceId}`
  const [allowed, count] = (await redis.eval(
    LUA,
    1,
    key,
    String(nowMs),
    String(windowSeconds * 1000),
    String(max),
    incidentId,
  )) as [number, number]
  return { allowed: allowed === 1, count, max, windowSeconds }
}
