/**
 * The chaos engine against the real Docker engine and a real Redis: it only ever touches running
 * containers labelled sentinel.chaos=true and watched, it stops (and undoes its faults) when told,
 * fillTemp stays in the sandbox, and an engine that starts undoes what a dead one left in effect.
 */
import { randomBytes } from 'node:crypto'
import assert from 'node:assert/strict'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { docker, removeContainers, runContainer, state, uniqueName } from '../../tests/helpers/docker'
import { sleep, waitFor } from '../../tests/helpers/ports'
import { startRedis, type TestRedis } from '../../tests/helpers/redis'
import { AuditLog } from '../platform/store/audit'
import { IncidentStore } from '../platform/store/incidents'
import { chaosStatus, startChaos, stopChaos } from './api'
import { type ChaosEngine, createChaosEngine } from './engine'
import { BUSY_LOOP_NAME, chaosFileName } from './faults'
import { ChaosStore, engineAlive } from './store'
import { chaosStartBody, type ChaosState } from './types'

// A watch label of this test's own, so a Sentinel running beside it never acts on these containers.
const WATCH = { key: 'sentinel.watch', value: `unit-${randomBytes(4).toString('hex')}` }
const config = { DOCKER_SOCKET: '/var/run/docker.sock', WATCH_LABEL: WATCH }

/** Every Docker event about the container from `sinceMs` until now. */
async function eventsOf(id: string, sinceMs: number): Promise<string[]> {
  const out = await docker(
    'events',
    '--since',
    (sinceMs / 1000).toFixed(3),
    '--until',
    (Date.now() / 1000).toFixed(3),
    '--filter',
    `container=${id}`,
    '--format',
    '{{.Action}}',
  )
  return out.split('\n').filter(Boolean)
}

async function inspectState(name: string): Promise<{ Paused: boolean; Running: boolean }> {
  return JSON.parse(await docker('inspect', '--format', '{{json .State}}', name))
}

const isBusyLoop = (pid: number) => {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes(BUSY_LOOP_NAME)
  } catch {
    return false
  }
}

describe('chaos engine', () => {
  let redis: TestRedis
  let tmp: string
  let sandbox: string
  let auditFile: string
  let engine: ChaosEngine
  let chaos: ChaosStore
  const logs: string[] = []
  // target: both labels; plain: none; chaosOnly: not watched; watchOnly: no chaos label.
  const names = {
    target: uniqueName('chaos-target'),
    plain: uniqueName('chaos-plain'),
    chaosOnly: uniqueName('chaos-only'),
    watchOnly: uniqueName('chaos-watchonly'),
  }
  const ids: Record<string, string> = {}
  const others = ['plain', 'chaosOnly', 'watchOnly'] as const
  const untouched = () => others.map((r) => names[r])
  let createdAt = 0
  const startedAtOf: Record<string, string> = {}

  const deps = () => ({
    redis: redis.client,
    audit: new AuditLog(redis.client, auditFile),
    store: new IncidentStore(redis.client),
    config,
  })
  const stopRun = async () => {
    await stopChaos('test', deps())
    await waitFor(async () => engine.current() === null && (await chaos.state())?.status === 'idle', {
      timeoutMs: 30_000,
      what: 'the run to end',
    })
  }
  const start = async (plan: unknown) => {
    // A test that failed mid-run leaves its run going; the next one starts clean.
    if ((await chaos.desired())?.status === 'running') await stopRun()
    return startChaos(chaosStartBody.parse(plan), 'test', deps())
  }
  /** Plays Sentinel's part: starts the target again whenever it is down (Docker leaves a killed container stopped). */
  const healer = () => {
    let busy = false
    const timer = setInterval(() => {
      if (busy) return
      busy = true
      inspectState(names.target)
        .then((s) => (s.Running ? undefined : docker('start', names.target)))
        .catch(() => {})
        .finally(() => (busy = false))
    }, 200)
    return () => clearInterval(timer)
  }

  before(async () => {
    redis = await startRedis()
    chaos = new ChaosStore(redis.client)
    tmp = mkdtempSync(path.join(os.tmpdir(), 'sentinel-test-chaos-'))
    sandbox = path.join(tmp, 'sandbox')
    for (const d of ['temp', 'logs', 'data']) mkdirSync(path.join(sandbox, d), { recursive: true })
    auditFile = path.join(tmp, 'audit', 'audit.jsonl')
    ids.target = await runContainer(names.target, { labels: { 'sentinel.chaos': 'true', [WATCH.key]: WATCH.value } })
    ids.plain = await runContainer(names.plain)
    ids.chaosOnly = await runContainer(names.chaosOnly, { labels: { 'sentinel.chaos': 'true' } })
    ids.watchOnly = await runContainer(names.watchOnly, { labels: { [WATCH.key]: WATCH.value } })
    for (const n of untouched()) startedAtOf[n] = (await state(n)).StartedAt
    createdAt = Date.now()
    engine = createChaosEngine({
      redis: redis.client,
      audit: new AuditLog(redis.client, auditFile),
      config: { sandboxDir: sandbox, watchLabel: WATCH, pollMs: 200 },
      log: (level, msg, data) => logs.push(`${level} ${msg} ${JSON.stringify(data ?? {})}`),
    })
    await engine.start()
  })

  after(async () => {
    await engine?.stop().catch(() => {})
    await docker('unpause', names.target).catch(() => {})
    await removeContainers(...Object.values(names))
    await redis?.stop()
    rmSync(tmp, { recursive: true, force: true })
  })

  it('is off until asked: no run, no fault', async () => {
    await engine.tick()
    const s = await chaos.state()
    assert.equal(s?.status, 'idle')
    assert.ok(engineAlive(s))
    assert.deepEqual(await chaos.history(), [])
  })

  it('kills only the labelled, watched container over several rounds, even when the others are named', async () => {
    const run = await start({
      faults: { kill: { minIntervalSec: 1, maxIntervalSec: 1 } },
      targets: Object.values(names),
      durationSec: 300,
    })
    assert.deepEqual(run.eligible, [names.target])
    const stopHealer = healer()
    let kills
    try {
      kills = await waitFor(
        async () => {
          const h = (await chaos.history(100, run.runId)).filter((f) => f.kind === 'kill' && f.outcome === 'injected')
          return h.length >= 3 && h
        },
        { timeoutMs: 90_000, intervalMs: 250, what: 'three kills' },
      )
      await stopRun()
    } finally {
      stopHealer()
    }

    const history = await chaos.history(500, run.runId)
    assert.ok(kills.every((f) => f.container?.id === ids.target && f.container.name === names.target))
    assert.ok(
      history.every((f) => !f.container || f.container.id === ids.target),
      'no fault record names another container',
    )
    const targetEvents = await eventsOf(ids.target, createdAt)
    assert.ok(targetEvents.filter((a) => a === 'kill').length >= 3, targetEvents.join(','))
    for (const r of others) {
      const n = names[r]
      assert.deepEqual(await eventsOf(ids[r], createdAt), [], `${n} saw no Docker event`)
      const s = await state(n)
      assert.equal(s.Running, true, `${n} still running`)
      assert.equal(s.StartedAt, startedAtOf[n], `${n} never restarted`)
    }

    // Every injected fault is in the audit log with the run's id, and only those.
    const audit = await new AuditLog(redis.client, auditFile).read(1000)
    const faults = audit.filter((e) => e.kind === 'chaos.fault')
    assert.equal(faults.length, history.filter((f) => f.outcome !== 'skipped').length)
    assert.ok(
      faults.every(
        (e) =>
          e.data?.chaosId === run.runId &&
          e.resource === names.target &&
          (e.data?.container as { id: string }).id === ids.target,
      ),
    )
    assert.ok(audit.some((e) => e.kind === 'chaos.started' && e.data?.chaosId === run.runId))
    assert.ok(
      audit.some(
        (e) => e.kind === 'chaos.stopped' && e.data?.chaosId === run.runId && /stopped by test/.test(e.outcome ?? ''),
      ),
    )

    // Stopped means stopped: no new fault over several intervals.
    const count = (await chaos.history(500)).length
    await sleep(3000)
    assert.equal((await chaos.history(500)).length, count)
    const status = await chaosStatus({ limit: 500 }, deps())
    assert.equal(status.status, 'idle')
    assert.equal(status.summary.injected, history.filter((f) => f.outcome === 'injected').length)
  })

  it('a run that names no eligible container skips every round and touches nothing', async () => {
    const since = Date.now()
    const run = await start({
      faults: {
        kill: { minIntervalSec: 1, maxIntervalSec: 1 },
        slowProbe: { minIntervalSec: 1, maxIntervalSec: 1, pauseSec: 5 },
        cpu: { minIntervalSec: 1, maxIntervalSec: 1, durationSec: 5 },
      },
      targets: untouched(),
      durationSec: 60,
    })
    assert.deepEqual(run.eligible, [])
    assert.ok(run.warnings.some((w) => /will be skipped/.test(w)))
    const rounds = async () => (await chaos.history(100, run.runId)).reduce((n, f) => n + (f.repeats ?? 1), 0)
    await waitFor(async () => (await rounds()) >= 6, { timeoutMs: 30_000, what: 'six rounds' })
    await stopRun()
    const history = await chaos.history(100, run.runId)
    assert.ok(
      history.every((f) => f.outcome === 'skipped' && !f.container),
      JSON.stringify(history),
    )
    // Repeated skips are one record per kind, so they cannot push real faults out of the bounded history.
    assert.deepEqual(history.map((f) => f.kind).sort(), ['cpu', 'kill', 'slowProbe'])
    for (const r of others) assert.deepEqual(await eventsOf(ids[r], since), [], `${names[r]} saw no Docker event`)
  })

  it('stop undoes what is in effect: the paused target is unpaused and the fill in the sandbox removed', async () => {
    await waitFor(async () => (await inspectState(names.target)).Running, {
      timeoutMs: 30_000,
      what: 'the target running again',
    })
    const run = await start({
      faults: {
        slowProbe: { minIntervalSec: 1, maxIntervalSec: 1, pauseSec: 120 },
        fillTemp: { minIntervalSec: 1, maxIntervalSec: 1, bytes: 4 * 1024 * 1024, holdSec: 120 },
      },
      targets: [names.target, names.plain],
      durationSec: 300,
    })
    const active = await waitFor(
      async () => {
        const a = engine.current()?.active ?? []
        return (
          a.some((f) => f.kind === 'slowProbe') &&
          a.some((f) => f.kind === 'fillTemp') &&
          (await inspectState(names.target)).Paused &&
          a
        )
      },
      { timeoutMs: 60_000, intervalMs: 200, what: 'the target paused and temp/ filled' },
    )
    const fill = active.find((f) => f.kind === 'fillTemp')!
    assert.equal(path.dirname(fill.file!), path.join(sandbox, 'temp'), 'the fill is in the sandbox temp/')
    assert.equal(path.basename(fill.file!), chaosFileName(fill.faultId))
    assert.ok(existsSync(fill.file!))
    // The state in Redis says what is in effect, for an engine that would have to clean up after this one.
    const s = (await chaos.state()) as ChaosState
    assert.deepEqual(s.active.map((f) => f.kind).sort(), ['fillTemp', 'slowProbe'])

    await stopRun()
    assert.equal((await inspectState(names.target)).Paused, false, 'unpaused by the stop')
    assert.equal(existsSync(fill.file!), false, 'fill removed by the stop')
    const history = await chaos.history(100, run.runId)
    const injected = history.filter((f) => f.outcome === 'injected')
    assert.ok(injected.length >= 2)
    assert.ok(
      injected.every((f) => f.endedAt && f.endReason === 'run ended'),
      JSON.stringify(injected),
    )
    assert.ok(injected.filter((f) => f.kind === 'slowProbe').every((f) => f.container?.id === ids.target))
  })

  it('an engine that starts undoes what a dead engine left in effect', async () => {
    await waitFor(async () => (await inspectState(names.target)).Running, {
      timeoutMs: 30_000,
      what: 'the target running',
    })
    // What a Sentinel killed mid-fault leaves: its state naming a paused target and a fill file.
    await docker('pause', names.target)
    const file = path.join(sandbox, 'temp', chaosFileName('chf_dead_1'))
    writeFileSync(file, Buffer.alloc(1024))
    const prev = (await chaos.state()) as ChaosState
    await chaos.setState({
      ...prev,
      status: 'running',
      runId: 'chaos_dead_1',
      heartbeatAt: new Date(0).toISOString(),
      active: [
        { faultId: 'chf_dead_1', kind: 'fillTemp', file, until: new Date(Date.now() + 60_000).toISOString() },
        {
          faultId: 'chf_dead_2',
          kind: 'slowProbe',
          container: { id: ids.target, name: names.target },
          until: new Date(Date.now() + 60_000).toISOString(),
        },
      ],
    })
    const second = createChaosEngine({
      redis: redis.client,
      audit: new AuditLog(redis.client, auditFile),
      config: { sandboxDir: sandbox, watchLabel: WATCH, pollMs: 200 },
      log: () => {},
    })
    await second.start()
    try {
      assert.equal((await inspectState(names.target)).Paused, false)
      assert.equal(existsSync(file), false)
      assert.equal((await chaos.state())?.status, 'idle')
    } finally {
      await second.stop()
    }
  })

  it('engine stop ends the busy loops it started and marks the engine stopped', async () => {
    await waitFor(async () => (await inspectState(names.target)).Running, {
      timeoutMs: 30_000,
      what: 'the target running',
    })
    const run = await start({
      faults: { cpu: { minIntervalSec: 1, maxIntervalSec: 1, durationSec: 120, workers: 2 } },
      targets: [names.target],
      durationSec: 300,
    })
    const cpu = await waitFor(() => engine.current()?.active.find((f) => f.kind === 'cpu'), {
      timeoutMs: 60_000,
      intervalMs: 200,
      what: 'busy loops running',
    })
    assert.equal(cpu.pids?.length, 2)
    assert.ok(cpu.pids!.every(isBusyLoop), 'the PIDs are the loops, in the target')
    await engine.stop()
    await waitFor(() => cpu.pids!.every((p) => !isBusyLoop(p)), { timeoutMs: 10_000, what: 'the loops gone' })
    const s = await chaos.state()
    assert.equal(s?.status, 'idle')
    assert.ok(s?.engine.stoppedAt)
    assert.equal(engineAlive(s), false)
    const rec = (await chaos.history(100, run.runId)).find((f) => f.kind === 'cpu' && f.outcome === 'injected')
    assert.equal(rec?.endReason, 'run ended')
    assert.match(rec?.detail ?? '', /loops stopped/)
    // The desired state still asks for the run: a restarted Sentinel would resume it until `until`.
    assert.equal((await chaos.desired())?.status, 'running')
    await stopChaos('test', deps())
  })
})
