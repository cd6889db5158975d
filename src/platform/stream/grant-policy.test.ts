import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { streamGrantPolicy } from './grant-policy'

describe('stream grant policy', () => {
  const keys = new Set(['k1'])
  const policy = (maxSecondsAfterExpiry: number) =>
    streamGrantPolicy({ keyExists: (id) => keys.has(id), maxSecondsAfterExpiry })
  const expiresAt = 1_000_000

  test('holds while the key exists and until maxSecondsAfterExpiry after the expiry', () => {
    const p = policy(900)
    assert.deepEqual(p({ ok: true, keyId: 'k1', expiresAt }, expiresAt * 1000 - 1), { ok: true })
    assert.deepEqual(p({ ok: true, keyId: 'k1', expiresAt }, (expiresAt + 900) * 1000 - 1), { ok: true })
    assert.deepEqual(p({ ok: true, keyId: 'k1', expiresAt }, (expiresAt + 900) * 1000), {
      ok: false,
      reason: 'token_expired',
    })
  })

  test('0: the stream ends at the expiry', () => {
    assert.deepEqual(policy(0)({ ok: true, keyId: 'k1', expiresAt }, expiresAt * 1000 - 1), { ok: true })
    assert.deepEqual(policy(0)({ ok: true, keyId: 'k1', expiresAt }, expiresAt * 1000), {
      ok: false,
      reason: 'token_expired',
    })
  })

  test('a key that is no longer a key ends it at once, expiry or not', () => {
    assert.deepEqual(policy(900)({ ok: true, keyId: 'k2', expiresAt }, 0), { ok: false, reason: 'key_revoked' })
  })

  test('a grant that does not say which key, or until when, is not kept', () => {
    assert.deepEqual(policy(900)({ ok: true, expiresAt }, 0), { ok: false, reason: 'key_revoked' })
    assert.deepEqual(policy(900)({ ok: true, keyId: 'k1' }, 0), { ok: false, reason: 'token_expired' })
  })
})
