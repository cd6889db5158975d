import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
// Our own watch label and data directory; the services live on a private swarm (tests/helpers/swarm.ts).
const WATCH_KEY = `sentinel.unit-${randomBytes(4).toString('hex')}`
process.env.WATCH_LABEL = `${WATCH_KEY}=true`
const dataDir = mkdtempSync(path.join(os.tmpdir(), 'sentinel-test-rollback-service-'))
process.env.DATA_DIR = dataDir

import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { uniqueName } from '../../../tests/helpers/docker'
import { waitFor } from '../../../tests/helpers/ports'
import { startSwarm, type TestSwarm } from '../../../tests/helpers/swarm'
import { resetConfigCache } from '../../platform/config/index'
import { NotWatchedServiceError } from '../../platform/swarm/client'
import { rollbackService } from './index'

describe('rollback_service', () => {
  let swarm: TestSwarm
  const updated = uniqueName('rollback-svc')
  const fresh = uniqueName('rollback-svc-fresh')
  const unwatched = uniqueName('rollback-svc-unwatched')
  const ctx = () => ({ incidentId: `inc_test_${randomBytes(4).toString('hex')}`, actor: 'test' })
  const imageOf = async (name: string) =>
    String((await swarm.inspectService(name)).Spec.TaskTemplate.ContainerSpec.Image).split('@')[0]

  before(async () => {
    swarm = await startSwarm()
    process.env.DOCKER_SOCKET = swarm.socket
    resetConfigCache()
    await swarm.createService(updated, { replicas: 1, labels: { [WATCH_KEY]: 'true' } })
    await swarm.createService(fresh, { replicas: 1, labels: { [WATCH_KEY]: 'true' } })
    await swarm.createService(unwatched, { replicas: 1 })
    await swarm.waitForRunning(updated, 1)
    await swarm.updateService(updated, ['--image', swarm.images.unhealthy])
    await swarm.updateService(unwatched, ['--image', swarm.images.unhealthy])
  })
  after(async () => {
    await swarm?.remove()
    rmSync(dataDir, { recursive: true, force: true })
  })

  it('returns to the previous spec once, verifies it, and can roll forward again', async () => {
    const c = ctx()
    const snap = await rollbackService.snapshot({ serviceId: updated }, c)
    assert.equal(snap.image, swarm.images.unhealthy)
    assert.equal(snap.previousImage, swarm.images.good)
    const result = await rollbackService.execute({ serviceId: updated }, c)
    assert.equal(result.performed, 'rollback')
    assert.equal(await imageOf(updated), swarm.images.good)
    // A retry finds the service past the version it acted on.
    assert.equal((await rollbackService.execute({ serviceId: updated }, c)).performed, 'none')
    assert.equal(await imageOf(updated), swarm.images.good)
    await waitFor(async () => (await rollbackService.verify({ serviceId: updated }, c)).ok, {
      timeoutMs: 60_000,
      intervalMs: 250,
      what: 'the rolled back service to settle',
    })
    const forward = await rollbackService.rollback!({ serviceId: updated }, c, result)
    assert.equal(forward.performed, 'roll-forward')
    assert.equal(await imageOf(updated), swarm.images.unhealthy)
  })

  it('refuses a service with no previous spec, and one without the watch label', async () => {
    await assert.rejects(rollbackService.execute({ serviceId: fresh }, ctx()), /no previous spec/)
    await assert.rejects(rollbackService.execute({ serviceId: unwatched }, ctx()), NotWatchedServiceError)
    assert.equal(await imageOf(unwatched), swarm.images.unhealthy)
  })
})
