/**
 * Swarm services as resources Sentinel heals, on a real one-node swarm (tests/helpers/swarm.ts, a
 * private engine: never the shared one): a task killed under a watched service opens an incident
 * naming the service, its tasks and their node, the forced rolling update replaces it and the
 * incident resolves; a service updated to an image whose tasks crash-loop has its incident opened
 * at once for its health score and rollback_service proposed with the update named as the cause
 * (rather than waiting for a crash loop), and once an operator approves, it is back on its
 * previous spec; a service without the watch label is never touched. One swarm and one Sentinel
 * for all the cases.
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
import { startSwarm, type TestSwarm } from '../helpers/swarm'

describe('swarm services', () => {
  let swarm: TestSwarm
  let redis: TestRedis
  let sentinel: SentinelInstance
  const unwatched = uniqueName('svc-unwatched')
  let unwatchedVersion = 0

  before(async () => {
    swarm = await startSwarm()
    redis = await startRedis()
    // Made first, its task killed at once: every later case gives Sentinel the chance to touch it.
    await swarm.createService(unwatched, { replicas: 1, labels: { 'sentinel.watch': `${WATCH_VALUE}-not` } })
    await swarm.waitForRunning(unwatched, 1)
    unwatchedVersion = (await swarm.inspectService(unwatched)).Version.Index
    await swarm.killTask(unwatched)
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
  })
  after(async () => {
    await sentinel?.cleanup()
    await redis?.stop()
    await swarm?.remove()
  })

  it('opens an incident naming the service, its killed task and node; the task is replaced and it resolves', async () => {
    const name = uniqueName('svc-kill')
    // Swarm would replace the task itself after its restart delay: Sentinel acts first.
    await swarm.createService(name, {
      replicas: 2,
      labels: { 'sentinel.watch': WATCH_VALUE },
      args: ['--restart-delay', '20s'],
    })
    await swarm.waitForRunning(name, 2)
    const killed = await swarm.killTask(name)

    const incident = await resolvedIncidentFor(sentinel, name, {
      timeoutMs: 90_000,
      what: `${name}'s incident resolved`,
    })
    assert.equal(incident.type, 'service_degraded')
    assert.equal(incident.resource.kind, 'service')
    const details = incident.alert.details
    assert.ok(
      details.tasks.some((t: { id: string }) => t.id === killed.id),
      `the killed task ${killed.id} is named: ${JSON.stringify(details.tasks)}`,
    )
    assert.ok(details.nodes.length > 0 && details.nodes.every((n: string) => n.length > 0))
    assert.equal(incident.decision.actionId, 'restart_service')
    assert.equal(incident.decision.route, 'auto')
    const running = await swarm.waitForRunning(name, 2)
    assert.ok(running.every((t) => t.id !== killed.id))
    assert.equal((await swarm.inspectService(name)).Spec.TaskTemplate.ForceUpdate, 1)
  })

  it('proposes rolling back a service that crash-loops after its update, and rolls it back once approved', async () => {
    const name = uniqueName('svc-bad')
    await swarm.createService(name, {
      replicas: 2,
      labels: { 'sentinel.watch': WATCH_VALUE },
      args: ['--restart-delay', '1s'],
    })
    await swarm.waitForRunning(name, 2)
    await swarm.updateService(name, ['--image', swarm.images.bad])

    const waiting = await waitFor(
      async () => {
        const [inc] = await incidentsFor(sentinel, name)
        // Decided, and the approval request recorded (the approval step runs just after the decision).
        return inc?.status === 'awaiting_approval' && inc.approval?.status === 'pending' ? inc : null
      },
      { timeoutMs: 90_000, intervalMs: 250, what: `${name}'s incident to await approval` },
    ).catch(async (err) => {
      const found = (await incidentsFor(sentinel, name)).map((i) => ({ status: i.status, timeline: i.timeline }))
      throw new Error(
        `${(err as Error).message}: ${JSON.stringify(found)}; tasks ${JSON.stringify(await swarm.tasks(name))}`,
      )
    })
    assert.equal(waiting.decision.actionId, 'rollback_service')
    assert.match(waiting.analysis.root_cause, /updated/)
    assert.match(waiting.analysis.root_cause, new RegExp(swarm.images.bad))
    // Opened at once for its health score after the update (DEPLOY_ROLLBACK_SCORE, default 0.7): one
    // failed task of two takes the score to 0.5 or less, before a second failure makes a crash loop.
    const alert = waiting.alert
    assert.equal(alert.details.problem, 'unhealthy_after_update', JSON.stringify(alert.details))
    assert.equal(alert.metric, 'service_health_score')
    assert.ok(alert.details.healthScore < alert.details.rollbackScore, JSON.stringify(alert.details))
    assert.equal(alert.details.rollbackScore, 0.7)
    assert.equal(alert.details.update.fromImage, swarm.images.good)
    assert.equal(alert.details.update.toImage, swarm.images.bad)
    assert.match(waiting.analysis.root_cause, /health score/)
    const approved = await sentinel.post(`/api/incidents/${waiting.id}/approve`, {}, 'operator')
    assert.equal(approved.status, 200, JSON.stringify(approved.body))

    await resolvedIncidentFor(sentinel, name, { timeoutMs: 90_000, what: `${name}'s incident resolved` })
    const service = await swarm.inspectService(name)
    assert.equal(service.Spec.TaskTemplate.ContainerSpec.Image.split('@')[0], swarm.images.good)
    await swarm.waitForRunning(name, 2, { image: swarm.images.good })
  })

  it('never touches a service without the watch label', async () => {
    assert.deepEqual(await incidentsFor(sentinel, unwatched), [])
    const service = await swarm.inspectService(unwatched)
    assert.equal(service.Version.Index, unwatchedVersion)
    assert.equal(service.Spec.TaskTemplate.ForceUpdate ?? 0, 0)
  })
})
