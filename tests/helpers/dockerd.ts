/**
 * A private Docker engine for one test file: its own socket, data and exec roots (and so its own
 * containerd), in a network namespace of its own (`unshare --net`), so a test may stop and restart
 * it without touching the engine other tests and people use. The namespace matters: an engine
 * manages its bridge (docker0) and, started with `--bridge none` in the host's namespace, removes
 * the host's docker0 from under the shared engine. Containers on it run with `--network none`.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import { PROJECT_ROOT } from './sentinel'
import { waitFor } from './ports'

const run = promisify(execFile)

export interface PrivateDockerd {
  socket: string
  /** `docker` against this engine. */
  docker(...args: string[]): Promise<string>
  /** Stops the engine (it stops its containers first) and waits until it has exited. */
  stop(): Promise<void>
  start(): Promise<void>
  /** Stops it, and removes its directories. */
  remove(): Promise<void>
  /** The engine's pid (it holds the network namespace; `nsenter -t <pid> -n` enters it), or 0 when stopped. */
  pid(): number
}

export interface PrivateDockerdOptions {
  /**
   * Brings the namespace's loopback up after each start. A new namespace's `lo` is down; a swarm
   * manager needs an address it can listen on (127.0.0.1) when the namespace has no other.
   */
  loopback?: boolean
  /**
   * Gives the engine a UTS namespace of its own with this host name, set after each start (before
   * any swarm init or join): the engines of one multi-node test swarm would all be named after this
   * machine, and their nodes could not be told apart by host name.
   */
  hostname?: string
}

export async function startPrivateDockerd(opts: PrivateDockerdOptions = {}): Promise<PrivateDockerd> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sentinel-test-dockerd-'))
  const socket = path.join(dir, 'docker.sock')
  const host = `unix://${socket}`
  let proc: ChildProcess | null = null
  const docker = async (...args: string[]) =>
    (await run('docker', ['-H', host, ...args], { maxBuffer: 16 * 1024 * 1024 })).stdout.trim()
  const start = async () => {
    // unshare execs dockerd in the new namespace: the child is dockerd itself
    proc = spawn(
      'unshare',
      [
        '--net',
        ...(opts.hostname ? ['--uts'] : []),
        '--',
        'dockerd',
        '--host',
        host,
        '--data-root',
        path.join(dir, 'data'),
        '--exec-root',
        path.join(dir, 'exec'),
        '--pidfile',
        path.join(dir, 'docker.pid'),
        '--iptables=false',
        '--ip6tables=false',
        '--storage-driver',
        'vfs',
        '--shutdown-timeout',
        '2',
      ],
      { stdio: 'ignore', detached: true },
    )
    const started = proc
    await waitFor(
      async () => {
        if (started.exitCode !== null) throw new Error(`the private dockerd exited with ${started.exitCode}`)
        return docker('version', '--format', '{{.Server.Version}}').then(Boolean, () => false)
      },
      { timeoutMs: 30_000, what: 'the private dockerd' },
    )
    if (opts.loopback) await run('nsenter', ['-t', String(started.pid), '-n', 'ip', 'link', 'set', 'lo', 'up'])
    if (opts.hostname) await run('nsenter', ['-t', String(started.pid), '--uts', 'hostname', opts.hostname])
  }
  const stop = async () => {
    const p = proc
    if (!p || p.exitCode !== null || p.signalCode !== null) return
    const exited = new Promise((r) => p.once('exit', r))
    p.kill('SIGTERM')
    await exited
  }
  await start()
  // The busybox test image, built into this engine the same way as into the shared one.
  await run('bash', [path.join(PROJECT_ROOT, 'scripts', 'build-test-image.sh')], {
    env: { ...process.env, DOCKER_HOST: host },
  })
  return {
    socket,
    docker,
    stop,
    start,
    pid: () => (proc && proc.exitCode === null && proc.signalCode === null ? (proc.pid ?? 0) : 0),
    async remove() {
      await stop()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
