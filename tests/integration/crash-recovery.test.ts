/**
 * Nothing lost: kill -9 Sentinel (its whole process group) in the middle of a remediation and
 * start it again. The incident is still there and finishes, and the container is not restarted a
 * second time for the one death. A death that happens while Sentinel is down is healed on start.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { killMainProcess, removeContainers, runContainer, state, uniqueName } from '../helpers/docker'
import { sleep, waitFor } from '../helpers/ports'
import { startRedis, type TestRedis } from '../helpers/redis'
import { type SentinelInstance, startSentinel } from '../helpers/sentinel'

describe('crash recovery', () => {
  let redis: TestRedis
  let sentinel: SentinelInstance
  const containers: string[] = []

  before(async () => {
    redis = await startRedis()
    // A long settle time keeps the incident in verification long enough to crash in the middle.
    sentinel = await startSentinel({ redisPort: redis.port, env: { VERIFY_STABLE_SECONDS: '6' } })
  })
  after(async () => {
    await removeContainers(...containers)
    await sentinel?.cleanup()
    await redis?.stop()
  })

  const stored = async (id: string) => JSON.parse((await redis.client.get(`motia:state:incidents:${id}`)) ?? 'null')
  const incidentIdFor = async (name: string) => {
    const keys = await redis.client.keys('motia:state:incidents:*')
    for (const k of keys) {
      const inc = JSON.parse((await redis.client.get(k))!)
      if (inc.resource.name === name) return inc.id as string
    }
    return null
  }

  it('finishes an incident interrupted by kill -9, without restarting the container twice', async () => {
    const name = uniqueName('crash')
    containers.push(name)
    await runContainer(name, { labels: { 'sentinel.watch': 'true' } })
    await killMainProcess(name)

    const id = await waitFor(
      async () => {
        const found = await incidentIdFor(name)
        if (!found) return null
        const inc = await stored(found)
        return inc.timeline.some((t: any) => t.stage === 'acted') ? found : null
      },
      { timeoutMs: 15_000, what: 'the restart to be recorded' },
    )
    const afterFix = await state(name)
    assert.equal(afterFix.Running, true)

    await sentinel.kill9()
    const interrupted = await stored(id)
    assert.equal(interrupted.status, 'verifying', 'killed in the middle: verification had not finished')

    await sentinel.restart()
    const done = await waitFor(
      async () => {
        const inc = await stored(id)
        return inc.status === 'resolved' ? inc : null
      },
      { timeoutMs: 60_000, what: 'the interrupted incident to be resolved after the restart' },
    )
    const final = await state(name)
    assert.equal(final.Running, true)
    assert.equal(final.StartedAt, afterFix.StartedAt, 'the container was not started again')
    assert.equal(final.Pid, afterFix.Pid)
    assert.equal(done.timeline.filter((t: any) => t.stage === 'acted').length, 1, 'one action for one death')
    const exec = JSON.parse((await redis.client.get(`sentinel:exec:${id}:restart_container`))!)
    assert.equal(exec.status, 'succeeded')
  })

  it('heals a container that died while Sentinel was down', async () => {
    const name = uniqueName('while-down')
    containers.push(name)
    await runContainer(name, { labels: { 'sentinel.watch': 'true' } })
    await sleep(500) // let the running instance record its event position past the start
    await sentinel.kill9()
    await killMainProcess(name)
    await waitFor(async () => !(await state(name)).Running, { timeoutMs: 5000, what: 'the container to die' })

    await sentinel.restart()
    await waitFor(async () => (await state(name)).Running, { timeoutMs: 20_000, what: 'the container to be restarted after start-up' })
    const id = await waitFor(() => incidentIdFor(name), { timeoutMs: 10_000, what: 'an incident for the missed death' })
    await waitFor(async () => (await stored(id)).status === 'resolved', { timeoutMs: 60_000, what: 'the incident to resolve' })
  })
})
