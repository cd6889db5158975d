/**
 * Short-lived tokens for Server-Sent Events: a browser's EventSource cannot send headers, so an
 * authenticated client first asks for a token and then opens the stream with `?token=...`.
 * A token is `<payload>.<signature>`, both base64url; the signature is HMAC-SHA256 with a server
 * secret: SENTINEL_STREAM_SECRET from the configuration (the environment or `.env`), else a random
 * one made at start. Tokens are issued and checked only in the main process, which reads the
 * configuration before it scrubs the secret from its environment (src/platform/config/secrets.ts),
 * so the secret never needs to reach another process; a fixed one lets tokens survive a restart.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import { getConfig } from '../config/index'
import { isRole, type Role } from './roles'

let secret: Buffer | undefined

/** Sets the signing secret (at least 32 characters) instead of the configuration's (tests). */
export function setStreamTokenSecret(value: string): void {
  if (value.length < 32) throw new Error('SENTINEL_STREAM_SECRET must be at least 32 characters')
  secret = Buffer.from(value, 'utf8')
}

function key(): Buffer {
  if (!secret) {
    const configured = getConfig().SENTINEL_STREAM_SECRET
    secret = configured ? Buffer.from(configured, 'utf8') : randomBytes(32)
  }
  return secret
}

const sign = (payload: string) => createHmac('sha256', key()).update(payload).digest()

export interface StreamTokenClaims {
  role: Role
  keyId: string
  /** Unix seconds. */
  expiresAt: number
}

export function issueStreamToken(
  role: Role,
  keyId: string,
  ttlSec = 60,
  nowMs = Date.now(),
): { token: string; expiresAt: number } {
  if (!isRole(role)) throw new Error(`unknown role ${String(role)}`)
  if (!(ttlSec > 0 && ttlSec <= 3600)) throw new Error('ttlSec must be from 1 to 3600')
  const expiresAt = Math.floor(nowMs / 1000) + Math.ceil(ttlSec)
  const payload = Buffer.from(
    JSON.stringify({ r: role, k: keyId, e: expiresAt, n: randomBytes(8).toString('base64url') }),
  ).toString('base64url')
  return { token: `${payload}.${sign(payload).toString('base64url')}`, expiresAt }
}

export type StreamTokenResult =
  ({ ok: true } & StreamTokenClaims) | { ok: false; reason: 'malformed' | 'bad_signature' | 'expired' }

export function verifyStreamToken(token: string | undefined | null, nowMs = Date.now()): StreamTokenResult {
  if (typeof token !== 'string' || token.length > 1024) return { ok: false, reason: 'malformed' }
  const m = /^([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)$/.exec(token)
  if (!m) return { ok: false, reason: 'malformed' }
  const given = Buffer.from(m[2], 'base64url')
  const expected = sign(m[1])
  if (given.length !== expected.length || !timingSafeEqual(given, expected))
    return { ok: false, reason: 'bad_signature' }
  let claims: { r?: unknown; k?: unknown; e?: unknown }
  try {
    claims = JSON.parse(Buffer.from(m[1], 'base64url').toString('utf8'))
  } catch {
    return { ok: false, reason: 'malformed' }
  }
  if (!isRole(claims.r) || typeof claims.k !== 'string' || typeof claims.e !== 'number')
    return { ok: false, reason: 'malformed' }
  if (Math.floor(nowMs / 1000) >= claims.e) return { ok: false, reason: 'expired' }
  return { ok: true, role: claims.r, keyId: claims.k, expiresAt: claims.e }
}
