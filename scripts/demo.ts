/**
 * The demo (run through scripts/demo.sh: `npm run demo`, `npm run demo -- --stop`).
 *
 * Options (`npm run demo -- --help`): --port N, --kill-min S / --kill-max S (seconds between kills),
 * --fast (faults every few seconds), --rate-limit N/SECONDS (Sentinel's restart rate limit for the
 * demo), --detach (start and return, without the commentary), --follow (the commentary of a running
 * demo; SENTINEL_KEY=<admin key>), --stop.
 *
 * Starts, in the background and all under DEMO_DIR (default .data/demo):
 * - a Redis for the demo alone;
 * - three small HTTP services from the busybox test image, labelled for watching
 *   (`sentinel.watch=demo-<id>`, a value of the demo's own), for chaos (`sentinel.chaos=true`) and as the demo's (`sentinel.demo`);
 * - Sentinel, monitoring every 10 s with the services as probe targets, its sandbox on a small
 *   tmpfs (when run as root) so that the chaos fault "fill temp/" really fills a disk;
 * - the chaos engine: container kills (healed automatically, low risk), temp/ filled past the disk
 *   threshold (cleaning is medium risk: an approval waits for a click), paused services (slow probes).
 * Prints the dashboard URL and an admin and an operator key, made now and shown once (only their
 * hashes are stored), what chaos will do and what Sentinel should do about it, what the dashboard's
 * cards mean, and the restart rate limit the demo gives Sentinel: its default (3 restarts of one
 * container per 15 minutes) would be reached within minutes at the demo's kill rate, and every
 * service would then stay down waiting for an admin. Then it follows Sentinel and comments on what
 * happens (scripts/demo-narrate.ts) until Ctrl-C, which ends the commentary, not the demo.
 * `--stop` ends and removes everything the demo made, by what it recorded.
 */
import { execFile, spawn } from 'node:child_process'
import { existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import { parseArgs, promisify } from 'node:util'
import { issueKeys } from '../src/platform/auth/keys'
import { DEFAULT_EXCLUDED_FS_TYPES } from '../src/platform/config/observe'
import { describeRateLimit, narrate, type RateLimit, statusLines } from './demo-narrate'

const run = promisify(execFile)
const ROOT = path.resolve(import.meta.dirname, '..')
const DEMO_DIR = path.resolve(ROOT, process.env.DEMO_DIR || '.data/demo')
const STATE_FILE = path.join(DEMO_DIR, 'demo.json')
const IMAGE = process.env.SENTINEL_TEST_IMAGE || 'sentinel-busybox:test'
const SERVICES = ['web', 'api', 'worker']
const TMPFS_BYTES = 64 * 1024 * 1024

interface DemoState {
  id: string
  port: number
  redisPort: number
  pids: { sentinel?: number; redis?: number; dockerd?: number }
  containers: string[]
  tmpfs?: string
  startedAt: string
  /** The restart rate limit Sentinel runs with in the demo. */
  rateLimit?: RateLimit
}

/** The demo's restart rate limit counts restarts over this window. */
const RATE_WINDOW_SECONDS = 60

/**
 * A limit chaos's kills cannot reach (they come at most one every `killMinSec` seconds, on any of
 * the services), with room for a restart proposed by another incident; a service that dies again
 * as soon as it starts still reaches it.
 */
const demoRateLimit = (killMinSec: number): RateLimit => ({
  max: Math.ceil(RATE_WINDOW_SECONDS / killMinSec) + 2,
  windowSeconds: RATE_WINDOW_SECONDS,
})

/** A path as the user can type it: relative when under the project, else absolute. */
const shown = (p: string) => {
  const r = path.relative(ROOT, p)
  return r && !r.startsWith('..') ? r : p
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const alive = (pid: number | undefined) => {
  if (!pid) return false
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

async function freePort(from: number): Promise<number> {
  for (let p = from; p < from + 200; p++) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.createServer().once('error', () => resolve(false))
      s.listen(p, '127.0.0.1', () => s.close(() => resolve(true)))
    })
    if (ok) return p
  }
  throw new Error(`no free port from ${from}`)
}

async function waitFor<T>(
  what: string,
  timeoutMs: number,
  fn: () => Promise<T | undefined | null | false>,
): Promise<T> {
  const end = Date.now() + timeoutMs
  let last: unknown
  while (Date.now() < end) {
    try {
      const v = await fn()
      if (v) return v
    } catch (err) {
      // A failure that waiting cannot mend (the process exited) ends the wait at once.
      if ((err as { fatal?: boolean }).fatal) throw err
      last = err
    }
    await sleep(250)
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`)
}

function readState(): DemoState | undefined {
  try {
    return JSON.parse(readFileSync(STATE_FILE, 'utf8')) as DemoState
  } catch {
    return undefined
  }
}
const saveState = (s: DemoState) => writeFileSync(STATE_FILE, JSON.stringify(s, null, 2), { mode: 0o600 })

async function stopPid(pid: number | undefined, group: boolean): Promise<void> {
  if (!alive(pid)) return
  const signal = (sig: NodeJS.Signals) => {
    try {
      process.kill(group ? -pid! : pid!, sig)
    } catch {
      /* already gone */
    }
  }
  signal('SIGTERM')
  for (let i = 0; i < 50 && alive(pid); i++) await sleep(200)
  if (alive(pid)) signal('SIGKILL')
}

async function stop(): Promise<void> {
  const s = readState()
  if (!s) {
    console.log(`no demo recorded in ${DEMO_DIR}; nothing to stop`)
    return
  }
  // Chaos first, so nothing is faulted while the rest goes down.
  await stopPid(s.pids.sentinel, true)
  // The demo's services, and replicas Sentinel may have scaled out from them (they copy the labels).
  const labelled = await run('docker', [
    'ps',
    '-a',
    '--format',
    '{{.Names}}',
    '--filter',
    `label=sentinel.demo=${s.id}`,
  ])
    .then((r) => r.stdout.split('\n').filter(Boolean))
    .catch(() => [])
  const all = [...new Set([...s.containers, ...labelled])]
  if (all.length) await run('docker', ['rm', '-f', ...all]).catch(() => {})
  await stopPid(s.pids.redis, false)
  if (s.tmpfs) await run('umount', [s.tmpfs]).catch(() => {})
  await stopPid(s.pids.dockerd, false)
  rmSync(DEMO_DIR, { recursive: true, force: true })
  console.log(
    `demo stopped: removed ${all.length} container(s), Sentinel, its Redis${s.tmpfs ? ', the sandbox tmpfs' : ''} and ${shown(DEMO_DIR)}`,
  )
}

interface StartOptions {
  port: number
  killMin: number
  killMax: number
  fillMin: number
  fillMax: number
  rateLimit: RateLimit
  /** --rate-limit was given. */
  rateLimitChosen: boolean
}

/** What the user should know before the first fault: printed once everything is up. */
function intro(o: {
  base: string
  admin: string
  operator: string
  keyFile: string
  logFile: string
  tmpfs: boolean
  opts: StartOptions
}): string[] {
  const { opts } = o
  const r = opts.rateLimit
  const killsPerWindow = Math.ceil(r.windowSeconds / opts.killMin) + 1
  const every = (min: number, max: number) =>
    max >= 120 ? `${Math.round(min / 60)}-${Math.round(max / 60)} min` : `${min}-${max} s`
  return [
    '',
    `Sentinel demo is running: ${SERVICES.length} HTTP services under chaos, watched by a Sentinel of the demo's own.`,
    `  Dashboard:     ${o.base}/   (log in with a key: the operator key approves; the admin key also sees the audit log)`,
    `  Admin key:     ${o.admin}`,
    `  Operator key:  ${o.operator}`,
    `  (shown once; only their hashes are kept, in ${shown(o.keyFile)})`,
    `  Log:           ${shown(o.logFile)}`,
    `  Stop and remove everything: npm run demo -- --stop`,
    '',
    'What chaos does, and what Sentinel should do:',
    `  - every ${every(opts.killMin, opts.killMax)}: kills a service's main process. Sentinel restarts it at once (low risk, no`,
    '    approval): its card turns red, then green ("healed"), and its incident resolves by itself.',
    ...(o.tmpfs
      ? [
          `  - every ${every(opts.fillMin, opts.fillMax)}: fills the sandbox's temp/ past the disk threshold. The fix, clean_sandbox, is`,
          '    medium risk: it waits in the Approval queue for your click (operator or admin key).',
        ]
      : ["  - (filling temp/ past the disk threshold needs root, for the sandbox's own tmpfs: skipped)"]),
    '  - every 1.5-3 min: pauses a service for 3 s. Its probes slow down (the latency chart jumps; its card',
    '    is amber while paused); nothing is restarted: a paused service is not dead.',
    '',
    `Restart rate limit: ${describeRateLimit(r)} (RATE_LIMIT_MAX_ACTIONS=${r.max}, RATE_LIMIT_WINDOW_SECONDS=${r.windowSeconds}${opts.rateLimitChosen ? ', from --rate-limit' : ''}).`,
    "  Past it Sentinel stops restarting that service and asks an admin instead. Sentinel's default, 3 per",
    "  15 minutes, would be reached within minutes at the demo's kill rate, and every service would then stay",
    ...(killsPerWindow > r.max
      ? [
          `  down. Chaos may kill one service up to ${killsPerWindow} times in ${r.windowSeconds} s, so it can reach this limit:`,
          '  the commentary says RATE LIMIT REACHED when it does.',
        ]
      : [
          `  down. Chaos kills at most ${killsPerWindow} times in ${r.windowSeconds} s, so it never reaches this limit; a service that`,
          '  died again as soon as it started would. (--rate-limit N/SECONDS sets another, e.g. --rate-limit 3/900.)',
        ]),
    '',
    'The dashboard has a card per service:',
    '  red     the service is down (killed or exited) or failing its health check. After a kill it should',
    '          turn green within seconds. A card that STAYS red means Sentinel will not restart it by',
    '          itself: the Approval queue says why (for instance the restart rate limit), and so does the',
    '          commentary below.',
    '  amber   restarting, or paused (a slow-probe fault).',
    '  green   running; "healed" for two minutes after it came back.',
    "Incidents lists each fault's incident with its timeline (detected, decided, acted, verified, resolved).",
  ]
}

async function start(opts: StartOptions): Promise<{ base: string; adminKey: string; state: DemoState } | undefined> {
  const prev = readState()
  if (prev && alive(prev.pids.sentinel)) {
    console.log(
      `the demo is already running: http://127.0.0.1:${prev.port}/ (keys were shown when it started; \`npm run demo -- --stop\`, then start again for new ones)`,
    )
    console.log('Its commentary: SENTINEL_KEY=<its admin key> npm run demo -- --follow')
    return undefined
  }
  if (prev) await stop()
  mkdirSync(DEMO_DIR, { recursive: true })
  const id = Date.now().toString(36)
  const state: DemoState = {
    id,
    port: opts.port,
    redisPort: 0,
    pids: {},
    containers: [],
    startedAt: new Date().toISOString(),
    rateLimit: opts.rateLimit,
  }
  const dockerd = Number(process.env.DEMO_DOCKERD_PID)
  if (dockerd > 0) state.pids.dockerd = dockerd
  saveState(state)
  try {
    // Redis, for the demo alone.
    state.redisPort = await freePort(6390)
    const redisDir = path.join(DEMO_DIR, 'redis')
    mkdirSync(redisDir, { recursive: true })
    await run('redis-server', [
      '--port',
      String(state.redisPort),
      '--bind',
      '127.0.0.1',
      '--dir',
      redisDir,
      '--appendonly',
      'yes',
      '--save',
      '',
      '--daemonize',
      'yes',
      '--pidfile',
      path.join(redisDir, 'redis.pid'),
      '--logfile',
      path.join(redisDir, 'redis.log'),
    ])
    state.pids.redis = await waitFor(
      'redis',
      10_000,
      async () => Number(readFileSync(path.join(redisDir, 'redis.pid'), 'utf8')) || null,
    )
    saveState(state)

    // The sandbox: a small filesystem of its own, so "fill temp/" fills a disk and cleaning frees it.
    const sandbox = path.join(DEMO_DIR, 'sandbox')
    mkdirSync(sandbox, { recursive: true })
    if (process.getuid?.() === 0) {
      await run('mount', ['-t', 'tmpfs', '-o', `size=${TMPFS_BYTES},mode=0755`, 'sentinel-demo', sandbox])
      state.tmpfs = sandbox
      saveState(state)
    }
    for (const d of ['logs', 'temp', 'cache', 'data']) mkdirSync(path.join(sandbox, d), { recursive: true })
    writeFileSync(path.join(sandbox, 'data', 'orders.db'), 'demo data that cleaning must never touch\n')

    // Three services.
    const targets: string[] = []
    for (const svc of SERVICES) {
      const name = `sentinel-demo-${svc}-${id}`
      state.containers.push(name)
      saveState(state)
      // Probed through a fixed port on loopback: a restarted container may get another bridge address.
      const port = await freePort(18080)
      await run('docker', [
        'run',
        '-d',
        '--name',
        name,
        '-p',
        `127.0.0.1:${port}:8080`,
        '--label',
        `sentinel.watch=demo-${id}`,
        '--label',
        'sentinel.chaos=true',
        '--label',
        `sentinel.demo=${id}`,
        '--memory',
        '64m',
        IMAGE,
        'httpd',
        '-f',
        '-p',
        '8080',
        '-h',
        '/www',
      ])
      targets.push(`http://127.0.0.1:${port}/`)
    }

    // Keys, made now and shown once.
    const keyFile = path.join(DEMO_DIR, 'api-keys.json')
    const { issued } = issueKeys({ file: keyFile, roles: ['admin', 'operator', 'viewer'] })
    const key = (role: string) => issued.find((k) => k.role === role)!.key

    // Sentinel.
    const logFile = path.join(DEMO_DIR, 'sentinel.log')
    const out = openSync(logFile, 'a')
    const env: Record<string, string> = {
      ...(process.env as Record<string, string>),
      MOTIA_ANALYTICS_DISABLED: 'true',
      MOTIA_DISABLE_MEMORY_SERVER: 'true',
      MOTIA_WORKBENCH_BASE: '/__motia',
      MOTIA_REDIS_HOST: '127.0.0.1',
      MOTIA_REDIS_PORT: String(state.redisPort),
      REDIS_HOST: '127.0.0.1',
      REDIS_PORT: String(state.redisPort),
      PORT: String(opts.port),
      HOST: '127.0.0.1',
      WORKBENCH: 'false',
      DATA_DIR: path.join(DEMO_DIR, 'data'),
      SANDBOX_DIR: sandbox,
      API_KEYS_FILE: keyFile,
      // Its own watch label: the demo's Sentinel never touches containers another Sentinel watches,
      // and another Sentinel never touches the demo's.
      WATCH_LABEL: `sentinel.watch=demo-${id}`,
      MONITOR_CRON: '*/10 * * * * *',
      ALERT_FOR_SECONDS: '10',
      VERIFY_STABLE_SECONDS: '2',
      // The demo's own restart rate limit (see demoRateLimit), printed with the keys.
      RATE_LIMIT_MAX_ACTIONS: String(opts.rateLimit.max),
      RATE_LIMIT_WINDOW_SECONDS: String(opts.rateLimit.windowSeconds),
      ...(targets.length ? { PROBE_TARGETS: targets.join(',') } : {}),
      // The sandbox is a tmpfs here, and tmpfs is left out of the disk check by default.
      ...(state.tmpfs
        ? { DISK_EXCLUDE_FSTYPES: DEFAULT_EXCLUDED_FS_TYPES.filter((t) => t !== 'tmpfs').join(',') }
        : {}),
    }
    delete env.SENTINEL_API_KEYS
    const child = spawn(process.execPath, ['scripts/motia-start.mjs', String(opts.port), '127.0.0.1'], {
      cwd: ROOT,
      env,
      detached: true,
      stdio: ['ignore', out, out],
    })
    state.pids.sentinel = child.pid
    saveState(state)
    child.unref()
    const base = `http://127.0.0.1:${opts.port}`
    await waitFor(`Sentinel on ${base} (see ${logFile})`, 120_000, async () => {
      if (!alive(child.pid)) throw Object.assign(new Error(`Sentinel exited; see ${shown(logFile)}`), { fatal: true })
      return (await fetch(`${base}/healthz`)).status === 200
    })

    // Chaos: kills heal by themselves; a full temp/ waits for an operator; a paused service is slow.
    const chaos = await fetch(`${base}/api/chaos/start`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key('admin')}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        durationSec: 86_400,
        faults: {
          kill: { minIntervalSec: opts.killMin, maxIntervalSec: opts.killMax },
          ...(state.tmpfs
            ? {
                fillTemp: {
                  minIntervalSec: opts.fillMin,
                  maxIntervalSec: opts.fillMax,
                  bytes: Math.floor(TMPFS_BYTES * 0.97),
                  holdSec: 900,
                },
              }
            : {}),
          slowProbe: { minIntervalSec: 90, maxIntervalSec: 180, pauseSec: 3 },
        },
      }),
    })
    if (chaos.status !== 200 && chaos.status !== 202)
      throw new Error(`the chaos engine refused to start: HTTP ${chaos.status} ${await chaos.text()}`)

    for (const line of intro({
      base,
      admin: key('admin'),
      operator: key('operator'),
      keyFile,
      logFile,
      tmpfs: !!state.tmpfs,
      opts,
    }))
      console.log(line)
    return { base, adminKey: key('admin'), state }
  } catch (err) {
    console.error(`the demo could not start: ${(err as Error).message}`)
    await stop()
    process.exitCode = 1
    return undefined
  }
}

const USAGE = `usage: npm run demo [-- OPTIONS]
  --fast                faults every few seconds instead of every minute or so
  --port N              Sentinel's port (default: the first free from 3000)
  --kill-min S          seconds between kills, at least (default 30; 5 with --fast)
  --kill-max S          at most (default 60; 10 with --fast)
  --rate-limit N/S      Sentinel's restart rate limit: N restarts of one service per S seconds
                        (default: more than chaos can cause, e.g. 14/60 with --fast)
  --detach              start and return, without the commentary
  --follow              the commentary of the running demo (SENTINEL_KEY=<its admin key>)
  --stop                end and remove everything the demo made
Ctrl-C ends the commentary; the demo keeps running until --stop.
Mind the "--" after \`npm run demo\`: npm keeps the flags before it for itself.`

/** Follows Sentinel and comments until Ctrl-C (the demo keeps running) or Sentinel is gone. */
async function follow(base: string, adminKey: string, rateLimit: RateLimit, since?: string): Promise<void> {
  const logFile = shown(path.join(DEMO_DIR, 'sentinel.log'))
  const stopping = new AbortController()
  const onSignal = () => stopping.abort()
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)
  console.log('')
  console.log(`Commentary (Ctrl-C ends it; the demo keeps running until \`npm run demo -- --stop\`):`)
  const end = await narrate({ base, key: adminKey, rateLimit, since, signal: stopping.signal, logFile })
  process.off('SIGINT', onSignal)
  process.off('SIGTERM', onSignal)
  if (end === 'stopped') {
    console.log('')
    console.log(`Commentary stopped; the demo keeps running at ${base}/`)
    console.log('  Again: SENTINEL_KEY=<admin key> npm run demo -- --follow    Stop it: npm run demo -- --stop')
  }
}

/** --follow: the state of the running demo (what waits for a person, and why), then its commentary. */
async function followRunning(): Promise<void> {
  const s = readState()
  if (!s || !alive(s.pids.sentinel))
    throw new Error(`no demo runs from ${shown(DEMO_DIR)}: start one with npm run demo`)
  const key = process.env.SENTINEL_KEY?.trim()
  if (!key)
    throw new Error(
      "--follow needs the demo's admin key (shown when it started): SENTINEL_KEY=<admin key> npm run demo -- --follow",
    )
  const base = `http://127.0.0.1:${s.port}`
  const rateLimit = s.rateLimit ?? { max: 3, windowSeconds: 900 }
  console.log(`The demo at ${base}/ (restart rate limit: ${describeRateLimit(rateLimit)})`)
  for (const line of await statusLines(base, key, rateLimit)) console.log(`  ${line}`)
  await follow(base, key, rateLimit)
}

/** The demo's flags npm kept for itself (typed before "--"): npm hands them on as npm_config_<name>. */
const DEMO_FLAGS = ['fast', 'stop', 'port', 'kill-min', 'kill-max', 'rate-limit', 'detach', 'follow', 'help']
function flagsNpmKept(env: NodeJS.ProcessEnv = process.env): string[] {
  if (env.npm_lifecycle_event !== 'demo') return []
  return DEMO_FLAGS.filter((f) => (env[`npm_config_${f.replace(/-/g, '_')}`] ?? '') !== '').map((f) => `--${f}`)
}

/** A wrong command line: said with the way to the usage, exit code 2. */
class UsageError extends Error {}

async function main() {
  const kept = flagsNpmKept()
  // `npm run demo --stop` would otherwise start a demo: npm keeps the flag and runs the script bare.
  if (kept.length)
    throw new UsageError(
      `npm kept ${kept.join(' ')} for itself (flags before "--" go to npm, not to the demo): type \`npm run demo -- ${kept.join(' ')} ...\``,
    )
  let parsed
  try {
    parsed = parseArgs({
      options: {
        stop: { type: 'boolean', default: false },
        port: { type: 'string' },
        'kill-min': { type: 'string' },
        'kill-max': { type: 'string' },
        // Faults every few seconds instead of every minute or so: for tests and impatient people.
        fast: { type: 'boolean', default: false },
        'rate-limit': { type: 'string' },
        detach: { type: 'boolean', default: false },
        follow: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    })
  } catch (err) {
    const flag = /'([^']+)'/.exec((err as Error).message)?.[1]
    const code = (err as { code?: string }).code
    throw new UsageError(
      code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && flag ? `unknown option ${flag}` : (err as Error).message,
    )
  }
  const { values } = parsed
  if (values.help) return console.log(USAGE)
  if (values.stop) return stop()
  if (values.follow) return followRunning()
  const num = (v: string | undefined, fallback: number, name: string) => {
    if (v === undefined) return fallback
    const n = Number(v)
    if (!Number.isInteger(n) || n <= 0)
      throw new UsageError(`--${name} must be a positive whole number, not ${JSON.stringify(v)}`)
    return n
  }
  const port = num(values.port, 0, 'port') || (await freePort(3000))
  const killMin = num(values['kill-min'], values.fast ? 5 : 30, 'kill-min')
  const killMax = num(values['kill-max'], values.fast ? 10 : 60, 'kill-max')
  if (killMax < killMin) throw new UsageError('--kill-max must be at least --kill-min')
  const [fillMin, fillMax] = values.fast ? [5, 10] : [120, 240]
  let rateLimit = demoRateLimit(killMin)
  if (values['rate-limit'] !== undefined) {
    const m = /^(\d+)\/(\d+)$/.exec(values['rate-limit'].trim())
    const [max, windowSeconds] = m ? [Number(m[1]), Number(m[2])] : [0, 0]
    if (!m || max < 1 || max > 1000 || windowSeconds < 1 || windowSeconds > 7 * 86400)
      throw new UsageError(
        `--rate-limit must be N/SECONDS (N restarts of one service per SECONDS; N 1-1000, SECONDS 1-604800), not ${JSON.stringify(values['rate-limit'])}`,
      )
    rateLimit = { max, windowSeconds }
  }
  if (!existsSync(path.join(ROOT, 'node_modules')))
    throw new Error('run through `npm run demo` (it installs what is missing)')
  const started = await start({
    port,
    killMin,
    killMax,
    fillMin,
    fillMax,
    rateLimit,
    rateLimitChosen: values['rate-limit'] !== undefined,
  })
  if (started && !values.detach) await follow(started.base, started.adminKey, rateLimit, started.state.startedAt)
}

main().catch((err) => {
  if (err instanceof UsageError) {
    console.error(`demo: ${err.message}\nRun \`npm run demo -- --help\` for the usage.`)
    process.exit(2)
  }
  console.error((err as Error).message)
  process.exit(1)
})
