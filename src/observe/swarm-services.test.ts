import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { ServiceInfo, TaskSummary } from '../platform/swarm/client'
import { recentUpdateOf, serviceHealthScore } from './service-health'
import { findProblem, serviceAlert, tasksUp } from './swarm-services'

const NOW = Date.parse('2026-12-04T10:00:00Z')
const ago = (s: number) => new Date(NOW - s * 1000).toISOString()
const config = {
  SWARM_POLL_SECONDS: 1,
  SWARM_DEGRADED_SECONDS: 10,
  SWARM_CRASHLOOP_FAILURES: 3,
  SWARM_CRASHLOOP_WINDOW_SECONDS: 120,
  DEPLOY_WATCH_MINUTES: 15,
  DEPLOY_ROLLBACK_SCORE: 0.7,
  NODE_NAME: 'host-a',
}

function service(over: Partial<ServiceInfo> = {}): ServiceInfo {
  return {
    ID: 'svc1',
    Version: { Index: 7 },
    CreatedAt: ago(3600),
    UpdatedAt: ago(3600),
    Spec: {
      Name: 'web',
      Labels: { 'sentinel.watch': 'true' },
      TaskTemplate: { ContainerSpec: { Image: 'web:2@sha256:abc' } },
      Mode: { Replicated: { Replicas: 3 } },
    },
    ...over,
  }
}

let n = 0
function task(state: string, over: Partial<TaskSummary> = {}): TaskSummary {
  n++
  return {
    id: `t${n}`,
    slot: n,
    nodeId: 'node1',
    node: 'host-a',
    state,
    desiredState: state === 'running' || state === 'starting' || state === 'ready' ? 'running' : 'shutdown',
    image: 'web:2',
    error: null,
    exitCode: null,
    containerId: `c${n}`,
    createdAt: ago(600),
    updatedAt: ago(600),
    ...over,
  }
}

describe('swarm service problems', () => {
  it('a service short of tasks is degraded only once it has been so for SWARM_DEGRADED_SECONDS', () => {
    const tasks = [task('running'), task('running'), task('failed', { updatedAt: ago(5), exitCode: 137 })]
    const opts = { nowMs: NOW, countFromMs: 0, config }
    assert.equal(findProblem(service(), tasks, { ...opts, belowSinceMs: NOW - 5000 }), null)
    const found = findProblem(service(), tasks, { ...opts, belowSinceMs: NOW - 11_000 })
    assert.equal(found?.problem, 'tasks_below_desired')
    assert.match(found!.summary, /2\/3 tasks running/)
  })

  it('a task starting, or made moments ago and still coming up, is not missing', () => {
    const tasks = [task('running'), task('starting'), task('ready', { createdAt: ago(2) })]
    assert.equal(tasksUp(service(), tasks, NOW, 10_000), 3)
    const stuck = [task('running'), task('starting'), task('ready', { createdAt: ago(30) })]
    assert.equal(tasksUp(service(), stuck, NOW, 10_000), 2)
  })

  it('failures within the window make a crash loop; those an earlier incident covered do not count', () => {
    const failed = [1, 2, 3].map((i) => task('failed', { updatedAt: ago(10 * i), error: 'task: non-zero exit (1)' }))
    const tasks = [task('running'), task('running'), task('running'), ...failed]
    const opts = { nowMs: NOW, belowSinceMs: null, config }
    assert.equal(findProblem(service(), tasks, { ...opts, countFromMs: 0 })?.problem, 'crash_loop')
    assert.equal(findProblem(service(), tasks, { ...opts, countFromMs: NOW - 15_000 }), null)
    const unhealthy = failed.map((t) => ({ ...t, error: 'task: non-zero exit (1): dockerexec: unhealthy container' }))
    assert.equal(
      findProblem(service(), [task('running'), ...unhealthy], { ...opts, countFromMs: 0 })?.problem,
      'health_check_failing',
    )
  })

  it('the alert names the service, its tasks and their nodes, and a recent update', () => {
    const s = service({
      UpdatedAt: ago(60),
      PreviousSpec: { Name: 'web', TaskTemplate: { ContainerSpec: { Image: 'web:1' } } },
    })
    const failed = task('failed', { updatedAt: ago(5), node: 'host-b', error: 'task: non-zero exit (1)' })
    const tasks = [task('running'), task('running'), failed]
    const finding = findProblem(s, tasks, { nowMs: NOW, belowSinceMs: NOW - 20_000, countFromMs: 0, config })!
    const alert = serviceAlert(s, tasks, finding, {
      nowMs: NOW,
      deployWatchMinutes: 15,
      rollbackScore: 0.7,
      node: 'host-a',
    })
    assert.equal(alert.type, 'service_degraded')
    assert.deepEqual(alert.resource, { kind: 'service', id: 'svc1', name: 'web' })
    assert.equal(alert.fingerprint, 'service_degraded:svc1')
    const d = alert.details as any
    assert.deepEqual(d.nodes.sort(), ['host-a', 'host-b'])
    assert.ok(d.tasks.some((t: any) => t.id === failed.id && t.error === 'task: non-zero exit (1)'))
    assert.equal(d.recentUpdate, true)
    assert.equal(d.previousImage, 'web:1')
    assert.equal(d.image, 'web:2')
    const old = serviceAlert({ ...s, UpdatedAt: ago(3600) }, tasks, finding, {
      nowMs: NOW,
      deployWatchMinutes: 15,
      rollbackScore: 0.7,
      node: 'host-a',
    })
    assert.equal((old.details as any).recentUpdate, false)
  })
})

describe('the service health score', () => {
  const score = (tasks: TaskSummary[], desired: number | null = 3, sinceMs = NOW - 120_000) =>
    serviceHealthScore(tasks, { desired, nowMs: NOW, graceMs: 10_000, sinceMs })

  it('is the share of replicas running: 1 when all are, 0 when none is', () => {
    assert.equal(score([task('running'), task('running'), task('running')]).score, 1)
    assert.equal(score([task('running'), task('running')]).score, 0.667)
    assert.equal(score([]).score, 0)
    // More tasks than replicas (a start-first update) is still 1.
    assert.equal(score([task('running'), task('running'), task('running'), task('starting')]).score, 1)
  })

  it('counts a task on its way for 0.75, one stuck past the grace for nothing', () => {
    const coming = score([task('running'), task('starting'), task('ready', { createdAt: ago(2) })], 3)
    assert.equal(coming.comingUp, 2)
    assert.equal(coming.score, 0.833)
    assert.equal(score([task('running'), task('running'), task('preparing', { createdAt: ago(30) })]).score, 0.667)
  })

  it('is lowered by each failure since `sinceMs`, to 0 at one per replica', () => {
    const up = [task('running'), task('running'), task('running')]
    const failed = (s: number) => task('failed', { updatedAt: ago(s), error: 'task: non-zero exit (1)' })
    assert.equal(score([...up, failed(5)]).score, 0.667)
    assert.equal(score([...up, failed(5), failed(6)]).score, 0.333)
    assert.equal(score([...up, failed(5), failed(6), failed(7), failed(8)]).score, 0)
    const old = score([...up, failed(300)])
    assert.equal(old.failures, 0)
    assert.equal(old.score, 1)
  })

  it('wants one task per node of a global service, and nothing of one scaled to 0', () => {
    const global = score([task('running'), task('failed', { updatedAt: ago(5), desiredState: 'running' })], null)
    assert.equal(global.desired, 2)
    assert.equal(global.score, 0.25)
    assert.equal(score([], 0).score, 1)
  })
})

describe('a low health score after an update', () => {
  const updated = (minutesAgo: number) =>
    service({
      UpdatedAt: ago(minutesAgo * 60),
      UpdateStatus: { State: 'paused', StartedAt: ago(minutesAgo * 60) },
      PreviousSpec: { Name: 'web', TaskTemplate: { ContainerSpec: { Image: 'web:1@sha256:def' } } },
      Spec: { ...service().Spec, Mode: { Replicated: { Replicas: 2 } } },
    })
  // One slot runs the old version; the new one's task failed 5 s ago and its replacement waits out a restart delay.
  const tasks = () => [
    task('running', { image: 'web:1' }),
    task('failed', { updatedAt: ago(5), createdAt: ago(20), error: 'task: non-zero exit (1)' }),
    task('ready', { createdAt: ago(3) }),
  ]
  const opts = { nowMs: NOW, belowSinceMs: null, countFromMs: 0, config }

  it('opens the incident at once within DEPLOY_WATCH_MINUTES of the update, naming it', () => {
    const s = updated(2)
    const update = recentUpdateOf(s, NOW, config.DEPLOY_WATCH_MINUTES)
    const found = findProblem(s, tasks(), { ...opts, update })
    assert.equal(found?.problem, 'unhealthy_after_update')
    // (1 + 0.75) / 2 × (1 − 1/2): below 0.7 with one failure, not waiting for SWARM_CRASHLOOP_FAILURES (3).
    assert.equal(found!.health.score, 0.438)
    assert.match(found!.summary, /health score 0.438 below 0.7, 2 min after the update web:1 → web:2/)
    const alert = serviceAlert(s, tasks(), found!, {
      nowMs: NOW,
      deployWatchMinutes: 15,
      rollbackScore: 0.7,
      node: 'host-a',
    })
    assert.equal(alert.metric, 'service_health_score')
    assert.equal(alert.value, 0.438)
    assert.equal(alert.threshold, 0.7)
    const d = alert.details as any
    assert.equal(d.healthScore, 0.438)
    assert.equal(d.rollbackScore, 0.7)
    assert.deepEqual(d.update, { at: ago(120), fromImage: 'web:1', toImage: 'web:2', minutesAgo: 2 })
    assert.equal(d.recentUpdate, true)
  })

  it('without an update, or outside the window, waits as before', () => {
    assert.equal(findProblem(service(), tasks(), opts), null)
    const old = updated(30)
    assert.equal(recentUpdateOf(old, NOW, config.DEPLOY_WATCH_MINUTES), null)
    assert.equal(findProblem(old, tasks(), { ...opts, update: null }), null)
    // ...until the service has been short of tasks for SWARM_DEGRADED_SECONDS, or crash-loops.
    const short = [task('running'), task('failed', { updatedAt: ago(5) })]
    const below = findProblem(old, short, { ...opts, belowSinceMs: NOW - 11_000 })
    assert.equal(below?.problem, 'tasks_below_desired')
    assert.equal(below!.health.score, 0.25)
    const alert = serviceAlert(old, short, below!, {
      nowMs: NOW,
      deployWatchMinutes: 15,
      rollbackScore: 0.7,
      node: 'h',
    })
    assert.equal(alert.metric, 'service_running_tasks')
    assert.equal((alert.details as any).healthScore, 0.25)
    assert.equal((alert.details as any).update, null)
  })

  it('does not fire for an update rolling out well, or for failures of the version before it', () => {
    const s = updated(1)
    const update = recentUpdateOf(s, NOW, config.DEPLOY_WATCH_MINUTES)
    const rolling = [task('running', { image: 'web:1' }), task('starting')]
    assert.equal(findProblem(s, rolling, { ...opts, update }), null)
    const before = [
      task('running'),
      task('running'),
      task('failed', { updatedAt: ago(90), image: 'web:1', error: 'task: non-zero exit (1)' }),
    ]
    assert.equal(findProblem(s, before, { ...opts, update }), null)
  })

  it('fires only below DEPLOY_ROLLBACK_SCORE', () => {
    const s = updated(2)
    const update = recentUpdateOf(s, NOW, config.DEPLOY_WATCH_MINUTES)
    const lenient = { ...config, DEPLOY_ROLLBACK_SCORE: 0.4 }
    assert.equal(findProblem(s, tasks(), { ...opts, update, config: lenient }), null)
  })
})
