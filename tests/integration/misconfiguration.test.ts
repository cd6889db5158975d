/** A bad value stops the start at once, naming every bad variable and what was expected, in one error. */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { after, before, it } from 'node:test'
import { promisify } from 'node:util'
import { startRedis, type TestRedis } from '../helpers/redis'
import { PROJECT_ROOT, startSentinel } from '../helpers/sentinel'

const run = promisify(execFile)

// A bad port, a bad threshold and a short API key: each used to be reported only once the one
// before it was fixed (or, for the key, after the URLs were printed).
const BAD = {
  PORT: '99999',
  THRESHOLD_CPU_PERCENT: 'lots',
  SENTINEL_API_KEYS: 'admin:short',
  FREEZE_WINDOWS: 'whenever',
  MONITOR_CRON: '*/2 * * *',
}
const assertNamesEveryBadVariable = (text: string, once = true) => {
  assert.match(text, /Invalid configuration:/)
  assert.match(text, /PORT: expected a whole number from 1 to 65535, got "99999"/)
  assert.match(text, /THRESHOLD_CPU_PERCENT: expected a number from 0 to 100, got "lots"/)
  assert.match(text, /SENTINEL_API_KEYS: entry 1 of 1 \(admin\) has a key of 5 characters/)
  assert.match(text, /FREEZE_WINDOWS: window 1 of 1/)
  assert.match(text, /MONITOR_CRON: expected a cron expression of 5 fields/)
  if (once) assert.equal(text.match(/Invalid configuration:/g)?.length, 1, 'one error')
}

let redis: TestRedis
before(async () => (redis = await startRedis()))
after(() => redis.stop())

it('motia start refuses a bad configuration, naming every bad variable', async () => {
  const started = Date.now()
  await assert.rejects(startSentinel({ redisPort: redis.port, env: BAD }), (err: Error) => {
    // The helper's message holds the process's output twice (exit, then its output).
    assertNamesEveryBadVariable(err.message, false)
    return true
  })
  assert.ok(Date.now() - started < 50_000, 'it failed at start, not at a timeout')
})

it('the start script checks the configuration before starting anything', async () => {
  await assert.rejects(
    run(process.execPath, ['--import', 'tsx', 'scripts/check-config.ts', '--export'], {
      cwd: PROJECT_ROOT,
      env: { ...process.env, ...BAD },
    }),
    (err: { stdout: string; stderr: string; code: number }) => {
      assert.equal(err.code, 1)
      assertNamesEveryBadVariable(err.stderr)
      assert.equal(err.stdout, '', 'no settings for the shell to use')
      return true
    },
  )
})

it('npm start fails naming every bad variable before it prints a URL or starts anything', async (t) => {
  // start.sh first makes sure node_modules matches package-lock.json and would run npm install
  // otherwise: never from a test, while other files of the suite use node_modules.
  const stamp = path.join(PROJECT_ROOT, 'node_modules', '.sentinel-lock.sha256')
  const want = createHash('sha256')
    .update(readFileSync(path.join(PROJECT_ROOT, 'package.json')))
    .update(readFileSync(path.join(PROJECT_ROOT, 'package-lock.json')))
    .digest('hex')
  let have = ''
  try {
    have = readFileSync(stamp, 'utf8').trim()
  } catch {}
  if (have !== want) return t.skip('node_modules is not stamped as up to date: start.sh would run npm install')
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'sentinel-test-misconfig-'))
  try {
    await assert.rejects(
      run('bash', ['scripts/start.sh'], {
        cwd: PROJECT_ROOT,
        env: { ...process.env, ...BAD, DATA_DIR: dataDir, REDIS_PORT: String(redis.port) },
        timeout: 60_000,
      }),
      (err: { stdout: string; stderr: string; code: number }) => {
        assert.equal(err.code, 1)
        assertNamesEveryBadVariable(err.stderr)
        assert.doesNotMatch(err.stdout, /http:\/\//, 'no URL printed')
        assert.doesNotMatch(`${err.stdout}${err.stderr}`, /Redis|Motia|Server ready/i, 'nothing started')
        return true
      },
    )
  } finally {
    rmSync(dataDir, { recursive: true, force: true })
  }
})
