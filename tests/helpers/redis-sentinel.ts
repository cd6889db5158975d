/**
 * A real Redis made highly available by Redis Sentinel, for one test file: a primary and a replica
 * (Debian's redis-server) and three Sentinels (the same binary with --sentinel, which is what
 * Debian's redis-sentinel runs), each on a free loopback port with its files in one temporary
 * directory. Every process is started here and killed by its own PID in stop(), which also runs
 * if the test process exits without calling it.
 *
 * Durability, stated: both data nodes run `appendonly yes` with `appendfsync always` (a write is
 * on the disk of the node that answered before it answers), and a write the test treats as
 * acknowledged is one WAIT 1 confirmed a replica holds, so that killing the primary cannot take it
 * away. No `min-replicas-to-write`: with two data nodes, the primary left after a failover has no
 * replica, and that setting would make it refuse every write.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { Redis } from 'ioredis'
import { freePort, waitFor } from './ports'

export interface TestRedisSentinelSet {
  /** The name the Sentinels monitor the primary under. */
  masterName: string
  primaryPort: number
  replicaPort: number
  sentinelPorts: number[]
  /** REDIS_SENTINELS for these Sentinels. */
  sentinelsVariable: string
  /** The primary's address the Sentinels give now. */
  primaryAddress(): Promise<{ host: string; port: number } | null>
  /** SIGKILL to the primary's redis-server (no shutdown, no last fsync), waiting for it to exit. */
  killPrimary(): Promise<void>
  stop(): Promise<void>
}

const DOWN_AFTER_MS = 1000
const FAILOVER_TIMEOUT_MS = 3000

/** A client for a test's own checks: fails at once rather than retrying. */
export function directClient(port: number): Redis {
  const c = new Redis({
    host: '127.0.0.1',
    port,
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  })
  c.on('error', () => {})
  return c
}

async function ask<T>(port: number, fn: (c: Redis) => Promise<T>): Promise<T> {
  const c = directClient(port)
  try {
    await c.connect()
    return await fn(c)
  } finally {
    c.disconnect()
  }
}

export async function startRedisSentinelSet(): Promise<TestRedisSentinelSet> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sentinel-test-redis-ha-'))
  const masterName = `sentinel-test-${process.pid}`
  const procs: ChildProcess[] = []
  const killAll = () => {
    for (const p of procs) if (p.exitCode === null && p.signalCode === null && p.pid) p.kill('SIGKILL')
  }
  // If the test process ends without stop() (a crash), no server outlives it.
  process.once('exit', killAll)

  const launch = (args: string[]) => {
    const p = spawn('redis-server', args, { stdio: 'ignore' })
    p.on('error', () => {})
    procs.push(p)
    return p
  }
  const dataNode = (port: number, name: string, extra: string[] = []) => {
    const nodeDir = path.join(dir, name)
    mkdirSync(nodeDir)
    return launch([
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--dir',
      nodeDir,
      '--appendonly',
      'yes',
      '--appendfsync',
      'always',
      '--save',
      '',
      ...extra,
    ])
  }

  try {
    const primaryPort = await freePort()
    const replicaPort = await freePort()
    const sentinelPorts = [await freePort(), await freePort(), await freePort()]
    const primary = dataNode(primaryPort, 'primary')
    dataNode(replicaPort, 'replica', ['--replicaof', '127.0.0.1', String(primaryPort)])
    await waitFor(
      () => ask(replicaPort, async (c) => /master_link_status:up/.test(await c.info('replication'))).catch(() => false),
      { timeoutMs: 10_000, what: 'the replica to sync with the primary' },
    )
    for (const port of sentinelPorts) {
      // Sentinel rewrites its configuration file (what it learns of replicas and other Sentinels).
      const conf = path.join(dir, `sentinel-${port}.conf`)
      writeFileSync(
        conf,
        [
          `port ${port}`,
          'bind 127.0.0.1',
          `dir ${dir}`,
          `sentinel monitor ${masterName} 127.0.0.1 ${primaryPort} 2`,
          `sentinel down-after-milliseconds ${masterName} ${DOWN_AFTER_MS}`,
          `sentinel failover-timeout ${masterName} ${FAILOVER_TIMEOUT_MS}`,
          `sentinel parallel-syncs ${masterName} 1`,
          '',
        ].join('\n'),
      )
      launch([conf, '--sentinel'])
    }
    // A failover needs every Sentinel to know the replica and a majority of the others.
    for (const port of sentinelPorts)
      await waitFor(
        () =>
          ask(port, async (c) => {
            const replicas = (await c.call('SENTINEL', 'REPLICAS', masterName)) as unknown[]
            const others = (await c.call('SENTINEL', 'SENTINELS', masterName)) as unknown[]
            return replicas.length === 1 && others.length === sentinelPorts.length - 1
          }).catch(() => false),
        { timeoutMs: 15_000, what: `Sentinel ${port} to know the replica and the other Sentinels` },
      )

    const primaryAddress = async () => {
      for (const port of sentinelPorts) {
        const reply = await ask(
          port,
          (c) => c.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', masterName) as Promise<[string, string] | null>,
        ).catch(() => null)
        if (reply) return { host: reply[0], port: Number(reply[1]) }
      }
      return null
    }
    return {
      masterName,
      primaryPort,
      replicaPort,
      sentinelPorts,
      sentinelsVariable: sentinelPorts.map((p) => `127.0.0.1:${p}`).join(','),
      primaryAddress,
      async killPrimary() {
        if (primary.exitCode !== null || primary.signalCode !== null) return
        const exited = new Promise((r) => primary.once('exit', r))
        primary.kill('SIGKILL')
        await exited
      },
      async stop() {
        const exits = procs
          .filter((p) => p.exitCode === null && p.signalCode === null)
          .map((p) => new Promise((r) => p.once('exit', r)))
        killAll()
        await Promise.all(exits)
        process.removeListener('exit', killAll)
        rmSync(dir, { recursive: true, force: true })
      },
    }
  } catch (err) {
    killAll()
    process.removeListener('exit', killAll)
    rmSync(dir, { recursive: true, force: true })
    throw err
  }
}
