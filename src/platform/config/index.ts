/**
 * The one place Sentinel reads its environment. Every variable is validated with zod;
 * a bad or missing value stops the start with the variable's name and what was expected.
 * `.env.example` documents each variable; keep the two in step (a test checks they match).
 */
import { existsSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { z } from 'zod'
import { isAddressOrCidr } from './addresses'
import { scrubbedSecrets } from './secrets'
import { parseAllowlist } from '../../actions/kill-process/allowlist'
import { loadObserveSettings, observeEnvSchema, type ObserveSettings } from '../../observe/settings'
import { parseFreezeWindows } from '../../decide/freeze'
import { parseSlackUserRoles } from '../../approve/slack/config'

const bool = (fallback: boolean) =>
  z
    .enum(['true', 'false', '1', '0', 'yes', 'no', ''])
    .default(fallback ? 'true' : 'false')
    .transform((v) => (v === '' ? fallback : v === 'true' || v === '1' || v === 'yes'))

const int = (fallback: number, min: number, max: number) =>
  z
    .string()
    .default(String(fallback))
    .transform((v, ctx) => {
      if (v.trim() === '') return fallback
      const n = Number(v)
      if (!Number.isInteger(n) || n < min || n > max) {
        ctx.addIssue({ code: 'custom', message: `expected a whole number from ${min} to ${max}, got "${v}"` })
        return z.NEVER
      }
      return n
    })

const num = (fallback: number, min: number, max: number) =>
  z
    .string()
    .default(String(fallback))
    .transform((v, ctx) => {
      if (v.trim() === '') return fallback
      const n = Number(v)
      if (!Number.isFinite(n) || n < min || n > max) {
        ctx.addIssue({ code: 'custom', message: `expected a number from ${min} to ${max}, got "${v}"` })
        return z.NEVER
      }
      return n
    })

const optionalUrl = z
  .string()
  .default('')
  .transform((v, ctx) => {
    if (v.trim() === '') return undefined
    try {
      const u = new URL(v)
      if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('protocol')
      return v.replace(/\/+$/, '')
    } catch {
      ctx.addIssue({ code: 'custom', message: `expected an http(s) URL, got "${v}"` })
      return z.NEVER
    }
  })

const optionalString = z
  .string()
  .default('')
  .transform((v) => (v.trim() === '' ? undefined : v.trim()))

const splitList = (v: string) =>
  v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)

/** Proxies whose X-Forwarded-For is believed: IPv4/IPv6 addresses or CIDR blocks, comma-separated. */
const addressList = z
  .string()
  .default('')
  .transform((v, ctx) => {
    const items = splitList(v)
    const bad = items.filter((item) => !isAddressOrCidr(item))
    if (bad.length) {
      ctx.addIssue({ code: 'custom', message: `expected IP addresses or CIDR blocks (10.0.0.1, 10.0.0.0/8, ::1), got ${bad.map((b) => `"${b}"`).join(', ')}` })
      return z.NEVER
    }
    return items
  })

/** Origins a browser may call the API from (scheme://host[:port]); empty: CORS off. */
const originList = z
  .string()
  .default('')
  .transform((v, ctx) => {
    const items = splitList(v)
    const bad = items.filter((item) => {
      try {
        const u = new URL(item)
        return (u.protocol !== 'http:' && u.protocol !== 'https:') || u.origin !== item.replace(/\/+$/, '')
      } catch {
        return true
      }
    })
    if (bad.length) {
      ctx.addIssue({ code: 'custom', message: `expected origins such as https://ops.example.com (scheme, host and port only; no "*"), got ${bad.map((b) => `"${b}"`).join(', ')}` })
      return z.NEVER
    }
    return items.map((item) => item.replace(/\/+$/, ''))
  })

/** `key=value` label selector, e.g. `sentinel.watch=true`. */
const labelSelector = z
  .string()
  .default('sentinel.watch=true')
  .transform((v, ctx) => {
    const m = /^([A-Za-z0-9._/-]+)=(.+)$/.exec(v.trim())
    if (!m) {
      ctx.addIssue({ code: 'custom', message: `expected key=value (for example sentinel.watch=true), got "${v}"` })
      return z.NEVER
    }
    return { key: m[1], value: m[2] }
  })

export const configSchema = z.object({
  PORT: int(3000, 1, 65535),
  HOST: z.string().default('127.0.0.1'),
  LOG_LEVEL: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
  DATA_DIR: z.string().default('.data'),

  REDIS_HOST: z.string().default('127.0.0.1'),
  REDIS_PORT: int(6380, 1, 65535),
  REDIS_PASSWORD: optionalString,

  DOCKER_SOCKET: z.string().default('/var/run/docker.sock'),
  WATCH_LABEL: labelSelector,
  RESTART_TIMEOUT_SECONDS: int(10, 1, 300),
  VERIFY_TIMEOUT_SECONDS: int(20, 1, 600),
  VERIFY_STABLE_SECONDS: num(1, 0, 300),

  RATE_LIMIT_MAX_ACTIONS: int(3, 1, 1000),
  RATE_LIMIT_WINDOW_SECONDS: int(900, 1, 86400 * 7),

  PROMETHEUS_URL: optionalUrl,
  MONITOR_CRON: z
    .string()
    .default('*/2 * * * *')
    .refine((v) => /^\S+(\s+\S+){4,5}$/.test(v.trim()), 'expected a cron expression of 5 fields (or 6, with seconds first)'),
  OPENROUTER_API_KEY: optionalString,
  OPENROUTER_BASE_URL: z.string().default('https://openrouter.ai/api/v1'),
  OPENROUTER_MODEL: z.string().default('deepseek/deepseek-r1'),
  LLM_STREAM: bool(false),
  LLM_DEADLINE_SECONDS: int(30, 1, 600),
  LLM_MAX_ATTEMPTS: int(3, 1, 10),
  LLM_MAX_TOKENS: int(8192, 64, 200_000),
  LLM_HOURLY_TOKEN_BUDGET: int(200_000, 0, 1_000_000_000),
  LLM_PRICE_INPUT_PER_MTOK: num(0.55, 0, 10_000),
  LLM_PRICE_OUTPUT_PER_MTOK: num(2.19, 0, 10_000),
  APPROVAL_TIMEOUT_SECONDS: int(900, 10, 7 * 86400),
  SLACK_BOT_TOKEN: optionalString,
  SLACK_SIGNING_SECRET: optionalString,
  SLACK_CHANNEL: optionalString,
  SLACK_API_URL: z.string().default('https://slack.com/api/'),
  SLACK_USER_ROLES: optionalString,
  SENTINEL_STREAM_SECRET: optionalString,
  FREEZE_WINDOWS: optionalString,
  MAX_CONCURRENT_REMEDIATIONS: int(2, 1, 1000),
  REMEDIATION_LEASE_SECONDS: int(300, 10, 86400),

  WORKBENCH: bool(false),
  SENTINEL_API_KEYS: optionalString,
  API_KEYS_FILE: optionalString,
  AUTH_MAX_FAILURES: int(10, 1, 10_000),
  AUTH_FAILURE_WINDOW_SECONDS: int(60, 1, 86400),
  TRUST_PROXY: addressList,
  CORS_ORIGINS: originList,
  METRICS_TOKEN: optionalString,
  MAX_BODY_BYTES: int(1024 * 1024, 1024, 16 * 1024 * 1024),
  STREAM_MAX_SECONDS: int(900, 0, 86400),
  SANDBOX_DIR: z.string().default('./sandbox'),
  SANDBOX_QUARANTINE_RETENTION_SECONDS: int(86400, 60, 90 * 86400),
  KILL_PROCESS_ALLOWLIST: optionalString,
  KILL_PROCESS_GRACE_SECONDS: num(5, 0, 300),
  SCALE_OUT_MAX_REPLICAS: int(3, 1, 20),
  MEMORY_LIMIT_CEILING_BYTES: int(4 * 1024 ** 3, 4 * 1024 ** 2, 1024 ** 4),
  SHADOW_MODE: bool(false),
  ALLOWED_ACTIONS: z
    .string()
    .default('')
    .transform((v) =>
      v
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean),
    ),
  CONFIDENCE_THRESHOLD: num(0.5, 0, 1),
})

// Motia's Workbench listens for hot reload on 21678 + PORT; past this the start fails silently.
export const MAX_PORT_WITH_WORKBENCH = 65535 - 21678

export type SentinelConfig = z.infer<typeof configSchema> & { projectRoot: string; observe: ObserveSettings }

export class ConfigError extends Error {
  constructor(public readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`)
    this.name = 'ConfigError'
  }
}

/** Parses a dotenv file: KEY=value lines, # comments, optional single or double quotes. */
export function parseDotEnv(text: string): Record<string, string> {
  const out: Record<string, string> = {}
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim()
    if (!line || line.startsWith('#')) continue
    const m = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(line)
    if (!m) continue
    let value = m[2]
    if ((value.startsWith('"') && value.endsWith('"')) || (value.startsWith("'") && value.endsWith("'"))) {
      value = value.slice(1, -1)
    } else {
      value = value.replace(/\s+#.*$/, '')
    }
    out[m[1]] = value
  }
  return out
}

/**
 * Reads the configuration from `env` (the process environment by default), with values from
 * `<projectRoot>/.env` filling what the environment does not set. Throws ConfigError naming
 * every bad variable.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, projectRoot = process.cwd()): SentinelConfig {
  const dotEnvPath = path.join(projectRoot, '.env')
  const fromFile = existsSync(dotEnvPath) ? parseDotEnv(readFileSync(dotEnvPath, 'utf8')) : {}
  const merged: Record<string, string | undefined> = { ...fromFile }
  for (const key of [...Object.keys(configSchema.shape), ...Object.keys(observeEnvSchema.shape)]) {
    if (env[key] !== undefined) merged[key] = env[key]
  }
  // Every problem in one pass: the schema's, then the checks that read several variables or a
  // variable's inner syntax, run on the raw values so a bad port does not hide a bad threshold.
  const result = configSchema.safeParse(merged)
  const problems = result.success ? [] : result.error.issues.map((issue) => `${issue.path.join('.') || '(environment)'}: ${issue.message}`)
  const raw = (name: string) => (merged[name] ?? '').trim()
  const check = (fn: () => unknown) => {
    try {
      fn()
    } catch (err) {
      problems.push(...((err as { problems?: string[] }).problems ?? [(err as Error).message]))
    }
  }
  let observe: ObserveSettings | undefined
  check(() => (observe = loadObserveSettings(merged)))
  check(() => parseFreezeWindows(raw('FREEZE_WINDOWS') || undefined))
  if (raw('SLACK_USER_ROLES')) check(() => parseSlackUserRoles(raw('SLACK_USER_ROLES')))
  if (raw('KILL_PROCESS_ALLOWLIST')) check(() => parseAllowlist(raw('KILL_PROCESS_ALLOWLIST')))
  if (raw('SENTINEL_STREAM_SECRET') && raw('SENTINEL_STREAM_SECRET').length < 32) problems.push('SENTINEL_STREAM_SECRET: expected at least 32 characters')
  // A step process inherits the environment without the main-process secrets; they count as set.
  const scrubbed = scrubbedSecrets(env)
  const slackSet = ['SLACK_BOT_TOKEN', 'SLACK_SIGNING_SECRET', 'SLACK_CHANNEL'].filter((k) => raw(k) || scrubbed.has(k))
  if (slackSet.length && slackSet.length < 3) {
    problems.push(`SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET, SLACK_CHANNEL: set all three or none (set: ${slackSet.join(', ')})`)
  }
  if (raw('METRICS_TOKEN') && raw('METRICS_TOKEN').length < 24) {
    problems.push('METRICS_TOKEN: expected at least 24 characters (it guards /metrics; make one with `openssl rand -hex 24`)')
  }
  if (result.success && result.data.WORKBENCH && result.data.PORT > MAX_PORT_WITH_WORKBENCH) {
    problems.push(`PORT: ${result.data.PORT} is too high while WORKBENCH=true (Motia's Workbench needs PORT + 21678 for hot reload): use ${MAX_PORT_WITH_WORKBENCH} or less, or set WORKBENCH=false`)
  }
  if (!result.success || problems.length) throw new ConfigError(problems)
  return { ...result.data, projectRoot, observe: observe! }
}

// On globalThis: Motia loads motia.config.ts (and so this module) more than once in the main
// process, and the secrets scrubbed from the environment after the first read must not be missed
// by a second copy of the module.
const CACHE = Symbol.for('sentinel.config')
type WithConfig = typeof globalThis & { [CACHE]?: SentinelConfig }

/** The process-wide configuration, read once. */
export function getConfig(): SentinelConfig {
  const g = globalThis as WithConfig
  if (!g[CACHE]) g[CACHE] = loadConfig()
  return g[CACHE]
}

/** For tests: forget the cached configuration. */
export function resetConfigCache(): void {
  delete (globalThis as WithConfig)[CACHE]
}

export const CONFIG_VARIABLES = [...Object.keys(configSchema.shape), ...Object.keys(observeEnvSchema.shape)]
