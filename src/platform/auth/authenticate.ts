/** Finds which configured key a request carries, comparing digests in constant time. */
import { timingSafeEqual } from 'node:crypto'
import { sha256, type KeyStore } from './keys'
import type { Role } from './roles'

export type HeaderBag = Record<string, string | string[] | undefined> | Headers

export type AuthFailure = 'missing' | 'malformed' | 'invalid'

export type AuthResult = { ok: true; role: Role; keyId: string } | { ok: false; reason: AuthFailure; message: string }

// Longer than any key we make by far; refusing early keeps junk out of the hash.
const MAX_PRESENTED = 512

function header(headers: HeaderBag, name: string): string | undefined {
  if (typeof (headers as Headers).get === 'function' && !(name in headers)) {
    return (headers as Headers).get(name) ?? undefined
  }
  const bag = headers as Record<string, string | string[] | undefined>
  let v = bag[name]
  if (v === undefined) {
    const found = Object.keys(bag).find((k) => k.toLowerCase() === name)
    v = found ? bag[found] : undefined
  }
  return Array.isArray(v) ? v[0] : v
}

/** The key a request presents: `Authorization: Bearer <key>` first, else `X-API-Key`. */
export function presentedKey(headers: HeaderBag): { key: string } | { error: AuthFailure; message: string } {
  const auth = header(headers, 'authorization')?.trim()
  const apiKey = header(headers, 'x-api-key')?.trim()
  if (auth) {
    const m = /^Bearer\s+(\S+)$/i.exec(auth)
    if (m) return check(m[1])
    if (!apiKey) return { error: 'malformed', message: 'the Authorization header must be "Bearer <API key>"' }
  }
  if (apiKey) return check(apiKey)
  return {
    error: 'missing',
    message: 'an API key is required: send "Authorization: Bearer <key>" or "X-API-Key: <key>"',
  }
}

function check(key: string): { key: string } | { error: AuthFailure; message: string } {
  if (key.length > MAX_PRESENTED) return { error: 'malformed', message: 'the API key is too long' }
  return { key }
}

/**
 * Authenticates a request's headers against every configured key. Every digest is compared (no early
 * exit), so the time taken says nothing about which key, or how much of one, matched.
 */
export function authenticate(headers: HeaderBag, store: KeyStore): AuthResult {
  const p = presentedKey(headers)
  if ('error' in p) return { ok: false, reason: p.error, message: p.message }
  const digest = sha256(p.key)
  let match: { role: Role; id: string } | undefined
  for (const entry of store.entries) {
    const equal = entry.digest.length === digest.length && timingSafeEqual(entry.digest, digest)
    if (equal && !match) match = { role: entry.role, id: entry.id }
  }
  if (!match) return { ok: false, reason: 'invalid', message: 'the API key is not valid' }
  return { ok: true, role: match.role, keyId: match.id }
}
