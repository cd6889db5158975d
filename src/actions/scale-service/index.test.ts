import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
// Our own watch label and data directory; the services live on a private swarm (tests/helpers/swarm.ts).
const WATCH_KEY = `sentinel.unit-${randomBytes(4).toString('hex')}`
process.env.WATCH_LABEL = `${WATCH_KEY}=true`
const dataDir = mkdtempSync(path.join(os.tmpdir(), 'sentinel-test-scale-service-'))
process.env.DATA_DIR = dataDir

import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { uniqueName } from '../../../tests/helpers/docker'
import { waitFor } from '../../../tests/helpers/ports'
import { startSwarm, type TestSwarm } from '../../../tests/helpers/swarm'
import { resetConfigCache } from '../../platform/config/index'
import { NotWatchedServiceError } from '../../platform/swarm/client'
import { ScaleBoundError, scaleService } from './index'

describe('scale_service', () => {
  let swarm: TestSwarm
  const bounded = uniqueName('scale-svc')
  const unbounded = uniqueName('scale-svc-nomax')
  const unwatched = uniqueName('scale-svc-unwatched')
  const ctx = () => ({ incidentId: `inc_test_${randomBytes(4).toString('hex')}`, actor: 'test' })
  const replicas = async (name: string) => (await swarm.inspectService(name)).Spec.Mode.Replicated.Replicas as number

  before(async () => {
    swarm = await startSwarm()
    process.env.DOCKER_SOCKET = swarm.socket
    resetConfigCache()
    await swarm.createService(bounded, {
      replicas: 1,
      labels: { [WATCH_KEY]: 'true', 'sentinel.max-replicas': '3' },
    })
    await swarm.createService(unbounded, { replicas: 1, labels: { [WATCH_KEY]: 'true' } })
    await swarm.createService(unwatched, { replicas: 1, labels: { 'sentinel.max-replicas': '3' } })
    await swarm.waitForRunning(bounded, 1)
  })
  after(async () => {
    await swarm?.remove()
    rmSync(dataDir, { recursive: true, force: true })
  })

  it('scales within the label maximum once, verifies, and rolls back to the count before', async () => {
    const c = ctx()
    const result = await scaleService.execute({ serviceId: bounded, replicas: 2 }, c)
    assert.equal(result.performed, 'scale')
    assert.equal(await replicas(bounded), 2)
    assert.equal((await scaleService.execute({ serviceId: bounded, replicas: 2 }, c)).performed, 'none')
    await waitFor(async () => (await scaleService.verify({ serviceId: bounded, replicas: 2 }, c)).ok, {
      timeoutMs: 60_000,
      intervalMs: 250,
      what: 'two tasks running',
    })
    const undone = await scaleService.rollback!({ serviceId: bounded, replicas: 2 }, c, result)
    assert.equal(undone.performed, 'scale')
    assert.equal(await replicas(bounded), 1)
    // Undone already: the count is no longer the one this incident set.
    assert.equal((await scaleService.rollback!({ serviceId: bounded, replicas: 2 }, c, result)).performed, 'none')
  })

  it('refuses more than the label maximum, a service without the label, and an unwatched one', async () => {
    await assert.rejects(scaleService.execute({ serviceId: bounded, replicas: 4 }, ctx()), ScaleBoundError)
    await assert.rejects(scaleService.execute({ serviceId: unbounded, replicas: 2 }, ctx()), ScaleBoundError)
    await assert.rejects(scaleService.execute({ serviceId: unwatched, replicas: 2 }, ctx()), NotWatchedServiceError)
    assert.equal(await replicas(unbounded), 1)
    assert.equal(await replicas(unwatched), 1)
  })

  it('takes only a sane replica count', () => {
    assert.equal(scaleService.params.safeParse({ serviceId: bounded, replicas: 0 }).success, false)
    assert.equal(scaleService.params.safeParse({ serviceId: bounded, replicas: 2.5 }).success, false)
    assert.equal(scaleService.params.safeParse({ serviceId: 'a;b', replicas: 2 }).success, false)
  })
})
