/**
 * Telling "Redis is unreachable" apart from a fault in Sentinel: the first is answered with 503 and
 * Retry-After (a client such as Alertmanager retries, so nothing is lost), the second with 500.
 */

/** Seconds a client is asked to wait before retrying while the store is unreachable. */
export const STORE_RETRY_AFTER_SECONDS = 5

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'ENOTCONN',
  'EHOSTUNREACH',
  'ENETUNREACH',
])

/** An error of the Redis client that means the server cannot be reached now. */
export function isStoreUnavailable(err: unknown, depth = 0): boolean {
  if (!err || typeof err !== 'object' || depth > 4) return false
  const e = err as {
    name?: unknown
    message?: unknown
    code?: unknown
    cause?: unknown
    errors?: unknown
    lastNodeError?: unknown
  }
  if (e.name === 'MaxRetriesPerRequestError') return true
  if (typeof e.code === 'string' && NETWORK_CODES.has(e.code)) return true
  const message = typeof e.message === 'string' ? e.message : ''
  // ioredis, when the connection is down and commands cannot be queued or sent
  if (/^Connection is closed\.?$|Stream isn't writeable|connect ECONNREFUSED/.test(message)) return true
  if (isStoreUnavailable(e.cause, depth + 1) || isStoreUnavailable(e.lastNodeError, depth + 1)) return true
  return Array.isArray(e.errors) && e.errors.some((x) => isStoreUnavailable(x, depth + 1))
}

/** The JSON answer for a request that needed the store while it was unreachable. */
export const storeUnavailableBody = {
  error: 'store_unavailable',
  message: `Sentinel's store (Redis) is unreachable; nothing was recorded. Retry in ${STORE_RETRY_AFTER_SECONDS} s.`,
}
