/**
 * How long a live stream may stay open: while the key its token was issued for is still a key
 * (`npm run keys -- --rotate`, or editing the key file, revokes it), and until at most
 * `maxSecondsAfterExpiry` after its token's expiry (0: at the expiry). The page then reconnects
 * with a new token, which only a valid key can get; so a stream never outlives its key, and a key
 * holder's stream is re-authorised every `token TTL + maxSecondsAfterExpiry` at the latest.
 *
 * What a key is comes from the caller (the hub's layer knows nothing of keys or configuration).
 */
import type { GrantVerdict, TokenCheck } from './hub'

export interface StreamGrantPolicyOptions {
  /** Whether a key id is still valid. */
  keyExists: (keyId: string) => boolean
  /** Seconds a stream may stay open after its token expired. */
  maxSecondsAfterExpiry: number
}

export function streamGrantPolicy(opts: StreamGrantPolicyOptions): (grant: TokenCheck, nowMs: number) => GrantVerdict {
  return (grant, nowMs) => {
    // A grant that does not say which key or until when cannot be rechecked: it is not kept.
    if (typeof grant.keyId !== 'string' || !opts.keyExists(grant.keyId)) return { ok: false, reason: 'key_revoked' }
    if (typeof grant.expiresAt !== 'number') return { ok: false, reason: 'token_expired' }
    if (nowMs >= (grant.expiresAt + opts.maxSecondsAfterExpiry) * 1000) return { ok: false, reason: 'token_expired' }
    return { ok: true }
  }
}
