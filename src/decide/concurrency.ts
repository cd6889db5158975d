/**
 * A cap on remediations running at once, shared by every process: a Redis sorted set of leases
 * (member = incident id, score = when the lease runs out). A worker that crashes never releases,
 * so its lease simply runs out and the slot frees itself.
 */
import type { Redis } from 'ioredis'
import { getRedis } from '../platform/store/redis'

export const LEASES_KEY = 'sentinel:remediation:leases'

// Drops run-out leases, then: the incident's own lease is renewed; a new one is taken only under the cap.
const ACQUIRE = `
local now = tonumber(ARGV[1])
local expires = now + tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZSCORE', KEYS[1], ARGV[3]) then
  redis.call('ZADD', KEYS[1], expires, ARGV[3])
  return 1
end
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[4]) then return 0 end
redis.call('ZADD', KEYS[1], expires, ARGV[3])
return 1
`

// Extends a lease only while it is still held; a run-out lease may already belong to someone else's slot.
const RENEW = `
local now = tonumber(ARGV[1])
local score = redis.call('ZSCORE', KEYS[1], ARGV[3])
if not score or tonumber(score) <= now then return 0 end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[3])
return 1
`

export interface ConcurrencyOptions {
  redis?: Redis
  key?: string
  now?: () => number
}

function check(incidentId: string, ttlMs: number) {
  if (typeof incidentId !== 'string' || incidentId.length === 0 || incidentId.length > 256)
    throw new Error('incidentId must be a non-empty string of at most 256 characters')
  if (!Number.isInteger(ttlMs) || ttlMs < 1) throw new Error('ttlMs must be a positive whole number of milliseconds')
}

/**
 * Takes a slot for the incident when fewer than `cap` leases are live (or the incident already holds
 * one, which is then renewed). Returns whether the incident may run.
 */
export async function acquire(
  incidentId: string,
  cap: number,
  ttlMs: number,
  opts: ConcurrencyOptions = {},
): Promise<boolean> {
  check(incidentId, ttlMs)
  if (!Number.isInteger(cap) || cap < 1) throw new Error('cap must be a whole number of at least 1')
  const redis = opts.redis ?? getRedis()
  const now = (opts.now ?? Date.now)()
  return (
    (await redis.eval(ACQUIRE, 1, opts.key ?? LEASES_KEY, String(now), String(ttlMs), incidentId, String(cap))) === 1
  )
}

/** Extends a held lease (for a long remediation); false when the lease had already run out. */
export async function renew(incidentId: string, ttlMs: number, opts: ConcurrencyOptions = {}): Promise<boolean> {
  check(incidentId, ttlMs)
  const redis = opts.redis ?? getRedis()
  return (
    (await redis.eval(
      RENEW,
      1,
      opts.key ?? LEASES_KEY,
      String((opts.now ?? Date.now)()),
      String(ttlMs),
      incidentId,
    )) === 1
  )
}

/** Frees the incident's slot. Releasing a slot not held is harmless. */
export async function release(incidentId: string, opts: ConcurrencyOptions = {}): Promise<void> {
  await (opts.redis ?? getRedis()).zrem(opts.key ?? LEASES_KEY, incidentId)
}

/** The incidents holding a live lease now, with when each runs out. */
export async function running(opts: ConcurrencyOptions = {}): Promise<{ incidentId: string; expiresAt: number }[]> {
  const redis = opts.redis ?? getRedis()
  const now = (opts.now ?? Date.now)()
  const flat = await redis.zrangebyscore(opts.key ?? LEASES_KEY, `(${now}`, '+inf', 'WITHSCORES')
  const out: { incidentId: string; expiresAt: number }[] = []
  for (let i = 0; i < flat.length; i += 2) out.push({ incidentId: flat[i], expiresAt: Number(flat[i + 1]) })
  return out
}
