import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { after, before, describe, test } from 'node:test'
import { promisify } from 'node:util'
import { Redis } from 'ioredis'
import { startRedis, type TestRedis } from '../../../tests/helpers/redis'
import {
  MINIMUM_ROLE,
  PERMISSIONS,
  ROLES,
  authenticate,
  authorize,
  checkRequest,
  clientKey,
  createFailureLimiter,
  decidePermission,
  issueKeys,
  issueStreamToken,
  keyStoreLoader,
  loadKeyStore,
  parseApiKeysEnv,
  permissionsOf,
  verifyStreamToken,
  type KeyStore,
  type Permission,
  type Role,
} from './index'
import { addressMatcher } from '../config/addresses'
import { clientAddress, normalizeAddress } from './client-address'
import { generateKey, readKeyFile } from './keys'
import { setStreamTokenSecret } from './stream-token'

const exec = promisify(execFile)
const ROOT = path.resolve(import.meta.dirname, '..', '..', '..')

const ADMIN = generateKey('admin')
const OPERATOR = generateKey('operator')
const VIEWER = generateKey('viewer')
const envValue = `admin:${ADMIN}, operator:${OPERATOR},viewer:${VIEWER}`

describe('permission table', () => {
  // Written out in full, independently of MINIMUM_ROLE, so a change to the table has to change this too.
  const expected: Record<Role, Record<Permission, boolean>> = {
    viewer: {
      read: true,
      'decide:low': false,
      'decide:medium': false,
      'decide:high': false,
      rollback: false,
      'alert:test': false,
      chaos: false,
      audit: false,
      acknowledge: false,
      silence: false,
      replay: false,
    },
    operator: {
      read: true,
      'decide:low': true,
      'decide:medium': true,
      'decide:high': false,
      rollback: false,
      'alert:test': false,
      chaos: false,
      audit: false,
      acknowledge: true,
      silence: true,
      replay: false,
    },
    admin: {
      read: true,
      'decide:low': true,
      'decide:medium': true,
      'decide:high': true,
      rollback: true,
      'alert:test': true,
      chaos: true,
      audit: true,
      acknowledge: true,
      silence: true,
      replay: true,
    },
  }
  for (const role of ROLES) {
    for (const perm of PERMISSIONS) {
      test(`${role} ${expected[role][perm] ? 'may' : 'may not'} ${perm}`, () => {
        assert.equal(authorize(role, perm), expected[role][perm])
      })
    }
  }
  test('the table covers every permission and a higher role always holds what a lower one does', () => {
    assert.deepEqual(Object.keys(MINIMUM_ROLE).sort(), [...PERMISSIONS].sort())
    assert.ok(permissionsOf('viewer').every((p) => authorize('operator', p)))
    assert.ok(permissionsOf('operator').every((p) => authorize('admin', p)))
  })
  test('unknown roles and permissions hold nothing', () => {
    assert.equal(authorize(undefined, 'read'), false)
    assert.equal(authorize('root' as Role, 'read'), false)
    assert.equal(authorize('admin', 'delete-everything' as Permission), false)
  })
  test('decidePermission follows the risk, and a decision that names an admin wins', () => {
    assert.equal(decidePermission('low'), 'decide:low')
    assert.equal(decidePermission('medium'), 'decide:medium')
    assert.equal(decidePermission('high'), 'decide:high')
    assert.equal(decidePermission(undefined), 'decide:high')
    assert.equal(decidePermission('medium', 'admin'), 'decide:high')
    assert.equal(decidePermission('medium', 'operator'), 'decide:medium')
  })
})

describe('SENTINEL_API_KEYS', () => {
  test('parses role:key pairs', () => {
    const entries = parseApiKeysEnv(envValue)
    assert.deepEqual(
      entries.map((e) => e.role),
      ['admin', 'operator', 'viewer'],
    )
    assert.ok(entries.every((e) => e.digest.length === 32 && e.id.startsWith('env-')))
    assert.deepEqual(parseApiKeysEnv(''), [])
    assert.deepEqual(parseApiKeysEnv(undefined), [])
  })
  const bad: [string, RegExp][] = [
    [`admin:${ADMIN},`, /entry 2 of 2 is empty/],
    [`${ADMIN}`, /entry 1 of 1 must be role:key/],
    [`root:${ADMIN}`, /role "root"; expected one of viewer, operator, admin/],
    ['admin:tooshort-secret', /has a key of 15 characters; keys must be at least 24/],
    [`admin:${ADMIN},viewer:${ADMIN}`, /entry 2 of 2 \(viewer\) repeats a key/],
    [`admin:${'x'.repeat(30)} y`, /characters other than/],
  ]
  for (const [value, message] of bad) {
    test(`rejects ${message.source}`, () => {
      assert.throws(
        () => parseApiKeysEnv(value),
        (err: Error) => {
          assert.match(err.message, /^SENTINEL_API_KEYS: /)
          assert.match(err.message, message)
          // The error names the entry, never the secret.
          assert.ok(!err.message.includes(ADMIN) && !err.message.includes('tooshort-secret'))
          return true
        },
      )
    })
  }
})

describe('authenticate', () => {
  const store = loadKeyStore({ envValue })
  test('accepts Bearer and X-API-Key, any header case', () => {
    assert.deepEqual(authenticate({ authorization: `Bearer ${ADMIN}` }, store), {
      ok: true,
      role: 'admin',
      keyId: store.entries[0].id,
    })
    assert.equal((authenticate({ 'x-api-key': OPERATOR }, store) as { role: string }).role, 'operator')
    assert.equal((authenticate({ 'X-Api-Key': VIEWER }, store) as { role: string }).role, 'viewer')
    assert.equal(
      (authenticate(new Headers({ Authorization: `bearer ${VIEWER}` }), store) as { role: string }).role,
      'viewer',
    )
  })
  test('refuses missing, malformed and wrong keys', () => {
    assert.equal((authenticate({}, store) as { reason: string }).reason, 'missing')
    assert.equal(
      (authenticate({ authorization: `Basic ${Buffer.from('a:b').toString('base64')}` }, store) as { reason: string })
        .reason,
      'malformed',
    )
    assert.equal((authenticate({ authorization: `Bearer ${ADMIN}x` }, store) as { reason: string }).reason, 'invalid')
    assert.equal(
      (authenticate({ authorization: `Bearer ${ADMIN.slice(0, -1)}` }, store) as { reason: string }).reason,
      'invalid',
    )
    assert.equal((authenticate({ 'x-api-key': 'a'.repeat(600) }, store) as { reason: string }).reason, 'malformed')
  })
  test('an empty store accepts nothing and says so', () => {
    const empty = loadKeyStore({ envValue: '' })
    assert.equal(authenticate({ authorization: `Bearer ${ADMIN}` }, empty).ok, false)
    assert.match(empty.warnings.join(' '), /no API keys are configured/)
  })
})

describe('key file and npm run keys', () => {
  let dir: string
  before(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'sentinel-test-keys-'))
  })
  after(() => rmSync(dir, { recursive: true, force: true }))

  test('issueKeys stores digests only, mode 0600, and the keys authenticate', () => {
    const file = path.join(dir, 'nested', 'api-keys.json')
    const { issued } = issueKeys({ file })
    assert.deepEqual(issued.map((k) => k.role).sort(), ['admin', 'operator', 'viewer'])
    for (const k of issued) assert.match(k.key, new RegExp(`^snl_${k.role}_[A-Za-z0-9_-]{43}$`))
    assert.equal(statSync(file).mode & 0o777, 0o600)
    const text = readFileSync(file, 'utf8')
    for (const k of issued) assert.ok(!text.includes(k.key), 'plain key written to disk')
    const store = loadKeyStore({ file })
    assert.deepEqual(store.warnings, [])
    for (const k of issued)
      assert.deepEqual(authenticate({ authorization: `Bearer ${k.key}` }, store), {
        ok: true,
        role: k.role,
        keyId: k.id,
      })

    assert.throws(() => issueKeys({ file }), /already holds 3 key\(s\); use --rotate/)
    const added = issueKeys({ file, roles: ['operator'] })
    assert.equal(readKeyFile(file)!.keys.length, 4)
    const rotated = issueKeys({ file, roles: ['operator'], rotate: true })
    assert.equal(rotated.removed.length, 2)
    const after = loadKeyStore({ file })
    assert.equal(after.entries.length, 3)
    assert.equal(authenticate({ 'x-api-key': added.issued[0].key }, after).ok, false, 'rotated key still works')
    assert.equal(authenticate({ 'x-api-key': rotated.issued[0].key }, after).ok, true)
    assert.equal(authenticate({ 'x-api-key': issued.find((k) => k.role === 'admin')!.key }, after).ok, true)
  })

  test('a malformed key file is refused with its path', () => {
    const file = path.join(dir, 'bad.json')
    writeFileSync(
      file,
      JSON.stringify({
        version: 1,
        keys: [{ id: 'a', role: 'admin', sha256: 'zz', createdAt: new Date().toISOString() }],
      }),
      { mode: 0o600 },
    )
    assert.throws(
      () => loadKeyStore({ file }),
      (e: Error) => e.message.includes(file) && /keys\[0\]\.sha256/.test(e.message),
    )
    writeFileSync(file, '{not json')
    assert.throws(() => loadKeyStore({ file }), /not valid JSON/)
  })

  test('a world-readable key file gives a warning', () => {
    const file = path.join(dir, 'loose.json')
    issueKeys({ file, roles: ['viewer'] })
    chmodSync(file, 0o644)
    assert.match(loadKeyStore({ file }).warnings.join(' '), /mode 644; run chmod 600/)
  })

  test('keyStoreLoader sees a rotated file without a restart', () => {
    const file = path.join(dir, 'reload.json')
    const first = issueKeys({ file, roles: ['admin'] }).issued[0].key
    const get = keyStoreLoader({ file, recheckMs: 0 })
    assert.equal(authenticate({ 'x-api-key': first }, get()).ok, true)
    const second = issueKeys({ file, roles: ['admin'], rotate: true }).issued[0].key
    assert.equal(authenticate({ 'x-api-key': first }, get()).ok, false)
    assert.equal(authenticate({ 'x-api-key': second }, get()).ok, true)
  })

  test('scripts/keys.ts prints each key once and writes only digests', async () => {
    const file = path.join(dir, 'cli', 'keys.json')
    const tsx = path.join(ROOT, 'node_modules', '.bin', 'tsx')
    const { stdout } = await exec(tsx, ['scripts/keys.ts', '--file', file], { cwd: ROOT, timeout: 60_000 })
    const lines = [...stdout.matchAll(/^(admin|operator|viewer)\s+(key_[0-9a-f]+)\s+(snl_\S+)$/gm)]
    assert.equal(lines.length, 3, stdout)
    assert.equal(statSync(file).mode & 0o777, 0o600)
    const store = loadKeyStore({ file })
    for (const [, role, id, key] of lines) {
      assert.deepEqual(authenticate({ authorization: `Bearer ${key}` }, store), { ok: true, role, keyId: id })
      assert.ok(!readFileSync(file, 'utf8').includes(key))
    }
    const again = await exec(tsx, ['scripts/keys.ts', '--file', file], { cwd: ROOT, timeout: 60_000 }).catch((e) => e)
    assert.equal(again.code, 1)
    assert.match(again.stderr, /use --rotate/)
    const bad = await exec(tsx, ['scripts/keys.ts', '--file', file, '--role', 'root'], {
      cwd: ROOT,
      timeout: 60_000,
    }).catch((e) => e)
    assert.equal(bad.code, 2)
    assert.match(bad.stderr, /"root" is not a role/)
    const rot = await exec(tsx, ['scripts/keys.ts', '--file', file, '--rotate', '--role', 'viewer'], {
      cwd: ROOT,
      timeout: 60_000,
    })
    assert.match(rot.stdout, /Revoked 1 old key/)
    assert.equal(loadKeyStore({ file }).entries.length, 3)
  })
})

describe('stream tokens', () => {
  test('round trip, tampering, expiry', () => {
    setStreamTokenSecret('s'.repeat(40))
    const now = Date.parse('2025-01-01T00:00:00Z')
    const { token, expiresAt } = issueStreamToken('operator', 'key_abc', 60, now)
    assert.equal(expiresAt, now / 1000 + 60)
    assert.deepEqual(verifyStreamToken(token, now + 59_000), {
      ok: true,
      role: 'operator',
      keyId: 'key_abc',
      expiresAt,
    })
    assert.deepEqual(verifyStreamToken(token, now + 60_000), { ok: false, reason: 'expired' })
    const [payload, sig] = token.split('.')
    const forged = Buffer.from(JSON.stringify({ r: 'admin', k: 'key_abc', e: expiresAt, n: 'x' })).toString('base64url')
    assert.deepEqual(verifyStreamToken(`${forged}.${sig}`, now), { ok: false, reason: 'bad_signature' })
    assert.deepEqual(verifyStreamToken(`${payload}.${sig.slice(0, -2)}`, now), { ok: false, reason: 'bad_signature' })
    assert.deepEqual(verifyStreamToken('nope', now), { ok: false, reason: 'malformed' })
    setStreamTokenSecret('t'.repeat(40))
    assert.deepEqual(
      verifyStreamToken(token, now),
      { ok: false, reason: 'bad_signature' },
      'another secret accepted it',
    )
    assert.throws(() => setStreamTokenSecret('short'), /at least 32/)
  })
})

describe('clientAddress: who the client is, behind TRUST_PROXY or not', () => {
  const none = addressMatcher([])
  const proxies = addressMatcher(['127.0.0.1', '10.0.0.0/8', 'fd00::/8'])

  test('addresses come out in one canonical form', () => {
    assert.equal(normalizeAddress('::ffff:192.0.2.7'), '192.0.2.7')
    assert.equal(normalizeAddress('::FFFF:c000:0207'), '192.0.2.7')
    assert.equal(normalizeAddress(' 2001:DB8:0:0::1 '), '2001:db8::1')
    assert.equal(normalizeAddress('fe80::1%eth0'), 'fe80::1')
    for (const bad of ['', 'unknown', '1.2.3.4:80', '[::1]', '01.2.3.4', '1.2.3', '_hidden', undefined])
      assert.equal(normalizeAddress(bad), undefined, String(bad))
  })

  test('without TRUST_PROXY, or from a peer not named in it, X-Forwarded-For is ignored', () => {
    assert.equal(clientAddress('::ffff:127.0.0.1', '198.51.100.7', none), '127.0.0.1')
    assert.equal(clientAddress('192.0.2.50', '198.51.100.7', proxies), '192.0.2.50')
    assert.equal(clientAddress('192.0.2.50', undefined, proxies), '192.0.2.50')
    assert.equal(clientAddress(undefined, '198.51.100.7', proxies), 'unknown', 'a closed socket')
  })

  test('from a trusted proxy: the first untrusted address from the right', () => {
    assert.equal(clientAddress('127.0.0.1', '198.51.100.7', proxies), '198.51.100.7')
    assert.equal(clientAddress('::ffff:127.0.0.1', ' ::ffff:198.51.100.7 ', proxies), '198.51.100.7')
    // Two proxies in a row; whatever the client wrote itself (left) is not read.
    assert.equal(clientAddress('127.0.0.1', '203.0.113.66, 198.51.100.7, 10.1.2.3', proxies), '198.51.100.7')
    // A client claiming to be one of our proxies gets nowhere: the proxy appended its real address.
    assert.equal(clientAddress('127.0.0.1', '10.9.9.9, 198.51.100.7', proxies), '198.51.100.7')
    // Repeated headers, as an array.
    assert.equal(clientAddress('127.0.0.1', ['203.0.113.66', '198.51.100.7, 10.1.2.3'], proxies), '198.51.100.7')
    assert.equal(clientAddress('127.0.0.1', '2001:DB8::7, fd00::1', proxies), '2001:db8::7')
    // Only proxies in the chain: the request began at the leftmost.
    assert.equal(clientAddress('127.0.0.1', '10.0.0.5, 10.0.0.6', proxies), '10.0.0.5')
    assert.equal(clientAddress('127.0.0.1', undefined, proxies), '127.0.0.1')
  })

  test('a malformed entry stops the walk at the last trusted hop, never reading past it', () => {
    assert.equal(clientAddress('127.0.0.1', 'unknown', proxies), '127.0.0.1')
    assert.equal(clientAddress('127.0.0.1', '', proxies), '127.0.0.1')
    assert.equal(clientAddress('127.0.0.1', '198.51.100.7, junk, 10.0.0.6', proxies), '10.0.0.6')
    assert.equal(clientAddress('127.0.0.1', '198.51.100.7,, 10.0.0.6', proxies), '10.0.0.6')
    assert.equal(clientAddress('127.0.0.1', '198.51.100.7:4711', proxies), '127.0.0.1')
    assert.equal(clientAddress('127.0.0.1', '[2001:db8::7]', proxies), '127.0.0.1')
    // Past an untrusted address nothing is parsed at all, malformed or not.
    assert.equal(clientAddress('127.0.0.1', 'junk, 198.51.100.7', proxies), '198.51.100.7')
  })
})

describe('checkRequest and the failure limiter (real Redis)', () => {
  let redis: TestRedis
  let other: Redis
  const keys: KeyStore = loadKeyStore({ envValue })
  before(async () => {
    redis = await startRedis()
    other = new Redis({ port: redis.port, host: '127.0.0.1' })
  })
  after(async () => {
    other.disconnect()
    await redis.stop()
  })

  test('200, 401 and 403 by key and permission', async () => {
    const limiter = createFailureLimiter(redis.client, { prefix: 'test:a:' })
    const deps = { keys, limiter }
    const ip = '10.0.0.1'
    assert.deepEqual(await checkRequest({ headers: { authorization: `Bearer ${VIEWER}` }, ip }, 'read', deps), {
      status: 200,
      role: 'viewer',
      keyId: keys.entries[2].id,
    })
    const forbidden = await checkRequest({ headers: { 'x-api-key': OPERATOR }, ip }, 'decide:high', deps)
    assert.equal(forbidden.status, 403)
    assert.equal(forbidden.role, 'operator')
    assert.match(forbidden.message!, /needs an admin/)
    assert.equal((await checkRequest({ headers: { 'x-api-key': ADMIN }, ip }, 'chaos', deps)).status, 200)
    assert.deepEqual(
      { ...(await checkRequest({ headers: {}, ip }, 'read', deps)), message: undefined },
      { status: 401, error: 'missing_key', message: undefined },
    )
    assert.equal((await checkRequest({ headers: { 'x-api-key': `${ADMIN}0` }, ip }, 'read', deps)).error, 'invalid_key')
  })

  test('an IPv6 client is counted by its /64: fresh addresses in it get no fresh budget', async () => {
    assert.equal(clientKey('2001:DB8:0:2:0:0:0:1'), '2001:db8:0:2::/64')
    assert.equal(clientKey('2001:db8::1'), '2001:db8:0:0::/64')
    assert.equal(clientKey('::1'), '0:0:0:0::/64')
    assert.equal(clientKey('fe80::1:2:3:4'), 'fe80:0:0:0::/64')
    assert.equal(clientKey('::ffff:192.0.2.7'), '192.0.2.7')
    const limiter = createFailureLimiter(redis.client, { prefix: `test:v6:${Date.now()}:`, maxFailures: 3 })
    const wrong = { 'x-api-key': 'w'.repeat(30) }
    for (let i = 1; i <= 3; i++)
      assert.equal(
        (await checkRequest({ headers: wrong, ip: `2001:db8:5:6::${i}` }, 'read', { keys, limiter })).status,
        401,
      )
    // A fourth address of the same /64 is at the limit; another /64 is not.
    assert.equal(
      (await checkRequest({ headers: wrong, ip: '2001:db8:5:6:a:b:c:d' }, 'read', { keys, limiter })).status,
      429,
    )
    assert.equal((await checkRequest({ headers: wrong, ip: '2001:db8:5:7::1' }, 'read', { keys, limiter })).status, 401)
  })

  test('10 wrong keys from one client → 429 with Retry-After, shared by every process, for that client only; the right key still passes', async () => {
    let now = Date.parse('2025-01-01T00:00:00Z')
    const clock = () => now
    // Two limiters on two connections stand for two processes.
    const a = createFailureLimiter(redis.client, { prefix: 'test:b:', maxFailures: 10, windowSeconds: 60, now: clock })
    const b = createFailureLimiter(other, { prefix: 'test:b:', maxFailures: 10, windowSeconds: 60, now: clock })
    const wrong = { 'x-api-key': 'w'.repeat(30) }
    const ip = '::ffff:192.0.2.7'
    for (let i = 0; i < 10; i++) {
      now += 1000
      const r = await checkRequest({ headers: wrong, ip }, 'read', { keys, limiter: i % 2 ? a : b })
      assert.equal(r.status, 401, `failure ${i + 1}`)
    }
    now += 1000
    // The same client (IPv4-mapped or not) is now at the limit: every further guess gets 429...
    const blocked = await checkRequest({ headers: wrong, ip: '192.0.2.7' }, 'read', { keys, limiter: a })
    assert.equal(blocked.status, 429)
    assert.equal(blocked.error, 'too_many_failures')
    // The first failure was at +1 s; it leaves the 60 s window at +61 s; now is +11 s.
    assert.equal(blocked.retryAfter, 50)
    assert.equal(
      (await checkRequest({ headers: { authorization: 'Basic eDp5' }, ip }, 'read', { keys, limiter: b })).status,
      429,
      'a malformed key',
    )
    assert.equal(
      (await checkRequest({ headers: {}, streamToken: 'forged.token', ip }, 'read', { keys, limiter: b })).status,
      429,
      'a bad stream token',
    )
    assert.equal(
      (await checkRequest({ headers: {}, ip }, 'read', { keys, limiter: b })).status,
      429,
      'no key: not counted, but refused while blocked',
    )
    // ...but a valid key is answered on its merits, as if nothing had happened.
    assert.deepEqual(await checkRequest({ headers: { 'x-api-key': ADMIN }, ip }, 'read', { keys, limiter: a }), {
      status: 200,
      role: 'admin',
      keyId: keys.entries[0].id,
    })
    assert.equal(
      (
        await checkRequest({ headers: { authorization: `Bearer ${OPERATOR}` }, ip: '192.0.2.7' }, 'decide:low', {
          keys,
          limiter: b,
        })
      ).status,
      200,
    )
    assert.equal(
      (await checkRequest({ headers: { 'x-api-key': VIEWER }, ip }, 'audit', { keys, limiter: a })).status,
      403,
      'a valid key too low is 403, not 429',
    )
    const { token } = issueStreamToken('viewer', 'key_v', 60)
    assert.equal(
      (await checkRequest({ headers: {}, streamToken: token, ip }, 'read', { keys, limiter: a })).status,
      200,
      'a valid stream token',
    )
    // Another client is not affected.
    assert.equal((await checkRequest({ headers: wrong, ip: '192.0.2.8' }, 'read', { keys, limiter: b })).status, 401)
    // Refused guesses were not counted (a blocked client cannot extend its own block): once the
    // first failure ages out, one more guess is a 401 and the next is refused again.
    now += 50_000
    assert.equal((await checkRequest({ headers: wrong, ip }, 'read', { keys, limiter: b })).status, 401)
    assert.equal((await checkRequest({ headers: wrong, ip }, 'read', { keys, limiter: a })).status, 429)
  })

  test('concurrent guesses cannot slip under the limit together', async () => {
    const limiter = createFailureLimiter(redis.client, { prefix: 'test:d:', maxFailures: 5 })
    const results = await Promise.all(
      Array.from({ length: 20 }, () =>
        checkRequest({ headers: { 'x-api-key': 'g'.repeat(30) }, ip: '198.51.100.3' }, 'read', { keys, limiter }),
      ),
    )
    assert.equal(results.filter((r) => r.status === 401).length, 5)
    assert.equal(results.filter((r) => r.status === 429).length, 15)
    assert.ok(results.filter((r) => r.status === 429).every((r) => r.retryAfter! >= 1 && r.retryAfter! <= 60))
  })

  test('a missing key never counts as a failure; an invalid stream token does', async () => {
    const limiter = createFailureLimiter(redis.client, { prefix: 'test:c:', maxFailures: 2 })
    for (let i = 0; i < 5; i++)
      assert.equal((await checkRequest({ headers: {}, ip: '1.2.3.4' }, 'read', { keys, limiter })).status, 401)
    assert.equal(
      (await checkRequest({ headers: { 'x-api-key': VIEWER }, ip: '1.2.3.4' }, 'read', { keys, limiter })).status,
      200,
    )
    for (let i = 0; i < 2; i++)
      assert.equal(
        (await checkRequest({ headers: {}, streamToken: 'forged.token', ip: '1.2.3.4' }, 'read', { keys, limiter }))
          .error,
        'invalid_token',
      )
    assert.equal((await checkRequest({ headers: {}, ip: '1.2.3.4' }, 'read', { keys, limiter })).status, 429)
  })

  test('stream tokens stand in for a key, with their role', async () => {
    setStreamTokenSecret('u'.repeat(40))
    const { token } = issueStreamToken('viewer', 'key_v', 60)
    assert.deepEqual(await checkRequest({ headers: {}, streamToken: token }, 'read', { keys }), {
      status: 200,
      role: 'viewer',
      keyId: 'key_v',
    })
    assert.equal((await checkRequest({ headers: {}, streamToken: token }, 'audit', { keys })).status, 403)
    assert.equal(
      (await checkRequest({ headers: {}, streamToken: `${token}x` }, 'read', { keys })).error,
      'invalid_token',
    )
  })

  test('a Redis outage does not lock everyone out, and a valid key never asks the limiter', async () => {
    const dead = new Redis({
      port: 1,
      host: '127.0.0.1',
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
      enableOfflineQueue: false,
    })
    dead.on('error', () => {})
    const warnings: string[] = []
    const deps = { keys, limiter: createFailureLimiter(dead), log: (_l: string, msg: string) => warnings.push(msg) }
    assert.equal((await checkRequest({ headers: { 'x-api-key': VIEWER }, ip: 'x' }, 'read', deps)).status, 200)
    assert.deepEqual(warnings, [], 'the limiter was consulted for a valid key')
    assert.equal((await checkRequest({ headers: { 'x-api-key': `${VIEWER}x` }, ip: 'x' }, 'read', deps)).status, 401)
    assert.deepEqual(warnings, ['auth failure limiter unavailable', 'authentication failed'])
    dead.disconnect()
  })
})
