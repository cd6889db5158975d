/**
 * Counts failed authentications per client in a Redis sorted set (shared by every process), and
 * turns a client away for a while once it has failed too often: a sliding window of
 * `maxFailures` per `windowSeconds`.
 */
import { randomBytes } from 'node:crypto'
import type { Redis } from 'ioredis'

export interface FailureLimiterOptions {
  maxFailures?: number
  windowSeconds?: number
  prefix?: string
  now?: () => number
}

export interface FailureLimiter {
  /** Whether the client is over the limit now; retryAfter in whole seconds when it is. */
  check(client: string): Promise<{ blocked: boolean; retryAfter: number; failures: number }>
  /** Records one failure; returns the same as check afterwards. */
  fail(client: string): Promise<{ blocked: boolean; retryAfter: number; failures: number }>
  readonly maxFailures: number
  readonly windowSeconds: number
}

// Prunes old failures, optionally adds one, and reports the count and when the oldest counted one
// leaves the window. One script, so concurrent requests cannot both slip under the limit.
const LUA = `
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if ARGV[3] ~= '' then
  redis.call('ZADD', KEYS[1], now, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], window)
end
local count = redis.call('ZCARD', KEYS[1])
local max = tonumber(ARGV[4])
if count < max then return {count, 0} end
-- Blocked until enough failures age out to bring the count under the limit.
local nth = redis.call('ZRANGE', KEYS[1], count - max, count - max, 'WITHSCORES')
return {count, tonumber(nth[2]) + window - now}
`

/** A client address safe to use in a Redis key: IPv4-mapped IPv6 folded, length capped. */
export function clientKey(ip: string | undefined): string {
  const s = (ip ?? '').trim().replace(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/i, '$1')
  const clean = s.replace(/[^0-9A-Za-z:._%-]/g, '').slice(0, 64)
  return clean || 'unknown'
}

export function createFailureLimiter(redis: Redis, opts: FailureLimiterOptions = {}): FailureLimiter {
  const maxFailures = opts.maxFailures ?? 10
  const windowSeconds = opts.windowSeconds ?? 60
  if (!Number.isInteger(maxFailures) || maxFailures < 1) throw new Error('maxFailures must be a whole number of at least 1')
  if (!(windowSeconds > 0)) throw new Error('windowSeconds must be positive')
  const prefix = opts.prefix ?? 'sentinel:auth:failures:'
  const now = opts.now ?? Date.now
  const run = async (client: string, member: string) => {
    const [failures, waitMs] = (await redis.eval(LUA, 1, prefix + clientKey(client), String(now()), String(windowSeconds * 1000), member, String(maxFailures))) as [number, number]
    return { blocked: waitMs > 0, retryAfter: waitMs > 0 ? Math.max(1, Math.ceil(waitMs / 1000)) : 0, failures }
  }
  return {
    maxFailures,
    windowSeconds,
    check: (client) => run(client, ''),
    fail: (client) => run(client, `${now()}-${randomBytes(6).toString('hex')}`),
  }
}
