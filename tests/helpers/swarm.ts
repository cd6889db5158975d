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
 * Several nodes: `startSwarmCluster({ workers: 1 })` (a manager and a worker, each a private engine,
 * their namespaces joined on a private subnet); the same API on the manager, plus `manager`,
 * `workers` (ID, host name, address, engine) and `killTaskOn(name, nodeId)`.
 *
 * The images come from `docker import` of the busybox-static root filesystem, no registry:
 * - good:      serves 'ok' on :8080 (busybox httpd), health check passes (/healthy exists);
 * - bad:       starts, then exits 1 after BAD_EXIT_SECONDS: its tasks crash-loop;
 * - unhealthy: runs and serves :8080 with 404s (no index), its health check fails.
 * Every image checks its health every second (HEALTHCHECK in the image).
 */
import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import {
  chmodSync,
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs'
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
  try {
    // The namespace has only loopback: the manager listens and advertises there.
    await engine.docker('swarm', 'init', '--advertise-addr', '127.0.0.1', '--listen-addr', '127.0.0.1:2377')
    const nodeId = await engine.docker('info', '--format', '{{.Swarm.NodeID}}')
    const images = await buildImages(engine.docker, opts.imageTag ?? 'sentinel-swarm')
    return swarmOn(engine, nodeId, images, async (removeServices) => {
      if (engine.pid()) {
        await removeServices()
        await engine.docker('swarm', 'leave', '--force').catch(() => {})
      }
      await engine.remove()
    })
  } catch (err) {
    await engine.remove()
    throw err
  }
}

/** The TestSwarm API on a manager engine; `remove` is given a function that removes the services made here. */
function swarmOn(
  engine: PrivateDockerd,
  nodeId: string,
  images: TestSwarm['images'],
  remove: (removeServices: () => Promise<void>) => Promise<void>,
): TestSwarm {
  const host = `unix://${engine.socket}`
  const services = new Set<string>()
  const docker = engine.docker
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
      await remove(async () => {
        for (const name of [...services]) await swarm.removeService(name)
      })
    },
  }
  return swarm
}

/** One node of a multi-node test swarm. */
export interface SwarmNode {
  id: string
  /** Its host name (each engine has a UTS namespace of its own), as `docker node ls` shows it. */
  hostname: string
  role: 'manager' | 'worker'
  /** Its address on the swarm's private network. */
  address: string
  engine: PrivateDockerd
}

/** A swarm of one manager and some workers; the TestSwarm API is the manager's (services are made there). */
export interface TestSwarmCluster extends TestSwarm {
  manager: SwarmNode
  workers: SwarmNode[]
  /** The private /24 the nodes are on. */
  subnet: string
  /** Running tasks of `name` on `nodeId`. */
  runningTasksOn(name: string, nodeId: string): Promise<SwarmTask[]>
  /**
   * SIGKILLs the main process of a running task of `name` on `nodeId`, as a crash would (its PID read
   * from that node's own engine); returns the task with that PID.
   */
  killTaskOn(name: string, nodeId: string): Promise<SwarmTask>
}

const ipv4ToInt = (a: string) => a.split('.').reduce((n, o) => n * 256 + Number(o), 0)

/** IPv4 prefixes this machine's own namespace has an address or a route in (the default route aside). */
async function hostPrefixes(): Promise<{ base: number; bits: number }[]> {
  const addrs = (await run('ip', ['-o', '-4', 'addr', 'show'])).stdout
  const routes = (await run('ip', ['-4', 'route', 'show', 'table', 'all'])).stdout
  const prefixes = [...addrs.matchAll(/inet (\d+\.\d+\.\d+\.\d+)\/(\d+)/g)].map((m) => [m[1], m[2]])
  for (const line of routes.split('\n')) {
    const words = line.trim().split(/\s+/)
    const dest = /^(local|broadcast|unicast|multicast|blackhole|unreachable|prohibit|throw|anycast)$/.test(words[0])
      ? words[1]
      : words[0]
    const m = /^(\d+\.\d+\.\d+\.\d+)(?:\/(\d+))?$/.exec(dest ?? '')
    if (m) prefixes.push([m[1], m[2] ?? '32'])
  }
  return prefixes.map(([a, b]) => ({ base: ipv4ToInt(a), bits: Number(b) }))
}

/**
 * A random 10.x.y.0/24 that nothing on this machine's own namespace has an address or a route in
 * (x from 200: Swarm's default address pool hands out 10.0.0.0/24 and on for overlay networks).
 * Returns its first three octets.
 */
async function freeSubnet(): Promise<string> {
  const used = await hostPrefixes()
  for (let i = 0; i < 100; i++) {
    const prefix = `10.${200 + Math.floor(Math.random() * 55)}.${Math.floor(Math.random() * 256)}`
    const base = ipv4ToInt(`${prefix}.0`)
    const overlaps = used.some((u) => {
      const bits = Math.min(u.bits, 24)
      const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0
      return (u.base & mask) >>> 0 === (base & mask) >>> 0
    })
    if (!overlaps) return prefix
  }
  throw new Error('no free 10.x.y.0/24 found')
}

/** The network namespace (its /proc inode link) an engine's dockerd is in. */
const netnsOf = (pid: number) => readlinkSync(`/proc/${pid}/ns/net`)

/** PIDs of the processes still in one of `namespaces`. */
function processesIn(namespaces: Set<string>): number[] {
  const pids: number[] = []
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      if (namespaces.has(readlinkSync(`/proc/${entry}/ns/net`))) pids.push(Number(entry))
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  return pids
}

/**
 * A real swarm of one manager and `workers` workers (default 1), each a private engine in its own
 * network and UTS namespace with a host name of its own. The namespaces are joined by veth pairs
 * on a bridge in the manager's namespace, on a random private 10.x.y.0/24: each pair is made in the
 * manager's namespace with its peer put straight into the worker's, so nothing is ever made in this
 * machine's own namespace (and nothing is left there after a crash), and every link goes when the
 * namespaces do. No route leads anywhere else. The manager inits the swarm on its address, the
 * workers join it; the test images are imported into every engine (a task runs from its node's
 * own images: there is no registry). Services need no overlay network: spread them with
 * `--replicas-max-per-node` or `--placement-pref spread=node.id`. A node's engine is not to be
 * restarted (engine.stop/start): each start makes a new namespace, without the link.
 * remove(): services removed, workers leave, the manager leaves, engines stopped, namespaces
 * checked gone (with them the veths), directories removed. Should the test process exit without
 * it, its engines get SIGTERM from an exit hook (they stop their containers and go; only their
 * directories stay).
 */
export async function startSwarmCluster(opts: { workers?: number; imageTag?: string } = {}): Promise<TestSwarmCluster> {
  const workerCount = opts.workers ?? 1
  if (workerCount < 1 || workerCount > 200) throw new Error('workers: from 1 to 200')
  const run_ = randomBytes(3).toString('hex')
  const engines: PrivateDockerd[] = []
  const namespaces = new Set<string>()
  const onExit = () => {
    for (const e of engines) {
      const pid = e.pid()
      if (pid)
        try {
          process.kill(pid, 'SIGTERM')
        } catch {
          // already gone
        }
    }
  }
  process.once('exit', onExit)

  const stopAll = async (): Promise<void> => {
    await Promise.all(engines.map((e) => e.remove()))
    process.off('exit', onExit)
    // The namespaces go with their last process (dockerd, its containerd and shims): the veths with them.
    const left = await waitFor(() => processesIn(namespaces).length === 0, {
      timeoutMs: 20_000,
      intervalMs: 250,
      what: 'the swarm engines’ network namespaces to go',
    }).then(
      () => [],
      () => processesIn(namespaces),
    )
    if (left.length) throw new Error(`processes still in the test swarm's namespaces: ${left.join(', ')}`)
  }

  try {
    const names = [`swarm-${run_}-m`, ...Array.from({ length: workerCount }, (_, i) => `swarm-${run_}-w${i + 1}`)]
    const started = await Promise.allSettled(names.map((hostname) => startPrivateDockerd({ loopback: true, hostname })))
    for (const s of started) if (s.status === 'fulfilled') engines.push(s.value)
    const failed = started.find((s) => s.status === 'rejected')
    if (failed) throw (failed as PromiseRejectedResult).reason
    for (const e of engines) namespaces.add(netnsOf(e.pid()))
    const [managerEngine, ...workerEngines] = engines

    const prefix = await freeSubnet()
    const address = (i: number) => `${prefix}.${i + 1}`
    const ipIn = (engine: PrivateDockerd, ...args: string[]) =>
      run('nsenter', ['--net', '--target', String(engine.pid()), 'ip', ...args])
    await ipIn(managerEngine, 'link', 'add', 'swarm0', 'type', 'bridge')
    await ipIn(managerEngine, 'addr', 'add', `${address(0)}/24`, 'dev', 'swarm0')
    await ipIn(managerEngine, 'link', 'set', 'swarm0', 'up')
    for (const [i, w] of workerEngines.entries()) {
      const end = `to-w${i + 1}`
      await ipIn(managerEngine, 'link', 'add', end, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', String(w.pid()))
      await ipIn(managerEngine, 'link', 'set', end, 'master', 'swarm0')
      await ipIn(managerEngine, 'link', 'set', end, 'up')
      await ipIn(w, 'addr', 'add', `${address(i + 1)}/24`, 'dev', 'eth0')
      await ipIn(w, 'link', 'set', 'eth0', 'up')
    }

    await managerEngine.docker('swarm', 'init', '--advertise-addr', address(0), '--listen-addr', `${address(0)}:2377`)
    const token = await managerEngine.docker('swarm', 'join-token', '--quiet', 'worker')
    for (const [i, w] of workerEngines.entries())
      await w.docker(
        'swarm',
        'join',
        '--token',
        token,
        '--advertise-addr',
        address(i + 1),
        '--listen-addr',
        `${address(i + 1)}:2377`,
        `${address(0)}:2377`,
      )
    const listed = await waitFor(
      async () => {
        const rows = (
          await managerEngine.docker('node', 'ls', '--format', '{{.ID}}\t{{.Hostname}}\t{{.Status}}\t{{.Availability}}')
        )
          .split('\n')
          .filter(Boolean)
          .map((l) => l.split('\t'))
        return rows.length === engines.length && rows.every((r) => r[2] === 'Ready' && r[3] === 'Active') ? rows : null
      },
      { timeoutMs: 60_000, intervalMs: 250, what: `${engines.length} swarm nodes Ready` },
    )
    const nodes: SwarmNode[] = engines.map((engine, i) => {
      const row = listed.find((r) => r[1] === names[i])
      if (!row) throw new Error(`no swarm node named ${names[i]}: ${JSON.stringify(listed)}`)
      return { id: row[0], hostname: names[i], role: i === 0 ? 'manager' : 'worker', address: address(i), engine }
    })
    const tag = opts.imageTag ?? 'sentinel-swarm'
    const [images] = await Promise.all(engines.map((e) => buildImages(e.docker, tag)))

    const swarm = swarmOn(managerEngine, nodes[0].id, images, async (removeServices) => {
      if (managerEngine.pid()) await removeServices().catch(() => {})
      for (const w of workerEngines)
        if (w.pid()) await w.docker('swarm', 'leave').catch(() => w.docker('swarm', 'leave', '--force').catch(() => {}))
      if (managerEngine.pid()) await managerEngine.docker('swarm', 'leave', '--force').catch(() => {})
      await stopAll()
    })
    const runningTasksOn = async (name: string, nodeId: string) =>
      (await swarm.runningTasks(name)).filter((t) => t.nodeId === nodeId)
    return {
      ...swarm,
      manager: nodes[0],
      workers: nodes.slice(1),
      subnet: `${prefix}.0/24`,
      runningTasksOn,
      async killTaskOn(name, nodeId) {
        const node = nodes.find((n) => n.id === nodeId)
        if (!node) throw new Error(`no node ${nodeId} in this swarm`)
        const task = (await runningTasksOn(name, nodeId)).find((t) => t.containerId)
        if (!task) throw new Error(`no running task of ${name} on ${node.hostname}`)
        const pid = Number(await node.engine.docker('inspect', '--format', '{{.State.Pid}}', task.containerId))
        if (!(pid > 0)) throw new Error(`task ${task.id} has no process on ${node.hostname}`)
        process.kill(pid, 'SIGKILL')
        return { ...task, pid }
      },
    }
  } catch (err) {
    await stopAll().catch(() => {})
    throw err
  }
}
