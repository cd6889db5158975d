import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { describe, it } from 'node:test'
import { CONFIG_VARIABLES, ConfigError, loadConfig, parseDotEnv } from './index'
import { scrubMainProcessSecrets } from './secrets'

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
        () => loadConfig({ PORT: 'eighty', PROMETHEUS_URL: 'ftp://x', WATCH_LABEL: 'nolabel', SHADOW_MODE: 'maybe' }, dir),
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

  it('refuses a port the Workbench cannot serve next to, unless the Workbench is off', () => {
    const dir = emptyDir()
    try {
      assert.throws(() => loadConfig({ PORT: '50000', WORKBENCH: 'true' }, dir), /PORT: 50000 is too high while WORKBENCH=true/)
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
      writeFileSync(path.join(dir, '.env'), '# comment\nPORT=4100\nHOST="0.0.0.0"\nLOG_LEVEL=debug # trailing\n')
      const cfg = loadConfig({ PORT: '4200' }, dir)
      assert.equal(cfg.PORT, 4200)
      assert.equal(cfg.HOST, '0.0.0.0')
      assert.equal(cfg.LOG_LEVEL, 'debug')
    } finally {
      rmSync(dir, { recursive: true })
    }
  })

  it('parses dotenv quoting and comments', () => {
    assert.deepEqual(parseDotEnv("A=1\n export B='two words'\n#C=3\nD=x # note\nbad line\n"), { A: '1', B: 'two words', D: 'x' })
  })

  it('.env.example documents every variable, with a value that passes validation', () => {
    const example = readFileSync(path.join(import.meta.dirname, '..', '..', '.env.example'), 'utf8')
    const documented = Object.keys(parseDotEnv(example)).sort()
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
        () => loadConfig({ CORS_ORIGINS: '*,https://ok.example.com,https://x.example.com/path', TRUST_PROXY: '10.0.0.0/33,nope', METRICS_TOKEN: 'short', SLACK_BOT_TOKEN: 'xoxb-1' }, dir),
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
      const cfg = loadConfig({ CORS_ORIGINS: 'https://ops.example.com/, http://localhost:8080', TRUST_PROXY: '127.0.0.1, 10.0.0.0/8, ::1' }, dir)
      assert.deepEqual(cfg.CORS_ORIGINS, ['https://ops.example.com', 'http://localhost:8080'])
      assert.deepEqual(cfg.TRUST_PROXY, ['127.0.0.1', '10.0.0.0/8', '::1'])
    } finally {
      rmSync(dir, { recursive: true })
    }
  })

  it('a step process counts the secrets the main process scrubbed as set', () => {
    const dir = emptyDir()
    try {
      const env: NodeJS.ProcessEnv = { SLACK_BOT_TOKEN: 'xoxb-1', SLACK_SIGNING_SECRET: 'secret-secret', SLACK_CHANNEL: 'C1', SENTINEL_API_KEYS: `admin:${'a'.repeat(30)}` }
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
