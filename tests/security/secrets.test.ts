/**
 * No secret in any process's arguments or environment that does not need it: while requests are
 * served and step processes run the flow, every /proc/<pid>/cmdline and /proc/<pid>/environ on the
 * machine is scanned for the API keys (issued into a key file: no process is given them at all),
 * and for the main-process-only secrets (Slack's signing secret, the metrics token, the archive's
 * DATABASE_URL with its password), which the
 * main process was started with and must not hand on to the step processes it spawns. The secrets
 * a step does use are found only in the steps that use them: the LLM key in the analysis step's
 * processes, the Slack bot token in the Slack steps' (src/platform/config/step-secrets.ts).
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { readdirSync, readFileSync } from 'node:fs'
import { after, before, describe, it } from 'node:test'
import { sleep } from '../helpers/ports'
import { startRedis, type TestRedis } from '../helpers/redis'
import { type SentinelInstance, startSentinel } from '../helpers/sentinel'

interface Sample {
  pid: number
  ppid: number
  cmdline: string
  environ: string
}

function readProc(pid: number): Sample | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
    return {
      pid,
      ppid,
      cmdline: readFileSync(`/proc/${pid}/cmdline`, 'utf8'),
      environ: readFileSync(`/proc/${pid}/environ`, 'utf8'),
    }
  } catch {
    return undefined // gone meanwhile
  }
}

function scanAll(): Sample[] {
  const out: Sample[] = []
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue
    const s = readProc(Number(name))
    if (s) out.push(s)
  }
  return out
}

describe('secrets in process arguments and environments', () => {
  let redis: TestRedis
  let sentinel: SentinelInstance
  const signingSecret = `slack-signing-${'s'.repeat(8)}-${Date.now()}`
  const metricsToken = `metrics-token-${'m'.repeat(8)}-${Date.now()}`
  // The archive's URL carries a password (to a port nothing listens on: the archive waits, healing goes on).
  const databasePassword = `db-password-${randomBytes(8).toString('hex')}`
  const llmKey = `llm-key-${randomBytes(8).toString('hex')}`
  const botToken = `placeholder-bot-token-${randomBytes(6).toString('hex')}`
  const SLACK_STEPS =
    /\/steps\/(approve\/request-approval|act\/rollback-and-escalate|report\/resolve-incident)\.step\.js/

  before(async () => {
    redis = await startRedis()
    sentinel = await startSentinel({
      redisPort: redis.port,
      keysIn: 'file',
      env: {
        METRICS_TOKEN: metricsToken,
        DATABASE_URL: `postgres://sentinel:${databasePassword}@127.0.0.1:9/sentinel`,
        // Slack configured (to a port nothing listens on: posting fails quietly, which is fine here).
        SLACK_BOT_TOKEN: botToken,
        // An LLM configured (to a port nothing listens on: the rule analyser answers instead).
        OPENROUTER_API_KEY: llmKey,
        OPENROUTER_BASE_URL: 'http://127.0.0.1:9/api/v1',
        SLACK_SIGNING_SECRET: signingSecret,
        SLACK_CHANNEL: 'C000TEST',
        SLACK_API_URL: 'http://127.0.0.1:9/api/',
      },
    })
  })
  after(async () => {
    await sentinel?.cleanup()
    await redis?.stop()
  })

  it('no API key anywhere, and the main-process secrets only in the main process', async () => {
    const mainPid = sentinel.pid()
    const keys = Object.values(sentinel.keys)
    const leaks: string[] = []
    const stepProcesses = new Set<number>()
    const analysisWithKey = new Set<number>()
    const mainCmdline = readProc(mainPid)!.cmdline
    let sampling = true
    const sampler = (async () => {
      while (sampling) {
        for (const s of scanAll()) {
          // Between fork and exec a child still shows its parent's memory (arguments and
          // environment included): that is the main process itself, not a process it gave them to.
          if (s.ppid === mainPid && s.cmdline === mainCmdline) continue
          const where = `pid ${s.pid} (${s.cmdline.replace(/\0/g, ' ').slice(0, 120)})`
          for (const key of keys) {
            if (s.cmdline.includes(key)) leaks.push(`API key in the arguments of ${where}`)
            if (s.environ.includes(key)) leaks.push(`API key in the environment of ${where}`)
          }
          if (/bearer|authorization|x-api-key/i.test(s.cmdline) && s.ppid === mainPid)
            leaks.push(`an auth header in the arguments of ${where}`)
          if (s.pid !== mainPid) {
            for (const secret of [signingSecret, metricsToken, databasePassword]) {
              if (s.cmdline.includes(secret) || s.environ.includes(secret))
                leaks.push(`a main-process secret in ${where}`)
            }
          }
          if (s.ppid === mainPid && s.cmdline.includes('/steps/')) {
            stepProcesses.add(s.pid)
            const analysis = s.cmdline.includes('/steps/analyze/analyze-incident.step.js')
            if (s.environ.includes(llmKey)) {
              if (analysis) analysisWithKey.add(s.pid)
              else leaks.push(`the LLM key in ${where}`)
            }
            if (s.environ.includes(botToken) && !SLACK_STEPS.test(s.cmdline))
              leaks.push(`the Slack bot token in ${where}`)
          }
        }
        await sleep(5)
      }
    })()
    try {
      // API requests of every kind (each carries its key in a header), and incidents whose flow
      // starts step processes (analyse, decide, approve).
      for (let i = 0; i < 5; i++) {
        assert.equal((await sentinel.get('/api/incidents?limit=5', 'viewer')).status, 200)
        assert.equal(
          (
            await sentinel.post(
              '/api/trigger-alert',
              { type: 'disk', resource: `/secret-test-${i}`, value: 97 },
              'admin',
            )
          ).status,
          202,
        )
        assert.equal((await sentinel.get('/api/audit?limit=5', 'admin')).status, 200)
        await sleep(400)
      }
      const deadline = Date.now() + 20_000
      while ((stepProcesses.size < 3 || analysisWithKey.size === 0) && Date.now() < deadline) await sleep(100)
    } finally {
      sampling = false
      await sampler
    }
    // The scan saw the flow's step processes, so it would have seen a secret in them.
    assert.ok(stepProcesses.size >= 3, `saw ${stepProcesses.size} step processes`)
    // The analysis step was given the key it uses (and the scan would have seen it anywhere else).
    assert.ok(analysisWithKey.size > 0, 'an analysis step process holds the LLM key')
    assert.deepEqual([...new Set(leaks)], [])
    // The main process was given the signing secret and the token (it needs them): the scan reads them.
    const main = readProc(mainPid)!
    assert.ok(main.environ.includes(metricsToken), 'the scan reads environments')
    // The archive it cannot reach is reported in the logs, by host and port, never with the password.
    const out = sentinel.output()
    assert.match(out, /archive/i)
    assert.ok(!out.includes(databasePassword), 'the archive password is not in the logs')
  })
})
