import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
// Our own watch label and data directory; the service lives on a private swarm (tests/helpers/swarm.ts).
const WATCH_KEY = `sentinel.unit-${randomBytes(4).toString('hex')}`
process.env.WATCH_LABEL = `${WATCH_KEY}=true`
const dataDir = mkdtempSync(path.join(os.tmpdir(), 'sentinel-test-restart-service-'))
process.env.DATA_DIR = dataDir

import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { uniqueName } from '../../../tests/helpers/docker'
import { waitFor } from '../../../tests/helpers/ports'
import { startSwarm, type TestSwarm } from '../../../tests/helpers/swarm'
import { resetConfigCache } from '../../platform/config/index'
import { NotWatchedServiceError } from '../../platform/swarm/client'
import { restartService } from './index'

describe('restart_service', () => {
  let swarm: TestSwarm
  const watched = uniqueName('restart-svc')
  const unwatched = uniqueName('restart-svc-unwatched')
  const ctx = () => ({ incidentId: `inc_test_${randomBytes(4).toString('hex')}`, actor: 'test' })

  before(async () => {
    swarm = await startSwarm()
    process.env.DOCKER_SOCKET = swarm.socket
    resetConfigCache()
    await swarm.createService(watched, { replicas: 2, labels: { [WATCH_KEY]: 'true' } })
    await swarm.createService(unwatched, { replicas: 1 })
    await swarm.waitForRunning(watched, 2)
  })
  after(async () => {
    await swarm?.remove()
    rmSync(dataDir, { recursive: true, force: true })
  })

  it('replaces every task by a forced update once; a retry of the same incident does nothing', async () => {
    const c = ctx()
    const before = await swarm.runningTasks(watched)
    const snap = await restartService.snapshot({ serviceId: watched }, c)
    assert.equal(snap.service, watched)
    assert.equal(snap.running, 2)
    const result = await restartService.execute({ serviceId: watched }, c)
    assert.equal(result.performed, 'force-update')
    assert.equal((await swarm.inspectService(watched)).Spec.TaskTemplate.ForceUpdate, 1)
    const again = await restartService.execute({ serviceId: watched }, c)
    assert.equal(again.performed, 'none')
    assert.equal((await swarm.inspectService(watched)).Spec.TaskTemplate.ForceUpdate, 1)
    await waitFor(async () => (await restartService.verify({ serviceId: watched }, c)).ok, {
      timeoutMs: 60_000,
      intervalMs: 250,
      what: 'the service to settle',
    })
    const after = await swarm.runningTasks(watched)
    assert.equal(after.length, 2)
    assert.ok(
      after.every((t) => !before.some((b) => b.id === t.id)),
      'every task was replaced',
    )
  })

  it('refuses a service without the watch label', async () => {
    await assert.rejects(restartService.execute({ serviceId: unwatched }, ctx()), NotWatchedServiceError)
    await assert.rejects(restartService.snapshot({ serviceId: unwatched }, ctx()), NotWatchedServiceError)
    assert.equal((await swarm.inspectService(unwatched)).Spec.TaskTemplate.ForceUpdate ?? 0, 0)
  })
})
