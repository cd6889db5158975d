import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { createHmac } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { describe, it } from 'node:test'
import dotenv from 'dotenv'
import { CONFIG_VARIABLES, ConfigError, loadConfig, readDotEnv } from './index'
import { scrubMainProcessSecrets } from './secrets'

const ROOT = path.resolve(import.meta.dirname, '..', '..', '..')

const emptyDir = () => mkdtempSync(path.join(os.tmpdir(), 'sentinel-test-config-'))

describe('configuration', () => {
  it('has working defaults for everything', () => {
    const dir = emptyDir()
    try {
      const cfg = loadConfig({}, dir)
      assert.equal(cfg.PORT, 3000)
      assert.equal(cfg.PROMETHEUS_URL, undefined)
      assert.equal(cfg.OPENROUTER_API_KEY, undefined)
      assert.deepEqual(cfg.WATCH_LABEL, { key: 'sentinel.watch', value: 'true' })
      assert.equal(cfg.RATE_LIMIT_MAX_ACTIONS, 3)
      assert.equal(cfg.RATE_LIMIT_WINDOW_SECONDS, 900)
      assert.equal(cfg.SHADOW_MODE, false)
      assert.equal(cfg.WORKBENCH, false)
      assert.equal(cfg.MAX_BODY_BYTES, 1024 * 1024)
      assert.deepEqual(cfg.CORS_ORIGINS, [])
      assert.deepEqual(cfg.TRUST_PROXY, [])
    } finally {
      rmSync(dir, { recursive: true })
    }
  })

  it('names every bad variable and what it expected', () => {
    const dir = emptyDir()
    try {
      assert.throws(
        () =>
          loadConfig({ PORT: 'eighty', PROMETHEUS_URL: 'ftp://x', WATCH_LABEL: 'nolabel', SHADOW_MODE: 'maybe' }, dir),
        (err: unknown) => {
          assert.ok(err instanceof ConfigError)
          const text = err.message
          assert.match(text, /PORT: expected a whole number from 1 to 65535, got "eighty"/)
          assert.match(text, /PROMETHEUS_URL: expected an http\(s\) URL/)
          assert.match(text, /WATCH_LABEL: expected key=value/)
          assert.match(text, /SHADOW_MODE/)
          return true
        },
      )
    } finally {
      rmSync(dir, { recursive: true })
    }
  })

  it('refuses a DATABASE_URL that is not PostgreSQL, without echoing it, with the other bad variables', () => {
    const dir = emptyDir()
    try {
      assert.throws(
        () => loadConfig({ DATABASE_URL: 'mysql://u:hunter2@db/x', INCIDENT_RETENTION_DAYS: '-1' }, dir),
        (err: unknown) => {
          assert.ok(err instanceof ConfigError)
          assert.match(err.message, /DATABASE_URL: expected a postgres:\/\/ URL, got mysql:/)
          assert.match(err.message, /INCIDENT_RETENTION_DAYS/)
          assert.doesNotMatch(err.message, /hunter2/)
          return true
        },
      )
      const ok = loadConfig({ DATABASE_URL: 'postgresql://u:p@127.0.0.1:5432/sentinel' }, dir)
      assert.equal(ok.DATABASE_URL, 'postgresql://u:p@127.0.0.1:5432/sentinel')
      assert.equal(loadConfig({}, dir).INCIDENT_RETENTION_DAYS, 7)
    } finally {
      rmSync(dir, { recursive: true })
    }
  })

  it('bounds the stream-token lifetime and the escalation delay, naming both in one error', () => {
    const dir = emptyDir()
    try {
      const ok = loadConfig({ STREAM_TOKEN_TTL_SECONDS: '20', ESCALATE_AFTER_MINUTES: '0.05' }, dir)
      assert.equal(ok.STREAM_TOKEN_TTL_SECONDS, 20)
      assert.equal(ok.ESCALATE_AFTER_MINUTES, 0.05)
      assert.equal(loadConfig({}, dir).ESCALATE_AFTER_MINUTES, undefined, 'unset: the routing file decides')
      assert.throws(
        () => loadConfig({ STREAM_TOKEN_TTL_SECONDS: '4', ESCALATE_AFTER_MINUTES: 'soon' }, dir),
        (err: unknown) => {
          assert.ok(err instanceof ConfigError)
          assert.match(err.message, /STREAM_TOKEN_TTL_SECONDS: expected a whole number from 5 to 3600, got "4"/)
          assert.match(err.message, /ESCALATE_AFTER_MINUTES: expected minutes from 0.01 to 10080, got "soon"/)
          return true
        },
      )
    } finally {
      rmSync(dir, { recursive: true })
    }
  })

  it('refuses a port the Workbench cannot serve next to, unless the Workbench is off', () => {
    const dir = emptyDir()
    try {
      assert.throws(
        () => loadConfig({ PORT: '50000', WORKBENCH: 'true' }, dir),
        /PORT: 50000 is too high while WORKBENCH=true/,
      )
      assert.equal(loadConfig({ PORT: '50000', WORKBENCH: 'false' }, dir).PORT, 50000)
      // The Workbench is off by default (issue #17): a high port needs nothing else.
      assert.equal(loadConfig({ PORT: '50000' }, dir).PORT, 50000)
    } finally {
      rmSync(dir, { recursive: true })
    }
  })

  it('reads .env, and the environment wins over it', () => {
    const dir = emptyDir()
    try {
      writeFileSync(
        path.join(dir, '.env'),
        '# comment\nPORT=4100\nHOST="0.0.0.0"\nLOG_LEVEL=debug # trailing\nMONITOR_CRON=*/10 * * * * *\nTHRESHOLD_CPU_PERCENT=70\nKILL_PROCESS_ALLOWLIST=["^from-file$"]\n',
      )
      const cfg = loadConfig({ PORT: '4200', MONITOR_CRON: '0 * * * *', THRESHOLD_CPU_PERCENT: '90' }, dir)
      assert.equal(cfg.PORT, 4200)
      assert.equal(cfg.MONITOR_CRON, '0 * * * *')
      assert.equal(cfg.observe.THRESHOLD_CPU_PERCENT, 90)
      assert.equal(cfg.HOST, '0.0.0.0')
      assert.equal(cfg.LOG_LEVEL, 'debug')
      assert.deepEqual(cfg.KILL_PROCESS_ALLOWLIST.map(String), ['/^from-file$/'])
      // Set to empty in the environment is set: the default, not .env's value.
      assert.equal(loadConfig({ MONITOR_CRON: '' }, dir).MONITOR_CRON, '*/2 * * * *')
      assert.equal(loadConfig({}, dir).MONITOR_CRON, '*/10 * * * * *')
    } finally {
      rmSync(dir, { recursive: true })
    }
  })

  it('reads .env with dotenv: quotes, comments, export, multi-line values', () => {
    const dir = emptyDir()
    try {
      writeFileSync(
        path.join(dir, '.env'),
        'A=1\n export B=\'two words\'\n#C=3\nD=x # note\nE="line one\nline two"\nbad line\n',
      )
      assert.deepEqual(readDotEnv(dir), { A: '1', B: 'two words', D: 'x', E: 'line one\nline two' })
      assert.deepEqual(readDotEnv(path.join(dir, 'nowhere')), {})
    } finally {
      rmSync(dir, { recursive: true })
    }
  })

  it('takes MONITOR_CRON only as Motia schedules it: 5 fields, or 6 with seconds', () => {
    const dir = emptyDir()
    try {
      assert.equal(loadConfig({ MONITOR_CRON: ' */15  * * * * * ' }, dir).MONITOR_CRON, '*/15 * * * * *')
      assert.equal(loadConfig({ MONITOR_CRON: '0 9-17 * * mon-fri' }, dir).MONITOR_CRON, '0 9-17 * * mon-fri')
      for (const bad of ['*/2 * * *', '* * * * * * *', '61 * * * *', '* 24 * * *', 'every minute', '*/x * * * *']) {
        assert.throws(
          () => loadConfig({ MONITOR_CRON: bad }, dir),
          (err: Error) =>
            err.message.includes(`MONITOR_CRON: expected a cron expression of 5 fields`) &&
            err.message.includes(`got "${bad}"`),
          bad,
        )
      }
    } finally {
      rmSync(dir, { recursive: true })
    }
  })

  it('names a bad port, a bad threshold and a short API key in one error, from the environment and .env alike', () => {
    const dir = emptyDir()
    try {
      writeFileSync(
        path.join(dir, '.env'),
        'SENTINEL_API_KEYS=admin:short\nOTEL_EXPORTER_OTLP_ENDPOINT=localhost:4318\n',
      )
      assert.throws(
        () =>
          loadConfig({ PORT: '99999', THRESHOLD_CPU_PERCENT: 'lots', MONITOR_CRON: '* * *', LOG_LEVEL: 'loud' }, dir),
        (err: unknown) => {
          assert.ok(err instanceof ConfigError)
          assert.match(err.message, /PORT: expected a whole number from 1 to 65535, got "99999"/)
          assert.match(err.message, /THRESHOLD_CPU_PERCENT: expected a number from 0 to 100, got "lots"/)
          assert.match(
            err.message,
            /SENTINEL_API_KEYS: entry 1 of 1 \(admin\) has a key of 5 characters; keys must be at least 24/,
          )
          assert.match(err.message, /MONITOR_CRON: expected a cron expression/)
          assert.match(
            err.message,
            /LOG_LEVEL: expected one of trace, debug, info, warn, error, fatal, silent, got "loud"/,
          )
          assert.match(err.message, /OTEL_EXPORTER_OTLP_ENDPOINT: expected an http\(s\) URL/)
          assert.doesNotMatch(err.message, /short/, 'the key itself is never shown')
          assert.equal(err.problems.length, 6)
          return true
        },
      )
    } finally {
      rmSync(dir, { recursive: true })
    }
  })

  it('reads the parsed forms: freeze windows, Slack roles and URL, the allow-list, tracing', () => {
    const dir = emptyDir()
    try {
      const cfg = loadConfig(
        {
          FREEZE_WINDOWS: '0 22 * * FRI|2d12h|Europe/Berlin|weekend',
          SLACK_USER_ROLES: 'U0ADMIN:admin',
          SLACK_API_URL: 'http://127.0.0.1:9/api',
          KILL_PROCESS_ALLOWLIST: 'stress-ng, ^python3 ',
          OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318/',
          OTEL_SDK_DISABLED: 'TRUE',
        },
        dir,
      )
      assert.equal(cfg.FREEZE_WINDOWS[0].label, 'weekend')
      assert.deepEqual(cfg.SLACK_USER_ROLES, { U0ADMIN: 'admin' })
      assert.equal(cfg.SLACK_API_URL, 'http://127.0.0.1:9/api/')
      assert.deepEqual(cfg.KILL_PROCESS_ALLOWLIST.map(String), ['/stress-ng/', '/^python3/'])
      assert.equal(cfg.OTEL_EXPORTER_OTLP_ENDPOINT, 'http://127.0.0.1:4318')
      assert.equal(cfg.OTEL_SDK_DISABLED, true)
      assert.throws(
        () =>
          loadConfig(
            {
              FREEZE_WINDOWS: 'whenever',
              SLACK_USER_ROLES: 'alice:admin',
              SLACK_API_URL: 'slack',
              KILL_PROCESS_ALLOWLIST: '["(unclosed"]',
              SENTINEL_STREAM_SECRET: 'short',
            },
            dir,
          ),
        (err: unknown) => {
          const problems = (err as ConfigError).problems
          assert.match(problems[0], /^SLACK_API_URL: "slack" is not a URL$/)
          assert.match(problems[1], /^SLACK_USER_ROLES: entry 1 of 1: "alice" is not a Slack user id/)
          assert.match(problems[2], /^SENTINEL_STREAM_SECRET: expected at least 32 characters$/)
          assert.match(problems[3], /^FREEZE_WINDOWS: window 1 of 1: window "whenever" must be/)
          assert.match(problems[4], /^KILL_PROCESS_ALLOWLIST: invalid regex "\(unclosed"/)
          assert.equal(problems.length, 5)
          return true
        },
      )
    } finally {
      rmSync(dir, { recursive: true })
    }
  })

  it('.env.example documents every variable, with a value that passes validation', () => {
    const example = readFileSync(path.join(ROOT, '.env.example'), 'utf8')
    const documented = Object.keys(dotenv.parse(example)).sort()
    assert.deepEqual(documented, [...CONFIG_VARIABLES].sort())
    const dir = emptyDir()
    try {
      writeFileSync(path.join(dir, '.env'), example)
      assert.doesNotThrow(() => loadConfig({}, dir))
    } finally {
      rmSync(dir, { recursive: true })
    }
  })
})

describe('front-door settings', () => {
  it('validates origins, proxies, the metrics token and Slack together, naming each', () => {
    const dir = emptyDir()
    try {
      assert.throws(
        () =>
          loadConfig(
            {
              CORS_ORIGINS: '*,https://ok.example.com,https://x.example.com/path',
              TRUST_PROXY: '10.0.0.0/33,nope',
              METRICS_TOKEN: 'short',
              SLACK_BOT_TOKEN: 'xoxb-1',
            },
            dir,
          ),
        (err: unknown) => {
          const text = (err as Error).message
          assert.match(text, /CORS_ORIGINS: .*"\*".*"https:\/\/x.example.com\/path"/)
          assert.doesNotMatch(text, /"https:\/\/ok.example.com"/)
          assert.match(text, /TRUST_PROXY: .*"10.0.0.0\/33", "nope"/)
          assert.match(text, /METRICS_TOKEN: expected at least 24 characters/)
          assert.match(text, /set all three or none \(set: SLACK_BOT_TOKEN\)/)
          return true
        },
      )
      const cfg = loadConfig(
        { CORS_ORIGINS: 'https://ops.example.com/, http://localhost:8080', TRUST_PROXY: '127.0.0.1, 10.0.0.0/8, ::1' },
        dir,
      )
      assert.deepEqual(cfg.CORS_ORIGINS, ['https://ops.example.com', 'http://localhost:8080'])
      assert.deepEqual(cfg.TRUST_PROXY, ['127.0.0.1', '10.0.0.0/8', '::1'])
    } finally {
      rmSync(dir, { recursive: true })
    }
  })

  it('a step process counts the secrets the main process scrubbed as set', () => {
    const dir = emptyDir()
    try {
      const env: NodeJS.ProcessEnv = {
        SLACK_BOT_TOKEN: 'xoxb-1',
        SLACK_SIGNING_SECRET: 'secret-secret',
        SLACK_CHANNEL: 'C1',
        SENTINEL_API_KEYS: `admin:${'a'.repeat(30)}`,
      }
      loadConfig(env, dir)
      scrubMainProcessSecrets(env)
      assert.equal(env.SLACK_SIGNING_SECRET, undefined)
      assert.equal(env.SENTINEL_API_KEYS, undefined)
      assert.doesNotMatch(JSON.stringify(env), /secret-secret|aaaaaaaaaa/)
      assert.equal(loadConfig(env, dir).SLACK_CHANNEL, 'C1')
    } finally {
      rmSync(dir, { recursive: true })
    }
  })
})

describe('a value set only in .env', () => {
  it('is what the monitor cron step, the logger, tracing, the stream tokens and kill_process see', async () => {
    const dir = emptyDir()
    const secret = `dotenv-stream-secret-${'s'.repeat(20)}`
    const names = [
      'MONITOR_CRON',
      'LOG_LEVEL',
      'SENTINEL_STREAM_SECRET',
      'KILL_PROCESS_ALLOWLIST',
      'KILL_PROCESS_GRACE_SECONDS',
      'SENTINEL_SCRUBBED_SECRETS',
    ]
    try {
      writeFileSync(
        path.join(dir, '.env'),
        [
          'MONITOR_CRON=*/10 * * * * *',
          'LOG_LEVEL=warn',
          'OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318',
          'OTEL_SERVICE_NAME=from-dotenv',
          `SENTINEL_STREAM_SECRET=${secret}`,
          `KILL_PROCESS_ALLOWLIST='["^stress-ng --cpu", "^python3 /opt/jobs/"]'`,
          'KILL_PROCESS_GRACE_SECONDS=7',
        ].join('\n'),
      )
      // A fresh process whose project root (its working directory) holds that .env, loading the
      // modules that read each setting: the step module as Motia loads it for its config.
      const script = path.join(dir, 'consumers.mts')
      writeFileSync(
        script,
        `const root = ${JSON.stringify(ROOT)}
const { config } = await import(root + '/steps/observe/monitor.cron.step.ts')
const { getLogger } = await import(root + '/src/platform/telemetry/log.ts')
const { tracingEnabled, tracingOptionsFromConfig } = await import(root + '/src/platform/telemetry/tracing.ts')
const { issueStreamToken } = await import(root + '/src/platform/auth/stream-token.ts')
const { actionSetting, numberSetting } = await import(root + '/src/actions/types.ts')
console.log(JSON.stringify({
  cron: config.cron,
  level: getLogger().level,
  tracing: tracingEnabled(),
  tracingOptions: tracingOptionsFromConfig(),
  token: issueStreamToken('viewer', 'key1').token,
  allowlist: actionSetting('KILL_PROCESS_ALLOWLIST').map(String),
  graceSeconds: numberSetting('KILL_PROCESS_GRACE_SECONDS'),
}))
process.exit(0)
`,
      )
      const env = Object.fromEntries(
        Object.entries(process.env).filter(([k]) => !names.includes(k) && !k.startsWith('OTEL_')),
      )
      const stdout = await new Promise<string>((resolve, reject) =>
        execFile(
          process.execPath,
          ['--import', import.meta.resolve('tsx'), script],
          { cwd: dir, env, timeout: 60_000 },
          (err, out, errOut) => (err ? reject(new Error(`${err.message}\n${errOut}`)) : resolve(out)),
        ),
      )
      const seen = JSON.parse(stdout.trim().split('\n').pop()!)
      assert.equal(seen.cron, '*/10 * * * * *')
      assert.equal(seen.level, 'warn')
      assert.equal(seen.tracing, true)
      assert.deepEqual(seen.tracingOptions, {
        tracesUrl: 'http://127.0.0.1:4318/v1/traces',
        serviceName: 'from-dotenv',
      })
      assert.deepEqual(seen.allowlist, ['/^stress-ng --cpu/', '/^python3 \\/opt\\/jobs\\//'])
      assert.equal(seen.graceSeconds, 7)
      // Signed with the secret from .env, not a random one.
      const [payload, signature] = (seen.token as string).split('.')
      assert.equal(signature, createHmac('sha256', secret).update(payload).digest('base64url'))
    } finally {
      rmSync(dir, { recursive: true })
    }
  })

  it('is not read back by a step process for a secret the main process scrubbed', () => {
    const dir = emptyDir()
    try {
      writeFileSync(
        path.join(dir, '.env'),
        `METRICS_TOKEN=${'m'.repeat(30)}\nSENTINEL_STREAM_SECRET=${'s'.repeat(40)}\n`,
      )
      const env: NodeJS.ProcessEnv = {}
      const main = loadConfig(env, dir)
      assert.equal(main.METRICS_TOKEN, 'm'.repeat(30))
      scrubMainProcessSecrets(
        env,
        ['METRICS_TOKEN', 'SENTINEL_STREAM_SECRET'].filter((k) => main[k as 'METRICS_TOKEN']),
      )
      const step = loadConfig(env, dir)
      assert.equal(step.METRICS_TOKEN, undefined)
      assert.equal(step.SENTINEL_STREAM_SECRET, undefined)
    } finally {
      rmSync(dir, { recursive: true })
    }
  })
})
