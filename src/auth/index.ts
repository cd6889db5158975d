/**
 * API authentication and authorization, in one call for the API middleware:
 * checkRequest → 200 (with the role), 401 (no or wrong key), 403 (role too low) or
 * 429 (too many failed attempts from this client; Retry-After in seconds).
 */
import { authenticate, type HeaderBag } from './authenticate'
import type { KeyStore } from './keys'
import type { FailureLimiter } from './limiter'
import { authorize, whoMay, type Permission, type Role } from './roles'
import { verifyStreamToken } from './stream-token'

export * from './roles'
export { authenticate, presentedKey, type AuthResult, type HeaderBag } from './authenticate'
export { loadKeyStore, keyStoreLoader, parseApiKeysEnv, defaultKeyFile, issueKeys, KeyConfigError, MIN_KEY_LENGTH, type KeyStore, type KeyEntry } from './keys'
export { createFailureLimiter, clientKey, type FailureLimiter } from './limiter'
export { issueStreamToken, verifyStreamToken, setStreamTokenSecret, type StreamTokenClaims } from './stream-token'

export interface CheckRequestInput {
  headers: HeaderBag
  ip?: string
  /** A stream token (from `?token=` on an SSE request), used when the request carries no key. */
  streamToken?: string
}

export interface CheckRequestDeps {
  keys: KeyStore
  /** Without one, failures are not limited (tests, single-user setups). */
  limiter?: FailureLimiter
  /** Told about failures and limiter errors; never receives the key. */
  log?: (level: 'info' | 'warn', msg: string, data: Record<string, unknown>) => void
}

export interface CheckResult {
  status: 200 | 401 | 403 | 429
  role?: Role
  keyId?: string
  /** A short code: missing_key, invalid_key, forbidden, too_many_failures. */
  error?: string
  message?: string
  /** Seconds, with 429: send as the Retry-After header. */
  retryAfter?: number
}

export async function checkRequest(req: CheckRequestInput, needed: Permission, deps: CheckRequestDeps): Promise<CheckResult> {
  const client = req.ip ?? 'unknown'
  const limiter = deps.limiter
  const guarded = async <T>(fn: () => Promise<T>): Promise<T | undefined> => {
    try {
      return await fn()
    } catch (err) {
      // A Redis outage must not lock everyone out; keys are long and random, so the limiter is a second line.
      deps.log?.('warn', 'auth failure limiter unavailable', { error: (err as Error).message })
      return undefined
    }
  }
  if (limiter) {
    const state = await guarded(() => limiter.check(client))
    if (state?.blocked) return tooMany(state.retryAfter, limiter)
  }

  let role: Role
  let keyId: string
  const auth = authenticate(req.headers, deps.keys)
  if (auth.ok) {
    role = auth.role
    keyId = auth.keyId
  } else if (auth.reason === 'missing' && req.streamToken) {
    const t = verifyStreamToken(req.streamToken)
    if (!t.ok) return fail(`the stream token is ${t.reason === 'expired' ? 'expired' : 'not valid'}; ask for a new one`, 'invalid_token')
    role = t.role
    keyId = t.keyId
  } else if (auth.reason === 'missing') {
    // No key is not a guess, so it does not count towards the limit.
    return { status: 401, error: 'missing_key', message: auth.message }
  } else {
    return fail(auth.message, 'invalid_key')
  }

  if (!authorize(role, needed)) {
    return { status: 403, role, keyId, error: 'forbidden', message: `this needs ${whoMay(needed)} (permission ${needed}); your key is ${role}` }
  }
  return { status: 200, role, keyId }

  async function fail(message: string, error: string): Promise<CheckResult> {
    deps.log?.('info', 'authentication failed', { client, error })
    // This request still gets its 401; the client's next one meets the limit.
    if (limiter) await guarded(() => limiter.fail(client))
    return { status: 401, error, message }
  }
}

function tooMany(retryAfter: number, limiter: FailureLimiter): CheckResult {
  return {
    status: 429,
    error: 'too_many_failures',
    message: `${limiter.maxFailures} or more failed authentications from this client in ${limiter.windowSeconds} s; retry after ${retryAfter} s`,
    retryAfter,
  }
}
