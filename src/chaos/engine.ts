/**
 * The chaos engine, in Sentinel's main process. Off until asked: it polls the desired state the
 * Admin API writes (`sentinel:chaos:desired`) every second and converges on it: a run starts one
 * loop per fault kind (a random wait in the kind's interval, then one fault on one random
 * eligible target; at most one fault of a kind at a time), and ends when stopped, when its
 * duration has elapsed, or when the desired state cannot be read for a while (fail safe). Ending a
 * run ends every fault still in effect (unpause, busy loops killed, fill files removed).
 *
 * Eligible: running containers carrying `sentinel.chaos=true` and the watch label (so Sentinel
 * heals what chaos breaks), optionally only those the run names; each is re-inspected right
 * before the act. Every fault goes to the bounded history and, unless skipped, to the audit log
 * as `chaos.fault` with the run's id (`chaosId`), so an incident can be traced to its fault.
 */
import { randomBytes } from 'node:crypto'
import type { Redis } from 'ioredis'
import type { AuditEvent } from '../platform/store/audit'
import type { LogFn } from '../platform/telemetry/log'
import { type ChaosDocker, checkTarget, dockerChaosOps, fillTemp, type Label, removeFill } from './faults'
import { ChaosStore, wantsRun } from './store'
import {
  type ActiveFault,
  CHAOS_LABEL,
  chaosStartBody,
  type ChaosDesired,
  type ChaosPlan,
  type ChaosState,
  FAULT_KINDS,
  type FaultKind,
  type FaultRecord,
  type FaultSpec,
} from './types'

export const CHAOS_ACTOR = 'sentinel:chaos'

export interface ChaosEngineConfig {
  /** The sandbox whose temp/ fillTemp fills. */
  sandboxDir: string
  /** Sentinel's watch label; targets must carry it too. null: the chaos label alone (tests only). */
  watchLabel: Label | null
  /** Default 1000. */
  pollMs?: number
  /** A run ends when the desired state has been unreadable this long; default 10 s. */
  failSafeMs?: number
  historyMax?: number
}

export interface ChaosEngineDeps {
  redis: Redis
  audit: { append(e: Omit<AuditEvent, 'at'> & { at?: string }): Promise<unknown> }
  docker?: ChaosDocker
  config: ChaosEngineConfig
  log: LogFn
  /** [0, 1); for tests. */
  random?: () => number
}

export interface ChaosEngine {
  /** Starts polling; cleans up what a previous engine left in effect (paused containers, fill files). */
  start(): Promise<void>
  /** Ends the current run's faults and stops polling. The desired state is left as it is. */
  stop(): Promise<void>
  /** One poll, now (the timer calls it every pollMs). */
  tick(): Promise<void>
  current(): { runId: string; active: ActiveFault[] } | null
}

interface Running {
  runId: string
  plan: ChaosPlan
  startedAt: string
  until: number
  abort: AbortController
  loops: Promise<void>[]
  active: Map<string, ActiveFault>
  /** The last record of each kind when it was a skip, to fold repeated skips into it. */
  lastSkip: Map<FaultKind, FaultRecord>
}

const newId = (prefix: string) => `${prefix}_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`

/** Resolves after `ms`, or at once when `signal` aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve()
    const done = () => {
      clearTimeout(timer)
      signal.removeEventListener('abort', done)
      resolve()
    }
    const timer = setTimeout(done, ms)
    timer.unref()
    signal.addEventListener('abort', done, { once: true })
  })
}

export function createChaosEngine(deps: ChaosEngineDeps): ChaosEngine {
  const store = new ChaosStore(deps.redis, deps.config.historyMax)
  const docker = deps.docker ?? dockerChaosOps()
  const random = deps.random ?? Math.random
  const pollMs = deps.config.pollMs ?? 1000
  const failSafeMs = deps.config.failSafeMs ?? 10_000
  const labels: Label[] = [CHAOS_LABEL, ...(deps.config.watchLabel ? [deps.config.watchLabel] : [])]
  const engineInfo = { pid: process.pid, startedAt: new Date().toISOString() }
  let run: Running | undefined
  let lastRun: ChaosState['lastRun']
  let timer: NodeJS.Timeout | undefined
  let ticking: Promise<void> | undefined
  let lastDesiredOk = Date.now()
  let lastErrorLog = 0

  const logError = (msg: string, err: unknown) => {
    if (Date.now() - lastErrorLog < 10_000) return
    lastErrorLog = Date.now()
    deps.log('warn', msg, { error: (err as Error).message })
  }

  async function writeState(stopped = false): Promise<void> {
    const state: ChaosState = {
      status: run ? 'running' : 'idle',
      ...(run
        ? { runId: run.runId, plan: run.plan, startedAt: run.startedAt, until: new Date(run.until).toISOString() }
        : {}),
      ...(lastRun ? { lastRun } : {}),
      active: run ? [...run.active.values()] : [],
      heartbeatAt: new Date().toISOString(),
      engine: stopped ? { ...engineInfo, stoppedAt: new Date().toISOString() } : engineInfo,
    }
    await store.setState(state)
  }

  async function record(r: FaultRecord, run?: Running): Promise<void> {
    if (run && r.outcome === 'skipped') {
      // Nothing eligible for an hour would otherwise fill the bounded history with identical skips.
      const prev = run.lastSkip.get(r.kind)
      const rec = prev && prev.detail === r.detail ? { ...prev, at: r.at, repeats: (prev.repeats ?? 1) + 1 } : r
      run.lastSkip.set(r.kind, rec)
      await store.putFault(rec).catch((err) => logError('chaos history not written', err))
      return
    }
    run?.lastSkip.delete(r.kind)
    await store.putFault(r).catch((err) => logError('chaos history not written', err))
    if (r.outcome === 'skipped') return
    await deps.audit.append({
      kind: 'chaos.fault',
      actor: CHAOS_ACTOR,
      resource: r.container?.name ?? 'sandbox/temp',
      outcome: r.outcome,
      data: {
        chaosId: r.runId,
        faultId: r.faultId,
        fault: r.kind,
        ...(r.container ? { container: r.container } : {}),
        params: r.params,
        ...(r.detail ? { detail: r.detail } : {}),
      },
    })
  }

  async function ended(r: FaultRecord, reason: string, detail?: string): Promise<void> {
    const done: FaultRecord = {
      ...r,
      endedAt: new Date().toISOString(),
      endReason: reason,
      ...(detail ? { detail: r.detail ? `${r.detail}; ${detail}` : detail } : {}),
    }
    await store.putFault(done).catch((err) => logError('chaos history not written', err))
    await deps.audit.append({
      kind: 'chaos.fault_ended',
      actor: CHAOS_ACTOR,
      resource: r.container?.name ?? 'sandbox/temp',
      outcome: reason,
      data: {
        chaosId: r.runId,
        faultId: r.faultId,
        fault: r.kind,
        ...(r.container ? { container: r.container } : {}),
        ...(detail ? { detail } : {}),
      },
    })
  }

  /** A random eligible container, re-inspected; or why there is none. */
  async function pickTarget(plan: ChaosPlan): Promise<{ target: { id: string; name: string } } | { refused: string }> {
    let list = await docker.candidates(labels)
    if (plan.targets) list = list.filter((c) => plan.targets!.includes(c.name))
    if (list.length === 0)
      return {
        refused: `no running container carries ${labels.map((l) => `${l.key}=${l.value}`).join(' and ')}${plan.targets ? ' among the targets' : ''}`,
      }
    const pick = list[Math.floor(random() * list.length)]
    return checkTarget(docker, pick.id, deps.config.watchLabel)
  }

  /** Holds a fault in effect until `untilMs` or the run's end, then undoes it. */
  async function hold(
    r: Running,
    fault: ActiveFault,
    rec: FaultRecord,
    undo: () => Promise<string | undefined>,
  ): Promise<void> {
    r.active.set(fault.faultId, fault)
    await writeState().catch(() => {})
    await sleep(Date.parse(fault.until) - Date.now(), r.abort.signal)
    let detail: string | undefined
    try {
      detail = await undo()
    } catch (err) {
      detail = `undo failed: ${(err as Error).message}`
      deps.log('error', 'chaos fault could not be undone', {
        faultId: fault.faultId,
        kind: fault.kind,
        error: (err as Error).message,
      })
    }
    r.active.delete(fault.faultId)
    await ended(rec, r.abort.signal.aborted ? 'run ended' : 'duration elapsed', detail)
  }

  async function inject<K extends FaultKind>(r: Running, kind: K, spec: FaultSpec<K>): Promise<void> {
    const faultId = newId('chf')
    const base = { faultId, runId: r.runId, kind, at: new Date().toISOString() }
    const { minIntervalSec: _a, maxIntervalSec: _b, ...params } = spec as Record<string, unknown>

    if (kind === 'fillTemp') {
      const s = spec as FaultSpec<'fillTemp'>
      const holdMs = s.holdSec * 1000
      let file: string
      try {
        const res = await fillTemp({
          sandboxDir: deps.config.sandboxDir,
          targetBytes: s.bytes,
          faultId,
          signal: r.abort.signal,
        })
        file = res.file
        const rec: FaultRecord = {
          ...base,
          outcome: 'injected',
          ...(res.filesystem ? { filesystem: res.filesystem } : {}),
          params: { ...params, written: res.written, before: res.before },
          detail: `wrote ${res.written} bytes to ${file}`,
        }
        await record(rec, r)
        const fault: ActiveFault = { faultId, kind, file, until: new Date(Date.now() + holdMs).toISOString() }
        await hold(r, fault, rec, async () =>
          (await removeFill(deps.config.sandboxDir, file)) ? 'fill removed' : 'fill already gone',
        )
      } catch (err) {
        await record(
          {
            ...base,
            outcome: (err as Error).name === 'FillRefusedError' ? 'skipped' : 'failed',
            params,
            detail: (err as Error).message,
          },
          r,
        )
      }
      return
    }

    const picked = await pickTarget(r.plan)
    if ('refused' in picked) {
      await record({ ...base, outcome: 'skipped', params, detail: picked.refused }, r)
      return
    }
    const { target } = picked
    try {
      if (kind === 'kill') {
        await docker.kill(target.id)
        await record(
          { ...base, outcome: 'injected', container: target, params, detail: 'SIGKILL through the Docker API' },
          r,
        )
      } else if (kind === 'slowProbe') {
        const s = spec as FaultSpec<'slowProbe'>
        const fault: ActiveFault = {
          faultId,
          kind,
          container: target,
          until: new Date(Date.now() + s.pauseSec * 1000).toISOString(),
        }
        // In the state before the pause, so an engine that dies now leaves a note to unpause it.
        r.active.set(faultId, fault)
        await writeState().catch(() => {})
        await docker.pause(target.id)
        const rec: FaultRecord = { ...base, outcome: 'injected', container: target, params, detail: 'paused' }
        await record(rec, r)
        await hold(r, fault, rec, async () => {
          const again = await docker.inspect(target.id).catch(() => null)
          if (!again?.State?.Paused) return 'no longer paused'
          await docker.unpause(target.id)
          return 'unpaused'
        })
      } else if (kind === 'cpu') {
        const s = spec as FaultSpec<'cpu'>
        const loops: { execId: string; pid: number }[] = []
        try {
          for (let i = 0; i < s.workers; i++) loops.push(await docker.startBusyLoop(target.id, s.durationSec))
        } catch (err) {
          for (const l of loops) await docker.stopBusyLoop(l.execId, l.pid).catch(() => false)
          throw err
        }
        const rec: FaultRecord = {
          ...base,
          outcome: 'injected',
          container: target,
          params,
          detail: `${loops.length} busy loop(s) for ${s.durationSec} s`,
        }
        await record(rec, r)
        const fault: ActiveFault = {
          faultId,
          kind,
          container: target,
          pids: loops.map((l) => l.pid),
          until: new Date(Date.now() + s.durationSec * 1000).toISOString(),
        }
        await hold(r, fault, rec, async () => {
          if (!r.abort.signal.aborted) return 'loops ended by themselves'
          const stopped = await Promise.all(loops.map((l) => docker.stopBusyLoop(l.execId, l.pid).catch(() => false)))
          return stopped.every(Boolean)
            ? 'loops stopped'
            : 'some loops end at their deadline (their PID was not reachable)'
        })
      }
    } catch (err) {
      r.active.delete(faultId)
      await record({ ...base, outcome: 'failed', container: target, params, detail: (err as Error).message }, r)
    }
  }

  async function loop<K extends FaultKind>(r: Running, kind: K, spec: FaultSpec<K>): Promise<void> {
    while (!r.abort.signal.aborted) {
      const { minIntervalSec: lo, maxIntervalSec: hi } = spec
      await sleep((lo + random() * (hi - lo)) * 1000, r.abort.signal)
      if (r.abort.signal.aborted || Date.now() >= r.until) break
      try {
        await inject(r, kind, spec)
      } catch (err) {
        deps.log('error', 'chaos fault failed', { kind, error: (err as Error).message })
      }
    }
  }

  async function startRun(d: ChaosDesired): Promise<void> {
    const parsed = chaosStartBody.safeParse(d.plan)
    if (!parsed.success) {
      logError(
        `chaos run ${d.runId} refused: its plan is invalid`,
        new Error(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')),
      )
      return
    }
    const r: Running = {
      runId: d.runId,
      plan: parsed.data,
      startedAt: new Date().toISOString(),
      until: Date.parse(d.until),
      abort: new AbortController(),
      loops: [],
      active: new Map(),
      lastSkip: new Map(),
    }
    run = r
    await deps.audit.append({
      kind: 'chaos.started',
      actor: CHAOS_ACTOR,
      outcome: 'running',
      data: { chaosId: r.runId, requestedBy: d.requestedBy, plan: r.plan, until: d.until },
    })
    deps.log('info', 'chaos run started', { chaosId: r.runId, faults: Object.keys(r.plan.faults), until: d.until })
    for (const kind of FAULT_KINDS) {
      const spec = r.plan.faults[kind]
      if (spec) r.loops.push(loop(r, kind, spec as FaultSpec<typeof kind>))
    }
  }

  async function endRun(reason: string): Promise<void> {
    const r = run
    if (!r) return
    r.abort.abort()
    await Promise.all(r.loops)
    run = undefined
    lastRun = { runId: r.runId, endedAt: new Date().toISOString(), reason }
    await deps.audit
      .append({ kind: 'chaos.stopped', actor: CHAOS_ACTOR, outcome: reason, data: { chaosId: r.runId } })
      .catch(() => {})
    deps.log('info', 'chaos run ended', { chaosId: r.runId, reason })
  }

  const endReason = (d: ChaosDesired | null, r: Running) => {
    if (!d || d.runId !== r.runId) return 'replaced by another run'
    if (d.status === 'stopped') return `stopped by ${d.stoppedBy ?? 'request'}`
    return 'duration elapsed'
  }

  async function doTick(): Promise<void> {
    let desired: ChaosDesired | null
    try {
      desired = await store.desired()
      lastDesiredOk = Date.now()
    } catch (err) {
      logError('chaos desired state unreadable', err)
      if (run && (Date.now() - lastDesiredOk > failSafeMs || Date.now() >= run.until))
        await endRun('desired state unreadable')
      return
    }
    const want = wantsRun(desired) ? desired : null
    if (run && (!want || want.runId !== run.runId || Date.now() >= run.until)) await endRun(endReason(desired, run))
    if (want && !run) await startRun(want)
    await writeState()
  }

  function tick(): Promise<void> {
    // One poll at a time; a caller arriving mid-poll waits for that one.
    ticking ??= doTick()
      .catch((err) => logError('chaos poll failed', err))
      .finally(() => {
        ticking = undefined
      })
    return ticking
  }

  /** Undoes what a previous engine (a crashed Sentinel) left in effect. */
  async function recover(): Promise<void> {
    const prev = await store.state()
    for (const fault of prev?.active ?? []) {
      let detail = 'nothing to undo'
      try {
        if (fault.kind === 'slowProbe' && fault.container) {
          const info = await docker.inspect(fault.container.id).catch(() => null)
          if (info?.State?.Paused) {
            await docker.unpause(fault.container.id)
            detail = 'unpaused'
          }
        } else if (fault.kind === 'fillTemp' && fault.file) {
          detail = (await removeFill(deps.config.sandboxDir, fault.file)) ? 'fill removed' : 'fill already gone'
        } else if (fault.kind === 'cpu') {
          // PIDs from another engine's lifetime may belong to anything now: never kill them.
          detail = 'busy loops end at their own deadline'
        }
      } catch (err) {
        detail = `undo failed: ${(err as Error).message}`
      }
      const rec = await store.fault(fault.faultId).catch(() => null)
      if (rec && !rec.endedAt) await ended(rec, 'engine restarted', detail)
      deps.log('info', 'chaos fault left by a previous engine undone', {
        faultId: fault.faultId,
        kind: fault.kind,
        detail,
      })
    }
  }

  return {
    async start() {
      if (timer) return
      await recover().catch((err) => deps.log('warn', 'chaos recovery failed', { error: (err as Error).message }))
      timer = setInterval(() => void tick(), pollMs)
      timer.unref()
      await tick()
    },
    async stop() {
      if (timer) clearInterval(timer)
      timer = undefined
      await ticking
      await endRun('engine stopped')
      await writeState(true).catch(() => {})
    },
    tick,
    current: () => (run ? { runId: run.runId, active: [...run.active.values()] } : null),
  }
}
