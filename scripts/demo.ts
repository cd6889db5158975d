/**
 * The demo (run through scripts/demo.sh: `npm run demo`, `npm run demo -- --stop`).
 *
 * Options: --port N, --kill-min S / --kill-max S (seconds between kills), --fast (faults every few
 * seconds), --stop.
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
 * hashes are stored). `--stop` ends and removes everything the demo made, by what it recorded.
 */
import { execFile, spawn } from 'node:child_process'
import { existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import { parseArgs, promisify } from 'node:util'
import { issueKeys } from '../src/platform/auth/keys'
import { DEFAULT_EXCLUDED_FS_TYPES } from '../src/observe/prometheus-queries'

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

async function waitFor<T>(what: string, timeoutMs: number, fn: () => Promise<T | undefined | null | false>): Promise<T> {
  const end = Date.now() + timeoutMs
  let last: unknown
  while (Date.now() < end) {
    try {
      const v = await fn()
      if (v) return v
    } catch (err) {
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
  const labelled = await run('docker', ['ps', '-a', '--format', '{{.Names}}', '--filter', `label=sentinel.demo=${s.id}`]).then((r) => r.stdout.split('\n').filter(Boolean)).catch(() => [])
  const all = [...new Set([...s.containers, ...labelled])]
  if (all.length) await run('docker', ['rm', '-f', ...all]).catch(() => {})
  await stopPid(s.pids.redis, false)
  if (s.tmpfs) await run('umount', [s.tmpfs]).catch(() => {})
  await stopPid(s.pids.dockerd, false)
  rmSync(DEMO_DIR, { recursive: true, force: true })
  console.log(`demo stopped: removed ${all.length} container(s), Sentinel, its Redis${s.tmpfs ? ', the sandbox tmpfs' : ''} and ${path.relative(ROOT, DEMO_DIR) || DEMO_DIR}`)
}

interface StartOptions {
  port: number
  killMin: number
  killMax: number
  fillMin: number
  fillMax: number
}

async function start(opts: StartOptions): Promise<void> {
  const prev = readState()
  if (prev && alive(prev.pids.sentinel)) {
    console.log(`the demo is already running: http://127.0.0.1:${prev.port}/ (keys were shown when it started; \`npm run demo -- --stop\`, then start again for new ones)`)
    return
  }
  if (prev) await stop()
  mkdirSync(DEMO_DIR, { recursive: true })
  const id = Date.now().toString(36)
  const state: DemoState = { id, port: opts.port, redisPort: 0, pids: {}, containers: [], startedAt: new Date().toISOString() }
  const dockerd = Number(process.env.DEMO_DOCKERD_PID)
  if (dockerd > 0) state.pids.dockerd = dockerd
  saveState(state)
  try {
    // Redis, for the demo alone.
    state.redisPort = await freePort(6390)
    const redisDir = path.join(DEMO_DIR, 'redis')
    mkdirSync(redisDir, { recursive: true })
    await run('redis-server', ['--port', String(state.redisPort), '--bind', '127.0.0.1', '--dir', redisDir, '--appendonly', 'yes', '--save', '', '--daemonize', 'yes', '--pidfile', path.join(redisDir, 'redis.pid'), '--logfile', path.join(redisDir, 'redis.log')])
    state.pids.redis = await waitFor('redis', 10_000, async () => Number(readFileSync(path.join(redisDir, 'redis.pid'), 'utf8')) || null)
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
      await run('docker', ['run', '-d', '--name', name, '-p', `127.0.0.1:${port}:8080`, '--label', `sentinel.watch=demo-${id}`, '--label', 'sentinel.chaos=true', '--label', `sentinel.demo=${id}`, '--memory', '64m', IMAGE, 'httpd', '-f', '-p', '8080', '-h', '/www'])
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
      ...(targets.length ? { PROBE_TARGETS: targets.join(',') } : {}),
      // The sandbox is a tmpfs here, and tmpfs is left out of the disk check by default.
      ...(state.tmpfs ? { DISK_EXCLUDE_FSTYPES: DEFAULT_EXCLUDED_FS_TYPES.filter((t) => t !== 'tmpfs').join(',') } : {}),
    }
    delete env.SENTINEL_API_KEYS
    const child = spawn(process.execPath, ['scripts/motia-start.mjs', String(opts.port), '127.0.0.1'], { cwd: ROOT, env, detached: true, stdio: ['ignore', out, out] })
    state.pids.sentinel = child.pid
    saveState(state)
    child.unref()
    const base = `http://127.0.0.1:${opts.port}`
    await waitFor(`Sentinel on ${base} (see ${logFile})`, 120_000, async () => {
      if (!alive(child.pid)) throw new Error(`Sentinel exited; see ${logFile}`)
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
          ...(state.tmpfs ? { fillTemp: { minIntervalSec: opts.fillMin, maxIntervalSec: opts.fillMax, bytes: Math.floor(TMPFS_BYTES * 0.97), holdSec: 900 } } : {}),
          slowProbe: { minIntervalSec: 90, maxIntervalSec: 180, pauseSec: 3 },
        },
      }),
    })
    if (chaos.status !== 200 && chaos.status !== 202) throw new Error(`the chaos engine refused to start: HTTP ${chaos.status} ${await chaos.text()}`)

    console.log('')
    console.log(`Sentinel demo is running (${SERVICES.length} services under chaos).`)
    console.log(`  Dashboard:     ${base}/`)
    console.log(`  Admin key:     ${key('admin')}`)
    console.log(`  Operator key:  ${key('operator')}`)
    console.log(`  (shown once; only their hashes are kept, in ${path.relative(ROOT, keyFile)})`)
    console.log(`  Log:           ${path.relative(ROOT, logFile)}`)
    console.log(`  Watch cards go red and back to green as chaos kills the services; when temp/ fills${state.tmpfs ? '' : ' (needs root for the tmpfs: skipped)'}, an approval waits for your click.`)
    console.log(`  Stop and remove everything: npm run demo -- --stop`)
  } catch (err) {
    console.error(`the demo could not start: ${(err as Error).message}`)
    await stop()
    process.exitCode = 1
  }
}

async function main() {
  const { values } = parseArgs({
    options: {
      stop: { type: 'boolean', default: false },
      port: { type: 'string' },
      'kill-min': { type: 'string' },
      'kill-max': { type: 'string' },
      // Faults every few seconds instead of every minute or so: for tests and impatient people.
      fast: { type: 'boolean', default: false },
    },
  })
  if (values.stop) return stop()
  const num = (v: string | undefined, fallback: number, name: string) => {
    if (v === undefined) return fallback
    const n = Number(v)
    if (!Number.isInteger(n) || n <= 0) throw new Error(`--${name} must be a positive whole number, not ${JSON.stringify(v)}`)
    return n
  }
  const port = num(values.port, 0, 'port') || (await freePort(3000))
  const killMin = num(values['kill-min'], values.fast ? 5 : 30, 'kill-min')
  const killMax = num(values['kill-max'], values.fast ? 10 : 60, 'kill-max')
  if (killMax < killMin) throw new Error('--kill-max must be at least --kill-min')
  const [fillMin, fillMax] = values.fast ? [5, 10] : [120, 240]
  if (!existsSync(path.join(ROOT, 'node_modules'))) throw new Error('run through `npm run demo` (it installs what is missing)')
  await start({ port, killMin, killMax, fillMin, fillMax })
}

main().catch((err) => {
  console.error((err as Error).message)
  process.exit(1)
})
