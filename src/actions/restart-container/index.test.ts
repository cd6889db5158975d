import { randomBytes } from 'node:crypto'
// Our own watch label, so other engineers' running Sentinels never act on these containers.
const WATCH_KEY = `sentinel.unit-${randomBytes(4).toString('hex')}`
process.env.WATCH_LABEL = `${WATCH_KEY}=true`

import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { docker, removeContainers, runContainer, state, uniqueName } from '../../../tests/helpers/docker'
import { resetConfigCache } from '../../platform/config/index'
import { NotWatchedError } from '../../platform/docker/client'
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
})
