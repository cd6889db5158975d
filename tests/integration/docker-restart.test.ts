/**
 * The Docker engine restarts under a running Sentinel (an upgrade, a crash): Sentinel reports it
 * down and up again on /healthz, follows the engine's events again once it is back, and takes the
 * containers the engine stopped on its way down for what they are: stopped, not crashed. Runs on a
 * private engine (tests/helpers/dockerd.ts), never on the one other tests and people use.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { uniqueName } from '../helpers/docker'
import { type PrivateDockerd, startPrivateDockerd } from '../helpers/dockerd'
import { waitFor } from '../helpers/ports'
import { startRedis, type TestRedis } from '../helpers/redis'
import {
  incidentsFor as incidentsOf,
  resolvedIncidentFor,
  type SentinelInstance,
  startSentinel,
  WATCH_ARG,
} from '../helpers/sentinel'

describe('Docker engine restart', () => {
  let engine: PrivateDockerd
  let redis: TestRedis
  let sentinel: SentinelInstance

  before(async () => {
    engine = await startPrivateDockerd()
    redis = await startRedis()
    sentinel = await startSentinel({
      redisPort: redis.port,
      env: { DOCKER_SOCKET: engine.socket, VERIFY_STABLE_SECONDS: '0.5' },
    })
  })
  after(async () => {
    await sentinel?.cleanup()
    await redis?.stop()
    await engine?.remove()
  })

  const runWatched = (name: string) =>
    engine.docker(
      'run',
      '-d',
      '--name',
      name,
      '--network',
      'none',
      '--label',
      WATCH_ARG,
      'sentinel-busybox:test',
      'sh',
      '-c',
      'while true; do sleep 0.2; done',
    )
  const stateOf = async (name: string) =>
    JSON.parse(await engine.docker('inspect', '--format', '{{json .State}}', name)) as {
      Running: boolean
      Pid: number
      StartedAt: string
      ExitCode: number
    }
  const incidentsFor = (name: string) => incidentsOf(sentinel, name)
  const dockerStatus = async () => (await sentinel.get('/healthz')).body.components.docker.status as string

  it('follows the engine down and up, leaves what it stopped alone, and heals on its events afterwards', async () => {
    const before = uniqueName('engine-before')
    await runWatched(before)
    assert.equal(await dockerStatus(), 'up')

    await engine.stop()
    await waitFor(async () => (await dockerStatus()) === 'down', {
      timeoutMs: 15_000,
      what: '/healthz to report Docker down',
    })
    await engine.start()
    await waitFor(async () => (await dockerStatus()) === 'up', {
      timeoutMs: 30_000,
      what: '/healthz to report Docker up again',
    })

    // The engine stopped it on the way down (SIGTERM, then SIGKILL): a stop, not a crash.
    assert.equal((await stateOf(before)).Running, false)
    // After the restart, the event stream is followed again: a crash is healed.
    const after = uniqueName('engine-after')
    await runWatched(after)
    const started = await stateOf(after)
    process.kill(started.Pid, 'SIGKILL')
    const incident = await resolvedIncidentFor(sentinel, after, {
      timeoutMs: 45_000,
      what: 'the crash after the engine restart to be healed',
    })
    assert.equal(incident.alert.details.exitCode, 137)
    const now = await stateOf(after)
    assert.equal(now.Running, true)
    assert.notEqual(now.StartedAt, started.StartedAt)

    const wrong = await incidentsFor(before)
    assert.equal(
      wrong.length,
      0,
      `no incident for a container the engine stopped: ${JSON.stringify(wrong.map((i) => ({ status: i.status, alert: i.alert, timeline: i.timeline.map((t: any) => `${t.stage}: ${t.summary}`) })))}; events ${await engine.docker('events', '--since', '5m', '--until', '0s', '--filter', `container=${before}`, '--format', '{{.Action}} {{json .Actor.Attributes}}')}`,
    )
    assert.equal((await stateOf(before)).Running, false, 'and it was not started behind the engine')
  })
})
