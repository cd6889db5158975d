/**
 * How a request presents a secret: an API key as a Bearer token or, from a browser opening the
 * Workbench, as the password of HTTP Basic; and a constant-time comparison for shared secrets
 * (the metrics token). Shared by the front door and the WebSocket gate, which see the same headers.
 */
import { createHash, timingSafeEqual } from 'node:crypto'
import type { IncomingHttpHeaders } from 'node:http'

/** Makes `Basic base64(user:key)` (what a browser sends for the Workbench) a Bearer key. */
export function keyHeaders(headers: IncomingHttpHeaders): IncomingHttpHeaders {
  const auth = headers.authorization
  if (typeof auth !== 'string' || !/^basic\s+/i.test(auth)) return headers
  const decoded = Buffer.from(auth.replace(/^basic\s+/i, ''), 'base64').toString('utf8')
  const colon = decoded.indexOf(':')
  return { ...headers, authorization: `Bearer ${colon >= 0 ? decoded.slice(colon + 1) : decoded}` }
}

/** Compares digests, so the time taken says nothing about how much of the secret matched. */
export function sameSecret(presented: string | undefined, expected: string): boolean {
  if (!presented) return false
  const a = createHash('sha256').update(presented).digest()
  const b = createHash('sha256').update(expected).digest()
  return timingSafeEqual(a, b)
}
