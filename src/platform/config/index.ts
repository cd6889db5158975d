/**
 * The one place Sentinel reads its environment. Every variable is validated with zod, all in one
 * pass: a bad or missing value stops the start with one error naming every bad variable and what
 * was expected. Values come from the environment, then from `<projectRoot>/.env` (read with
 * dotenv) for what the environment does not set. `.env.example` documents each variable; keep the
 * two in step (a test checks they match). The settings of one concern live beside this file:
 * observe.ts (monitoring), freeze-windows.ts, slack.ts, allowlist.ts (kill_process).
 *
 * Modules read `getConfig()`, never `process.env`. The only direct reads left, on purpose:
 *  - MOTIA_* (MOTIA_ANALYTICS_DISABLED, MOTIA_WORKBENCH_BASE, MOTIA_REDIS_*...): the framework's own
 *    switches, set by the launch scripts for Motia, not settings of Sentinel;
 *  - SENTINEL_SCRUBBED_SECRETS (secrets.ts): written by the main process for its step processes;
 *  - src/platform/instance/lock-child.ts (LOCK_DIR, MODE): a child process the lock's tests spawn;
 *  - npm_* in scripts/keys.ts: what npm tells a script about its own command line.
 * Writes to process.env (motia.config.ts, scrubMainProcessSecrets) are not reads of settings.
 *
 * Light on purpose: step processes load this (every step reads the configuration), so it imports
 * zod, dotenv, node-cron's validator and the small parsers beside it, nothing of the stages.
 */
import { existsSync, readFileSync } from 'node:fs'
import path from 'node:path'
import dotenv from 'dotenv'
import cron from 'node-cron'
import { z } from 'zod'
import { parseApiKeysEnv } from '../auth/keys'
import { isAddressOrCidr } from './addresses'
import { parseAllowlist } from './allowlist'
import { bool, int, list, num, optionalSecret, optionalString, optionalUrl, parsed, splitList, text } from './fields'
import { parseFreezeWindows } from './freeze-windows'
import { parseNodeCommands } from './node-commands'
import { NODE_NAME_PATTERN } from '../fleet/keys'
import os from 'node:os'
import { observeEnvSchema, type ObserveSettings } from './observe'
import { scrubbedSecrets } from './secrets'
import { normalizeApiUrl, parseSlackUserRoles } from './slack'

const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const

/** One of the given words (any case); empty: the fallback. */
const oneOf = <const T extends readonly string[]>(values: T, fallback: T[number]) =>
  z
    .string()
    .optional()
    .transform((v, ctx): T[number] => {
      const t = (v ?? '').trim().toLowerCase()
      if (t === '') return fallback
      if (values.includes(t)) return t as T[number]
      ctx.addIssue({ code: 'custom', message: `expected one of ${values.join(', ')}, got "${v}"` })
      return z.NEVER
    })

/**
 * A cron expression as Motia schedules it: 5 fields (minute hour day-of-month month day-of-week) or
 * 6 with seconds first, each accepted by node-cron, Motia's scheduler (which would otherwise only
 * log the bad expression and never run the step). Blanks between fields are normalised to one.
 */
const motiaCron = (fallback: string) =>
  z
    .string()
    .optional()
    .transform((v, ctx) => {
      const t = (v ?? '').trim().split(/\s+/).filter(Boolean).join(' ')
      if (t === '') return fallback
      const fields = t.split(' ').length
      if ((fields !== 5 && fields !== 6) || !cron.validate(t)) {
        ctx.addIssue({
          code: 'custom',
          message: `expected a cron expression of 5 fields (minute hour day-of-month month day-of-week), or 6 with seconds first (*/15 * * * * * = every 15 s), got "${v}"`,
        })
        return z.NEVER
      }
      return t
    })

/** Proxies whose X-Forwarded-For is believed: IPv4/IPv6 addresses or CIDR blocks, comma-separated. */
const addressList = z
  .string()
  .optional()
  .transform((v, ctx) => {
    const items = splitList(v ?? '')
    const bad = items.filter((item) => !isAddressOrCidr(item))
    if (bad.length) {
      ctx.addIssue({
        code: 'custom',
        message: `expected IP addresses or CIDR blocks (10.0.0.1, 10.0.0.0/8, ::1), got ${bad.map((b) => `"${b}"`).join(', ')}`,
      })
      return z.NEVER
    }
    return items
  })

/** Origins a browser may call the API from (scheme://host[:port]); empty: CORS off. */
const originList = z
  .string()
  .optional()
  .transform((v, ctx) => {
    const items = splitList(v ?? '')
    const bad = items.filter((item) => {
      try {
        const u = new URL(item)
        return (u.protocol !== 'http:' && u.protocol !== 'https:') || u.origin !== item.replace(/\/+$/, '')
      } catch {
        return true
      }
    })
    if (bad.length) {
      ctx.addIssue({
        code: 'custom',
        message: `expected origins such as https://ops.example.com (scheme, host and port only; no "*"), got ${bad.map((b) => `"${b}"`).join(', ')}`,
      })
      return z.NEVER
    }
    return items.map((item) => item.replace(/\/+$/, ''))
  })

/** `key=value` label selector, e.g. `sentinel.watch=true`. */
const labelSelector = z
  .string()
  .optional()
  .transform((v, ctx) => {
    const t = (v ?? '').trim() || 'sentinel.watch=true'
    const m = /^([A-Za-z0-9._/-]+)=(.+)$/.exec(t)
    if (!m) {
      ctx.addIssue({ code: 'custom', message: `expected key=value (for example sentinel.watch=true), got "${v}"` })
      return z.NEVER
    }
    return { key: m[1], value: m[2] }
  })

/** SENTINEL_API_KEYS: kept as given (the key store hashes it), checked here so a bad key stops the start with the rest. */
const apiKeys = z
  .string()
  .optional()
  .transform((v, ctx) => {
    const t = (v ?? '').trim()
    if (t === '') return undefined
    try {
      parseApiKeysEnv(t)
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: (err as Error).message.replace(/^SENTINEL_API_KEYS: /, '') })
      return z.NEVER
    }
    return t
  })

/** DATABASE_URL: a postgres:// or postgresql:// URL (it may carry a password: never logged). */
const databaseUrl = z
  .string()
  .optional()
  .transform((v, ctx) => {
    const t = (v ?? '').trim()
    if (t === '') return undefined
    let u: URL
    try {
      u = new URL(t)
    } catch {
      ctx.addIssue({ code: 'custom', message: 'expected a postgres://user:password@host:port/database URL' })
      return z.NEVER
    }
    if (u.protocol !== 'postgres:' && u.protocol !== 'postgresql:') {
      ctx.addIssue({ code: 'custom', message: `expected a postgres:// URL, got ${u.protocol}//...` })
      return z.NEVER
    }
    return t
  })

/** Where REDIS_URL points, read apart (`password` decoded: a secret, like REDIS_PASSWORD). */
export interface RedisUrlParts {
  host: string
  port: number
  username?: string
  password?: string
  tls: boolean
  db: number
  /** The URL with its password replaced: safe to print. */
  redacted: string
}

/** The port of a Redis URL that names none (Redis's own; Sentinel's REDIS_PORT default differs). */
export const REDIS_URL_DEFAULT_PORT = 6379

/**
 * Reads a `redis://` or `rediss://` (TLS) URL: `[user][:password]@host[:port][/db]`. The problem,
 * when it is not one, never quotes the URL: it may carry a password.
 */
export function parseRedisUrl(text: string): { ok: true; url: RedisUrlParts } | { ok: false; problem: string } {
  const shape = 'redis://[user[:password]@]host[:port][/db], or rediss:// for TLS'
  let u: URL
  try {
    u = new URL(text)
  } catch {
    return { ok: false, problem: `expected ${shape}` }
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:')
    return { ok: false, problem: `expected ${shape}, got ${u.protocol}//...` }
  // IPv6 hosts come in brackets, which a socket does not take; a redis: URL's host keeps its case.
  const host = u.hostname.replace(/^\[(.*)\]$/, '$1').toLowerCase()
  if (!host) return { ok: false, problem: `names no host (expected ${shape})` }
  const port = u.port === '' ? REDIS_URL_DEFAULT_PORT : Number(u.port)
  if (!Number.isInteger(port) || port < 1 || port > 65535)
    return { ok: false, problem: `port ${u.port}: expected a whole number from 1 to 65535` }
  const dbPath = u.pathname.replace(/^\//, '')
  if (!/^\d{1,5}$/.test(dbPath) && dbPath !== '')
    return { ok: false, problem: 'the path must be a database number (/0)' }
  if (u.search || u.hash) return { ok: false, problem: `takes no ?query or #fragment (expected ${shape})` }
  let username: string | undefined
  let password: string | undefined
  try {
    username = decodeURIComponent(u.username) || undefined
    password = decodeURIComponent(u.password) || undefined
  } catch {
    return { ok: false, problem: 'the user or password is not valid percent-encoding' }
  }
  const tls = u.protocol === 'rediss:'
  const db = dbPath === '' ? 0 : Number(dbPath)
  const who =
    username || password ? `${username ? encodeURIComponent(username) : ''}${password ? ':[redacted]' : ''}@` : ''
  const hostPart = host.includes(':') ? `[${host}]` : host
  return {
    ok: true,
    url: { host, port, username, password, tls, db, redacted: `${u.protocol}//${who}${hostPart}:${port}/${db}` },
  }
}

/** One Redis Sentinel instance (REDIS_SENTINELS), as ioredis's `sentinels` option takes it. */
export interface RedisSentinelAddress {
  host: string
  port: number
}

/** The name Sentinel monitors a primary under (`sentinel monitor <name> ...`): no blanks, no glob. */
export const REDIS_MASTER_NAME_PATTERN = /^[A-Za-z0-9._-]{1,64}$/

/**
 * Reads REDIS_SENTINELS: `host:port` items, comma-separated (an IPv6 host in brackets, [::1]:26379).
 * The port is required: Redis Sentinel's 26379 is a convention, and a silent default would hide
 * a Sentinel that listens elsewhere. Every bad item is named.
 */
export function parseRedisSentinels(
  text: string,
): { ok: true; sentinels: RedisSentinelAddress[] } | { ok: false; problem: string } {
  const sentinels: RedisSentinelAddress[] = []
  const bad: string[] = []
  for (const item of splitList(text)) {
    const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9.-]+)):(\d{1,5})$/.exec(item)
    const port = m ? Number(m[3]) : NaN
    if (!m || port < 1 || port > 65535) bad.push(`"${item}"`)
    else sentinels.push({ host: (m[1] ?? m[2]).toLowerCase(), port })
  }
  if (bad.length)
    return {
      ok: false,
      problem: `expected host:port items, comma-separated (10.0.0.5:26379, [::1]:26379; port 1-65535), got ${bad.join(', ')}`,
    }
  if (!sentinels.length) return { ok: false, problem: 'names no Sentinel (expected host:port items, comma-separated)' }
  const seen = new Set<string>()
  for (const s of sentinels) {
    const key = `${s.host}:${s.port}`
    if (seen.has(key)) return { ok: false, problem: `${key} is listed twice` }
    seen.add(key)
  }
  return { ok: true, sentinels }
}

/** REDIS_SENTINELS: empty (no Sentinel: REDIS_HOST is the server) or the Sentinels to ask for the primary. */
const redisSentinelsField = z
  .string()
  .optional()
  .transform((v, ctx): RedisSentinelAddress[] => {
    if ((v ?? '').trim() === '') return []
    const parsed = parseRedisSentinels(v!)
    if (!parsed.ok) {
      ctx.addIssue({ code: 'custom', message: parsed.problem })
      return z.NEVER
    }
    return parsed.sentinels
  })

/** REDIS_MASTER_NAME: the primary's name in Sentinel; required with REDIS_SENTINELS (loadConfig). */
const redisMasterNameField = z
  .string()
  .optional()
  .transform((v, ctx) => {
    const t = (v ?? '').trim()
    if (t === '') return undefined
    if (!REDIS_MASTER_NAME_PATTERN.test(t)) {
      ctx.addIssue({
        code: 'custom',
        message: `expected the name Sentinel monitors the primary under (letters, digits, dot, dash or underscore, up to 64; e.g. sentinel-redis), got "${t}"`,
      })
      return z.NEVER
    }
    return t
  })

/** REDIS_URL: checked here, its parts applied over REDIS_HOST and the rest by loadConfig. */
const redisUrlField = z
  .string()
  .optional()
  .transform((v, ctx) => {
    const t = (v ?? '').trim()
    if (t === '') return undefined
    const parsed = parseRedisUrl(t)
    if (!parsed.ok) {
      ctx.addIssue({ code: 'custom', message: parsed.problem })
      return z.NEVER
    }
    // The configuration keeps the printable form; the password goes to REDIS_PASSWORD (loadConfig).
    return parsed.url.redacted
  })

/** NODE_NAME: this host's name in the fleet; the host name when unset. */
const nodeNameField = z
  .string()
  .optional()
  .transform((v, ctx) => {
    const t = (v ?? '').trim() || os.hostname()
    if (!NODE_NAME_PATTERN.test(t)) {
      ctx.addIssue({
        code: 'custom',
        message: `expected letters, digits, dot, dash or underscore (up to 63), got "${t}"${v?.trim() ? '' : ' (the host name)'}`,
      })
      return z.NEVER
    }
    return t
  })

export const configSchema = z.object({
  PORT: int(3000, 1, 65535),
  HOST: text('127.0.0.1'),
  LOG_LEVEL: oneOf(LOG_LEVELS, 'info'),
  DATA_DIR: text('.data'),

  // The controller's Redis as one URL (redis:// or rediss://), or as the variables below; the URL's
  // parts take their place (REDIS_HOST, REDIS_PORT, REDIS_TLS...), which must then be empty or agree.
  REDIS_URL: redisUrlField,
  REDIS_HOST: text('127.0.0.1'),
  REDIS_PORT: int(6380, 1, 65535),
  REDIS_PASSWORD: optionalString,
  // A node agent's own Redis user (src/platform/fleet/acl.ts) and its password, read from a file so
  // that it is in no process's environment; TLS when the controller's Redis is reached over a network.
  REDIS_USERNAME: optionalString,
  REDIS_PASSWORD_FILE: optionalString,
  REDIS_TLS: bool(false),
  // Redis made highly available by Redis Sentinel: the Sentinels to ask for the primary (host:port,
  // comma-separated), the name they know it by, and the Sentinels' own password (a file) when they
  // have one. The data nodes' user and password stay REDIS_USERNAME and REDIS_PASSWORD(_FILE).
  REDIS_SENTINELS: redisSentinelsField,
  REDIS_MASTER_NAME: redisMasterNameField,
  REDIS_SENTINEL_PASSWORD_FILE: optionalString,
  // With REDIS_SENTINELS: an incident write is confirmed only once this many replicas hold it (WAIT),
  // waiting at most REDIS_WAIT_TIMEOUT_MS; replication is asynchronous, so without it a write the
  // primary acknowledged and then died with is lost in the failover. 0: do not wait.
  REDIS_WAIT_REPLICAS: int(1, 0, 16),
  REDIS_WAIT_TIMEOUT_MS: int(500, 10, 10_000),

  // The fleet (src/fleet/): this process's role, its node's name, and the heartbeat of node agents.
  SENTINEL_ROLE: oneOf(['controller', 'agent'] as const, 'controller'),
  NODE_NAME: nodeNameField,
  AGENT_HEARTBEAT_SECONDS: int(5, 1, 300),
  NODE_DOWN_AFTER_SECONDS: int(15, 2, 3600),
  // How long an action for another node waits for its agent to take it before it escalates.
  NODE_ACTION_TIMEOUT_SECONDS: int(30, 2, 600),
  // The named diagnostic commands (argv only) an admin may run in a watched container on a node.
  NODE_COMMANDS: parsed('NODE_COMMANDS', parseNodeCommands),

  DOCKER_SOCKET: text('/var/run/docker.sock'),
  WATCH_LABEL: labelSelector,
  RESTART_TIMEOUT_SECONDS: int(10, 1, 300),
  VERIFY_TIMEOUT_SECONDS: int(20, 1, 600),
  VERIFY_STABLE_SECONDS: num(1, 0, 300),
  // Swarm services labelled with WATCH_LABEL (src/observe/swarm-services.ts), when the engine is a
  // swarm manager: read every SWARM_POLL_SECONDS; an incident opens when fewer tasks run than
  // desired for SWARM_DEGRADED_SECONDS, or SWARM_CRASHLOOP_FAILURES tasks failed within
  // SWARM_CRASHLOOP_WINDOW_SECONDS (a crash loop, or a health check that keeps failing).
  SWARM_WATCH: bool(true),
  SWARM_POLL_SECONDS: num(2, 0.2, 300),
  SWARM_DEGRADED_SECONDS: num(10, 0, 3600),
  SWARM_CRASHLOOP_FAILURES: int(3, 2, 100),
  SWARM_CRASHLOOP_WINDOW_SECONDS: int(120, 5, 3600),
  // A service incident within this many minutes of the service's last update names the update as
  // the likely cause and proposes rollback_service.
  DEPLOY_WATCH_MINUTES: num(15, 0, 1440),
  // Within DEPLOY_WATCH_MINUTES of such an update, a service health score (src/observe/service-health.ts,
  // 0..1) below this opens the incident at once, without waiting for SWARM_DEGRADED_SECONDS.
  DEPLOY_ROLLBACK_SCORE: num(0.7, 0, 1),
  // Canary deploys (src/deploy/): each step (1 task, then CANARY_STEP_PERCENTS of the traffic, then 100 %)
  // must hold its health gate for CANARY_GATE_SECONDS; the canary is compared with the old tasks.
  CANARY_GATE_SECONDS: num(60, 0.5, 3600),
  CANARY_STEP_PERCENTS: parsed('CANARY_STEP_PERCENTS', parseCanaryPercents),
  CANARY_START_TIMEOUT_SECONDS: num(60, 1, 3600),
  CANARY_MAX_RESTARTS: int(0, 0, 100),
  CANARY_MAX_ERROR_RATE_DELTA: num(0.05, 0, 1),
  CANARY_MAX_LATENCY_RATIO: num(2, 1, 100),
  CANARY_PROBE_INTERVAL_MS: int(500, 100, 60_000),
  // Promotion to 100 % is Swarm's own rolling update of the service; it must finish within this.
  CANARY_PROMOTE_TIMEOUT_SECONDS: int(300, 10, 86400),

  RATE_LIMIT_MAX_ACTIONS: int(3, 1, 1000),
  RATE_LIMIT_WINDOW_SECONDS: int(900, 1, 86400 * 7),

  PROMETHEUS_URL: optionalUrl,
  MONITOR_CRON: motiaCron('*/2 * * * *'),
  OPENROUTER_API_KEY: optionalString,
  OPENROUTER_BASE_URL: text('https://openrouter.ai/api/v1'),
  OPENROUTER_MODEL: text('deepseek/deepseek-r1'),
  RUNBOOKS_DIR: text('./runbooks'),
  LLM_STREAM: bool(false),
  LLM_DEADLINE_SECONDS: int(30, 1, 600),
  LLM_MAX_ATTEMPTS: int(3, 1, 10),
  LLM_MAX_TOKENS: int(8192, 64, 200_000),
  LLM_HOURLY_TOKEN_BUDGET: int(200_000, 0, 1_000_000_000),
  LLM_PRICE_INPUT_PER_MTOK: num(0.55, 0, 10_000),
  LLM_PRICE_OUTPUT_PER_MTOK: num(2.19, 0, 10_000),
  APPROVAL_TIMEOUT_SECONDS: int(900, 10, 7 * 86400),
  // On-call notifications (src/notify/config.ts): the routing file, checked at start.
  NOTIFY_CONFIG: optionalString,
  // Wins over the routing file's escalation.after; fractions allowed (0.1 = 6 s, for drills and tests).
  ESCALATE_AFTER_MINUTES: z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v.trim() === '') return undefined
      const n = Number(v)
      if (!Number.isFinite(n) || n < 0.01 || n > 7 * 24 * 60) {
        ctx.addIssue({ code: 'custom', message: `expected minutes from 0.01 to ${7 * 24 * 60}, got "${v}"` })
        return z.NEVER
      }
      return n
    }),
  // The dashboard's address as people reach it, for the links in pages (else pages carry no link).
  SENTINEL_PUBLIC_URL: optionalUrl,
  SLACK_BOT_TOKEN: optionalString,
  SLACK_SIGNING_SECRET: optionalString,
  SLACK_CHANNEL: optionalString,
  /** Ends with a slash, as Slack's WebClient wants it. */
  SLACK_API_URL: parsed('SLACK_API_URL', normalizeApiUrl),
  /** Slack user id → role. */
  SLACK_USER_ROLES: parsed('SLACK_USER_ROLES', parseSlackUserRoles),
  SENTINEL_STREAM_SECRET: optionalSecret(32),
  FREEZE_WINDOWS: parsed('FREEZE_WINDOWS', parseFreezeWindows),
  MAX_CONCURRENT_REMEDIATIONS: int(2, 1, 1000),
  /** Starts of watched containers that died, at once per node (src/decide/deps.ts says why apart). */
  MAX_CONCURRENT_RECOVERIES: int(32, 1, 1000),
  /** Several controllers on one Redis: how long a duty's leader holds it without renewing (src/platform/lease/). */
  LEADER_LEASE_SECONDS: int(10, 2, 300),
  REMEDIATION_LEASE_SECONDS: int(300, 10, 86400),

  WORKBENCH: bool(false),
  SENTINEL_API_KEYS: apiKeys,
  API_KEYS_FILE: optionalString,
  AUTH_MAX_FAILURES: int(10, 1, 10_000),
  AUTH_FAILURE_WINDOW_SECONDS: int(60, 1, 86400),
  TRUST_PROXY: addressList,
  CORS_ORIGINS: originList,
  METRICS_TOKEN: optionalSecret(24, ' (it guards /metrics; make one with `openssl rand -hex 24`)'),
  MAX_BODY_BYTES: int(1024 * 1024, 1024, 16 * 1024 * 1024),
  // At least 5 s: a page must be able to open its stream with a token it has just been given.
  STREAM_TOKEN_TTL_SECONDS: int(60, 5, 3600),
  STREAM_MAX_SECONDS: int(900, 0, 86400),
  SANDBOX_DIR: text('./sandbox'),
  SANDBOX_QUARANTINE_RETENTION_SECONDS: int(86400, 60, 90 * 86400),
  KILL_PROCESS_ALLOWLIST: parsed('KILL_PROCESS_ALLOWLIST', parseAllowlist),
  KILL_PROCESS_GRACE_SECONDS: num(5, 0, 300),
  SCALE_OUT_MAX_REPLICAS: int(3, 1, 20),
  // Docker refuses a memory limit under 6 MiB.
  MEMORY_LIMIT_CEILING_BYTES: int(4 * 1024 ** 3, 6 * 1024 ** 2, 1024 ** 4),
  SHADOW_MODE: bool(false),
  ALLOWED_ACTIONS: list(),
  CONFIDENCE_THRESHOLD: num(0.5, 0, 1),

  // The incident archive (src/history/): PostgreSQL when set, else SQLite at DATA_DIR/history.sqlite.
  DATABASE_URL: databaseUrl,
  INCIDENT_RETENTION_DAYS: num(7, 0.0001, 3650),
  // The dashboard's live charts sample the host and watched containers this often, apart from alerting.
  LIVE_SAMPLE_SECONDS: int(5, 1, 300),

  // Tracing (OpenTelemetry's own variable names): on when an endpoint is set.
  OTEL_EXPORTER_OTLP_ENDPOINT: optionalUrl,
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: optionalUrl,
  OTEL_SERVICE_NAME: text('sentinel'),
  OTEL_SDK_DISABLED: bool(false),
})

// Motia's Workbench listens for hot reload on 21678 + PORT; past this the start fails silently.
export const MAX_PORT_WITH_WORKBENCH = 65535 - 21678

export type SentinelConfig = z.infer<typeof configSchema> & { projectRoot: string; observe: ObserveSettings }

/** Every variable the configuration reads. */
export const CONFIG_VARIABLES = [...Object.keys(configSchema.shape), ...Object.keys(observeEnvSchema.shape)]

export class ConfigError extends Error {
  constructor(public readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`)
    this.name = 'ConfigError'
  }
}

/** The variables `<projectRoot>/.env` sets (parsed by dotenv); none when there is no such file. */
export function readDotEnv(projectRoot: string): Record<string, string> {
  const file = path.join(projectRoot, '.env')
  return existsSync(file) ? dotenv.parse(readFileSync(file)) : {}
}

/**
 * The raw values, unvalidated: the environment's, and `.env`'s for what the environment does not
 * set (a variable set to the empty string in the environment counts as set). The secrets the main
 * process scrubbed from a step process's environment are not taken back from `.env` either.
 */
export function readEnvironment(
  env: NodeJS.ProcessEnv = process.env,
  projectRoot = process.cwd(),
): Record<string, string | undefined> {
  const scrubbed = scrubbedSecrets(env)
  const merged: Record<string, string | undefined> = {}
  for (const [key, value] of Object.entries(readDotEnv(projectRoot))) if (!scrubbed.has(key)) merged[key] = value
  for (const [key, value] of Object.entries(env)) if (value !== undefined) merged[key] = value
  return merged
}

const issues = (error: z.ZodError | undefined) =>
  (error?.issues ?? []).map((issue) => `${issue.path.join('.') || '(environment)'}: ${issue.message}`)

/**
 * Reads and validates the configuration from `env` (the process environment by default) and
 * `<projectRoot>/.env`. Throws one ConfigError naming every bad variable.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, projectRoot = process.cwd()): SentinelConfig {
  const raw = readEnvironment(env, projectRoot)
  const main = configSchema.safeParse(raw)
  const observe = observeEnvSchema.safeParse(raw)
  const problems = [...issues(main.error), ...issues(observe.error)]
  // Checks across variables read the raw values, so that they are made even when another variable is bad.
  const value = (name: string) => (raw[name] ?? '').trim()
  // A step process inherits the environment without the main-process secrets; they count as set.
  const scrubbed = scrubbedSecrets(env)
  const slackSet = ['SLACK_BOT_TOKEN', 'SLACK_SIGNING_SECRET', 'SLACK_CHANNEL'].filter(
    (k) => value(k) || scrubbed.has(k),
  )
  if (slackSet.length && slackSet.length < 3) {
    problems.push(
      `SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET, SLACK_CHANNEL: set all three or none (set: ${slackSet.join(', ')})`,
    )
  }
  const port = configSchema.shape.PORT.safeParse(raw.PORT)
  const workbench = configSchema.shape.WORKBENCH.safeParse(raw.WORKBENCH)
  if (port.success && workbench.success && workbench.data && port.data > MAX_PORT_WITH_WORKBENCH) {
    problems.push(
      `PORT: ${port.data} is too high while WORKBENCH=true (Motia's Workbench needs PORT + 21678 for hot reload): use ${MAX_PORT_WITH_WORKBENCH} or less, or set WORKBENCH=false`,
    )
  }
  const beat = configSchema.shape.AGENT_HEARTBEAT_SECONDS.safeParse(raw.AGENT_HEARTBEAT_SECONDS)
  const down = configSchema.shape.NODE_DOWN_AFTER_SECONDS.safeParse(raw.NODE_DOWN_AFTER_SECONDS)
  if (beat.success && down.success && down.data <= beat.data) {
    problems.push(
      `NODE_DOWN_AFTER_SECONDS: ${down.data} must be longer than AGENT_HEARTBEAT_SECONDS (${beat.data}), or every node would flap down between beats`,
    )
  }
  if (value('REDIS_PASSWORD') && value('REDIS_PASSWORD_FILE')) {
    problems.push('REDIS_PASSWORD, REDIS_PASSWORD_FILE: set one or the other')
  } else if (value('REDIS_PASSWORD_FILE')) {
    try {
      if (!readFileSync(path.resolve(projectRoot, value('REDIS_PASSWORD_FILE')), 'utf8').trim())
        problems.push('REDIS_PASSWORD_FILE: the file is empty')
    } catch (err) {
      problems.push(`REDIS_PASSWORD_FILE: cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`)
    }
  }
  problems.push(...redisSentinelConflicts(value, projectRoot))
  const redisUrl = value('REDIS_URL') ? parseRedisUrl(value('REDIS_URL')) : undefined
  if (redisUrl?.ok) problems.push(...redisUrlConflicts(redisUrl.url, value))
  // Motia's own Redis client (motia.config.ts) has no TLS option: a controller on a TLS-only Redis
  // would start its API and then fail on every queue. Agents have no Motia and may use TLS.
  const wantsTls = redisUrl?.ok ? redisUrl.url.tls : configSchema.shape.REDIS_TLS.safeParse(value('REDIS_TLS')).data
  const role = configSchema.shape.SENTINEL_ROLE.safeParse(value('SENTINEL_ROLE'))
  if (wantsTls && role.success && role.data === 'controller')
    problems.push(
      `${redisUrl?.ok ? 'REDIS_URL (rediss://)' : 'REDIS_TLS'}: a controller cannot reach Redis over TLS (Motia's Redis client here has none); TLS is for node agents (SENTINEL_ROLE=agent)`,
    )
  if (problems.length || !main.success || !observe.success) throw new ConfigError(problems)
  const cfg: SentinelConfig = { ...main.data, projectRoot, observe: observe.data }
  return redisUrl?.ok ? withRedisUrl(cfg, redisUrl.url) : cfg
}

/**
 * REDIS_URL beside the separate variables: each one the URL also says must be empty or say the
 * same (a silent winner would hide a mistake in one of them); the user and the password may come
 * from the variables when the URL has none (REDIS_PASSWORD_FILE is how a password is best given).
 * Problems name the variables, never a password.
 */
function redisUrlConflicts(url: RedisUrlParts, value: (name: string) => string): string[] {
  const problems: string[] = []
  const rule = 'set REDIS_URL alone, or make them agree'
  const host = value('REDIS_HOST')
  if (host && host.replace(/^\[(.*)\]$/, '$1').toLowerCase() !== url.host.toLowerCase())
    problems.push(`REDIS_URL, REDIS_HOST: the URL's host (${url.host}) and REDIS_HOST (${host}) disagree: ${rule}`)
  const port = value('REDIS_PORT')
  const portParsed = configSchema.shape.REDIS_PORT.safeParse(port)
  if (port && portParsed.success && portParsed.data !== url.port)
    problems.push(
      `REDIS_URL, REDIS_PORT: the URL's port (${url.port}${url.port === REDIS_URL_DEFAULT_PORT ? ', the default of a URL without one' : ''}) and REDIS_PORT (${port}) disagree: ${rule}`,
    )
  const tls = value('REDIS_TLS')
  const tlsParsed = configSchema.shape.REDIS_TLS.safeParse(tls)
  if (tls && tlsParsed.success && tlsParsed.data !== url.tls)
    problems.push(
      `REDIS_URL, REDIS_TLS: the URL's scheme (${url.tls ? 'rediss://, TLS' : 'redis://, no TLS'}) and REDIS_TLS=${tls} disagree: ${rule}`,
    )
  const username = value('REDIS_USERNAME')
  if (username && url.username && username !== url.username)
    problems.push(`REDIS_URL, REDIS_USERNAME: the URL's user and REDIS_USERNAME disagree: ${rule}`)
  if (url.password) {
    const other = ['REDIS_PASSWORD', 'REDIS_PASSWORD_FILE'].filter((name) => value(name))
    if (other.length)
      problems.push(
        `REDIS_URL, ${other.join(', ')}: the URL carries a password: give it in one place (best: REDIS_PASSWORD_FILE, and a URL without one)`,
      )
  }
  if (url.db !== 0)
    problems.push(
      `REDIS_URL: database ${url.db}: Sentinel uses database 0 (Motia's connection, made from motia.config.ts, takes no database number, and every node agent shares its controller's); leave the path empty or /0`,
    )
  return problems
}

/**
 * REDIS_SENTINELS beside the variables that name one server. REDIS_URL names a fixed server, so it
 * is refused outright; REDIS_HOST and REDIS_PORT are refused unless empty or at their defaults (as
 * .env.example has them), since the primary's address then comes from Sentinel and a second
 * address would be silently ignored. The Sentinel-only variables are refused without
 * REDIS_SENTINELS for the same reason.
 */
function redisSentinelConflicts(value: (name: string) => string, projectRoot: string): string[] {
  const problems: string[] = []
  const only = ['REDIS_MASTER_NAME', 'REDIS_SENTINEL_PASSWORD_FILE'].filter((name) => value(name))
  if (!value('REDIS_SENTINELS')) {
    if (only.length)
      problems.push(
        `${only.join(', ')}: only used with REDIS_SENTINELS (Redis Sentinel's addresses); set REDIS_SENTINELS too, or leave ${only.length > 1 ? 'them' : 'it'} empty`,
      )
    return problems
  }
  if (!value('REDIS_MASTER_NAME'))
    problems.push(
      'REDIS_MASTER_NAME: required with REDIS_SENTINELS (the name Sentinel monitors the primary under, as in `sentinel monitor <name> <host> <port> <quorum>`)',
    )
  const why = "with REDIS_SENTINELS the primary's address comes from Sentinel"
  if (value('REDIS_URL'))
    problems.push(
      `REDIS_SENTINELS, REDIS_URL: ${why}; leave REDIS_URL empty (give the password with REDIS_PASSWORD_FILE)`,
    )
  if (value('REDIS_HOST') && value('REDIS_HOST') !== '127.0.0.1')
    problems.push(`REDIS_SENTINELS, REDIS_HOST: ${why}; leave REDIS_HOST empty`)
  if (value('REDIS_PORT') && value('REDIS_PORT') !== '6380')
    problems.push(`REDIS_SENTINELS, REDIS_PORT: ${why}; leave REDIS_PORT empty`)
  const file = value('REDIS_SENTINEL_PASSWORD_FILE')
  if (file) {
    try {
      if (!readFileSync(path.resolve(projectRoot, file), 'utf8').trim())
        problems.push('REDIS_SENTINEL_PASSWORD_FILE: the file is empty')
    } catch (err) {
      problems.push(`REDIS_SENTINEL_PASSWORD_FILE: cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`)
    }
  }
  return problems
}

/** The configuration with REDIS_URL's parts in place of the variables they stand for. */
function withRedisUrl(cfg: SentinelConfig, url: RedisUrlParts): SentinelConfig {
  return {
    ...cfg,
    REDIS_URL: url.redacted,
    REDIS_HOST: url.host,
    REDIS_PORT: url.port,
    REDIS_TLS: url.tls,
    REDIS_USERNAME: url.username ?? cfg.REDIS_USERNAME,
    REDIS_PASSWORD: url.password ?? cfg.REDIS_PASSWORD,
  }
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

/** CANARY_STEP_PERCENTS: the shares of the traffic between the first task and 100 %, rising (default 25). */
export function parseCanaryPercents(v: string | undefined): number[] {
  if (v === undefined) return [25]
  const out = v.split(',').map((p) => p.trim())
  const nums = out.map(Number)
  if (nums.some((n, i) => !/^[0-9]{1,2}$/.test(out[i]) || n < 1 || n > 99))
    throw new Error(`CANARY_STEP_PERCENTS: expected percentages from 1 to 99 separated by commas, got "${v}"`)
  if (nums.some((n, i) => i > 0 && n <= nums[i - 1]))
    throw new Error(`CANARY_STEP_PERCENTS: the percentages must rise, got "${v}"`)
  return nums
}
