/**
 * A real one-node Docker Swarm for one test file, on a private engine (tests/helpers/dockerd.ts) in
 * its own network namespace: a swarm is never made on, or left behind on, the shared engine.
 *
 * Usage:
 *   const swarm = await startSwarm()            // engine + `swarm init` + the test images
 *   const id = await swarm.createService(uniqueName('web'), {
 *     image: swarm.images.good, replicas: 3, labels: { 'sentinel.watch': WATCH_VALUE },
 *   })
 *   await swarm.waitForRunning(name, 3)
 *   await swarm.killTask(name)                  // SIGKILL one task's main process, as a crash would
 *   await swarm.updateService(name, ['--image', swarm.images.bad])
 *   await swarm.remove()                        // in after(): services, swarm, engine, directories
 * Point a Sentinel at it with `DOCKER_SOCKET: swarm.socket`. A probe reaches a task (or a published
 * port) only from inside the namespace: `swarm.inNamespace('wget', '-qO-', url)`.
 *
 * The images come from `docker import` of the busybox-static root filesystem, no registry:
 * - good:      serves 'ok' on :8080 (busybox httpd), health check passes (/healthy exists);
 * - bad:       starts, then exits 1 after BAD_EXIT_SECONDS: its tasks crash-loop;
 * - unhealthy: runs and serves :8080 with 404s (no index), its health check fails.
 * Every image checks its health every second (HEALTHCHECK in the image).
 */
import { execFile } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync, copyFileSync, chmodSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import { startPrivateDockerd, type PrivateDockerd } from './dockerd'
import { waitFor } from './ports'

const run = promisify(execFile)

/** How long a task of the bad image runs before it exits with 1. */
export const BAD_EXIT_SECONDS = 3

export interface SwarmTask {
  id: string
  /** Replica slot (1-based). */
  slot: number
  nodeId: string
  desiredState: string
  state: string
  containerId: string
  /** The container's main process, on this machine (0 when it does not run). */
  pid: number
  image: string
  error: string
}

export interface CreateServiceOptions {
  image?: string
  replicas?: number
  labels?: Record<string, string>
  env?: Record<string, string>
  /** Command to run instead of the image's. */
  cmd?: string[]
  /** Further `docker service create` flags, as arguments (e.g. ['--restart-delay', '30s']). */
  args?: string[]
}

export interface TestSwarm {
  engine: PrivateDockerd
  /** The engine's socket path, for `DOCKER_SOCKET`. */
  socket: string
  /** `unix://…` for `DOCKER_HOST`. */
  host: string
  /** The one node's ID. */
  nodeId: string
  images: { good: string; bad: string; unhealthy: string }
  /** `docker` against this engine. */
  docker(...args: string[]): Promise<string>
  /** Runs a command inside the engine's network namespace (where tasks and published ports are). */
  inNamespace(cmd: string, ...args: string[]): Promise<string>
  /** Creates a replicated service (detached) and returns its ID; remove() removes it. */
  createService(name: string, opts?: CreateServiceOptions): Promise<string>
  /** `docker service update --detach <args> <name>`. */
  updateService(name: string, args: string[]): Promise<void>
  removeService(name: string): Promise<void>
  /** The service as the Engine API shows it (`docker service inspect`). */
  inspectService(name: string): Promise<any>
  /** The service's tasks, newest first. */
  tasks(name: string): Promise<SwarmTask[]>
  /** The service's tasks that are running now (desired and actual state). */
  runningTasks(name: string): Promise<SwarmTask[]>
  /** Waits until exactly `n` tasks run, optionally all of `image`. */
  waitForRunning(name: string, n: number, opts?: { image?: string; timeoutMs?: number }): Promise<SwarmTask[]>
  /** SIGKILLs the main process of one running task (the first, or the one in `slot`); returns it. */
  killTask(name: string, slot?: number): Promise<SwarmTask>
  /** Removes the services made here, leaves the swarm, stops the engine, removes its directories. */
  remove(): Promise<void>
}

/** The three images, from one busybox-static root filesystem (as scripts/build-test-image.sh builds it). */
async function buildImages(docker: (...a: string[]) => Promise<string>, tag: string) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sentinel-test-swarm-images-'))
  try {
    const busybox = (await run('which', ['busybox'])).stdout.trim()
    const root = path.join(dir, 'rootfs')
    for (const d of ['bin', 'sbin', 'usr/bin', 'usr/sbin', 'tmp', 'proc', 'sys', 'dev', 'etc', 'www', 'var/log'])
      mkdirSync(path.join(root, d), { recursive: true })
    chmodSync(path.join(root, 'tmp'), 0o1777)
    copyFileSync(busybox, path.join(root, 'bin', 'busybox'))
    chmodSync(path.join(root, 'bin', 'busybox'), 0o755)
    const applets = (await run(busybox, ['--list'])).stdout.split('\n').filter((a) => a && a !== 'busybox')
    for (const a of applets) symlinkSync('/bin/busybox', path.join(root, 'bin', a))
    writeFileSync(path.join(root, 'etc', 'passwd'), 'root:x:0:0:root:/root:/bin/sh\n')
    writeFileSync(path.join(root, 'etc', 'group'), 'root:x:0:\n')
    // Two archives: with the health file and the page (good), and without (bad, unhealthy).
    writeFileSync(path.join(root, 'www', 'index.html'), 'ok\n')
    writeFileSync(path.join(root, 'healthy'), 'ok\n')
    const full = path.join(dir, 'full.tar')
    await run('tar', ['-C', root, '-cf', full, '.'])
    rmSync(path.join(root, 'www', 'index.html'))
    rmSync(path.join(root, 'healthy'))
    const bare = path.join(dir, 'bare.tar')
    await run('tar', ['-C', root, '-cf', bare, '.'])
    const images = { good: `${tag}:good`, bad: `${tag}:bad`, unhealthy: `${tag}:unhealthy` }
    const common = [
      '-c',
      'ENV PATH=/bin:/sbin:/usr/bin:/usr/sbin',
      '-c',
      'HEALTHCHECK --interval=1s --timeout=1s --retries=2 CMD cat /healthy',
    ]
    // A shell as PID 1 that exits on SIGTERM: httpd as PID 1 has no handler for it, and every stop
    // (an update, a scale-down, a removal) would wait out the stop grace period (10 s).
    const httpd = `CMD ["sh", "-c", "trap 'exit 0' TERM; httpd -f -p 8080 -h /www & wait"]`
    await docker('import', ...common, '-c', httpd, '-c', 'LABEL sentinel.test.version=good', full, images.good)
    await docker(
      'import',
      ...common,
      '-c',
      // No TERM trap: killed for its failing health check, it must fail (non-zero), not complete.
      `CMD ["sh", "-c", "sleep ${BAD_EXIT_SECONDS}; exit 1"]`,
      '-c',
      'LABEL sentinel.test.version=bad',
      bare,
      images.bad,
    )
    await docker(
      'import',
      ...common,
      '-c',
      httpd,
      '-c',
      'LABEL sentinel.test.version=unhealthy',
      bare,
      images.unhealthy,
    )
    return images
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

export async function startSwarm(opts: { imageTag?: string } = {}): Promise<TestSwarm> {
  const engine = await startPrivateDockerd({ loopback: true })
  const host = `unix://${engine.socket}`
  const services = new Set<string>()
  const docker = engine.docker
  try {
    // The namespace has only loopback: the manager listens and advertises there.
    await docker('swarm', 'init', '--advertise-addr', '127.0.0.1', '--listen-addr', '127.0.0.1:2377')
    const nodeId = await docker('info', '--format', '{{.Swarm.NodeID}}')
    const images = await buildImages(docker, opts.imageTag ?? 'sentinel-swarm')

    const tasks = async (name: string): Promise<SwarmTask[]> => {
      const ids = (await docker('service', 'ps', '--no-trunc', '--quiet', name)).split('\n').filter(Boolean)
      if (!ids.length) return []
      const raw = JSON.parse(await docker('inspect', '--type', 'task', ...ids)) as any[]
      return raw
        .map((t) => ({
          id: t.ID as string,
          slot: Number(t.Slot ?? 0),
          nodeId: (t.NodeID ?? '') as string,
          desiredState: t.DesiredState as string,
          state: t.Status?.State as string,
          containerId: (t.Status?.ContainerStatus?.ContainerID ?? '') as string,
          pid: Number(t.Status?.ContainerStatus?.PID ?? 0),
          image: String(t.Spec?.ContainerSpec?.Image ?? '').split('@')[0],
          error: (t.Status?.Err ?? '') as string,
          createdAt: t.CreatedAt as string,
        }))
        .sort((a, b) => b.createdAt.localeCompare(a.createdAt))
        .map(({ createdAt: _createdAt, ...t }) => t)
    }
    const runningTasks = async (name: string) =>
      (await tasks(name)).filter((t) => t.state === 'running' && t.desiredState === 'running')

    const swarm: TestSwarm = {
      engine,
      socket: engine.socket,
      host,
      nodeId,
      images,
      docker,
      async inNamespace(cmd, ...args) {
        const pid = engine.pid()
        if (!pid) throw new Error('the swarm engine is not running')
        return (await run('nsenter', ['-t', String(pid), '-n', cmd, ...args])).stdout.trim()
      },
      async createService(name, o = {}) {
        const labelArgs = Object.entries(o.labels ?? {}).flatMap(([k, v]) => ['--label', `${k}=${v}`])
        const envArgs = Object.entries(o.env ?? {}).flatMap(([k, v]) => ['--env', `${k}=${v}`])
        services.add(name)
        return docker(
          'service',
          'create',
          '--detach',
          '--quiet',
          '--name',
          name,
          '--replicas',
          String(o.replicas ?? 1),
          ...labelArgs,
          ...envArgs,
          ...(o.args ?? []),
          o.image ?? images.good,
          ...(o.cmd ?? []),
        )
      },
      async updateService(name, args) {
        await docker('service', 'update', '--detach', '--quiet', ...args, name)
      },
      async removeService(name) {
        await docker('service', 'rm', name).catch(() => {})
        services.delete(name)
      },
      async inspectService(name) {
        return (JSON.parse(await docker('service', 'inspect', name)) as any[])[0]
      },
      tasks,
      runningTasks,
      async waitForRunning(name, n, o = {}) {
        return waitFor(
          async () => {
            const running = await runningTasks(name)
            if (running.length !== n) return null
            if (o.image && running.some((t) => t.image !== o.image)) return null
            return running
          },
          { timeoutMs: o.timeoutMs ?? 30_000, intervalMs: 250, what: `${n} running tasks of ${name}` },
        )
      },
      async killTask(name, slot) {
        const running = (await runningTasks(name)).filter((t) => t.pid > 0 && (slot === undefined || t.slot === slot))
        const task = running[0]
        if (!task) throw new Error(`no running task of ${name}${slot === undefined ? '' : ` in slot ${slot}`}`)
        process.kill(task.pid, 'SIGKILL')
        return task
      },
      async remove() {
        if (engine.pid()) {
          for (const name of [...services]) await swarm.removeService(name)
          await docker('swarm', 'leave', '--force').catch(() => {})
        }
        await engine.remove()
      },
    }
    return swarm
  } catch (err) {
    await engine.remove()
    throw err
  }
}
