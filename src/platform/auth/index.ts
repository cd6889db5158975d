/**
 * API authentication and authorization, in one call for the API middleware:
 * checkRequest → 200 (with the role), 401 (no or wrong key), 403 (role too low) or
 * 429 (no valid key, and too many failed attempts from this client; Retry-After in seconds).
 * The client is `clientAddress(...)` of the request, worked out by the main process's front door.
 */
import { authenticate, type HeaderBag } from './authenticate'
import type { KeyStore } from './keys'
import type { FailureLimiter } from './limiter'
import { authorize, whoMay, type Permission, type Role } from './roles'
import { verifyStreamToken } from './stream-token'

export * from './roles'
export { authenticate, presentedKey, type AuthResult, type HeaderBag } from './authenticate'
export {
  loadKeyStore,
  keyStoreLoader,
  parseApiKeysEnv,
  defaultKeyFile,
  issueKeys,
  KeyConfigError,
  MIN_KEY_LENGTH,
  type KeyStore,
  type KeyEntry,
} from './keys'
export { createFailureLimiter, clientKey, type FailureLimiter, type LimitState } from './limiter'
export { clientAddress, normalizeAddress } from './client-address'
export { issueStreamToken, verifyStreamToken, setStreamTokenSecret, type StreamTokenClaims } from './stream-token'

export interface CheckRequestInput {
  headers: HeaderBag
  /** The client whose failures are counted: clientAddress() of the request (see client-address.ts). */
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

/**
 * Credentials first, the limiter second: a request with a valid key (or stream token) is answered
 * on its merits and never meets the failure limit, so no number of wrong guesses from an address
 * (or from everyone behind the same proxy) can lock out the right key. Only unauthenticated
 * requests meet it: a wrong key, a malformed one or a bad stream token counts as a failure; a
 * missing key counts for nothing (it is not a guess) but is refused with 429 while the client is
 * blocked, like any other request without valid credentials.
 */
export async function checkRequest(
  req: CheckRequestInput,
  needed: Permission,
  deps: CheckRequestDeps,
): Promise<CheckResult> {
  const client = req.ip ?? 'unknown'
  const limiter = deps.limiter

  let role: Role
  let keyId: string
  const auth = authenticate(req.headers, deps.keys)
  if (auth.ok) {
    role = auth.role
    keyId = auth.keyId
  } else if (auth.reason === 'missing' && req.streamToken) {
    const t = verifyStreamToken(req.streamToken)
    if (!t.ok)
      return refuseGuess(
        `the stream token is ${t.reason === 'expired' ? 'expired' : 'not valid'}; ask for a new one`,
        'invalid_token',
      )
    role = t.role
    keyId = t.keyId
  } else if (auth.reason === 'missing') {
    const state = limiter && (await guarded(() => limiter.check(client)))
    if (state?.blocked) return tooMany(state.retryAfter, limiter!)
    return { status: 401, error: 'missing_key', message: auth.message }
  } else {
    return refuseGuess(auth.message, 'invalid_key')
  }

  if (!authorize(role, needed)) {
    return {
      status: 403,
      role,
      keyId,
      error: 'forbidden',
      message: `this needs ${whoMay(needed)} (permission ${needed}); your key is ${role}`,
    }
  }
  return { status: 200, role, keyId }

  async function refuseGuess(message: string, error: string): Promise<CheckResult> {
    const state = limiter && (await guarded(() => limiter.recordFailure(client)))
    deps.log?.('info', 'authentication failed', { client, error, blocked: state?.blocked ?? false })
    // Counted and under the limit: this one still gets its 401; once at the limit, 429 until it ages out.
    if (state?.blocked) return tooMany(state.retryAfter, limiter!)
    return { status: 401, error, message }
  }

  async function guarded<T>(fn: () => Promise<T>): Promise<T | undefined> {
    try {
      return await fn()
    } catch (err) {
      // A Redis outage must not lock everyone out; keys are long and random, so the limiter is a second line.
      deps.log?.('warn', 'auth failure limiter unavailable', { error: (err as Error).message })
      return undefined
    }
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
