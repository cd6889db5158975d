/**
 * A real node agent (`src/fleet/agent-main.ts`, as `npm run agent` runs it) for one test node: its
 * own process, Docker socket and node name, against the test Redis. Stopped by pid.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { PROJECT_ROOT, WATCH_ARG } from './sentinel'

export interface TestAgent {
  node: string
  /** The agent's DATA_DIR (its offline journal is under agent/<node>/). */
  dataDir: string
  pid(): number
  output(): string
  /** SIGTERM and wait for the exit. */
  stop(): Promise<void>
  /** SIGKILL, no chance to clean up. */
  kill9(): Promise<void>
  /** Starts again with the same node name, socket and data directory. */
  start(): Promise<void>
  cleanup(): Promise<void>
}

export async function startAgent(opts: {
  node: string
  redisPort: number
  socket: string
  env?: Record<string, string>
}): Promise<TestAgent> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'sentinel-test-agent-'))
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? '/root',
    SENTINEL_ROLE: 'agent',
    NODE_NAME: opts.node,
    REDIS_HOST: '127.0.0.1',
    REDIS_PORT: String(opts.redisPort),
    DOCKER_SOCKET: opts.socket,
    WATCH_LABEL: WATCH_ARG,
    DATA_DIR: dataDir,
    LOG_LEVEL: 'info',
    ...(opts.env ?? {}),
  }
  let proc: ChildProcess | null = null
  let out = ''
  const start = async () => {
    proc = spawn(process.execPath, ['--import', 'tsx', 'src/fleet/agent-main.ts'], {
      cwd: PROJECT_ROOT,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    proc.stdout!.on('data', (d) => (out += d))
    proc.stderr!.on('data', (d) => (out += d))
  }
  const end = async (signal: NodeJS.Signals) => {
    const p = proc
    if (!p || p.exitCode !== null || p.signalCode !== null) return
    const exited = new Promise((r) => p.once('exit', r))
    p.kill(signal)
    let timer: NodeJS.Timeout | undefined
    const late = new Promise((r) => (timer = setTimeout(r, 10_000)))
    if ((await Promise.race([exited.then(() => 'exited'), late])) !== 'exited') {
      p.kill('SIGKILL')
      await exited
    }
    clearTimeout(timer)
  }
  await start()
  return {
    node: opts.node,
    dataDir,
    pid: () => proc?.pid ?? 0,
    output: () => out,
    stop: () => end('SIGTERM'),
    kill9: () => end('SIGKILL'),
    start,
    async cleanup() {
      await end('SIGTERM')
      rmSync(dataDir, { recursive: true, force: true })
    },
  }
}
