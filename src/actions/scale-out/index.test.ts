import { randomBytes } from 'node:crypto'
// Our own watch label, so other engineers' running Sentinels never act on these containers.
const WATCH_KEY = `sentinel.unit-${randomBytes(4).toString('hex')}`
process.env.WATCH_LABEL = `${WATCH_KEY}=true`

import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { docker, removeContainers, runContainer, state, uniqueName } from '../../../tests/helpers/docker'
import { freePort } from '../../../tests/helpers/ports'
import { resetConfigCache } from '../../platform/config/index'
import { NotWatchedError } from '../../platform/docker/client'
import { getAction } from '../catalog'
import { createScaleOut, INCIDENT_LABEL, listReplicas, REPLICA_OF_LABEL } from './index'

async function inspect(name: string): Promise<any> {
  return JSON.parse(await docker('inspect', name))[0]
}

describe('scale_out', () => {
  const service = uniqueName('scale')
  const unwatched = uniqueName('scale-unwatched')
  let serviceId: string
  const action = createScaleOut({ maxReplicas: 2 })
  const ctx = () => ({ incidentId: `inc_test_${randomBytes(4).toString('hex')}`, actor: 'test' })

  before(async () => {
    resetConfigCache()
    serviceId = await runContainer(service, {
      labels: { [WATCH_KEY]: 'true', 'app.role': 'web' },
      args: ['--memory', '48m', '-e', 'GREETING=hello replica', '--network', 'bridge'],
    })
    await runContainer(unwatched, { args: ['--memory', '48m'] })
  })
  after(async () => {
    const replicas = (await docker('ps', '-aq', '--filter', `label=${REPLICA_OF_LABEL}=${serviceId}`))
      .split('\n')
      .filter(Boolean)
    await removeContainers(...replicas, service, unwatched)
  })

  it('is registered with medium risk', () => {
    assert.equal(getAction('scale_out')?.risk, 'medium')
    assert.equal(getAction('scale_out')?.params.safeParse({ containerId: 'a; rm -rf /' }).success, false)
  })

  it('starts one replica with the same image and configuration, once per incident; rollback removes it', async () => {
    const c = ctx()
    const snap = await action.snapshot({ containerId: service }, c)
    assert.equal(snap.runningReplicas, 0)
    assert.equal(snap.maxReplicas, 2)
    assert.equal((await action.verify({ containerId: service }, c)).ok, false)

    const result = await action.execute({ containerId: service }, c)
    assert.equal(result.performed, 'created')
    assert.equal(result.replicaName, `${service}-replica-1`)
    const original = await inspect(service)
    const replica = await inspect(`${service}-replica-1`)
    assert.equal(replica.Image, original.Image)
    assert.deepEqual(replica.Config.Cmd, original.Config.Cmd)
    assert.ok(replica.Config.Env.includes('GREETING=hello replica'))
    assert.equal(replica.Config.Labels[WATCH_KEY], 'true')
    assert.equal(replica.Config.Labels['app.role'], 'web')
    assert.equal(replica.Config.Labels[REPLICA_OF_LABEL], serviceId)
    assert.equal(replica.Config.Labels[INCIDENT_LABEL], c.incidentId)
    assert.equal(replica.HostConfig.Memory, 48 * 1024 * 1024)
    assert.equal(replica.HostConfig.MemorySwap, original.HostConfig.MemorySwap)
    assert.equal(replica.HostConfig.NetworkMode, original.HostConfig.NetworkMode)
    assert.equal(replica.State.Running, true)
    const verified = await action.verify({ containerId: service }, c)
    assert.equal(verified.ok, true, verified.detail)

    const again = await action.execute({ containerId: service }, c)
    assert.equal(again.performed, 'none')
    assert.equal(again.replicaId, result.replicaId)
    assert.equal((await listReplicas(serviceId)).length, 1)

    const rolled = await action.rollback!({ containerId: service }, c, result)
    assert.deepEqual(rolled.removed, [`${service}-replica-1`])
    assert.equal((await listReplicas(serviceId)).length, 0)
    assert.equal((await state(service)).Running, true, 'the original is untouched')
    assert.equal((await action.rollback!({ containerId: service }, c, result)).performed, 'none')
    assert.equal((await action.verify({ containerId: service }, c)).ok, false)
  })

  it('stops at the maximum, and scaling a replica scales its original', async () => {
    const first = await action.execute({ containerId: service }, ctx())
    // Asked through the replica: the new one is still a replica of the original, not of the replica.
    const second = await action.execute({ containerId: first.replicaName as string }, ctx())
    assert.equal(second.performed, 'created')
    assert.equal((await inspect(second.replicaName as string)).Config.Labels[REPLICA_OF_LABEL], serviceId)
    assert.notEqual(second.replicaName, first.replicaName)
    await assert.rejects(action.execute({ containerId: service }, ctx()), /maximum 2/)
    await assert.rejects(action.execute({ containerId: service, maxReplicas: 1 }, ctx()), /maximum 1/)
    assert.equal((await listReplicas(serviceId)).length, 2)
  })

  it('never passes the maximum when incidents scale one service at the same time, even on a fixed host port', async () => {
    const published = uniqueName('scale-port')
    const port = await freePort()
    const publishedId = await runContainer(published, {
      labels: { [WATCH_KEY]: 'true' },
      args: ['-p', `127.0.0.1:${port}:8080`],
    })
    try {
      const results = await Promise.allSettled(
        Array.from({ length: 5 }, () => action.execute({ containerId: published }, ctx())),
      )
      const created = results.filter((r) => r.status === 'fulfilled')
      const refused = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected')
      assert.equal(created.length, 2, `two replicas made: ${refused.map((r) => String(r.reason)).join('; ')}`)
      for (const r of refused) assert.match(String(r.reason), /maximum 2/)
      const replicas = await listReplicas(publishedId)
      assert.equal(replicas.length, 2)
      for (const r of replicas) {
        const live = await inspect(r.Id)
        assert.equal(live.State.Running, true, 'the replica started beside the original on another host port')
        const hostPort = live.NetworkSettings.Ports['8080/tcp']?.[0]?.HostPort
        assert.ok(hostPort && hostPort !== String(port), `replica host port ${hostPort}`)
      }
    } finally {
      const replicas = (await docker('ps', '-aq', '--filter', `label=${REPLICA_OF_LABEL}=${publishedId}`))
        .split('\n')
        .filter(Boolean)
      await removeContainers(...replicas, published)
    }
  })

  it('refuses a container without the watch label', async () => {
    const unwatchedId = (await inspect(unwatched)).Id
    await assert.rejects(action.execute({ containerId: unwatched }, ctx()), NotWatchedError)
    assert.equal((await listReplicas(unwatchedId)).length, 0)
  })
})
