import { randomBytes } from 'node:crypto'
// Our own watch label, so other engineers' running Sentinels never act on these containers.
const WATCH_KEY = `sentinel.unit-${randomBytes(4).toString('hex')}`
process.env.WATCH_LABEL = `${WATCH_KEY}=true`

import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { docker, removeContainers, runContainer, state, uniqueName } from '../../../tests/helpers/docker'
import { resetConfigCache } from '../../platform/config/index'
import { inspectContainer, NotWatchedError } from '../../platform/docker/client'
import { restartContainer } from './index'

describe('restart_container', () => {
  const watched = uniqueName('restart')
  const unwatched = uniqueName('restart-unwatched')
  const ctx = (since?: string) => ({ incidentId: `inc_test_${randomBytes(4).toString('hex')}`, actor: 'test', since })

  before(async () => {
    resetConfigCache()
    await runContainer(watched, { labels: { [WATCH_KEY]: 'true' } })
    await runContainer(unwatched)
  })
  after(() => removeContainers(watched, unwatched))

  it('starts a stopped watched container once; a retry after the start does nothing', async () => {
    await docker('stop', '-t', '1', watched)
    const since = new Date().toISOString()
    const c = ctx(since)
    assert.equal((await restartContainer.verify({ containerId: watched }, c)).ok, false)
    const snap = await restartContainer.snapshot({ containerId: watched }, c)
    assert.equal(snap.state, 'exited')
    const result = await restartContainer.execute({ containerId: watched }, c)
    assert.equal(result.performed, 'start')
    const started = await state(watched)
    assert.equal(started.Running, true)
    assert.equal((await restartContainer.verify({ containerId: watched }, c)).ok, true)
    const again = await restartContainer.execute({ containerId: watched }, c)
    assert.equal(again.performed, 'none')
    assert.equal((await state(watched)).StartedAt, started.StartedAt)
  })

  it('refuses a container without the watch label', async () => {
    await docker('stop', '-t', '1', unwatched)
    await assert.rejects(restartContainer.execute({ containerId: unwatched }, ctx()), NotWatchedError)
    assert.equal((await state(unwatched)).Running, false)
  })
  it('makes the same snapshot from an inspect the caller has, only of the named watched container', async () => {
    const info = await inspectContainer(watched)
    const read = await restartContainer.snapshot({ containerId: watched }, ctx())
    assert.deepEqual(restartContainer.snapshotOf!({ containerId: info.Id }, info), read)
    assert.deepEqual(restartContainer.snapshotOf!({ containerId: watched }, info), read)
    // An inspect of another container, or of one without the watch label, is not used.
    const other = await inspectContainer(unwatched)
    assert.equal(restartContainer.snapshotOf!({ containerId: info.Id }, other), null)
    assert.equal(restartContainer.snapshotOf!({ containerId: other.Id }, other), null)
  })
})
