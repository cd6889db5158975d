/**
 * Starts a real Sentinel (`motia start`, as npm start does) against a test Redis, on a free port,
 * with its own data directory. It runs in its own process group so that a test can kill -9 the
 * whole of it, step processes included, the way a crash would.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { issueKeys } from '../../src/platform/auth/keys'
import { freePort, waitFor } from './ports'

export const PROJECT_ROOT = path.resolve(import.meta.dirname, '..', '..')

export type TestRole = 'admin' | 'operator' | 'viewer'

export interface SentinelInstance {
  url: string
  /** The main process's pid (its process group holds the step processes too). */
  pid(): number
  /** One API key per role, made for this instance. */
  keys: Record<TestRole, string>
  port: number
  dataDir: string
  env: Record<string, string>
  output(): string
  /** SIGTERM and wait. */
  stop(): Promise<void>
  /** SIGKILL the whole process group, no chance to clean up. */
  kill9(): Promise<void>
  /** Starts again with the same port, Redis and data directory. */
  restart(): Promise<void>
  /** GET as `as` (default admin; null: no key). */
  get(
    pathname: string,
    as?: TestRole | null,
    headers?: Record<string, string>,
  ): Promise<{ status: number; body: any; headers: Headers }>
  post(
    pathname: string,
    body: unknown,
    as?: TestRole | null,
    headers?: Record<string, string>,
  ): Promise<{ status: number; body: any; headers: Headers }>
  cleanup(): Promise<void>
}

/**
 * The watch label value of this test process's Sentinels: test suites running side by side on one
 * Docker engine (or next to a developer's own Sentinel) never act on each other's containers.
 */
export const WATCH_VALUE = `test-${randomBytes(4).toString('hex')}`
/** Labels of a container the test Sentinels watch. */
export const WATCHED: Record<string, string> = { 'sentinel.watch': WATCH_VALUE }
/** The same label as a `docker --label` argument. */
export const WATCH_ARG = `sentinel.watch=${WATCH_VALUE}`

export async function startSentinel(opts: {
  redisPort: number
  env?: Record<string, string>
  /**
   * 'file': the keys are issued into DATA_DIR/api-keys.json (only their hashes are stored, as
   * `npm run keys` does) and no process is given them; 'env' (default): SENTINEL_API_KEYS.
   */
  keysIn?: 'env' | 'file'
}): Promise<SentinelInstance> {
  const port = await freePort()
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'sentinel-test-data-'))
  let keys: Record<TestRole, string> = {
    admin: `test-admin-${randomBytes(18).toString('hex')}`,
    operator: `test-operator-${randomBytes(18).toString('hex')}`,
    viewer: `test-viewer-${randomBytes(18).toString('hex')}`,
  }
  if (opts.keysIn === 'file') {
    const { issued } = issueKeys({ file: path.join(dataDir, 'api-keys.json') })
    keys = Object.fromEntries(issued.map((k) => [k.role, k.key])) as Record<TestRole, string>
  }
  const env: Record<string, string> = {
    ...(process.env as Record<string, string>),
    MOTIA_ANALYTICS_DISABLED: 'true',
    MOTIA_DISABLE_MEMORY_SERVER: 'true',
    MOTIA_WORKBENCH_BASE: '/__motia',
    MOTIA_REDIS_HOST: '127.0.0.1',
    MOTIA_REDIS_PORT: String(opts.redisPort),
    REDIS_HOST: '127.0.0.1',
    REDIS_PORT: String(opts.redisPort),
    PORT: String(port),
    HOST: '127.0.0.1',
    DATA_DIR: dataDir,
    LOG_LEVEL: 'info',
    // The host monitor stays quiet unless a test asks for it: its alerts would be noise here.
    MONITOR_CRON: '0 0 1 1 *',
    // Likewise anomaly incidents on the host's own series, for tests that run the monitor for its thresholds.
    ANOMALY_ENABLED: 'false',
    WATCH_LABEL: WATCH_ARG,
    SENTINEL_API_KEYS:
      opts.keysIn === 'file'
        ? ''
        : Object.entries(keys)
            .map(([role, key]) => `${role}:${key}`)
            .join(','),
    ...(opts.env ?? {}),
  }
  let proc: ChildProcess
  let out = ''
  const launch = async () => {
    proc = spawn(process.execPath, ['scripts/motia-start.mjs', String(port), '127.0.0.1'], {
      cwd: PROJECT_ROOT,
      env,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    proc.stdout!.on('data', (d) => (out += d))
    proc.stderr!.on('data', (d) => (out += d))
    // Fails at once when the process exits (bad configuration...), instead of at the deadline.
    const exited = new Promise<never>((_, reject) =>
      proc.once('exit', (code) => reject(new Error(`sentinel exited with ${code}:\n${out.slice(-3000)}`))),
    )
    exited.catch(() => {})
    await Promise.race([
      exited,
      waitFor(
        async () => {
          const res = await fetch(`http://127.0.0.1:${port}/healthz`)
          // The Docker watcher connects just after the server listens; wait for it too.
          const body = (await res.json()) as { components: { docker: { status: string } } }
          return res.status === 200 && body.components.docker.status === 'up'
        },
        { timeoutMs: 60_000, intervalMs: 200, what: 'sentinel to be healthy' },
      ),
    ]).catch((err) => {
      throw new Error(`${(err as Error).message}\n--- sentinel output ---\n${out.slice(-3000)}`)
    })
  }
  const waitExit = async (signal: NodeJS.Signals, group: boolean) => {
    if (proc.exitCode !== null || proc.signalCode !== null) return
    const exited = new Promise((r) => proc.once('exit', r))
    try {
      if (group) process.kill(-proc.pid!, signal)
      else proc.kill(signal)
    } catch {}
    // The timer is cleared once the process exits: left pending, it would keep the test file's
    // process alive for up to 10 s after its last test.
    let timer: NodeJS.Timeout | undefined
    await Promise.race([exited, new Promise((r) => (timer = setTimeout(r, 10_000)))])
    clearTimeout(timer)
    // Whatever is left of the group (step processes) goes too.
    try {
      process.kill(-proc.pid!, 'SIGKILL')
    } catch {}
  }
  try {
    await launch()
  } catch (err) {
    // A start that failed leaves nothing behind: no process group, no data directory.
    try {
      process.kill(-proc!.pid!, 'SIGKILL')
    } catch {}
    rmSync(dataDir, { recursive: true, force: true })
    throw err
  }
  const url = `http://127.0.0.1:${port}`
  const call = async (
    method: string,
    pathname: string,
    body: unknown,
    as: TestRole | null = 'admin',
    headers: Record<string, string> = {},
  ) => {
    const h: Record<string, string> = { ...headers }
    if (as) h.authorization = `Bearer ${keys[as]}`
    if (body !== undefined) h['content-type'] ??= 'application/json'
    const res = await fetch(url + pathname, {
      method,
      headers: h,
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    })
    const text = await res.text()
    let parsed: any = text
    try {
      parsed = JSON.parse(text)
    } catch {}
    return { status: res.status, body: parsed, headers: res.headers }
  }
  return {
    url,
    pid: () => proc.pid!,
    keys,
    port,
    dataDir,
    env,
    output: () => out,
    stop: () => waitExit('SIGTERM', false),
    kill9: () => waitExit('SIGKILL', true),
    restart: launch,
    get: (pathname, as, headers) => call('GET', pathname, undefined, as, headers),
    post: (pathname, body, as, headers) => call('POST', pathname, body, as, headers),
    async cleanup() {
      await waitExit('SIGTERM', false)
      rmSync(dataDir, { recursive: true, force: true })
    },
  }
}

/** The incidents the API lists for one resource (a container name), newest first. */
export async function incidentsFor(sentinel: SentinelInstance, resource: string): Promise<any[]> {
  const res = await sentinel.get(`/api/incidents?view=full&resource=${encodeURIComponent(resource)}`)
  assert.equal(res.status, 200)
  return res.body.incidents as any[]
}

/** Waits until the newest incident of a resource is resolved, and returns it. */
export async function resolvedIncidentFor(
  sentinel: SentinelInstance,
  resource: string,
  opts: { timeoutMs: number; what: string },
): Promise<any> {
  return waitFor(async () => {
    const [inc] = await incidentsFor(sentinel, resource)
    return inc?.status === 'resolved' ? inc : null
  }, opts)
}
