/** A bad value stops the start at once, naming the variable and what was expected. */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { after, before, it } from 'node:test'
import { promisify } from 'node:util'
import { startRedis, type TestRedis } from '../helpers/redis'
import { PROJECT_ROOT, startSentinel } from '../helpers/sentinel'

let redis: TestRedis
before(async () => (redis = await startRedis()))
after(() => redis.stop())

it('motia start refuses a bad configuration, naming every bad variable', async () => {
  const started = Date.now()
  await assert.rejects(
    startSentinel({ redisPort: redis.port, env: { THRESHOLD_CPU_PERCENT: 'lots', FREEZE_WINDOWS: 'whenever', SENTINEL_API_KEYS: 'root:short' } }),
    (err: Error) => {
      assert.match(err.message, /THRESHOLD_CPU_PERCENT/)
      assert.match(err.message, /FREEZE_WINDOWS/)
      return true
    },
  )
  assert.ok(Date.now() - started < 50_000, 'it failed at start, not at a timeout')
})

it('the start script checks the configuration before starting anything', async () => {
  const run = promisify(execFile)
  await assert.rejects(run(process.execPath, ['--import', 'tsx', 'scripts/check-config.ts'], { cwd: PROJECT_ROOT, env: { ...process.env, PORT: '99999' } }), (err: { stderr: string; code: number }) => {
    assert.equal(err.code, 1)
    assert.match(err.stderr, /PORT: expected a whole number from 1 to 65535, got "99999"/)
    return true
  })
})
