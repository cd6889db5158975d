/**
 * REDIS_URL: read into the Redis settings everything else uses (ioredis's options, Motia's, the
 * start script's), checked with the other variables, and its password never printed.
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { Redis } from 'ioredis'
import { startRedis, type TestRedis } from '../../../tests/helpers/redis'
import { redisOptions, redisPassword } from '../store/redis'
import { ConfigError, loadConfig } from './index'

const ROOT = path.resolve(import.meta.dirname, '..', '..', '..')
/** A password made at run time, with characters a URL must percent-encode. */
const newPassword = () => `${randomBytes(12).toString('hex')}@:/%`
const inUrl = (password: string) => encodeURIComponent(password)

let dir: string
before(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'sentinel-test-redis-url-'))
})
after(() => rmSync(dir, { recursive: true, force: true }))

/** The ConfigError's message of loading `env`, asserting it throws one. */
function problemsOf(env: Record<string, string>): string {
  let message = ''
  assert.throws(
    () => loadConfig(env, dir),
    (err: unknown) => {
      assert.ok(err instanceof ConfigError)
      message = err.message
      return true
    },
  )
  return message
}

describe('REDIS_URL', () => {
  it('stands for the host, port, user, password and TLS, and keeps only a redacted copy', () => {
    const password = newPassword()
    const cfg = loadConfig(
      { REDIS_URL: `rediss://agent-web1:${inUrl(password)}@Redis.Example.internal:6390/0`, SENTINEL_ROLE: 'agent' },
      dir,
    )
    assert.equal(cfg.REDIS_HOST, 'redis.example.internal')
    assert.equal(cfg.REDIS_PORT, 6390)
    assert.equal(cfg.REDIS_USERNAME, 'agent-web1')
    assert.equal(cfg.REDIS_PASSWORD, password)
    assert.equal(cfg.REDIS_TLS, true)
    assert.equal(cfg.REDIS_URL, 'rediss://agent-web1:[redacted]@redis.example.internal:6390/0')
    // Nothing of the configuration but REDIS_PASSWORD holds the password.
    const { REDIS_PASSWORD: _held, ...rest } = cfg
    assert.doesNotMatch(JSON.stringify(rest), new RegExp(password.slice(0, 24)))

    const options = redisOptions(cfg)
    assert.deepEqual(
      { host: options.host, port: options.port, username: options.username, tls: options.tls },
      { host: 'redis.example.internal', port: 6390, username: 'agent-web1', tls: {} },
    )
    assert.equal(options.password, password)
  })

  it('takes the default port, no user, no TLS, and an IPv6 host', () => {
    const cfg = loadConfig({ REDIS_URL: 'redis://[::1]' }, dir)
    assert.equal(cfg.REDIS_HOST, '::1')
    assert.equal(cfg.REDIS_PORT, 6379)
    assert.equal(cfg.REDIS_USERNAME, undefined)
    assert.equal(cfg.REDIS_PASSWORD, undefined)
    assert.equal(cfg.REDIS_TLS, false)
    assert.equal(cfg.REDIS_URL, 'redis://[::1]:6379/0')
    assert.equal(redisOptions(cfg).tls, undefined)
    // Unset: the separate variables as before.
    const plain = loadConfig({ REDIS_HOST: '10.0.0.9', REDIS_PORT: '6381' }, dir)
    assert.deepEqual([plain.REDIS_URL, plain.REDIS_HOST, plain.REDIS_PORT], [undefined, '10.0.0.9', 6381])
  })

  it('names a bad URL with every other bad variable, never quoting its password', () => {
    const password = newPassword()
    const cases: [string, RegExp][] = [
      [
        `http://u:${inUrl(password)}@host:6379`,
        /REDIS_URL: expected redis:\/\/.*rediss:\/\/ for TLS, got http:\/\/\.\.\./,
      ],
      [`redis://u:${inUrl(password)}@:6379`, /REDIS_URL: (names no host|expected redis:\/\/)/],
      [`redis://u:${inUrl(password)}@host:70000`, /REDIS_URL: expected redis:\/\//],
      [`redis://u:${inUrl(password)}@host:6379/cache`, /REDIS_URL: the path must be a database number/],
      [`redis://u:${inUrl(password)}@host:6379/0?family=6`, /REDIS_URL: takes no \?query/],
      [`redis://u:${inUrl(password)}@host:6379/3`, /REDIS_URL: database 3: Sentinel uses database 0/],
      [`redis://u:%zz@host`, /REDIS_URL: the user or password is not valid percent-encoding/],
    ]
    for (const [url, expected] of cases) {
      const message = problemsOf({ REDIS_URL: url, PORT: 'eighty' })
      assert.match(message, expected, url.replace(inUrl(password), '***'))
      assert.match(message, /PORT: expected a whole number/)
      assert.ok(!message.includes(password) && !message.includes(inUrl(password)), 'the password is not quoted')
    }
  })

  it('refuses separate variables that disagree with it, naming each and the rule, and takes those that agree', () => {
    const password = newPassword()
    const message = problemsOf({
      REDIS_URL: `rediss://agent:${inUrl(password)}@redis.internal`,
      REDIS_HOST: '127.0.0.1',
      REDIS_PORT: '6380',
      REDIS_TLS: 'false',
      REDIS_USERNAME: 'someone-else',
      REDIS_PASSWORD: newPassword(),
    })
    assert.match(
      message,
      /REDIS_URL, REDIS_HOST: the URL's host \(redis\.internal\) and REDIS_HOST \(127\.0\.0\.1\) disagree: set REDIS_URL alone, or make them agree/,
    )
    assert.match(
      message,
      /REDIS_URL, REDIS_PORT: the URL's port \(6379, the default of a URL without one\) and REDIS_PORT \(6380\) disagree/,
    )
    assert.match(message, /REDIS_URL, REDIS_TLS: the URL's scheme \(rediss:\/\/, TLS\) and REDIS_TLS=false disagree/)
    assert.match(message, /REDIS_URL, REDIS_USERNAME: the URL's user and REDIS_USERNAME disagree/)
    assert.match(message, /REDIS_URL, REDIS_PASSWORD: the URL carries a password: give it in one place/)
    assert.ok(!message.includes(password) && !message.includes(inUrl(password)))

    const file = path.join(dir, 'redis-password')
    writeFileSync(file, `${newPassword()}\n`)
    assert.match(
      problemsOf({ REDIS_URL: `redis://agent:${inUrl(password)}@redis.internal`, REDIS_PASSWORD_FILE: file }),
      /REDIS_URL, REDIS_PASSWORD_FILE: the URL carries a password/,
    )

    // Agreeing variables, and the password from its file for a URL without one.
    const cfg = loadConfig(
      {
        REDIS_URL: 'rediss://agent@Redis.Internal:6380',
        REDIS_HOST: 'redis.internal',
        REDIS_PORT: '6380',
        REDIS_TLS: 'true',
        REDIS_USERNAME: 'agent',
        REDIS_PASSWORD_FILE: file,
        SENTINEL_ROLE: 'agent',
      },
      dir,
    )
    assert.deepEqual(
      [cfg.REDIS_HOST, cfg.REDIS_PORT, cfg.REDIS_TLS, cfg.REDIS_USERNAME],
      ['redis.internal', 6380, true, 'agent'],
    )
    assert.equal(redisOptions(cfg).password, redisPassword(cfg))
    assert.ok(redisOptions(cfg).password)
  })
})

describe('REDIS_URL against a real Redis', () => {
  let redis: TestRedis
  before(async () => {
    redis = await startRedis()
  })
  after(async () => {
    await redis.stop()
  })

  it('connects as the user the URL names, with its password, and is refused with another', async () => {
    const password = newPassword()
    await redis.client.call('ACL', 'SETUSER', 'url-user', 'on', `>${password}`, '~*', '+@all')
    const connectWith = async (url: string) => {
      const client = new Redis({
        ...redisOptions(loadConfig({ REDIS_URL: url, SENTINEL_ROLE: 'agent' }, dir)),
        lazyConnect: true,
        maxRetriesPerRequest: 0,
        retryStrategy: () => null,
      })
      const errors: string[] = []
      client.on('error', (err: Error) => errors.push(err.message))
      try {
        await client.connect()
        return String(await client.call('ACL', 'WHOAMI'))
      } catch (err) {
        // ioredis reports the refused AUTH as an error event, then the closed connection.
        throw new Error([...errors, (err as Error).message].join('; '))
      } finally {
        client.disconnect()
      }
    }
    assert.equal(await connectWith(`redis://url-user:${inUrl(password)}@127.0.0.1:${redis.port}/0`), 'url-user')
    await assert.rejects(connectWith(`redis://url-user:${inUrl(newPassword())}@127.0.0.1:${redis.port}`), /WRONGPASS/)
  })

  it('gives the start script (check-config --export) its host and port, and prints no password', async () => {
    const password = newPassword()
    const env: NodeJS.ProcessEnv = { ...process.env }
    for (const name of Object.keys(env)) if (name.startsWith('REDIS_')) delete env[name]
    const run = (url: string) =>
      new Promise<{ code: number; stdout: string; stderr: string }>((resolve) =>
        execFile(
          process.execPath,
          ['--import', 'tsx', 'scripts/check-config.ts', '--export'],
          {
            cwd: ROOT,
            timeout: 60_000,
            env: { ...env, REDIS_URL: url, SENTINEL_ROLE: 'agent', DATA_DIR: dir },
          },
          (err, stdout, stderr) => resolve({ code: err ? Number(err.code ?? 1) : 0, stdout, stderr }),
        ),
      )
    const ok = await run(`redis://url-user:${inUrl(password)}@127.0.0.1:${redis.port}`)
    assert.equal(ok.code, 0, ok.stderr)
    assert.match(ok.stdout, /^REDIS_HOST='127\.0\.0\.1'$/m)
    assert.match(ok.stdout, new RegExp(`^REDIS_PORT='${redis.port}'$`, 'm'))
    const bad = await run(`redis://url-user:${inUrl(password)}@127.0.0.1:${redis.port}/5`)
    assert.equal(bad.code, 1)
    assert.match(bad.stderr, /REDIS_URL: database 5/)
    assert.equal(bad.stdout, '')
    for (const out of [ok.stdout, ok.stderr, bad.stdout, bad.stderr])
      assert.ok(!out.includes(password) && !out.includes(inUrl(password)), 'no password printed')
  })

  it('refuses TLS for a controller, whose Motia connection has none, by either variable', () => {
    for (const env of [{ REDIS_URL: 'rediss://redis.internal:6380' }, { REDIS_TLS: 'true' }]) {
      assert.throws(
        () => loadConfig(env, dir),
        (err: Error) => err instanceof ConfigError && /a controller cannot reach Redis over TLS/.test(err.message),
        JSON.stringify(env),
      )
      assert.equal(loadConfig({ ...env, SENTINEL_ROLE: 'agent' }, dir).REDIS_TLS, true)
    }
  })
})
