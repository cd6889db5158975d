/**
 * Swarm services across nodes, on a real two-node swarm (tests/helpers/swarm.ts startSwarmCluster:
 * two private engines, each in its own network namespace, joined by a veth pair on a private
 * 10.x.y.0/24; never the shared engine). Sentinel talks to the manager only, as it would in a real
 * swarm: a task killed on the WORKER under a watched service opens an incident naming the service,
 * the killed task and the worker node; the forced rolling update (restart_service, low risk,
 * automatic) brings the service back to its replicas on both nodes and the incident resolves. A
 * service without the watch label whose task on the worker was killed is never touched.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { uniqueName } from '../helpers/docker'
import { waitFor } from '../helpers/ports'
import { startRedis, type TestRedis } from '../helpers/redis'
import {
  incidentsFor,
  resolvedIncidentFor,
  type SentinelInstance,
  startSentinel,
  WATCH_VALUE,
} from '../helpers/sentinel'
import { startSwarmCluster, type SwarmTask, type TestSwarmCluster } from '../helpers/swarm'

/** Four replicas, two on each node: Swarm may not put a third on either. */
const REPLICAS = 4
const SPREAD = ['--replicas-max-per-node', '2']
const UNWATCHED_RESTART_DELAY = '30s'

describe('a two-node swarm', () => {
  let swarm: TestSwarmCluster
  let redis: TestRedis
  let sentinel: SentinelInstance
  const unwatched = uniqueName('svc-nodes-unwatched')
  let unwatchedVersion = 0
  let unwatchedKilled: SwarmTask

  /** Running tasks per node ID. */
  const byNode = (tasks: SwarmTask[]) =>
    tasks.reduce((m, t) => m.set(t.nodeId, (m.get(t.nodeId) ?? 0) + 1), new Map<string, number>())
  /** Waits until `name` runs its replicas, two on the manager and two on the worker. */
  const waitForSpread = (name: string, timeoutMs: number) =>
    waitFor(
      async () => {
        const running = await swarm.runningTasks(name)
        const counts = byNode(running)
        return running.length === REPLICAS &&
          counts.get(swarm.manager.id) === 2 &&
          counts.get(swarm.workers[0].id) === 2
          ? running
          : null
      },
      { timeoutMs, intervalMs: 250, what: `${name} to run two tasks on each node` },
    )

  before(async () => {
    swarm = await startSwarmCluster({ workers: 1 })
    redis = await startRedis()
    // Swarm replaces its killed task only after UNWATCHED_RESTART_DELAY: all that time it runs short
    // of a task on the worker under Sentinel's eyes, while the watched case runs.
    await swarm.createService(unwatched, {
      replicas: REPLICAS,
      labels: { 'sentinel.watch': `${WATCH_VALUE}-not` },
      args: [...SPREAD, '--restart-delay', UNWATCHED_RESTART_DELAY],
    })
    await waitForSpread(unwatched, 60_000)
    unwatchedVersion = (await swarm.inspectService(unwatched)).Version.Index
    sentinel = await startSentinel({
      redisPort: redis.port,
      env: {
        DOCKER_SOCKET: swarm.socket,
        SWARM_POLL_SECONDS: '0.5',
        SWARM_DEGRADED_SECONDS: '2',
        SWARM_CRASHLOOP_FAILURES: '2',
        SWARM_CRASHLOOP_WINDOW_SECONDS: '60',
        VERIFY_TIMEOUT_SECONDS: '90',
        VERIFY_STABLE_SECONDS: '2',
      },
    })
    unwatchedKilled = await swarm.killTaskOn(unwatched, swarm.workers[0].id)
  })
  after(async () => {
    await sentinel?.cleanup()
    await redis?.stop()
    await swarm?.remove()
  })

  it('names the worker node of a task killed there, heals the service on both nodes, and resolves', async () => {
    const name = uniqueName('svc-nodes-kill')
    const worker = swarm.workers[0]
    // Swarm would replace the task itself after its restart delay: Sentinel acts first.
    await swarm.createService(name, {
      replicas: REPLICAS,
      labels: { 'sentinel.watch': WATCH_VALUE },
      args: [...SPREAD, '--restart-delay', '20s'],
    })
    await waitForSpread(name, 60_000)
    const killed = await swarm.killTaskOn(name, worker.id)
    assert.equal(killed.nodeId, worker.id)

    const incident = await resolvedIncidentFor(sentinel, name, {
      timeoutMs: 90_000,
      what: `${name}'s incident resolved`,
    }).catch(async (err) => {
      const found = (await incidentsFor(sentinel, name)).map((i) => ({ status: i.status, timeline: i.timeline }))
      throw new Error(
        `${(err as Error).message}: ${JSON.stringify(found)}; tasks ${JSON.stringify(await swarm.tasks(name))}`,
      )
    })
    assert.equal(incident.type, 'service_degraded')
    assert.equal(incident.resource.kind, 'service')
    assert.equal(incident.resource.name, name)
    const details = incident.alert.details
    assert.equal(details.service, name)
    const named = details.tasks.find((t: { id: string }) => t.id === killed.id)
    assert.ok(named, `the killed task ${killed.id} is named: ${JSON.stringify(details.tasks)}`)
    assert.equal(named.node, worker.hostname, 'the killed task is named with the worker node')
    assert.ok(details.nodes.includes(worker.hostname), `the worker is among the nodes: ${details.nodes}`)
    assert.equal(incident.decision.actionId, 'restart_service')
    assert.equal(incident.decision.risk, 'low')
    assert.equal(incident.decision.route, 'auto')
    assert.ok(
      incident.actions.some(
        (a: { actionId: string; status: string }) => a.actionId === 'restart_service' && a.status === 'succeeded',
      ),
      JSON.stringify(incident.actions),
    )

    const running = await waitForSpread(name, 60_000)
    assert.ok(running.every((t) => t.id !== killed.id))
    assert.equal((await swarm.inspectService(name)).Spec.TaskTemplate.ForceUpdate, 1)
  })

  it('never touches a service without the watch label whose task on the worker was killed', async () => {
    assert.deepEqual(await incidentsFor(sentinel, unwatched), [])
    const service = await swarm.inspectService(unwatched)
    assert.equal(service.Version.Index, unwatchedVersion)
    assert.equal(service.Spec.TaskTemplate.ForceUpdate ?? 0, 0)
    // Swarm itself replaces the killed task after its restart delay, on the worker again; every other task is the same.
    const running = await waitForSpread(unwatched, 60_000)
    assert.ok(running.every((t) => t.id !== unwatchedKilled.id))
    const replaced = (await swarm.tasks(unwatched)).filter((t) => t.desiredState !== 'running')
    assert.deepEqual(
      replaced.map((t) => t.id),
      [unwatchedKilled.id],
      'only the killed task was replaced',
    )
  })
})
