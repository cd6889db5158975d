/**
 * @long (waits out a stream token's lifetime): scripts/test.sh starts it first, so it does not end the run alone.
 *
 * A live stream (SSE) of a real Sentinel does not outlive what its token granted: it ends, with a
 * final `reauth` event, within seconds of its key being revoked (the key file rewritten, as
 * `npm run keys -- --rotate` does), and at most STREAM_MAX_SECONDS after its token's expiry.
 * Keys come from a key file only (SENTINEL_API_KEYS empty).
 *
 * Tokens live STREAM_TOKEN_TTL_SECONDS (60 s by default), 20 s here: long enough for every token
 * of the first test to stay unexpired through it (a revocation is given up to 10 s, then 4 s more),
 * so what ends a stream or refuses a token there is the revocation, never an expiry; and the
 * operator's stream, opened before it, outlives it and is the one that expires in the second.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { issueKeys, type IssuedKey } from '../../src/platform/auth/keys'
import type { Role } from '../../src/platform/auth/roles'
import { connectSse, type SseConnection } from '../../src/platform/stream/sse-client'
import { startRedis, type TestRedis } from '../helpers/redis'
import { type SentinelInstance, startSentinel } from '../helpers/sentinel'

const STREAM_MAX_SECONDS = 2
const STREAM_TOKEN_TTL_SECONDS = 20

/** Waits for `p`, or `ms` at most; the timer is cleared either way (left pending, it would keep the file's process alive). */
async function within(p: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined
  await Promise.race([p, new Promise((r) => (timer = setTimeout(r, ms)))])
  clearTimeout(timer)
}

describe('a live stream ends when its grant no longer holds', { timeout: 180_000 }, () => {
  let redis: TestRedis
  let sentinel: SentinelInstance
  let keyDir: string
  let keyFile: string
  let keys: Record<Role, IssuedKey>
  const open: SseConnection[] = []
  /** Opened first, with the operator's key (never revoked): it must end by its token's expiry. */
  let expiring: { conn: SseConnection; expiresAt: number; endedAt?: number }

  const tokenFor = async (key: string) => {
    const res = await fetch(`${sentinel.url}/api/stream/token`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}` },
    })
    return {
      status: res.status,
      body: (await res.json()) as { token: string; expiresAt: number; ttlSeconds: number },
    }
  }
  const stream = async (token: string) => {
    const c = await connectSse(`${sentinel.url}/api/stream?token=${encodeURIComponent(token)}`)
    open.push(c)
    return c
  }
  const openStream = async (key: string) => {
    const t = await tokenFor(key)
    assert.equal(t.status, 200, JSON.stringify(t.body))
    const c = await stream(t.body.token)
    assert.equal(c.status, 200)
    await c.waitFor((x) => x.events.some((e) => e.event === 'ready'), 10_000, 'the ready event')
    return { conn: c, expiresAt: t.body.expiresAt }
  }
  const reauth = (c: SseConnection) => {
    const last = c.events.at(-1)
    assert.equal(last?.event, 'reauth', `the last event is reauth: ${JSON.stringify(c.events.slice(-3))}`)
    return JSON.parse(last!.data) as { reason: string }
  }

  before(async () => {
    keyDir = mkdtempSync(path.join(os.tmpdir(), 'sentinel-test-keys-'))
    keyFile = path.join(keyDir, 'api-keys.json')
    const { issued } = issueKeys({ file: keyFile })
    keys = Object.fromEntries(issued.map((k) => [k.role, k])) as Record<Role, IssuedKey>
    redis = await startRedis()
    sentinel = await startSentinel({
      redisPort: redis.port,
      env: {
        SENTINEL_API_KEYS: '',
        API_KEYS_FILE: keyFile,
        STREAM_MAX_SECONDS: String(STREAM_MAX_SECONDS),
        STREAM_TOKEN_TTL_SECONDS: String(STREAM_TOKEN_TTL_SECONDS),
      },
    })
    // The configured lifetime is the one tokens get.
    const probe = await tokenFor(keys.operator.key)
    assert.equal(probe.body.ttlSeconds, STREAM_TOKEN_TTL_SECONDS)
    const lifetime = probe.body.expiresAt - Date.now() / 1000
    assert.ok(
      lifetime > STREAM_TOKEN_TTL_SECONDS - 5 && lifetime <= STREAM_TOKEN_TTL_SECONDS + 1,
      `a token expires in ${lifetime} s`,
    )
    expiring = await openStream(keys.operator.key)
    void expiring.conn.ended$.then(() => (expiring.endedAt = Date.now()))
  })
  after(async () => {
    for (const c of open) c.close()
    await sentinel?.cleanup()
    await redis?.stop()
    rmSync(keyDir, { recursive: true, force: true })
  })

  it("revoking a key ends its stream within seconds; other keys' streams stay; its unused tokens open nothing", async () => {
    const viewer = await openStream(keys.viewer.key)
    const admin = await openStream(keys.admin.key)
    // A second token of the same key, still signed and unexpired after the revocation.
    const spare = await tokenFor(keys.viewer.key)
    assert.equal(spare.status, 200)

    // What `npm run keys -- --rotate --role viewer` does: the viewer key is replaced in the file.
    const revokedAt = Date.now()
    const { issued } = issueKeys({ file: keyFile, roles: ['viewer'], rotate: true })
    await within(viewer.conn.ended$, 15_000)
    assert.equal(viewer.conn.ended, true, 'the revoked key’s stream ended')
    const took = Date.now() - revokedAt
    assert.ok(took < 10_000, `it ended ${took} ms after the revocation`)
    assert.deepEqual(reauth(viewer.conn), { reason: 'key_revoked' })

    // Still unexpired: a 401 here can only come from the revocation.
    assert.ok(Date.now() < spare.body.expiresAt * 1000, 'the spare token has not expired yet')
    const reopened = await stream(spare.body.token)
    await reopened.ended$
    assert.equal(reopened.status, 401, 'a token issued before the revocation opens nothing')
    assert.equal((await tokenFor(keys.viewer.key)).status, 401, 'the revoked key gets no new token')
    // The page's reconnect with the new key works.
    const renewed = await openStream(issued[0].key)

    // Past at least one more recheck: the streams of keys still valid are untouched.
    await new Promise((r) => setTimeout(r, 4000))
    assert.equal(admin.conn.ended, false, 'the admin key’s stream stays open')
    assert.equal(renewed.conn.ended, false, 'the new viewer key’s stream stays open')
    assert.ok(
      Date.now() < (expiring.expiresAt + STREAM_MAX_SECONDS) * 1000,
      'this test ended before the operator’s token expired (+ STREAM_MAX_SECONDS): its stream must still be open',
    )
    assert.equal(expiring.conn.ended, false, 'the operator’s stream stays open until its token’s expiry')
  })

  it(`with STREAM_MAX_SECONDS=${STREAM_MAX_SECONDS}, a stream ends within seconds after its token's ${STREAM_TOKEN_TTL_SECONDS} s expiry, not before`, async () => {
    const late = await openStream(keys.admin.key)
    const due = (expiring.expiresAt + STREAM_MAX_SECONDS) * 1000
    await within(expiring.conn.ended$, Math.max(0, due - Date.now()) + 15_000)
    assert.equal(expiring.conn.ended, true, 'the stream ended')
    const endedAt = expiring.endedAt ?? Date.now()
    assert.ok(endedAt >= due - 100, `it ended ${due - endedAt} ms before the token's expiry + ${STREAM_MAX_SECONDS} s`)
    assert.ok(endedAt < due + 10_000, `it ended ${endedAt - due} ms after the token's expiry + ${STREAM_MAX_SECONDS} s`)
    assert.deepEqual(reauth(expiring.conn), { reason: 'token_expired' })
    // Per token: a stream whose token was issued later is still open.
    assert.equal(late.conn.ended, false, 'a stream with a younger token stays open')
  })
})
