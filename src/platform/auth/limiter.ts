/**
 * Counts failed authentications per client in a Redis sorted set (shared by every process): a
 * sliding window of `maxFailures` per `windowSeconds`. A client at the limit is blocked until
 * enough of its failures age out. The limit is for guesses only: checkRequest never asks it about
 * a request that carries a valid key, so a blocked client with the right key still gets in.
 */
import { randomBytes } from 'node:crypto'
import { isIPv6 } from 'node:net'
import type { Redis } from 'ioredis'
import { normalizeAddress } from './client-address'

export interface FailureLimiterOptions {
  maxFailures?: number
  windowSeconds?: number
  prefix?: string
  now?: () => number
}

export interface LimitState {
  /** The client is at the limit: refuse its unauthenticated requests with 429. */
  blocked: boolean
  /** Whole seconds until it is under the limit again (0 when not blocked): the Retry-After. */
  retryAfter: number
  /** Failures counted in the window. */
  failures: number
}

export interface FailureLimiter {
  /** The client's state now; counts nothing. */
  check(client: string): Promise<LimitState>
  /**
   * Counts one failed attempt, unless the client is already blocked: then nothing is counted and
   * `blocked` is true (refuse this attempt with 429). Check and count are one step, so concurrent
   * guesses cannot all slip in under the limit, and a blocked client's further guesses do not
   * extend its block.
   */
  recordFailure(client: string): Promise<LimitState>
  readonly maxFailures: number
  readonly windowSeconds: number
}

// KEYS[1]: the client's set. ARGV: now (ms), window (ms), member to add ('' to only look), max.
// Prunes failures older than the window; when under the limit, adds the member; then reports the
// count and, at the limit, how long until the oldest failure that keeps it there leaves the window.
const LUA = `
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local max = tonumber(ARGV[4])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local count = redis.call('ZCARD', KEYS[1])
if count >= max then
  local nth = redis.call('ZRANGE', KEYS[1], count - max, count - max, 'WITHSCORES')
  return {count, math.max(1, tonumber(nth[2]) + window - now)}
end
if ARGV[3] ~= '' then
  redis.call('ZADD', KEYS[1], now, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], window)
  count = count + 1
end
return {count, 0}
`

/**
 * The bucket a client's failures are counted in, safe to use in a Redis key: an IPv4 address, the
 * /64 prefix of an IPv6 address (one host is usually given a whole /64, so counting per address
 * would give it 2^64 fresh budgets), or the text itself, length capped.
 */
export function clientKey(client: string | undefined): string {
  const address = normalizeAddress(client)
  const s = address && isIPv6(address) ? ipv6Prefix64(address) : (address ?? (client ?? '').trim())
  const clean = s.replace(/[^0-9A-Za-z:._%/-]/g, '').slice(0, 64)
  return clean || 'unknown'
}

/** "2001:db8:1:2:3:4:5:6" → "2001:db8:1:2::/64" (input canonical, as normalizeAddress gives it). */
function ipv6Prefix64(address: string): string {
  const [head, tail = ''] = address.split('::')
  const left = head ? head.split(':') : []
  const right = address.includes('::') && tail ? tail.split(':') : []
  const groups = [...left, ...Array(8 - left.length - right.length).fill('0'), ...right]
  return `${groups
    .slice(0, 4)
    .map((g) => g.replace(/^0+(?=.)/, ''))
    .join(':')}::/64`
}

export function createFailureLimiter(redis: Redis, opts: FailureLimiterOptions = {}): FailureLimiter {
  const maxFailures = opts.maxFailures ?? 10
  const windowSeconds = opts.windowSeconds ?? 60
  if (!Number.isInteger(maxFailures) || maxFailures < 1)
    throw new Error('maxFailures must be a whole number of at least 1')
  if (!(windowSeconds > 0)) throw new Error('windowSeconds must be positive')
  const prefix = opts.prefix ?? 'sentinel:auth:failures:'
  const now = opts.now ?? Date.now
  const run = async (client: string, member: string): Promise<LimitState> => {
    const [failures, waitMs] = (await redis.eval(
      LUA,
      1,
      prefix + clientKey(client),
      String(now()),
      String(windowSeconds * 1000),
      member,
      String(maxFailures),
    )) as [number, number]
    return { blocked: waitMs > 0, retryAfter: waitMs > 0 ? Math.ceil(waitMs / 1000) : 0, failures }
  }
  return {
    maxFailures,
    windowSeconds,
    check: (client) => run(client, ''),
    recordFailure: (client) => run(client, `${now()}-${randomBytes(6).toString('hex')}`),
  }
}
