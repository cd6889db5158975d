/**
 * screenContainerAlerts against real dockerd and Redis: which alerts naming a container go into
 * the flow (with the container named by its full id), and which are left alone and why.
 */
import { randomBytes } from 'node:crypto'
const LABEL_KEY = `sentinel.unit-${randomBytes(3).toString('hex')}`
process.env.WATCH_LABEL = `${LABEL_KEY}=true`

import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { docker, removeContainers, runContainer, state, uniqueName } from '../../tests/helpers/docker'
import { startRedis, type TestRedis } from '../../tests/helpers/redis'
import type { Alert } from '../platform/store/model'
import { screenContainerAlerts } from './alert-screen'
import { StoppedOnPurpose } from './stopped-on-purpose'

describe('screenContainerAlerts (real Docker and Redis)', () => {
  let redis: TestRedis
  let stops: StoppedOnPurpose
  const names: string[] = []
  before(async () => {
    redis = await startRedis()
    stops = new StoppedOnPurpose(redis.client)
  })
  after(async () => {
    await removeContainers(...names)
    await redis.stop()
  })

  async function container(prefix: string, watched: boolean): Promise<{ id: string; name: string }> {
    const name = uniqueName(prefix)
    names.push(name)
    const id = await runContainer(name, watched ? { labels: { [LABEL_KEY]: 'true' } } : {})
    return { id, name }
  }

  const alertNaming = (name: string, type: Alert['type'] = 'container_down'): Alert => ({
    fingerprint: `am:${randomBytes(6).toString('hex')}`,
    type,
    severity: 'critical',
    metric: 'ContainerDown',
    value: null,
    threshold: null,
    resource: { kind: 'container', id: name, name },
    labels: { name },
    source: 'alertmanager',
    at: new Date().toISOString(),
  })

  const screen = async (alert: Alert) => (await screenContainerAlerts([alert], { stops }))[0]

  it('leaves a container without the watch label alone, and one that does not exist', async () => {
    const c = await container('screen-unwatched', false)
    for (const ref of [c.name, 'no-such-container']) {
      const r = await screen(alertNaming(ref))
      assert.match(
        r.leaveAlone ?? '',
        /no container carrying the watch label .* answers to .*neither looks into it nor acts on it/,
      )
      assert.equal(r.alert.resource.id, ref, 'nothing learnt about it')
    }
  })

  it('lets a watched container through, named by its full id', async () => {
    const c = await container('screen-watched', true)
    const r = await screen(alertNaming(c.name))
    assert.equal(r.leaveAlone, null)
    assert.deepEqual(r.alert.resource, { kind: 'container', id: c.id, name: c.name })
  })

  it('leaves a watched container stopped on purpose alone, until it starts again', async () => {
    const c = await container('screen-stopped', true)
    await docker('stop', '-t', '1', c.name)
    const stoppedAt = (await state(c.name)).FinishedAt
    assert.equal((await screen(alertNaming(c.name))).leaveAlone, null, 'no record: a death like any other')
    await stops.record({ containerId: c.id, name: c.name, at: stoppedAt, how: 'docker stop (test)' })
    assert.match((await screen(alertNaming(c.name))).leaveAlone ?? '', /stopped on purpose \(docker stop \(test\)/)
    // Started and crashed since, unseen by the event path: the old stop says nothing about this death.
    await docker('start', c.name)
    await docker('kill', c.name)
    assert.equal((await screen(alertNaming(c.name))).leaveAlone, null)
  })

  it('screens only alerts about a container: a disk alert with a container label goes through', async () => {
    const r = await screen({
      ...alertNaming('no-such-container', 'disk'),
      resource: { kind: 'filesystem', id: 'h:/data', name: '/data' },
    })
    assert.equal(r.leaveAlone, null)
  })
})
