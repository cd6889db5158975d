import assert from 'node:assert/strict'
import { after, before, it } from 'node:test'
import { startRedis, type TestRedis } from '../../tests/helpers/redis'
import { type Deploy, DeployConflict, DeployStore, newDeployId, pushEvent } from './store'

let redis: TestRedis
before(async () => {
  redis = await startRedis()
})
after(async () => {
  await redis?.stop()
})

const deploy = (service: string, at = new Date().toISOString()): Deploy => ({
  id: newDeployId(),
  service,
  serviceId: `id-${service}`,
  image: 'web:2',
  previousImage: 'web:1',
  previousVersion: 10,
  replicas: 6,
  steps: [1, 2],
  stepIndex: 0,
  phase: 'pending',
  paused: false,
  canaryService: `${service}-canary`,
  requestedBy: 'key:k1',
  requestedAt: at,
  updatedAt: at,
  events: [],
  version: 1,
})

it('keeps one deploy under way per service; a finished one frees it', async () => {
  const store = new DeployStore(redis.client)
  const first = await store.create(deploy('web'))
  await assert.rejects(store.create(deploy('web')), (e) => e instanceof DeployConflict && e.activeId === first.id)
  await store.create(deploy('api'))
  assert.equal((await store.activeFor('web'))?.id, first.id)
  assert.deepEqual((await store.active()).map((d) => d.service).sort(), ['api', 'web'])
  await store.update(first.id, (d) => {
    d.phase = 'rolled_back'
  })
  assert.equal(await store.activeFor('web'), null)
  const second = await store.create(deploy('web'))
  assert.equal((await store.activeFor('web'))?.id, second.id)
})

it('updates by compare-and-set: concurrent writers both land, in turn', async () => {
  const store = new DeployStore(redis.client)
  const d = await store.create(deploy('cas'))
  await Promise.all([
    store.update(d.id, (x) => void (x.paused = true)),
    store.update(d.id, (x) => pushEvent(x, { kind: 'note', actor: 't', summary: 'one' })),
    store.update(d.id, (x) => pushEvent(x, { kind: 'note', actor: 't', summary: 'two' })),
  ])
  const now = (await store.get(d.id))!
  assert.equal(now.paused, true)
  assert.deepEqual(now.events.map((e) => e.summary).sort(), ['one', 'two'])
  assert.equal(now.version, 4)
  // false: nothing written
  const same = await store.update(d.id, () => false)
  assert.equal(same.version, 4)
})

it('lists newest first, by service', async () => {
  const store = new DeployStore(redis.client)
  const old = await store.create(deploy('listed', new Date(Date.now() - 60_000).toISOString()))
  await store.update(old.id, (d) => void (d.phase = 'succeeded'))
  const recent = await store.create(deploy('listed'))
  const listed = await store.list({ limit: 10, service: 'listed' })
  assert.deepEqual(
    listed.map((d) => d.id),
    [recent.id, old.id],
  )
  assert.equal((await store.list({ limit: 1 })).length, 1)
})
