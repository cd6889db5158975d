/**
 * Alert intake follows the event path's rules (issue #17, point 8), against a real Sentinel, Redis
 * and dockerd. Sentinel talks to Docker through a pass-through socket that records the path of
 * every Engine API request, so "never inspected, its logs never read" is checked on the wire.
 *
 * - An Alertmanager ContainerDown for a watched container stopped on purpose (`docker stop`) does
 *   not restart it: the incident is recorded as suppressed, with the reason.
 * - An alert naming a container without the watch label makes no request about that container
 *   (no inspect, no logs, no stats) and opens no action; none of its log lines reach the incident.
 * - `docker rm -f` of a watched container is no crash: no incident, no restart attempt, no
 *   escalation; an alert about it afterwards is left alone too.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { docker, removeContainers, runContainer, state, uniqueName } from '../helpers/docker'
import { sleep, waitFor } from '../helpers/ports'
import { startRedis, type TestRedis } from '../helpers/redis'
import { incidentsFor, type SentinelInstance, startSentinel, WATCHED } from '../helpers/sentinel'

const DOCKER_SOCKET = '/var/run/docker.sock'
const REQUEST_LINE = /(?:^|\r\n)(?:GET|POST|PUT|DELETE|HEAD) (\/\S*) HTTP\/1\.[01]\r\n/g

/** A unix socket in front of Docker's that passes everything through and keeps each request's path. */
async function recordingDockerSocket(socketPath: string): Promise<{ paths: string[]; close(): Promise<void> }> {
  const paths: string[] = []
  const server = net.createServer((client) => {
    const upstream = net.connect(DOCKER_SOCKET)
    client.on('data', (chunk) => {
      for (const m of chunk.toString('latin1').matchAll(REQUEST_LINE)) paths.push(decodeURIComponent(m[1]))
      upstream.write(chunk)
    })
    upstream.pipe(client)
    const end = () => {
      client.destroy()
      upstream.destroy()
    }
    client.on('error', end).on('close', end)
    upstream.on('error', end).on('close', end)
  })
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(socketPath, resolve))
  return { paths, close: () => new Promise((resolve) => server.close(() => resolve())) }
}

function alertmanagerPayload(alerts: Array<{ alertname: string; labels: Record<string, string> }>) {
  return {
    version: '4',
    groupKey: `{}:{test="${randomBytes(4).toString('hex')}"}`,
    truncatedAlerts: 0,
    status: 'firing',
    receiver: 'sentinel',
    groupLabels: {},
    commonLabels: {},
    commonAnnotations: {},
    externalURL: 'http://alertmanager.local',
    alerts: alerts.map((a) => ({
      status: 'firing',
      labels: { alertname: a.alertname, severity: 'critical', ...a.labels },
      annotations: { summary: `${a.alertname} from the test` },
      startsAt: new Date(Date.now() - 60_000).toISOString(),
      endsAt: '0001-01-01T00:00:00Z',
      generatorURL: 'http://prometheus.local/graph',
      fingerprint: randomBytes(8).toString('hex'),
    })),
  }
}

describe('security: alert intake respects the event path rules', () => {
  let redis: TestRedis
  let sentinel: SentinelInstance
  let dir: string
  let recorder: Awaited<ReturnType<typeof recordingDockerSocket>>
  const containers: string[] = []

  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'sentinel-test-alert-intake-'))
    recorder = await recordingDockerSocket(path.join(dir, 'docker.sock'))
    redis = await startRedis()
    sentinel = await startSentinel({
      redisPort: redis.port,
      env: { DOCKER_SOCKET: path.join(dir, 'docker.sock'), VERIFY_STABLE_SECONDS: '0.5' },
    })
  })
  after(async () => {
    await removeContainers(...containers)
    await sentinel?.cleanup()
    await redis?.stop()
    await recorder?.close()
    rmSync(dir, { recursive: true, force: true })
  })

  const send = async (payload: ReturnType<typeof alertmanagerPayload>) => {
    const res = await sentinel.post('/api/alerts/alertmanager', payload, 'operator')
    assert.equal(res.status, 200, JSON.stringify(res.body))
    return res.body as { opened: string[]; updated: string[]; suppressed: string[] }
  }
  const fire = (alerts: Array<{ alertname: string; labels: Record<string, string> }>) =>
    send(alertmanagerPayload(alerts))
  const audit = async () =>
    (await sentinel.get('/api/audit?limit=1000')).body.events as Array<{
      kind: string
      resource?: string
      outcome?: string
      incidentId?: string
    }>
  const incident = async (id: string) => (await sentinel.get(`/api/incidents/${id}`)).body

  /** Fails as soon as the container runs again within `ms` (a restart would take a few seconds through the flow). */
  async function staysDown(name: string, startedAt: string, ms: number): Promise<void> {
    const deadline = Date.now() + ms
    while (Date.now() < deadline) {
      const s = await state(name)
      assert.equal(s.Running, false, `${name} was started again`)
      assert.equal(s.StartedAt, startedAt)
      await sleep(250)
    }
  }

  it('leaves a watched container stopped on purpose alone, whatever a ContainerDown alert says', async () => {
    const name = uniqueName('am-stopped')
    containers.push(name)
    // PID 1 ignores SIGTERM: `docker stop` kills it after the timeout (137), as a crash would look.
    await runContainer(name, { labels: WATCHED, cmd: ['sh', '-c', 'trap "" TERM; while true; do sleep 0.2; done'] })
    await docker('stop', '-t', '1', name)
    const stopped = await state(name)
    assert.equal(stopped.ExitCode, 137)
    await waitFor(async () => (await audit()).some((e) => e.kind === 'container.stopped' && e.resource === name), {
      timeoutMs: 10_000,
      what: 'Sentinel to see the stop',
    })

    const payload = alertmanagerPayload([{ alertname: 'ContainerDown', labels: { name } }])
    const out = await send(payload)
    await staysDown(name, stopped.StartedAt, 8000)
    assert.deepEqual(out.opened, [], 'nothing goes into the flow')
    assert.equal(out.suppressed.length, 1)
    const inc = await incident(out.suppressed[0])
    assert.equal(inc.status, 'suppressed')
    assert.match(inc.timeline.at(-1).summary, /stopped on purpose/)
    assert.deepEqual(inc.actions, [])
    assert.equal(inc.analysis, undefined)
    // Alertmanager sends the same firing alert again (its repeat interval): still left alone, no second record.
    const again = await send(payload)
    assert.deepEqual(again, { ...again, opened: [], suppressed: out.suppressed })
    assert.equal((await incidentsFor(sentinel, name)).length, 1)
    assert.equal((await state(name)).Running, false)
    assert.ok(!(await audit()).some((e) => e.resource === name && e.kind === 'action.executed'))
  })

  it('never inspects a container without the watch label, nor reads its logs, and opens no action for it', async () => {
    const name = uniqueName('am-unwatched')
    containers.push(name)
    const secret = `unwatched-secret-${randomBytes(6).toString('hex')}`
    const id = await runContainer(name, { cmd: ['sh', '-c', `echo "${secret}"; echo "ERROR: ${secret}" >&2; exit 3`] })
    const exited = await waitFor(
      async () => {
        const s = await state(name)
        return s.Running ? null : s
      },
      { timeoutMs: 10_000, what: 'the unwatched container to exit' },
    )
    const seen = recorder.paths.length

    const out = await fire([
      { alertname: 'ContainerDown', labels: { name } },
      { alertname: 'ContainerMemoryUsageHigh', labels: { container: name } },
      { alertname: 'ContainerCpuHigh', labels: { container_id: id, container: name } },
    ])
    // Long enough for the flow (analysis, decision, action) to have asked Docker about it.
    await staysDown(name, exited.StartedAt, 8000)
    const asked = recorder.paths.slice(seen)
    assert.ok(
      asked.some((p) => /^(\/v[\d.]+)?\/containers\/json\?/.test(p)),
      `the watched containers were listed: ${asked.join(' ')}`,
    )
    const aboutIt = asked.filter((p) => p.includes(name) || p.includes(id.slice(0, 12)))
    assert.deepEqual(aboutIt, [], 'no Engine API request names the unwatched container')
    assert.deepEqual(out.opened, [])
    assert.equal(out.suppressed.length, 3)
    for (const incidentId of out.suppressed) {
      const inc = await incident(incidentId)
      assert.equal(inc.status, 'suppressed')
      assert.match(inc.timeline.at(-1).summary, /neither looks into it nor acts on it/)
      assert.equal(inc.analysis, undefined)
      assert.deepEqual(inc.actions, [])
      assert.ok(!JSON.stringify(inc).includes(secret), 'none of its log lines in the incident')
    }
    assert.ok(!JSON.stringify(await audit()).includes(secret))
  })

  it('takes docker rm -f of a watched container for what it is: no restart attempt, no escalation', async () => {
    const name = uniqueName('rm-f')
    containers.push(name)
    await runContainer(name, { labels: WATCHED })
    await docker('rm', '-f', name)
    // The fast path would open an incident within a second, and fail to restart and escalate within a few.
    for (const deadline = Date.now() + 6000; Date.now() < deadline; await sleep(250)) {
      const incidents = await incidentsFor(sentinel, name)
      assert.deepEqual(
        incidents.map((i) => `${i.status}: ${i.timeline.at(-1)?.summary}`),
        [],
        'no incident: a removal is not a crash',
      )
    }
    const events = (await audit()).filter((e) => e.resource === name)
    assert.ok(
      !events.some((e) => ['incident.opened', 'action.executed', 'incident.escalated'].includes(e.kind)),
      JSON.stringify(events),
    )
    assert.ok(
      events.some((e) => e.kind === 'container.removed'),
      `the removal is audited: ${JSON.stringify(events)}`,
    )

    // An alert about it afterwards is left alone too.
    const out = await fire([{ alertname: 'ContainerDown', labels: { name } }])
    assert.deepEqual(out.opened, [])
    assert.equal(out.suppressed.length, 1)
    assert.equal((await incident(out.suppressed[0])).status, 'suppressed')
  })
})
