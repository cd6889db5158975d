import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { ServiceInfo, TaskSummary } from '../platform/swarm/client'
import { findProblem, serviceAlert, tasksUp } from './swarm-services'

const NOW = Date.parse('2026-12-04T10:00:00Z')
const ago = (s: number) => new Date(NOW - s * 1000).toISOString()
const config = {
  SWARM_POLL_SECONDS: 1,
  SWARM_DEGRADED_SECONDS: 10,
  SWARM_CRASHLOOP_FAILURES: 3,
  SWARM_CRASHLOOP_WINDOW_SECONDS: 120,
  DEPLOY_WATCH_MINUTES: 15,
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
    const alert = serviceAlert(s, tasks, finding, { nowMs: NOW, deployWatchMinutes: 15, node: 'host-a' })
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
      node: 'host-a',
    })
    assert.equal((old.details as any).recentUpdate, false)
  })
})
