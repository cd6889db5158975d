/**
 * Canary deploys on a real one-node swarm (tests/helpers/swarm.ts: a private engine in its own
 * network namespace, never the shared one), driven through Sentinel's API:
 * - a canary of the bad version (its tasks exit after a few seconds) is rolled back by itself: the
 *   service's own tasks are never touched (same tasks, same spec version), an incident shows the
 *   canary against the old tasks, and a probe calling the service by name every 100 ms sees
 *   errors only from the canary's addresses;
 * - a canary of a good version is promoted, step by step, to all the tasks;
 * - during a change freeze a deploy needs an admin (an operator gets 403 naming the freeze); the
 *   deploy an admin starts is carried on by the restarted controller and can be aborted.
 * One swarm, one Redis and one Sentinel (restarted once, for the freeze) for all the cases.
 *
 * The probe: the services resolve by DNS round-robin (`--endpoint-mode dnsrr`) on an attachable
 * overlay network, where the canary joins under the service's own name; a busybox container on
 * that network resolves the name before each request and asks one of the addresses, as a client
 * would. (A published port would need the ingress routing mesh, which needs iptables in the
 * namespace; the engine runs without.)
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import { uniqueName } from '../helpers/docker'
import { sleep, waitFor } from '../helpers/ports'
import { startRedis, type TestRedis } from '../helpers/redis'
import { type SentinelInstance, startSentinel, WATCH_VALUE } from '../helpers/sentinel'
import { startSwarm, type TestSwarm } from '../helpers/swarm'

const REPLICAS = 4

describe('canary deploys', () => {
  let swarm: TestSwarm
  let redis: TestRedis
  let sentinel: SentinelInstance
  const net = `canary-net-${randomBytes(3).toString('hex')}`
  const probes: string[] = []
  let goodV2 = ''

  before(async () => {
    swarm = await startSwarm()
    redis = await startRedis()
    await swarm.docker('network', 'create', '--driver', 'overlay', '--attachable', net)
    // The good image under a second name: a new version that behaves.
    goodV2 = swarm.images.good.replace(/:good$/, ':good-v2')
    await swarm.docker('tag', swarm.images.good, goodV2)
    sentinel = await startSentinel({
      redisPort: redis.port,
      env: {
        DOCKER_SOCKET: swarm.socket,
        CANARY_GATE_SECONDS: '4',
        CANARY_STEP_PERCENTS: '25',
        CANARY_START_TIMEOUT_SECONDS: '20',
        CANARY_PROBE_INTERVAL_MS: '250',
        SWARM_POLL_SECONDS: '1',
      },
    })
  })
  after(async () => {
    for (const p of probes) await swarm?.docker('rm', '-f', p).catch(() => {})
    await sentinel?.cleanup()
    await redis?.stop()
    await swarm?.docker('network', 'rm', net).catch(() => {})
    await swarm?.remove()
  })

  /** A watched service of REPLICAS tasks of the good image, resolving by DNS round-robin on the test network. */
  async function service(prefix: string): Promise<string> {
    const name = uniqueName(prefix)
    await swarm.createService(name, {
      replicas: REPLICAS,
      labels: { 'sentinel.watch': WATCH_VALUE },
      args: ['--network', net, '--endpoint-mode', 'dnsrr', '--no-healthcheck', '--stop-grace-period', '2s'],
    })
    await swarm.waitForRunning(name, REPLICAS, { timeoutMs: 60_000 })
    return name
  }

  /** A client of the service: every 100 ms, resolves its name, asks one address, prints `<ip> ok|err`. */
  async function startProbe(name: string): Promise<{ lines(): Promise<{ ip: string; ok: boolean }[]> }> {
    const probe = `${name}-probe`
    probes.push(probe)
    const script = [
      'while true; do',
      `  ip=$(nslookup ${name} 2>/dev/null | sed -n "s/^Address: *//p" | grep -v ":53$" | shuf -n 1)`,
      '  if [ -z "$ip" ]; then echo "none err"; sleep 0.1; continue; fi',
      '  r=$(printf "GET / HTTP/1.0\\r\\n\\r\\n" | nc -w 1 "$ip" 8080 2>/dev/null | head -n 1)',
      '  case "$r" in *" 200 "*) echo "$ip ok" ;; *) echo "$ip err" ;; esac',
      '  sleep 0.1',
      'done',
    ].join('\n')
    await swarm.docker('run', '-d', '--name', probe, '--network', net, swarm.images.good, 'sh', '-c', script)
    return {
      async lines() {
        const out = await swarm.docker('logs', probe)
        return out
          .split('\n')
          .filter(Boolean)
          .map((l) => {
            const [ip, r] = l.trim().split(' ')
            return { ip, ok: r === 'ok' }
          })
      },
    }
  }

  async function taskIps(name: string): Promise<Map<string, string>> {
    const running = await swarm.runningTasks(name)
    const out = new Map<string, string>()
    if (!running.length) return out
    const raw = JSON.parse(await swarm.docker('inspect', '--type', 'task', ...running.map((t) => t.id))) as any[]
    for (const t of raw)
      for (const a of t.NetworksAttachments ?? [])
        for (const addr of a.Addresses ?? []) out.set(addr.split('/')[0], t.ID)
    return out
  }

  async function finished(id: string, timeoutMs = 90_000): Promise<any> {
    return waitFor(
      async () => {
        const r = await sentinel.get(`/api/deploys/${id}`, 'viewer')
        return ['succeeded', 'rolled_back', 'aborted', 'failed'].includes(r.body.phase) ? r.body : null
      },
      { timeoutMs, intervalMs: 250, what: `deploy ${id} to finish` },
    )
  }

  it('rolls a bad canary back by itself, never touching the old tasks; the probe sees errors only from the canary', async () => {
    const name = await service('canary-bad')
    const before = await swarm.inspectService(name)
    const oldTasks = (await swarm.runningTasks(name)).map((t) => t.id).sort()
    const oldIps = await taskIps(name)
    assert.equal(oldIps.size, REPLICAS)
    const probe = await startProbe(name)
    await waitFor(async () => (await probe.lines()).filter((l) => l.ok).length >= 5, {
      timeoutMs: 30_000,
      what: 'the probe to reach the service',
    })
    const baselineLines = (await probe.lines()).length

    const res = await sentinel.post(
      `/api/services/${name}/deploy`,
      { image: swarm.images.bad, probe: { port: 8080, path: '/' } },
      'operator',
    )
    assert.equal(res.status, 202, JSON.stringify(res.body))
    assert.equal(res.body.phase, 'pending')
    assert.deepEqual(res.body.steps, [1, 2])
    const deploy = await finished(res.body.id)
    await sleep(1000)
    const lines = (await probe.lines()).slice(baselineLines)

    assert.equal(deploy.phase, 'rolled_back', JSON.stringify(deploy.events.map((e: any) => e.summary)))
    assert.equal(deploy.stepIndex, 0, 'never past the first step')
    assert.ok(deploy.reasons.length >= 1)
    assert.ok(deploy.events.some((e: any) => e.kind === 'gate_failed'))
    assert.ok(deploy.events.some((e: any) => e.kind === 'canary_removed'))
    // The old tasks: the same ones, never restarted or updated; the spec never changed.
    const afterSvc = await swarm.inspectService(name)
    assert.equal(afterSvc.Version.Index, before.Version.Index)
    assert.deepEqual((await swarm.runningTasks(name)).map((t) => t.id).sort(), oldTasks)
    assert.equal((await swarm.tasks(name)).length, REPLICAS, 'no task of the service was replaced')
    await assert.rejects(swarm.inspectService(`${name}-canary`), 'the canary service is gone')

    // The probe: every failed request went to an address that is not one of the old tasks.
    const errors = lines.filter((l) => !l.ok)
    const fromOld = errors.filter((l) => oldIps.has(l.ip))
    assert.deepEqual(fromOld, [], 'no error from an old task')
    const toOthers = lines.filter((l) => !oldIps.has(l.ip) && l.ip !== 'none').length
    assert.ok(errors.length <= toOthers + lines.filter((l) => l.ip === 'none').length)
    console.log(
      `probe during the bad deploy: ${lines.length} requests, ${errors.length} failed, ${toOthers} to the canary`,
    )

    // The incident: the comparison, and the rollback on its timeline.
    const incident = (await sentinel.get(`/api/incidents/${deploy.incidentId}`, 'viewer')).body
    assert.equal(incident.type, 'service_degraded')
    assert.equal(incident.resource.name, name)
    assert.equal(incident.status, 'resolved', JSON.stringify(incident.timeline.map((e: any) => e.summary)))
    const cmp = incident.alert.details.comparison
    assert.equal(cmp.baseline.running, REPLICAS)
    assert.equal(cmp.baseline.failed, 0)
    assert.equal(cmp.canary.desired, 1)
    assert.ok(cmp.canary.failed >= 1 || cmp.canary.errorRate > 0, JSON.stringify(cmp))
    const stages = incident.timeline.map((e: any) => e.stage)
    for (const s of ['detected', 'note', 'decided', 'acted', 'verified', 'resolved']) assert.ok(stages.includes(s), s)
    const audit = (await sentinel.get(`/api/audit?limit=200`, 'admin')).body
    const kinds = (audit.events ?? audit).filter((e: any) => e.data?.deployId === deploy.id).map((e: any) => e.kind)
    for (const k of ['deploy.requested', 'deploy.canary_started', 'deploy.gate_failed', 'deploy.rolled_back'])
      assert.ok(kinds.includes(k), `${k} in ${kinds}`)
  })

  it('promotes a good canary step by step to every task', async () => {
    const name = await service('canary-good')
    const res = await sentinel.post(
      `/api/services/${name}/deploy`,
      { image: goodV2, env: { RELEASE: '2' }, probe: { port: 8080, path: '/' } },
      'operator',
    )
    assert.equal(res.status, 202, JSON.stringify(res.body))
    // One deploy per service at a time.
    const again = await sentinel.post(`/api/services/${name}/deploy`, { image: goodV2 }, 'operator')
    assert.equal(again.status, 409)
    const deploy = await finished(res.body.id, 120_000)
    assert.equal(deploy.phase, 'succeeded', JSON.stringify(deploy.events.map((e: any) => e.summary)))
    const kinds = deploy.events.map((e: any) => e.kind)
    assert.deepEqual(
      kinds.filter((k: string) => ['canary_started', 'step_passed', 'promoting', 'succeeded'].includes(k)),
      ['canary_started', 'step_passed', 'promoting', 'succeeded'],
    )
    const passed = deploy.events.find((e: any) => e.kind === 'step_passed')
    assert.equal(passed.data.comparison.canary.errorRate, 0)
    const svc = await swarm.inspectService(name)
    assert.equal(svc.Spec.TaskTemplate.ContainerSpec.Image.split('@')[0], goodV2)
    assert.ok(svc.Spec.TaskTemplate.ContainerSpec.Env.includes('RELEASE=2'))
    await swarm.waitForRunning(name, REPLICAS, { image: goodV2 })
    await assert.rejects(swarm.inspectService(`${name}-canary`))
    assert.equal(deploy.incidentId, undefined)
    const list = (await sentinel.get(`/api/deploys?service=${name}`, 'viewer')).body
    assert.equal(list.deploys.length, 1)
    assert.equal(list.deploys[0].phase, 'succeeded')
  })

  it('refuses bad input naming the field, and unwatched or unknown services', async () => {
    const name = uniqueName('canary-none')
    let r = await sentinel.post(`/api/services/${name}/deploy`, { image: 'Bad Image!' }, 'operator')
    assert.equal(r.status, 400)
    assert.match(r.body.message, /body\.image/)
    r = await sentinel.post(`/api/services/${name}/deploy`, { image: goodV2, probe: { port: 0 } }, 'operator')
    assert.equal(r.status, 400)
    assert.match(r.body.message, /body\.probe\.port/)
    r = await sentinel.post(`/api/services/${name}/deploy`, { image: goodV2 }, 'viewer')
    assert.equal(r.status, 403)
    r = await sentinel.post(`/api/services/${name}/deploy`, { image: goodV2 }, 'operator')
    assert.equal(r.status, 404)
    r = await sentinel.get('/api/deploys/nope', 'viewer')
    assert.equal(r.status, 400)
    assert.match(r.body.message, /path\.id/)
    r = await sentinel.post(`/api/services/${name}/deploy/pause`, {}, 'operator')
    assert.equal(r.status, 404)
  })

  it('during a change freeze a deploy needs an admin; a restarted controller carries it on, and it can be aborted', async () => {
    const name = await service('canary-freeze')
    await sentinel.stop()
    sentinel.env.FREEZE_WINDOWS = '* * * * *|1d|UTC|test freeze'
    sentinel.env.CANARY_GATE_SECONDS = '600'
    await sentinel.restart()
    const refused = await sentinel.post(`/api/services/${name}/deploy`, { image: goodV2 }, 'operator')
    assert.equal(refused.status, 403)
    assert.equal(refused.body.error, 'change_freeze')
    assert.match(refused.body.message, /test freeze/)
    const res = await sentinel.post(`/api/services/${name}/deploy`, { image: goodV2 }, 'admin')
    assert.equal(res.status, 202, JSON.stringify(res.body))
    await waitFor(async () => (await sentinel.get(`/api/deploys/${res.body.id}`, 'viewer')).body.phase === 'canary', {
      timeoutMs: 30_000,
      what: 'the canary to start',
    })
    // The controller restarts: the deploy is in Redis, the new process carries it on.
    await sentinel.stop()
    await sentinel.restart()
    await swarm.waitForRunning(`${name}-canary`, 1, { timeoutMs: 30_000 })
    const paused = await sentinel.post(`/api/services/${name}/deploy/pause`, {}, 'operator')
    assert.equal(paused.status, 200)
    assert.equal(paused.body.paused, true)
    // Resuming is a change: during the freeze, an admin's.
    assert.equal((await sentinel.post(`/api/services/${name}/deploy/resume`, {}, 'operator')).status, 403)
    const aborted = await sentinel.post(`/api/services/${name}/deploy/abort`, {}, 'operator')
    assert.equal(aborted.status, 200)
    const deploy = await finished(res.body.id)
    assert.equal(deploy.phase, 'aborted', JSON.stringify(deploy.events.map((e: any) => e.summary)))
    const svc = await swarm.inspectService(name)
    assert.equal(svc.Spec.TaskTemplate.ContainerSpec.Image.split('@')[0], swarm.images.good)
    await assert.rejects(swarm.inspectService(`${name}-canary`))
  })
})
