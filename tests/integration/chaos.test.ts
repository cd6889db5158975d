/**
 * @long (chaos runs that wait for healing): scripts/test.sh starts it first, so it does not end the run alone.
 *
 * Chaos through a real Sentinel (the engine in its main process), real dockerd and Redis: the
 * Admin API validates and starts runs, each fault kind is injected on containers labelled
 * sentinel.chaos=true only, and every fault leads to an incident that is resolved: kills are
 * healed by the restart fast path; a paused probe target (latency), a busy loop (container CPU) and
 * a filled temp/ (disk, the sandbox on its own 16 MiB tmpfs) resolve once the run is stopped and
 * the fault undone. Containers without the label see no Docker event at all. Health scores are in
 * /api/infrastructure-status and /metrics.
 */
import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { DEFAULT_EXCLUDED_FS_TYPES } from '../../src/platform/config/observe'
import { mountTmpfs, unmountTmpfs } from '../helpers/files'
import { docker, killMainProcess, removeContainers, runContainer, state, uniqueName } from '../helpers/docker'
import { freePort, waitFor } from '../helpers/ports'
import { startRedis, type TestRedis } from '../helpers/redis'
import { incidentsFor, type SentinelInstance, startSentinel, WATCHED } from '../helpers/sentinel'

const CHAOS = { 'sentinel.chaos': 'true', ...WATCHED }

describe('chaos through a real Sentinel', () => {
  let redis: TestRedis
  let sentinel: SentinelInstance
  let root: string
  let fsDir: string
  let mounted = false
  let webPort: number
  const names = {
    target: uniqueName('chaos-target'),
    web: uniqueName('chaos-web'),
    watched: uniqueName('chaos-watched'),
    bare: uniqueName('chaos-bare'),
    twice: uniqueName('chaos-twice'),
  }
  const ids: Record<string, string> = {}
  let since = 0

  before(async () => {
    root = mkdtempSync(path.join(os.tmpdir(), 'sentinel-test-chaos-it-'))
    fsDir = path.join(root, 'fs')
    // The sandbox on its own small filesystem: a fill of a few MiB crosses the disk threshold.
    await mountTmpfs(fsDir, 16 * 1024 * 1024, 'sentinel-test-chaos-fs')
    mounted = true
    const sandbox = path.join(fsDir, 'sandbox')
    for (const d of ['logs', 'temp', 'cache', 'data']) mkdirSync(path.join(sandbox, d), { recursive: true })
    webPort = await freePort()
    ids.target = await runContainer(names.target, { labels: CHAOS })
    ids.web = await runContainer(names.web, {
      labels: CHAOS,
      args: ['-p', `127.0.0.1:${webPort}:8080`],
      cmd: ['httpd', '-f', '-p', '8080', '-h', '/tmp'],
    })
    ids.watched = await runContainer(names.watched, { labels: WATCHED })
    ids.bare = await runContainer(names.bare)
    // Watched but not a chaos target: killed by hand, twice in quick succession.
    ids.twice = await runContainer(names.twice, { labels: WATCHED })
    since = Date.now()
    redis = await startRedis()
    sentinel = await startSentinel({
      redisPort: redis.port,
      env: {
        SANDBOX_DIR: sandbox,
        VERIFY_STABLE_SECONDS: '0.5',
        RATE_LIMIT_MAX_ACTIONS: '100',
        // Only restarts run by themselves; the other incidents wait for a person or their alert to clear.
        ALLOWED_ACTIONS: 'restart_container',
        MONITOR_CRON: '*/2 * * * * *',
        ALERT_FOR_SECONDS: '0',
        ALERT_HOLD_DOWN_SECONDS: '2',
        ANOMALY_ENABLED: 'false',
        PROBE_TARGETS: `http://127.0.0.1:${webPort}/`,
        PROBE_REQUESTS_PER_TICK: '1',
        PROBE_TIMEOUT_MS: '1500',
        PROBE_WINDOW_SIZE: '2',
        THRESHOLD_LATENCY_MS: '1000',
        THRESHOLD_CONTAINER_CPU_PERCENT: '40',
        THRESHOLD_DISK_PERCENT: '80',
        DISK_EXCLUDE_FSTYPES: DEFAULT_EXCLUDED_FS_TYPES.filter((t) => t !== 'tmpfs').join(','),
        THRESHOLD_MEMORY_PERCENT: '100',
        THRESHOLD_CPU_PERCENT: '100',
        THRESHOLD_CONTAINER_MEMORY_PERCENT: '100',
      },
    })
  })
  after(async () => {
    if (sentinel) await sentinel.post('/api/chaos/stop', {}).catch(() => {})
    await sentinel?.cleanup()
    await redis?.stop()
    await docker('unpause', names.web).catch(() => {})
    await removeContainers(...Object.values(names))
    if (mounted) await unmountTmpfs(fsDir)
    rmSync(root, { recursive: true, force: true })
  })

  const chaos = async () => {
    const res = await sentinel.get('/api/chaos?limit=500')
    assert.equal(res.status, 200)
    return res.body
  }
  const startRun = async (body: unknown) => {
    const res = await sentinel.post('/api/chaos/start', body)
    assert.equal(res.status, 202, JSON.stringify(res.body))
    return res.body
  }
  const stopRun = async (runId: string) => {
    const res = await sentinel.post('/api/chaos/stop', {})
    assert.equal(res.status, 200)
    assert.equal(res.body.runId, runId)
    await waitFor(async () => (await chaos()).state?.status === 'idle', {
      timeoutMs: 30_000,
      what: 'the engine to end the run',
    })
  }
  const faultsOf = async (runId: string) =>
    ((await chaos()).history as any[]).filter((f) => f.runId === runId && f.outcome === 'injected')
  /** Runs one fault kind until its first fault has an incident, stops, and waits for that incident to resolve. */
  const oneFault = async (body: unknown, what: string) => {
    const { runId } = await startRun(body)
    const [first] = await waitFor(
      async () => {
        const f = await faultsOf(runId)
        return f.length > 0 && f[f.length - 1].incident && f.slice(-1)
      },
      { timeoutMs: 90_000, intervalMs: 500, what: `an incident for the ${what}` },
    )
    await stopRun(runId)
    const resolved = await waitFor(
      async () => {
        const f = (await faultsOf(runId)).find((x) => x.faultId === first.faultId)
        return f?.incident?.status === 'resolved' && f
      },
      { timeoutMs: 90_000, intervalMs: 500, what: `the ${what}'s incident to resolve` },
    )
    return { runId, fault: resolved }
  }

  it('the Admin API is admin-only and rejects absurd plans naming the field', async () => {
    const plan = { faults: { kill: { minIntervalSec: 5, maxIntervalSec: 10 } } }
    assert.equal((await sentinel.post('/api/chaos/start', plan, 'operator')).status, 403)
    assert.equal((await sentinel.post('/api/chaos/start', plan, null)).status, 401)
    assert.equal((await sentinel.get('/api/chaos', 'viewer')).status, 403)
    const big = await sentinel.post('/api/chaos/start', {
      faults: { fillTemp: { minIntervalSec: 5, maxIntervalSec: 5, bytes: 10 * 1024 ** 4 } },
    })
    assert.equal(big.status, 400)
    assert.match(big.body.message, /body\.faults\.fillTemp\.bytes/)
    const fast = await sentinel.post('/api/chaos/start', { faults: { kill: { minIntervalSec: 0, maxIntervalSec: 1 } } })
    assert.equal(fast.status, 400)
    assert.match(fast.body.message, /body\.faults\.kill\.minIntervalSec/)
    const idle = await chaos()
    assert.equal(idle.status, 'idle')
    assert.equal(idle.engine.alive, true, 'the runtime runs the engine')
    assert.deepEqual(idle.history, [])
  })

  it('kills only the labelled container; each kill is healed and its incident resolved', async () => {
    const body = await startRun({
      faults: { kill: { minIntervalSec: 4, maxIntervalSec: 4 } },
      targets: [names.target, names.watched, names.bare],
      durationSec: 300,
    })
    assert.deepEqual(body.eligible, [names.target])
    assert.equal(
      (await sentinel.post('/api/chaos/start', { faults: { kill: { minIntervalSec: 4, maxIntervalSec: 4 } } })).status,
      409,
    )
    await waitFor(
      async () => (await faultsOf(body.runId)).filter((f) => f.incident?.status === 'resolved').length >= 2,
      { timeoutMs: 120_000, intervalMs: 500, what: 'two kills healed' },
    )
    await stopRun(body.runId)
    // A kill may have struck just before the stop: it too gets its resolved incident.
    const faults = await waitFor(
      async () => {
        const f = await faultsOf(body.runId)
        return f.every((x) => x.incident?.status === 'resolved') && f
      },
      { timeoutMs: 60_000, intervalMs: 500, what: 'every kill resolved' },
    )
    for (const f of faults) {
      assert.equal(f.container.id, ids.target)
      assert.equal(f.incident.type, 'container_down')
    }
    assert.equal((await state(names.target)).Running, true)
    // The audit log ties each fault to the run.
    const audit = (await sentinel.get('/api/audit?limit=1000')).body.events as any[]
    const logged = audit.filter((e) => e.kind === 'chaos.fault' && e.data?.chaosId === body.runId)
    assert.deepEqual(logged.map((e) => e.data.faultId).sort(), faults.map((f) => f.faultId).sort())
  })

  it('a container killed again while its incident verifies is restarted again under that incident', async () => {
    const name = names.twice
    const restartedAfter = (startedAt: string, what: string) =>
      waitFor(
        async () => {
          const s = await state(name)
          return s.Running && s.StartedAt !== startedAt && s
        },
        { timeoutMs: 30_000, intervalMs: 50, what },
      )
    const before = await state(name)
    await killMainProcess(name)
    const healed = await restartedAfter(before.StartedAt, 'the first restart')
    // At once: the incident verifies (the container must stay up 0.5 s) when the second death comes.
    await killMainProcess(name)
    await restartedAfter(healed.StartedAt, 'the second death to be restarted too')
    const incidents = await waitFor(
      async () => {
        const list = await incidentsFor(sentinel, name)
        return list.length > 0 && list.every((i) => i.status === 'resolved') && list
      },
      { timeoutMs: 60_000, intervalMs: 500, what: 'the incident to resolve' },
    )
    assert.equal(incidents.length, 1, 'one incident for the problem')
    const notes = incidents[0].timeline.filter((t: any) => t.stage === 'note').map((t: any) => t.summary)
    assert.ok(
      notes.some((n: string) => /again after its fix ran; restarting it again/.test(n)),
      notes.join('\n'),
    )
    assert.ok(notes.includes('restart_container again: start'), notes.join('\n'))
    assert.equal((await state(name)).Running, true)
  })

  it('a paused probe target raises a latency incident that resolves once the run is stopped', async () => {
    const { fault } = await oneFault(
      {
        faults: { slowProbe: { minIntervalSec: 1, maxIntervalSec: 1, pauseSec: 120 } },
        targets: [names.web],
        durationSec: 300,
      },
      'paused probe target',
    )
    assert.equal(fault.container.id, ids.web)
    assert.ok(fault.container.endpoints.includes(`127.0.0.1:${webPort}`), `endpoints ${fault.container.endpoints}`)
    assert.equal(fault.incident.type, 'latency')
    assert.equal(fault.endReason, 'run ended')
    assert.equal(JSON.parse(await docker('inspect', '--format', '{{json .State.Paused}}', names.web)), false)
  })

  it('a busy loop raises a container CPU incident that resolves once the run is stopped', async () => {
    const { fault } = await oneFault(
      {
        faults: { cpu: { minIntervalSec: 1, maxIntervalSec: 1, durationSec: 120 } },
        targets: [names.target],
        durationSec: 300,
      },
      'busy loop',
    )
    assert.equal(fault.container.id, ids.target)
    assert.equal(fault.incident.type, 'cpu')
  })

  it("filling the sandbox's temp/ raises a disk incident that resolves once the fill is removed", async () => {
    const { fault } = await oneFault(
      {
        faults: { fillTemp: { minIntervalSec: 1, maxIntervalSec: 1, bytes: 14 * 1024 * 1024, holdSec: 300 } },
        durationSec: 300,
      },
      'temp/ fill',
    )
    assert.equal(fault.filesystem, fsDir)
    assert.equal(fault.incident.type, 'disk')
  })

  it('every fault of every run has a resolved incident, and the unlabelled containers saw nothing', async () => {
    const all = await chaos()
    assert.ok(all.summary.injected >= 5, JSON.stringify(all.summary))
    assert.equal(
      all.summary.resolved,
      all.summary.injected,
      JSON.stringify(all.history.filter((f: any) => f.outcome === 'injected' && f.incident?.status !== 'resolved')),
    )
    for (const n of ['watched', 'bare'] as const) {
      const events = await docker(
        'events',
        '--since',
        (since / 1000).toFixed(3),
        '--until',
        (Date.now() / 1000).toFixed(3),
        '--filter',
        `container=${ids[n]}`,
        '--format',
        '{{.Action}}',
      )
      assert.equal(events, '', `${names[n]} saw no Docker event`)
    }
  })

  it('reports health scores in the infrastructure status and as a /metrics gauge', async () => {
    const status = await sentinel.get('/api/infrastructure-status', 'viewer')
    assert.equal(status.status, 200)
    const health = status.body.health
    assert.ok(health.system.score >= 0 && health.system.score <= 1)
    const target = health.containers.find((c: any) => c.name === names.target)
    // The score counts the target's container_down incidents: one per kill, except that a kill
    // striking while the previous kill's incident is still open (a loaded host) is healed under it.
    const killIncidents = new Set(
      ((await chaos()).history as any[])
        .filter((f) => f.kind === 'kill' && f.outcome === 'injected' && f.incident)
        .map((f) => f.incident.id),
    )
    assert.ok(killIncidents.size >= 1)
    assert.ok(
      target && target.score >= 0 && target.score <= 1 && target.restarts >= killIncidents.size,
      JSON.stringify({ target, killIncidents: [...killIncidents] }),
    )
    const metrics = await (await fetch(`${sentinel.url}/metrics`)).text()
    assert.match(metrics, /^sentinel_health_score\{scope="system"\} [0-9.]+$/m)
    assert.match(
      metrics,
      new RegExp(`^sentinel_health_score\\{scope="container",container="${names.target}"\\} [0-9.]+$`, 'm'),
    )
  })
})
