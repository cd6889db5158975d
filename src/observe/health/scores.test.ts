/** Health scores gathered from a real Docker engine, a real Redis incident store and checks. */
import { randomBytes } from 'node:crypto'
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { docker, removeContainers, runContainer, uniqueName } from '../../../tests/helpers/docker'
import { startRedis, type TestRedis } from '../../../tests/helpers/redis'
import type { CheckStatus } from '../monitor'
import { IncidentStore } from '../../platform/store/incidents'
import type { Alert, ResourceRef } from '../../platform/store/model'
import { healthScore, systemScore } from './score'
import { computeHealth, healthScoresForMetrics } from './scores'

// A watch label of this test's own, so a Sentinel running beside it never acts on these containers.
const WATCH = { key: 'sentinel.watch', value: `unit-${randomBytes(4).toString('hex')}` }
const config = { DOCKER_SOCKET: '/var/run/docker.sock', WATCH_LABEL: WATCH }

function alert(type: Alert['type'], resource: ResourceRef): Alert {
  return {
    fingerprint: `${type}:${resource.id}:${Math.random()}`,
    type,
    severity: 'critical',
    metric: type,
    value: 1,
    threshold: 0,
    resource,
    labels: {},
    source: 'test',
    at: new Date().toISOString(),
  }
}

const check = (resource: ResourceRef, value: number, threshold: number) =>
  ({ resource, value, threshold }) as unknown as CheckStatus

describe('computeHealth', () => {
  let redis: TestRedis
  let store: IncidentStore
  const up = uniqueName('health-up')
  const dead = uniqueName('health-dead')
  const ids: Record<string, string> = {}

  before(async () => {
    redis = await startRedis()
    store = new IncidentStore(redis.client)
    ids[up] = await runContainer(up, { labels: { [WATCH.key]: WATCH.value } })
    ids[dead] = await runContainer(dead, { labels: { [WATCH.key]: WATCH.value } })
    await docker('kill', dead)
  })
  after(async () => {
    await removeContainers(up, dead)
    await redis.stop()
  })

  it('scores each watched container and the system from state, restarts, incidents and checks', async () => {
    const upRef: ResourceRef = { kind: 'container', id: ids[up], name: up }
    const deadRef: ResourceRef = { kind: 'container', id: ids[dead], name: dead }
    // Two deaths of `up` in the last hour, both healed; `dead` has an open incident; the host a disk one.
    for (let i = 0; i < 2; i++) {
      const { incident } = await store.open(alert('container_down', upRef), { title: 'down', actor: 'test' })
      await store.update(incident.id, (x) => {
        x.status = 'resolved'
        x.resolvedAt = new Date().toISOString()
      })
    }
    await store.open(alert('container_down', deadRef), { title: 'down', actor: 'test' })
    await store.open(alert('disk', { kind: 'filesystem', id: 'host:/', name: '/' }), { title: 'disk', actor: 'test' })
    // A test incident counts for nothing.
    await store.open(alert('cpu', upRef), { title: 'test', actor: 'test', test: true })
    const checks = [check(upRef, 72, 80), check({ kind: 'host', id: 'h', name: 'h' }, 30, 60)]

    const view = await computeHealth({ config, store, checks: async () => checks })
    const u = view.containers.find((c) => c.name === up)
    const d = view.containers.find((c) => c.name === dead)
    assert.ok(u && d, 'both test containers are listed')
    assert.equal(u.condition, 'running')
    assert.equal(d.condition, 'down')
    assert.deepEqual(
      { score: u.score, restarts: u.restarts, openIncidents: u.openIncidents, thresholdDistance: u.thresholdDistance },
      {
        score: healthScore({ availability: 1, restarts: 2, openIncidents: 0, thresholdRatios: [0.9] }).score,
        restarts: 2,
        openIncidents: 0,
        thresholdDistance: 0.1,
      },
    )
    assert.equal(d.score, 0)
    assert.equal(d.openIncidents, 1)
    // The system: the host (one open disk incident, 50 % of its threshold) and every watched container listed.
    assert.equal(view.system.score, systemScore({ openIncidents: 1, thresholdRatios: [0.5] }, view.containers).score)
    assert.ok(view.system.score < 1)

    const m = await healthScoresForMetrics({ config, store, checks: async () => checks })
    assert.equal(m.containers[up], u.score)
    assert.equal(m.containers[dead], 0)
    assert.equal(m.system, view.system.score)
  })

  it('still scores the system when Docker cannot be reached, saying why', async () => {
    const view = await computeHealth({
      config: { ...config, DOCKER_SOCKET: '/nonexistent/docker.sock' },
      store,
      checks: async () => [],
    })
    assert.deepEqual(view.containers, [])
    assert.match(view.containersError ?? '', /docker unreachable/)
    assert.ok(view.system.score > 0 && view.system.score < 1, 'the open disk incident lowers it')
  })
})
