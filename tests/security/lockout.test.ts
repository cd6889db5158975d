/**
 * Issue #17, point 6, against a real Sentinel: wrong keys from a client lock out its guesses, never
 * the right key. After the limit of wrong keys, the admin key and the Alertmanager webhook (the
 * operator key, served by the main process) still work from that client while its next guess gets
 * 429 with Retry-After. X-Forwarded-For names the client only when the peer is in TRUST_PROXY.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { stormPayload } from '../helpers/alertmanager'
import { startRedis, type TestRedis } from '../helpers/redis'
import { startSentinel, type SentinelInstance } from '../helpers/sentinel'

const MAX_FAILURES = 3
const WRONG_KEY = `snl_admin_${'x'.repeat(43)}`

async function withSentinel(
  env: Record<string, string>,
): Promise<{ sentinel: SentinelInstance; stop(): Promise<void> }> {
  const redis: TestRedis = await startRedis()
  try {
    const sentinel = await startSentinel({
      redisPort: redis.port,
      env: { AUTH_MAX_FAILURES: String(MAX_FAILURES), AUTH_FAILURE_WINDOW_SECONDS: '600', ...env },
    })
    return {
      sentinel,
      async stop() {
        await sentinel.cleanup()
        await redis.stop()
      },
    }
  } catch (err) {
    await redis.stop()
    throw err
  }
}

/** A GET with a wrong key, from the client named by `headers` (X-Forwarded-For...). */
const guess = (s: SentinelInstance, headers: Record<string, string> = {}) =>
  s.get('/api/whoami', null, { ...headers, authorization: `Bearer ${WRONG_KEY}` })

/** One firing alert through Alertmanager's webhook; `key` null: the operator's. */
const alertmanager = (s: SentinelInstance, batch: number, headers: Record<string, string> = {}, key?: string) =>
  s.post(
    '/api/alerts/alertmanager',
    stormPayload({ batch, count: 1, startsAt: new Date().toISOString() }),
    key ? null : 'operator',
    key ? { ...headers, authorization: `Bearer ${key}` } : headers,
  )

function assertTooMany(res: { status: number; headers: Headers; body: any }, what: string) {
  assert.equal(res.status, 429, `${what}: ${JSON.stringify(res.body)}`)
  assert.equal(res.body.error, 'too_many_failures')
  const retryAfter = Number(res.headers.get('retry-after'))
  assert.ok(
    Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 600,
    `${what}: Retry-After ${res.headers.get('retry-after')}`,
  )
}

async function reachLimit(s: SentinelInstance, headers: Record<string, string> = {}) {
  for (let i = 1; i <= MAX_FAILURES; i++)
    assert.equal((await guess(s, headers)).status, 401, `wrong key ${i} of ${MAX_FAILURES}`)
  assertTooMany(await guess(s, headers), 'the guess after the limit')
}

describe('lockout: wrong keys never lock out the right key', () => {
  describe('without TRUST_PROXY', () => {
    let sut: Awaited<ReturnType<typeof withSentinel>>
    before(async () => {
      sut = await withSentinel({ TRUST_PROXY: '' })
    })
    after(async () => {
      await sut?.stop()
    })

    it('after the limit, the admin key and the Alertmanager webhook still work from that client; guesses get 429', async () => {
      const s = sut.sentinel
      await reachLimit(s)
      assertTooMany(await alertmanager(s, 1, {}, WRONG_KEY), 'a wrong key on the Alertmanager webhook')

      const whoami = await s.get('/api/whoami', 'admin')
      assert.equal(whoami.status, 200, JSON.stringify(whoami.body))
      assert.equal(whoami.body.role, 'admin')
      assert.equal((await s.get('/api/incidents?limit=1', 'admin')).status, 200)
      const hook = await alertmanager(s, 2)
      assert.equal(hook.status, 200, JSON.stringify(hook.body))
      assert.equal(hook.body.opened.length, 1)
      // A valid key too low for the route is a 403 on its merits, not a 429.
      assert.equal((await s.get('/api/audit', 'viewer')).status, 403)

      // The client is still blocked: the valid requests above were let through while it was.
      assertTooMany(await guess(s), 'a guess after the valid requests')
    })

    it('ignores X-Forwarded-For (and a client-sent client-address header): a blocked client cannot name itself afresh', async () => {
      const s = sut.sentinel
      assertTooMany(
        await guess(s, { 'x-forwarded-for': '198.51.100.20' }),
        'a guess naming another address in X-Forwarded-For',
      )
      assertTooMany(
        await guess(s, { 'x-sentinel-client-ip': '198.51.100.21' }),
        'a guess naming another address in x-sentinel-client-ip',
      )
    })
  })

  describe('with TRUST_PROXY=127.0.0.1 (the test talks through "a proxy" on loopback)', () => {
    let sut: Awaited<ReturnType<typeof withSentinel>>
    before(async () => {
      sut = await withSentinel({ TRUST_PROXY: '127.0.0.1' })
    })
    after(async () => {
      await sut?.stop()
    })

    it('counts the clients X-Forwarded-For names separately: one blocked, the other not', async () => {
      const s = sut.sentinel
      const blocked = { 'x-forwarded-for': '198.51.100.1' }
      const other = { 'x-forwarded-for': '198.51.100.2' }
      await reachLimit(s, blocked)
      assert.equal((await guess(s, other)).status, 401, 'another client behind the same proxy is not blocked')
      assert.equal((await guess(s)).status, 401, 'the proxy itself (no X-Forwarded-For) is not blocked')
      // A client cannot escape its count by prepending an address: the proxy's entry is the rightmost.
      assertTooMany(
        await guess(s, { 'x-forwarded-for': '203.0.113.9, 198.51.100.1' }),
        'a blocked client prepending another address',
      )

      // The blocked client's right keys still work.
      assert.equal((await s.get('/api/whoami', 'admin', blocked)).status, 200)
      const hook = await alertmanager(s, 3, blocked)
      assert.equal(hook.status, 200, JSON.stringify(hook.body))
      assertTooMany(await guess(s, blocked), 'the blocked client guessing again')
    })
  })
})
