/**
 * One Sentinel per data directory, with real processes. Two instances on one DATA_DIR used to run
 * two Redis servers on one append-only file and stop the wrong one.
 *
 * - The main process (started without start.sh, as the tests and the demo do) takes
 *   DATA_DIR/instance.lock: a second one exits at once naming the first, which keeps running;
 *   after kill -9 the lock is stale and the next start takes it over; SIGTERM releases it.
 * - npm start (scripts/start.sh) takes DATA_DIR/start.lock before it starts Redis: a second start
 *   fails at once naming the first, starts no Redis and stops nothing of the first's. A Redis left
 *   running by a start that was killed -9 is not joined by a second one either.
 */
import assert from 'node:assert/strict'
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, realpathSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { after, describe, it } from 'node:test'
import { INSTANCE_LOCK_FILE, type InstanceRecord } from '../../src/platform/instance/lock'
import { freePort, sleep, waitFor } from '../helpers/ports'
import { startRedis, type TestRedis } from '../helpers/redis'
import { PROJECT_ROOT, type SentinelInstance, startSentinel, WATCH_ARG } from '../helpers/sentinel'

interface Proc {
  proc: ChildProcess
  output(): string
  exited: Promise<number | null>
  /** SIGKILL to its whole process group, if it still runs. */
  kill(): void
}

/** Starts a command in its own process group (so that a kill -9 takes its children too). */
function launch(args: string[], env: Record<string, string>): Proc {
  const proc = spawn(args[0], args.slice(1), {
    cwd: PROJECT_ROOT,
    env,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  proc.stdout!.on('data', (d) => (out += d))
  proc.stderr!.on('data', (d) => (out += d))
  return {
    proc,
    output: () => out,
    exited: new Promise((r) => proc.once('exit', (code) => r(code))),
    kill() {
      if (proc.exitCode !== null || proc.signalCode !== null) return
      try {
        process.kill(-proc.pid!, 'SIGKILL')
      } catch {}
    },
  }
}

/** The exit code, or 'still running' when it neither exits nor fails within `ms`. */
const exitWithin = (p: Proc, ms: number) => Promise.race([p.exited, sleep(ms).then(() => 'still running' as const)])

const healthy = async (port: number) => {
  try {
    return (await fetch(`http://127.0.0.1:${port}/healthz`)).status === 200
  } catch {
    return false
  }
}

const readLock = (dataDir: string): InstanceRecord =>
  JSON.parse(readFileSync(path.join(dataDir, INSTANCE_LOCK_FILE), 'utf8'))

/** The redis-server processes whose working directory (their --dir) is `dir`. */
function redisServersIn(dir: string): number[] {
  const real = realpathSync(dir)
  const pids: number[] = []
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      if (
        readFileSync(`/proc/${entry}/comm`, 'utf8').trim() === 'redis-server' &&
        readlinkSync(`/proc/${entry}/cwd`) === real
      )
        pids.push(Number(entry))
    } catch {}
  }
  return pids
}

const redisAnswers = (port: number) =>
  spawnSync('redis-cli', ['-h', '127.0.0.1', '-p', String(port), 'ping'], { encoding: 'utf8' }).stdout.trim() === 'PONG'

describe('one Sentinel per data directory: the main process', { timeout: 240_000 }, () => {
  let redis: TestRedis
  let sentinel: SentinelInstance
  let second: Proc | undefined
  after(async () => {
    second?.kill()
    await sentinel?.cleanup()
    await redis?.stop()
  })

  it('a second main process on the same DATA_DIR exits naming the first, which keeps answering; kill -9 leaves a stale lock the next start takes', async () => {
    redis = await startRedis()
    sentinel = await startSentinel({ redisPort: redis.port })
    assert.equal(readLock(sentinel.dataDir).pid, sentinel.pid())

    const otherPort = await freePort()
    second = launch([process.execPath, 'scripts/motia-start.mjs', String(otherPort), '127.0.0.1'], {
      ...sentinel.env,
      PORT: String(otherPort),
    })
    // Fails fast when unprotected too: the second one would come up on its own port.
    const outcome = await Promise.race([
      exitWithin(second, 60_000),
      waitFor(() => healthy(otherPort), { timeoutMs: 60_000, what: 'never' }).then(() => 'answering' as const),
    ])
    assert.notEqual(outcome, 'answering', `a second Sentinel runs on the same data directory:\n${second.output()}`)
    assert.notEqual(outcome, 'still running', `the second start neither failed nor came up:\n${second.output()}`)
    assert.notEqual(outcome, 0)
    const message = second.output()
    assert.match(message, /already running on data directory/, message)
    assert.match(
      message,
      new RegExp(
        `pid ${sentinel.pid()}, port ${sentinel.port}, host 127\\.0\\.0\\.1, started \\S+\\); stop it first \\(kill ${sentinel.pid()}`,
      ),
      message,
    )

    assert.equal((await sentinel.get('/healthz', null)).status, 200, 'the first still answers')
    assert.equal(readLock(sentinel.dataDir).pid, sentinel.pid(), 'and still holds the lock')

    const killed = sentinel.pid()
    await sentinel.kill9()
    assert.equal(readLock(sentinel.dataDir).pid, killed, 'kill -9 leaves the lock behind')
    await sentinel.restart()
    assert.notEqual(sentinel.pid(), killed)
    assert.equal(readLock(sentinel.dataDir).pid, sentinel.pid(), 'the new start took the stale lock over')

    await sentinel.stop()
    assert.equal(existsSync(path.join(sentinel.dataDir, INSTANCE_LOCK_FILE)), false, 'SIGTERM released it')
  })
})

describe('one Sentinel per data directory: npm start (scripts/start.sh)', { timeout: 300_000 }, () => {
  const procs: Proc[] = []
  const dataDirs: string[] = []
  after(() => {
    for (const p of procs) p.kill()
    for (const dir of dataDirs) {
      // A Redis that a start left behind (daemonized, out of its process group), by its pid.
      for (const pid of redisServersIn(path.join(dir, 'redis'))) {
        try {
          process.kill(pid, 'SIGKILL')
        } catch {}
      }
      rmSync(dir, { recursive: true, force: true })
    }
  })
  const newDataDir = () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'sentinel-test-start-'))
    dataDirs.push(dir)
    return dir
  }

  const npmStart = async (dataDir: string, port: number, redisPort: number) => {
    const p = launch(['bash', 'scripts/start.sh'], {
      ...(process.env as Record<string, string>),
      PORT: String(port),
      HOST: '127.0.0.1',
      REDIS_HOST: '127.0.0.1',
      REDIS_PORT: String(redisPort),
      DATA_DIR: dataDir,
      SENTINEL_API_KEYS: `admin:test-admin-${'a'.repeat(30)}`,
      MONITOR_CRON: '0 0 1 1 *',
      ANOMALY_ENABLED: 'false',
      WATCH_LABEL: WATCH_ARG,
    })
    procs.push(p)
    return p
  }
  const startedFully = async (p: Proc, port: number) => {
    await Promise.race([
      waitFor(() => healthy(port), { timeoutMs: 90_000, what: `npm start to answer on ${port}` }),
      p.exited.then((code) => Promise.reject(new Error(`npm start exited with ${code}:\n${p.output()}`))),
    ])
  }

  it('a second npm start fails at once naming the first, starts no Redis, and stops nothing of the first', async () => {
    const dataDir = newDataDir()
    const redisDir = path.join(dataDir, 'redis')
    const [port1, redis1, port2, redis2] = [await freePort(), await freePort(), await freePort(), await freePort()]
    const first = await npmStart(dataDir, port1, redis1)
    await startedFully(first, port1)
    const firstRedis = Number(readFileSync(path.join(redisDir, 'redis.pid'), 'utf8'))
    assert.deepEqual(redisServersIn(redisDir), [firstRedis])

    // Another Redis port, so that without the lock it would start its own Redis on this directory.
    const started = Date.now()
    const second = await npmStart(dataDir, port2, redis2)
    const code = await exitWithin(second, 30_000)
    assert.notEqual(code, 'still running', `the second start did not fail:\n${second.output()}`)
    assert.notEqual(code, 0)
    assert.ok(Date.now() - started < 20_000, `it failed after ${Date.now() - started} ms`)
    const message = second.output()
    assert.match(
      message,
      new RegExp(
        `already running on data directory ${dataDir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\(pid ${first.proc.pid}, port ${port1}, host 127\\.0\\.0\\.1, started \\S+\\); stop it first \\(kill ${first.proc.pid}`,
      ),
      message,
    )

    assert.deepEqual(redisServersIn(redisDir), [firstRedis], 'one redis-server on the data directory, the first one’s')
    assert.equal(Number(readFileSync(path.join(redisDir, 'redis.pid'), 'utf8')), firstRedis, 'its pidfile untouched')
    assert.equal(redisAnswers(redis1), true, 'the first’s Redis still answers')
    assert.equal(redisAnswers(redis2), false, 'no Redis on the second’s port')
    assert.equal(await healthy(port1), true, 'the first Sentinel still answers')
    assert.equal(await healthy(port2), false)

    // The first stops cleanly with its own Redis, and the directory is free again.
    first.proc.kill('SIGTERM')
    assert.notEqual(await exitWithin(first, 30_000), 'still running')
    await waitFor(() => redisServersIn(redisDir).length === 0, { timeoutMs: 10_000, what: 'the first’s Redis to stop' })
    assert.equal(spawnSync('flock', ['-n', path.join(dataDir, 'start.lock'), 'true']).status, 0, 'the lock is free')
  })

  it('a Redis left running by an npm start killed -9 is not joined by a second Redis', async () => {
    const dataDir = newDataDir()
    const redisDir = path.join(dataDir, 'redis')
    const [port1, redis1, port2, redis2] = [await freePort(), await freePort(), await freePort(), await freePort()]
    const crashed = await npmStart(dataDir, port1, redis1)
    await startedFully(crashed, port1)
    const leftover = Number(readFileSync(path.join(redisDir, 'redis.pid'), 'utf8'))
    crashed.kill() // kill -9 of start.sh and Sentinel; the daemonized Redis lives on
    await crashed.exited
    await waitFor(async () => !(await healthy(port1)), { timeoutMs: 10_000, what: 'the killed Sentinel to be gone' })
    assert.deepEqual(redisServersIn(redisDir), [leftover])

    const next = await npmStart(dataDir, port2, redis2)
    const code = await exitWithin(next, 30_000)
    assert.notEqual(code, 'still running', `the start did not fail:\n${next.output()}`)
    assert.notEqual(code, 0)
    assert.match(
      next.output(),
      new RegExp(
        `a Redis server \\(pid ${leftover}\\) left by an earlier start still runs on .*; stop it first \\(kill ${leftover}\\)`,
      ),
      next.output(),
    )
    assert.deepEqual(redisServersIn(redisDir), [leftover], 'still one redis-server on the data directory')
  })
})
