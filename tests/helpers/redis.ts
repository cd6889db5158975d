/** A real redis-server (Debian's) on a free port with its own data directory, for one test file. */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { Redis } from 'ioredis'
import { freePort, waitFor } from './ports'

export interface TestRedis {
  port: number
  dir: string
  client: Redis
  stop(): Promise<void>
  /** Stops the server but keeps its data directory (for restart tests). */
  kill(): Promise<void>
  restart(): Promise<void>
}

export async function startRedis(): Promise<TestRedis> {
  const port = await freePort()
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sentinel-test-redis-'))
  let proc: ChildProcess
  const launch = async () => {
    proc = spawn(
      'redis-server',
      [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--dir',
        dir,
        '--appendonly',
        'yes',
        '--appendfsync',
        'everysec',
        '--save',
        '',
      ],
      { stdio: 'ignore' },
    )
    const probe = new Redis({
      port,
      host: '127.0.0.1',
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    })
    probe.on('error', () => {})
    await waitFor(
      async () => {
        try {
          await probe.connect()
          return (await probe.ping()) === 'PONG'
        } catch {
          probe.disconnect()
          return false
        }
      },
      { timeoutMs: 10_000, what: `redis on ${port}` },
    )
    probe.disconnect()
  }
  await launch()
  const client = new Redis({ port, host: '127.0.0.1' })
  client.on('error', () => {})
  const kill = async () => {
    if (proc.exitCode !== null) return
    const exited = new Promise((r) => proc.once('exit', r))
    proc.kill('SIGTERM')
    await exited
  }
  return {
    port,
    dir,
    client,
    kill,
    restart: launch,
    async stop() {
      client.disconnect()
      await kill()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
