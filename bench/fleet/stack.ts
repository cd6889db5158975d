/**
 * The fleet under benchmark, built from the integration tests' helpers: private Docker engines
 * (one per node, kept for the whole run), and per configuration one Redis, one controller Sentinel
 * and one node agent per engine, with two equal sets of idle containers on each engine: watched
 * ones (the run's watch label, no restart policy: Sentinel heals them) and Docker's own
 * (`--restart=always`, unwatched). Every container carries the run's bench label, so the cleanup
 * finds all of them. Also the clock of the benchmark: the `start` events of every engine.
 */
import { randomBytes } from 'node:crypto'
import Docker from 'dockerode'
import { FLEET_SEEN_KEY } from '../../src/platform/fleet/keys'
import { startAgent, type TestAgent } from '../../tests/helpers/agent'
import { TEST_IMAGE } from '../../tests/helpers/docker'
import { startPrivateDockerd, type PrivateDockerd } from '../../tests/helpers/dockerd'
import { waitFor } from '../../tests/helpers/ports'
import { startRedis, type TestRedis } from '../../tests/helpers/redis'
import { startSentinel, WATCH_ARG, type SentinelInstance } from '../../tests/helpers/sentinel'

export const RUN = randomBytes(3).toString('hex')
/** On every container this run makes. */
export const BENCH_LABEL = `sentinel-bench.fleet=${RUN}`
// Idle without forking: a `while sleep` loop per container would load two cores by itself at 300 containers.
const IDLE_CMD = ['sleep', '100000000']

export type Kind = 'sentinel' | 'docker'

/** What is left to undo, undone last-in first-out; each step at most once, failures noted and passed over. */
export class Cleanup {
  private readonly steps: { what: string; run: () => Promise<unknown> }[] = []

  add(what: string, run: () => Promise<unknown>): () => Promise<void> {
    const step = { what, run }
    this.steps.push(step)
    return async () => {
      const i = this.steps.indexOf(step)
      if (i < 0) return
      this.steps.splice(i, 1)
      await run().catch((err) => console.error(`cleanup: ${what}: ${(err as Error).message}`))
    }
  }

  async all(): Promise<void> {
    while (this.steps.length) {
      const step = this.steps.pop()!
      await step.run().catch((err) => console.error(`cleanup: ${step.what}: ${(err as Error).message}`))
    }
  }
}

/** The `start` events of one engine: when each container last started, and a wait for the next start. */
export class StartClock {
  private readonly starts = new Map<string, number[]>()
  private readonly waiters = new Map<string, { after: number; resolve: (t: number) => void }[]>()
  private stream?: NodeJS.ReadableStream & { destroy(): void }

  constructor(private readonly api: Docker) {}

  async follow(): Promise<void> {
    this.stream = (await this.api.getEvents({
      filters: { type: ['container'], event: ['start'], label: [BENCH_LABEL] },
    })) as unknown as NodeJS.ReadableStream & { destroy(): void }
    let buf = ''
    this.stream.on('data', (chunk: Buffer) => {
      buf += chunk.toString()
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        const line = buf.slice(0, nl)
        buf = buf.slice(nl + 1)
        if (line.trim()) this.onStart(JSON.parse(line) as { Actor: { Attributes: { name: string } }; timeNano: number })
      }
    })
    this.stream.on('error', () => {})
  }

  private onStart(e: { Actor: { Attributes: { name: string } }; timeNano: number }): void {
    const name = e.Actor.Attributes.name
    const at = e.timeNano / 1e6
    const list = this.starts.get(name) ?? []
    list.push(at)
    this.starts.set(name, list)
    const waiting = this.waiters.get(name) ?? []
    const left = waiting.filter((w) => {
      if (at <= w.after) return true
      w.resolve(at)
      return false
    })
    this.waiters.set(name, left)
  }

  lastStart(name: string): number | undefined {
    return this.starts.get(name)?.at(-1)
  }

  /** The engine's time of the first start of `name` after `after` (ms), or null after `timeoutMs`. */
  nextStart(name: string, after: number, timeoutMs: number): Promise<number | null> {
    const seen = this.starts.get(name)?.find((t) => t > after)
    if (seen !== undefined) return Promise.resolve(seen)
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(null), timeoutMs)
      const list = this.waiters.get(name) ?? []
      list.push({
        after,
        resolve: (t) => {
          clearTimeout(timer)
          resolve(t)
        },
      })
      this.waiters.set(name, list)
    })
  }

  close(): void {
    this.stream?.destroy()
  }
}

export interface BenchEngine {
  index: number
  engine: PrivateDockerd
  api: Docker
  clock: StartClock
}

/** The node engines, kept for the whole run; removed (containers first) by the cleanup. */
export async function startEngines(count: number, cleanup: Cleanup): Promise<BenchEngine[]> {
  const started = await Promise.allSettled(Array.from({ length: count }, () => startPrivateDockerd()))
  const engines: BenchEngine[] = []
  for (const r of started) {
    if (r.status !== 'fulfilled') continue
    const engine = r.value
    const api = new Docker({ socketPath: engine.socket })
    const clock = new StartClock(api)
    cleanup.add(`engine ${engine.socket}`, async () => {
      clock.close()
      await removeBenchContainers(engine)
      await engine.remove()
    })
    engines.push({ index: engines.length, engine, api, clock })
  }
  const failed = started.find((r) => r.status === 'rejected')
  if (failed) throw (failed as PromiseRejectedResult).reason
  for (const e of engines) await e.clock.follow()
  return engines
}

async function removeBenchContainers(engine: PrivateDockerd): Promise<void> {
  const ids = (await engine.docker('ps', '-aq', '--filter', `label=${BENCH_LABEL}`)).split('\n').filter(Boolean)
  for (let i = 0; i < ids.length; i += 50) await engine.docker('rm', '-f', ...ids.slice(i, i + 50))
}

async function inBatches<T>(items: T[], width: number, fn: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0
  await Promise.all(
    Array.from({ length: Math.min(width, items.length) }, async () => {
      while (next < items.length) await fn(items[next++])
    }),
  )
}

/** Creates and starts the named containers (created a few at a time, started in batches). */
async function makeContainers(engine: PrivateDockerd, names: string[], kind: Kind): Promise<void> {
  const kindArgs = kind === 'sentinel' ? ['--label', WATCH_ARG] : ['--restart=always']
  await inBatches(names, 3, (name) =>
    engine.docker(
      'create',
      '--name',
      name,
      '--network',
      'none',
      '--label',
      BENCH_LABEL,
      ...kindArgs,
      TEST_IMAGE,
      ...IDLE_CMD,
    ),
  )
  for (let i = 0; i < names.length; i += 25) await engine.docker('start', ...names.slice(i, i + 25))
}

export interface BenchNode {
  name: string
  bench: BenchEngine
  agent: TestAgent
  containers: Record<Kind, string[]>
}

export interface Fleet {
  redis: TestRedis
  controller: SentinelInstance
  nodes: BenchNode[]
  /** Stops the agents and the controller, removes the containers and Redis (the engines stay). */
  teardown(): Promise<void>
}

/**
 * One configuration's fleet: Redis, the controller, `perNode` containers of each kind on each of
 * the given engines, then one agent per engine; ready once the controller judges every node up
 * and follows its stream.
 */
export async function startFleet(opts: {
  engines: BenchEngine[]
  perNode: number
  controllerEnv: Record<string, string>
  tag: string
  cleanup: Cleanup
}): Promise<Fleet> {
  const { cleanup } = opts
  const undo: (() => Promise<void>)[] = []
  const teardown = async () => {
    while (undo.length) await undo.pop()!()
  }
  try {
    const redis = await startRedis()
    undo.push(cleanup.add('redis', () => redis.stop()))
    const controller = await startSentinel({
      redisPort: redis.port,
      env: { NODE_NAME: `ctl-${RUN}-${opts.tag}`, ...opts.controllerEnv },
    })
    undo.push(cleanup.add('controller', () => controller.cleanup()))
    const nodes: BenchNode[] = []
    for (const bench of opts.engines) {
      const name = `node${bench.index}-${RUN}-${opts.tag}`
      const containers: Record<Kind, string[]> = { sentinel: [], docker: [] }
      for (const kind of ['sentinel', 'docker'] as const)
        for (let j = 0; j < opts.perNode; j++)
          containers[kind].push(`fb-${RUN}-${opts.tag}-n${bench.index}-${kind[0]}${j}`)
      undo.push(cleanup.add(`containers on node ${bench.index}`, () => removeBenchContainers(bench.engine)))
      await makeContainers(bench.engine, containers.sentinel, 'sentinel')
      await makeContainers(bench.engine, containers.docker, 'docker')
      const agent = await startAgent({
        node: name,
        redisPort: redis.port,
        socket: bench.engine.socket,
        env: opts.controllerEnv.AGENT_HEARTBEAT_SECONDS
          ? { AGENT_HEARTBEAT_SECONDS: opts.controllerEnv.AGENT_HEARTBEAT_SECONDS }
          : {},
      })
      undo.push(cleanup.add(`agent ${name}`, () => agent.cleanup()))
      nodes.push({ name, bench, agent, containers })
    }
    await waitFor(
      async () => {
        const seen = await redis.client.hgetall(FLEET_SEEN_KEY)
        const up = nodes.every((n) => seen[n.name] && JSON.parse(seen[n.name]).state === 'up')
        const out = controller.output()
        const followed = nodes.every((n) =>
          out.split('\n').some((l) => l.includes('following a node agent') && l.includes(n.name)),
        )
        return up && followed
      },
      { timeoutMs: 90_000, intervalMs: 500, what: 'the controller to see every node up and follow it' },
    )
    return { redis, controller, nodes, teardown }
  } catch (err) {
    await teardown()
    throw err
  }
}

/** The main process's pid of a container, through its engine's API (`docker inspect`); 0 when not running. */
export async function mainPid(bench: BenchEngine, name: string): Promise<number> {
  const info = await bench.api.getContainer(name).inspect()
  return info.State.Running ? info.State.Pid : 0
}

/** The controller's incidents by status (the newest 200). */
export async function incidentStatuses(controller: SentinelInstance): Promise<Record<string, number>> {
  const r = await controller.get('/api/incidents?limit=200')
  const counts: Record<string, number> = {}
  for (const i of (r.body?.incidents ?? []) as { status: string }[]) counts[i.status] = (counts[i.status] ?? 0) + 1
  return counts
}
