/**
 * @long (three Sentinel restarts): scripts/test.sh starts it first, so it does not end the run alone.
 *
 * Nothing lost: kill -9 Sentinel (its whole process group) in the middle of a remediation and
 * start it again. The incident is still there and finishes, and the container is not restarted a
 * second time for the one death. A death that happens while Sentinel is down is healed on start,
 * from the replayed events or, when no event can report it (a first start), by looking.
 *
 * The first kill -9 serves the first two tests: while that Sentinel is down, the second test's
 * container dies too (a restart of Sentinel takes seconds; one does for both).
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { docker, killMainProcess, removeContainers, runContainer, state, uniqueName } from '../helpers/docker'
import { waitFor } from '../helpers/ports'
import { startRedis, type TestRedis } from '../helpers/redis'
import { type SentinelInstance, startSentinel, WATCHED } from '../helpers/sentinel'

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

  /** Dies while the first test's Sentinel is down; the second test checks that it is healed. */
  const whileDown = uniqueName('while-down')
  let diedWhileDown = false

  it('finishes an incident interrupted by kill -9, without restarting the container twice', async () => {
    const name = uniqueName('crash')
    containers.push(name, whileDown)
    // Started before the remediation below: the event position Sentinel records is past its start
    // by the time Sentinel is killed.
    await runContainer(whileDown, { labels: WATCHED })
    await runContainer(name, { labels: WATCHED })
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
    // The second test's death, while Sentinel is down.
    await killMainProcess(whileDown)
    await waitFor(async () => !(await state(whileDown)).Running, { timeoutMs: 5000, what: 'the container to die' })
    diedWhileDown = true

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
    // It died while the first test's Sentinel was down, after the event position that Sentinel
    // recorded: the events replayed on the restart there report its death.
    const name = whileDown
    assert.ok(diedWhileDown, 'the first test killed it while Sentinel was down')
    await waitFor(async () => (await state(name)).Running, {
      timeoutMs: 20_000,
      what: 'the container to be restarted after start-up',
    })
    const id = await waitFor(() => incidentIdFor(name), { timeoutMs: 10_000, what: 'an incident for the missed death' })
    await waitFor(async () => (await stored(id)).status === 'resolved', {
      timeoutMs: 60_000,
      what: 'the incident to resolve',
    })
  })

  it('on a first start, heals a watched container found crashed and leaves one stopped cleanly alone', async () => {
    const crashed = uniqueName('found-dead')
    const stopped = uniqueName('found-stopped')
    containers.push(crashed, stopped)
    await runContainer(crashed, { labels: WATCHED })
    await runContainer(stopped, { labels: WATCHED })
    await sentinel.kill9()
    await killMainProcess(crashed)
    await docker('stop', '-t', '5', stopped)
    await waitFor(async () => !(await state(crashed)).Running, { timeoutMs: 5000, what: 'the container to die' })
    // No saved event position: this Sentinel has never watched, so no event will report the death.
    await redis.client.del('sentinel:docker:events:position')
    const stoppedBefore = await state(stopped)

    await sentinel.restart()
    await waitFor(async () => (await state(crashed)).Running, {
      timeoutMs: 20_000,
      what: 'the crashed container to be restarted after start-up',
    })
    const id = await waitFor(() => incidentIdFor(crashed), {
      timeoutMs: 10_000,
      what: 'an incident for the death found at start-up',
    })
    const inc = await stored(id)
    assert.equal(inc.alert.source, 'docker inspect (found dead at start-up)')
    assert.equal(inc.alert.details.exitCode, 137)
    await waitFor(async () => (await stored(id)).status === 'resolved', {
      timeoutMs: 60_000,
      what: 'the incident to resolve',
    })

    assert.equal(await incidentIdFor(stopped), null, 'no incident for a container stopped on purpose')
    const stoppedAfter = await state(stopped)
    assert.equal(stoppedAfter.Running, false, 'the cleanly stopped container stays stopped')
    assert.equal(stoppedAfter.StartedAt, stoppedBefore.StartedAt)
  })
})
