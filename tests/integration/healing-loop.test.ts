/**
 * The first healing loop, end to end against real dockerd, Redis and `motia start`: a watched
 * container's main process is killed from the host; Sentinel restarts it and resolves the
 * incident through the Motia flow (the verify and resolve steps write the timeline).
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { docker, killMainProcess, removeContainers, runContainer, state, uniqueName } from '../helpers/docker'
import { stormPayload } from '../helpers/alertmanager'
import { sleep, waitFor } from '../helpers/ports'
import { startRedis, type TestRedis } from '../helpers/redis'
import {
  incidentsFor as incidentsOf,
  resolvedIncidentFor,
  type SentinelInstance,
  startSentinel,
  WATCHED,
} from '../helpers/sentinel'

describe('healing loop', () => {
  let redis: TestRedis
  let sentinel: SentinelInstance
  const containers: string[] = []

  before(async () => {
    redis = await startRedis()
    sentinel = await startSentinel({ redisPort: redis.port, env: { VERIFY_STABLE_SECONDS: '0.5' } })
  })
  after(async () => {
    await removeContainers(...containers)
    await sentinel?.cleanup()
    await redis?.stop()
  })

  const incidentsFor = (name: string) => incidentsOf(sentinel, name)

  it('restarts a watched container whose main process was killed, and resolves the incident through the flow', async () => {
    const name = uniqueName('watched')
    containers.push(name)
    await runContainer(name, { labels: WATCHED })
    const before = await state(name)
    assert.equal(before.Running, true)

    await killMainProcess(name)
    const restarted = await waitFor(
      async () => {
        const s = await state(name)
        return s.Running && s.StartedAt !== before.StartedAt ? s : null
      },
      { timeoutMs: 15_000, what: 'the container to run again' },
    )
    assert.notEqual(restarted.Pid, before.Pid)

    const incident = await resolvedIncidentFor(sentinel, name, {
      timeoutMs: 30_000,
      what: 'the incident to be resolved',
    })
    assert.equal(incident.type, 'container_down')
    assert.equal(incident.alert.details.exitCode, 137)
    const stages = incident.timeline.map((t: any) => t.stage)
    assert.deepEqual(
      stages.filter((s: string) => ['detected', 'decided', 'acted', 'verified', 'resolved'].includes(s)),
      ['detected', 'decided', 'acted', 'verified', 'resolved'],
    )
    for (const t of incident.timeline) assert.ok(!Number.isNaN(Date.parse(t.at)), `stage ${t.stage} has a time`)
    // Verification and resolution ran as Motia steps, not inside the watcher.
    const actors = Object.fromEntries(incident.timeline.map((t: any) => [t.stage, t.actor]))
    assert.equal(actors.verified, 'step:VerifyRemediation')
    assert.equal(actors.resolved, 'step:ResolveIncident')
    assert.equal(incident.decision.route, 'auto')
    assert.equal(incident.decision.risk, 'low')
    assert.deepEqual(
      incident.actions.map((a: any) => [a.actionId, a.status]),
      [['restart_container', 'succeeded']],
    )
    assert.equal(incident.snapshots[0].before.state, 'exited')

    // The analysis enriches the incident after the fix, off the critical path (no key: the rules).
    const analysed = await waitFor(
      async () => {
        const one = await sentinel.get(`/api/incidents/${incident.id}`)
        assert.equal(one.status, 200)
        return one.body.analysis ? one.body : null
      },
      { timeoutMs: 30_000, what: 'the analysis to be stored' },
    )
    assert.equal(analysed.analysis.analyser, 'rules')
    assert.equal(analysed.analysis.fallbackReason, 'no OPENROUTER_API_KEY')
    assert.match(JSON.stringify(analysed.analysis.evidence), /137/)
    const acted = analysed.timeline.findIndex((t: any) => t.stage === 'acted')
    const analysedAt = analysed.timeline.findIndex((t: any) => t.stage === 'analyzed')
    assert.ok(acted >= 0 && analysedAt > acted, 'the fix did not wait for the analysis')
  })

  it('leaves a container without the watch label alone', async () => {
    const name = uniqueName('unwatched')
    containers.push(name)
    await runContainer(name)
    await killMainProcess(name)
    await waitFor(async () => !(await state(name)).Running, { timeoutMs: 5000, what: 'the container to die' })
    await sleep(3000)
    const s = await state(name)
    assert.equal(s.Running, false, 'an unlabelled container must not be restarted')
    assert.deepEqual(await incidentsFor(name), [])
  })

  it('does not fight a deliberate docker stop, even when the process ignores SIGTERM and is killed', async () => {
    const name = uniqueName('stopped')
    // PID 1 ignores SIGTERM: `docker stop` sends SIGKILL after its timeout (exit code 137).
    const stubborn = uniqueName('stopped-stubborn')
    containers.push(name, stubborn)
    await runContainer(name, { labels: WATCHED })
    await runContainer(stubborn, { labels: WATCHED, cmd: ['sh', '-c', 'trap "" TERM; while true; do sleep 0.2; done'] })
    await Promise.all([docker('stop', '-t', '2', name), docker('stop', '-t', '1', stubborn)])
    assert.equal((await state(stubborn)).ExitCode, 137, 'killed after the stop timeout')
    await sleep(2500)
    for (const n of [name, stubborn]) {
      assert.equal((await state(n)).Running, false, `${n}: a container stopped on purpose stays stopped`)
      assert.deepEqual(await incidentsFor(n), [])
    }
  })

  it('answers bad requests with a 4xx naming the problem', async () => {
    const bad = await sentinel.get('/api/incidents?view=full&limit=abc')
    assert.equal(bad.status, 400)
    assert.match(bad.body.message, /query\.limit/)
    const badId = await sentinel.get('/api/incidents/..%2f..%2fetc')
    assert.equal(badId.status, 400)
    const missing = await sentinel.get('/api/incidents/inc_zzz_0000')
    assert.equal(missing.status, 404)
  })

  it('reports its dependencies on /healthz and turns 503 when Redis is down', async () => {
    const ok = await sentinel.get('/healthz')
    assert.equal(ok.status, 200)
    assert.equal(ok.body.components.redis.status, 'up')
    assert.equal(ok.body.components.docker.status, 'up')
    assert.equal(ok.body.components.prometheus.status, 'not_configured')
    assert.equal(ok.body.components.llm.status, 'not_configured')
    assert.equal(ok.body.components.slack.status, 'not_configured')
    await redis.kill()
    try {
      const down = await waitFor(
        async () => {
          const r = await sentinel.get('/healthz')
          return r.status === 503 ? r : null
        },
        { timeoutMs: 10_000, what: '/healthz to report 503' },
      )
      assert.equal(down.body.components.redis.status, 'down')
      assert.ok(down.body.components.redis.reason)
      // Requests that need the store say so with a 503 and Retry-After (Alertmanager retries a 5xx),
      // never a bare 500.
      const webhook = await sentinel.post(
        '/api/alerts/alertmanager',
        stormPayload({ batch: 1, startsAt: new Date().toISOString(), count: 1 }),
        'operator',
      )
      assert.equal(webhook.status, 503, JSON.stringify(webhook.body))
      assert.equal(webhook.body.error, 'store_unavailable')
      assert.ok(Number(webhook.headers.get('retry-after')) > 0)
      const listing = await sentinel.get('/api/incidents')
      assert.equal(listing.status, 503, JSON.stringify(listing.body))
      assert.equal(listing.body.error, 'store_unavailable')
    } finally {
      await redis.restart()
    }
    await waitFor(async () => (await sentinel.get('/healthz')).status === 200, {
      timeoutMs: 15_000,
      what: '/healthz to recover',
    })

    // And it still heals once Redis is back: the flow's queues reconnected.
    const name = uniqueName('after-outage')
    containers.push(name)
    await runContainer(name, { labels: WATCHED })
    await killMainProcess(name)
    await waitFor(
      async () => {
        const [inc] = await incidentsFor(name)
        return inc?.status === 'resolved'
      },
      { timeoutMs: 45_000, what: 'an incident after the Redis outage to be resolved' },
    )
    assert.equal((await state(name)).Running, true)
  })

  it('heals a container that died while Redis was down, once Redis is back, and does nothing unrecorded meanwhile', async () => {
    const name = uniqueName('during-outage')
    const stopped = uniqueName('stopped-during-outage')
    containers.push(name, stopped)
    await runContainer(name, { labels: WATCHED })
    await runContainer(stopped, { labels: WATCHED })
    const before = await state(name)
    await sleep(500) // let Sentinel record its event position past the starts
    await redis.kill()
    try {
      await killMainProcess(name)
      // A deliberate stop during the outage: its retry must still know it was `docker stop`.
      await docker('stop', '-t', '5', stopped)
      await waitFor(async () => !(await state(name)).Running, { timeoutMs: 5000, what: 'the container to die' })
      await sleep(3000)
      const meanwhile = await state(name)
      assert.equal(meanwhile.Running, false, 'no restart that could not be recorded as an incident')
      assert.equal(meanwhile.StartedAt, before.StartedAt)
    } finally {
      await redis.restart()
    }
    const incident = await resolvedIncidentFor(sentinel, name, {
      timeoutMs: 60_000,
      what: 'the death during the outage to be healed and resolved',
    })
    assert.equal(incident.alert.details.exitCode, 137)
    assert.equal((await state(name)).Running, true)
    assert.equal((await incidentsFor(stopped)).length, 0, 'no incident for the deliberate stop')
    assert.equal((await state(stopped)).Running, false, 'the deliberately stopped container stays stopped')
  })
})
