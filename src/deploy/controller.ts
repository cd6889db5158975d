/**
 * The deploy controller, in the main process of the controller leading the `deploys` duty: every
 * half second it drives each deploy under way (read from Redis, so a restart or another controller
 * picks it up where it stood) one move further:
 *
 *   pending ─► canary (step 1: one task) ─► canary (25 %) ─► promoting (Swarm's rolling update) ─► succeeded
 *                  └──── gate fails / abort ────► rolling_back ─► rolled_back | aborted
 *
 * During the canary steps the service itself is never touched (swarm-ops.ts says why a separate
 * canary service). Each look compares the canary's tasks with the old ones (gate.ts); a failure
 * rolls back at once and opens an incident whose alert carries the comparison, with the deploy's
 * steps on its timeline. Every move is in the deploy's own timeline, its trace (one per deploy) and
 * the audit log (and so the live stream). A paused deploy is still judged (a failing canary is rolled back) but not promoted.
 */
import { createHash } from 'node:crypto'
import type { Redis } from 'ioredis'
import type { SentinelConfig } from '../platform/config/index'
import { PrometheusClient } from '../platform/prometheus/client'
import { recordDeploySpan } from '../platform/telemetry/tracing'
import type { AuditLog } from '../platform/store/audit'
import type { IncidentStore } from '../platform/store/incidents'
import {
  isClosed,
  note,
  recordActionResult,
  recordDecision,
  recordVerification,
  resolve,
  startRemediation,
} from '../platform/store/lifecycle'
import type { Alert } from '../platform/store/model'
import { assertWatchedService, FAILED_STATES, isRunning, type ServiceInfo } from '../platform/swarm/client'
import { canaryShare, evaluateGate, type GateSettings, type GateVerdict, type GroupReading } from './gate'
import { type Deploy, DeployStore, isFinished, pushEvent } from './store'
import {
  canarySpec,
  containerHealth,
  createCanary,
  findCanary,
  imageName,
  inspectService,
  probeTask,
  promoteService,
  removeCanary,
  rollbackService,
  scaleCanary,
  serviceTasks,
  type TaskSummary,
} from './swarm-ops'

export const DEPLOY_ACTOR = 'sentinel:deploy-controller'

type Log = (level: 'info' | 'warn' | 'error', msg: string, data?: Record<string, unknown>) => void

export interface DeployControllerDeps {
  redis: Redis
  store: IncidentStore
  audit: AuditLog
  config: Pick<
    SentinelConfig,
    | 'CANARY_GATE_SECONDS'
    | 'CANARY_START_TIMEOUT_SECONDS'
    | 'CANARY_MAX_RESTARTS'
    | 'CANARY_MAX_ERROR_RATE_DELTA'
    | 'CANARY_MAX_LATENCY_RATIO'
    | 'CANARY_PROBE_INTERVAL_MS'
    | 'CANARY_PROMOTE_TIMEOUT_SECONDS'
    | 'PROMETHEUS_URL'
  >
  log: Log
  /** PromQL: the expression's value for one service (the controller substitutes `$service`); absent: not asked. */
  queryPromql?: (expr: string) => Promise<number | null>
  tickMs?: number
}

/** What the controller counts for one step of one deploy, in memory (a restart begins the window again). */
interface StepWindow {
  key: string
  startedAt: number
  canary: { ok: number; errors: number; latencies: number[] }
  baseline: { ok: number; errors: number; latencies: number[] }
  lastProbeAt: number
  baselineCursor: number
}

const isFailedTask = (t: TaskSummary) => FAILED_STATES.has(t.state) || t.state === 'complete'
const since = (t: TaskSummary, ms: number) => Date.parse(t.updatedAt || t.createdAt) >= ms

export function gateSettings(c: DeployControllerDeps['config']): GateSettings {
  return {
    gateMs: c.CANARY_GATE_SECONDS * 1000,
    startTimeoutMs: c.CANARY_START_TIMEOUT_SECONDS * 1000,
    maxRestarts: c.CANARY_MAX_RESTARTS,
    maxErrorRateDelta: c.CANARY_MAX_ERROR_RATE_DELTA,
    maxLatencyRatio: c.CANARY_MAX_LATENCY_RATIO,
    latencySlackMs: 100,
    minProbeSamples: 5,
    minFailSamples: 3,
    maxPromqlRatio: 1.5,
    promqlSlack: 0.01,
  }
}

/** The incident of one failed deploy: the same id for the same deploy, so a retry opens no second one. */
export function deployIncidentId(deployId: string, atMs: number): string {
  const h = createHash('sha256').update(`deploy:${deployId}`).digest('hex').slice(0, 10)
  return `inc_${atMs.toString(36)}_${h}`
}

export class DeployController {
  private readonly deploys: DeployStore
  private timer?: NodeJS.Timeout
  private running = false
  private stopped = false
  private windows = new Map<string, StepWindow>()
  private readonly settings: GateSettings

  constructor(private readonly deps: DeployControllerDeps) {
    this.deploys = new DeployStore(deps.redis)
    this.settings = gateSettings(deps.config)
  }

  start(): void {
    this.stopped = false
    // Each look probes the tasks at most every CANARY_PROBE_INTERVAL_MS; a look at least every half second.
    this.timer = setInterval(
      () => void this.tick(),
      this.deps.tickMs ?? Math.min(500, this.deps.config.CANARY_PROBE_INTERVAL_MS),
    )
    this.timer.unref()
  }

  async stop(): Promise<void> {
    this.stopped = true
    if (this.timer) clearInterval(this.timer)
    while (this.running) await new Promise((r) => setTimeout(r, 50))
  }

  /** One look at every deploy under way; a deploy's error is logged and retried at the next look. */
  async tick(): Promise<void> {
    if (this.running || this.stopped) return
    this.running = true
    try {
      const active = await this.deploys.active()
      await Promise.all(
        active.map((d) =>
          this.drive(d).catch((err) =>
            this.deps.log('warn', 'deploy step failed; retrying', { deploy: d.id, error: (err as Error).message }),
          ),
        ),
      )
      for (const key of this.windows.keys())
        if (!active.some((d) => key.startsWith(`${d.id}#`))) this.windows.delete(key)
    } catch (err) {
      this.deps.log('warn', 'could not read the deploys', { error: (err as Error).message })
    } finally {
      this.running = false
    }
  }

  private async event(
    d: Deploy,
    kind: string,
    summary: string,
    data?: Record<string, unknown>,
    mutate?: (d: Deploy) => void,
  ) {
    const next = await this.deploys.update(d.id, (x) => {
      mutate?.(x)
      pushEvent(x, { kind, actor: DEPLOY_ACTOR, summary, data })
    })
    await this.deps.audit.append({
      kind: `deploy.${kind}`,
      actor: DEPLOY_ACTOR,
      resource: d.service,
      ...(next.incidentId ? { incidentId: next.incidentId } : {}),
      outcome: next.phase,
      data: { deployId: d.id, image: d.image, step: next.stepIndex, ...(data ?? {}) },
    })
    this.deps.log('info', `deploy ${kind}`, { deploy: d.id, service: d.service, summary })
    // The deploy's trace: one span per step, and the whole deploy once it is finished.
    await recordDeploySpan(
      d.id,
      kind,
      {
        service: d.service,
        image: d.image,
        phase: next.phase,
        step: next.stepIndex,
        ...(next.incidentId ? { 'incident.id': next.incidentId } : {}),
      },
      isFinished(next) ? { startTime: next.requestedAt, outcome: next.phase } : undefined,
    ).catch(() => {})
    return next
  }

  private async drive(d: Deploy): Promise<void> {
    if (isFinished(d)) return
    if (d.abortRequested && d.phase !== 'rolling_back') {
      await this.event(d, 'aborting', `abort asked by ${d.abortRequested.by}: rolling back`, undefined, (x) => {
        x.phase = 'rolling_back'
        x.reason = `aborted by ${d.abortRequested!.by}`
      })
      return
    }
    switch (d.phase) {
      case 'pending':
        return this.startCanary(d)
      case 'canary':
        return this.watchCanary(d)
      case 'promoting':
        return this.watchPromotion(d)
      case 'rolling_back':
        return this.rollBack(d)
    }
  }

  /** The watched service, or null (and the deploy failed) when it is gone or no longer watched. */
  private async original(d: Deploy): Promise<ServiceInfo | null> {
    try {
      return await assertWatchedService(d.serviceId)
    } catch (err) {
      await this.event(
        d,
        'failed',
        `service ${d.service} can no longer be deployed to: ${(err as Error).message}`,
        undefined,
        (x) => {
          x.phase = 'rolling_back'
          x.reason = (err as Error).message
        },
      )
      return null
    }
  }

  private async startCanary(d: Deploy): Promise<void> {
    const original = await this.original(d)
    if (!original) return
    let canary = await findCanary(d.service, d.id)
    if (!canary) {
      const id = await createCanary(
        canarySpec(original.Spec, { deployId: d.id, image: d.image, env: d.env, replicas: d.steps[0] }),
      )
      canary = await inspectService(id)
    }
    await this.event(
      d,
      'canary_started',
      `canary ${d.canaryService} started with ${d.steps[0]} task(s) of ${d.image} beside the ${d.replicas} old ones (${pctOf(d.steps[0], d.replicas)} of the traffic)`,
      { canaryTasks: d.steps[0], share: canaryShare(d.steps[0], d.replicas) },
      (x) => {
        x.phase = 'canary'
        x.stepIndex = 0
        x.stepStartedAt = new Date().toISOString()
        x.canaryServiceId = canary?.ID
      },
    )
  }

  private window(d: Deploy): StepWindow {
    const key = `${d.id}#${d.stepIndex}#${d.stepStartedAt}`
    let w = this.windows.get(key)
    if (!w) {
      w = {
        key,
        startedAt: Date.parse(d.stepStartedAt ?? new Date().toISOString()),
        canary: { ok: 0, errors: 0, latencies: [] },
        baseline: { ok: 0, errors: 0, latencies: [] },
        lastProbeAt: 0,
        baselineCursor: 0,
      }
      // A controller that takes a deploy over mid-step judges a whole window of its own.
      if (Date.now() - w.startedAt > 2000) w.startedAt = Date.now()
      this.windows.set(key, w)
    }
    return w
  }

  private async watchCanary(d: Deploy): Promise<void> {
    const original = await this.original(d)
    if (!original) return
    const want = d.steps[d.stepIndex]
    let canary = await findCanary(d.service, d.id)
    if (!canary) {
      // Made at the step before a restart, or removed by someone: made again, the step begun again.
      const id = await createCanary(
        canarySpec(original.Spec, { deployId: d.id, image: d.image, env: d.env, replicas: want }),
      )
      canary = await inspectService(id)
      if (!canary) return
    }
    if ((canary.Spec.Mode?.Replicated?.Replicas ?? 0) !== want) await scaleCanary(canary, want)
    const w = this.window(d)
    const [canaryTasks, oldTasks] = await Promise.all([serviceTasks(canary.ID), serviceTasks(original.ID)])
    const canaryRunning = canaryTasks.filter(isRunning)
    const oldRunning = oldTasks.filter(isRunning)
    if (d.probe && Date.now() - w.lastProbeAt >= this.deps.config.CANARY_PROBE_INTERVAL_MS) {
      w.lastProbeAt = Date.now()
      await this.probe(d, w, canaryRunning, oldRunning)
    }
    const [canaryHealth, oldHealth] = await Promise.all([
      Promise.all(canaryRunning.map((t) => (t.containerId ? containerHealth(t.containerId) : null))),
      Promise.all(oldRunning.slice(0, 3).map((t) => (t.containerId ? containerHealth(t.containerId) : null))),
    ])
    const reading = (
      tasks: TaskSummary[],
      running: TaskSummary[],
      health: (string | null)[],
      desired: number,
      p: StepWindow['canary'],
    ): GroupReading => ({
      desired,
      running: running.length,
      failed: tasks.filter((t) => isFailedTask(t) && since(t, w.startedAt)).length,
      unhealthy: health.filter((h) => h === 'unhealthy').length,
      probeOk: p.ok,
      probeErrors: p.errors,
      latenciesMs: p.latencies,
    })
    const canaryReading = reading(canaryTasks, canaryRunning, canaryHealth, want, w.canary)
    const baselineReading = reading(oldTasks, oldRunning, oldHealth, d.replicas, w.baseline)
    if (d.promql && this.deps.queryPromql) {
      const q = (service: string) => this.deps.queryPromql!(d.promql!.replaceAll('$service', service)).catch(() => null)
      ;[canaryReading.promql, baselineReading.promql] = await Promise.all([q(d.canaryService), q(d.service)])
    }
    const verdict = evaluateGate(
      {
        canary: canaryReading,
        baseline: baselineReading,
        elapsedMs: Date.now() - w.startedAt,
        probe: Boolean(d.probe),
        promql: Boolean(d.promql && this.deps.queryPromql),
      },
      this.settings,
    )
    await this.judge(d, verdict, original)
  }

  private async probe(d: Deploy, w: StepWindow, canary: TaskSummary[], old: TaskSummary[]): Promise<void> {
    const { port, path } = d.probe!
    // Every canary task, and as many old ones (taken in turn), so both sides have as many answers.
    const n = Math.max(1, canary.length)
    const oldPick: TaskSummary[] = []
    for (let i = 0; i < Math.min(n, old.length); i++) oldPick.push(old[(w.baselineCursor + i) % old.length])
    w.baselineCursor += oldPick.length
    const ask = (t: TaskSummary) => (t.containerId ? probeTask(t.containerId, port, path) : null)
    const [c, b] = await Promise.all([Promise.all(canary.map(ask)), Promise.all(oldPick.map(ask))])
    const add = (into: StepWindow['canary'], answers: (Awaited<ReturnType<typeof probeTask>> | null)[]) => {
      for (const a of answers) {
        if (!a) continue
        if (a.ok) into.ok++
        else into.errors++
        if (a.status !== null) into.latencies.push(a.latencyMs)
      }
      if (into.latencies.length > 2000) into.latencies.splice(0, into.latencies.length - 2000)
    }
    add(w.canary, c)
    add(w.baseline, b)
  }

  private async judge(d: Deploy, verdict: GateVerdict, original: ServiceInfo): Promise<void> {
    if (verdict.state === 'watching') {
      const waitingFor = d.paused ? `paused (${verdict.waitingFor})` : verdict.waitingFor
      if (waitingFor !== d.waitingFor || Date.now() - Date.parse(d.updatedAt) > 2000)
        await this.deploys.update(d.id, (x) => {
          x.gate = verdict.comparison
          x.waitingFor = waitingFor
        })
      return
    }
    if (verdict.state === 'fail') return this.gateFailed(d, verdict)
    if (d.paused) {
      if (d.waitingFor !== 'paused: the gate holds')
        await this.deploys.update(d.id, (x) => {
          x.gate = verdict.comparison
          x.waitingFor = 'paused: the gate holds'
        })
      return
    }
    const count = d.steps[d.stepIndex]
    if (d.stepIndex + 1 < d.steps.length) {
      const next = d.steps[d.stepIndex + 1]
      await this.event(
        d,
        'step_passed',
        `gate held for ${verdict.comparison.elapsedSeconds} s with ${count} canary task(s); canary to ${next} task(s) (${pctOf(next, d.replicas)} of the traffic)`,
        { comparison: verdict.comparison, canaryTasks: next, share: canaryShare(next, d.replicas) },
        (x) => {
          x.stepIndex = d.stepIndex + 1
          x.stepStartedAt = new Date().toISOString()
          x.gate = verdict.comparison
          x.waitingFor = undefined
        },
      )
      return
    }
    // Every canary step held: the service itself to the new image (unless a restart finds it done already).
    if (imageName(original.Spec.TaskTemplate.ContainerSpec?.Image) !== imageName(d.image))
      await promoteService(original, { image: d.image, env: d.env, replicas: d.replicas })
    await this.event(
      d,
      'promoting',
      `gate held for ${verdict.comparison.elapsedSeconds} s with ${count} canary task(s); updating all ${d.replicas} tasks of ${d.service} to ${d.image}`,
      { comparison: verdict.comparison },
      (x) => {
        x.phase = 'promoting'
        x.promotedAt = new Date().toISOString()
        x.gate = verdict.comparison
        x.waitingFor = undefined
      },
    )
  }

  private async watchPromotion(d: Deploy): Promise<void> {
    const original = await this.original(d)
    if (!original) return
    const state = original.UpdateStatus?.State ?? null
    const tasks = await serviceTasks(original.ID)
    const current = tasks.filter((t) => isRunning(t) && t.image === imageName(d.image))
    const stale = tasks.filter((t) => isRunning(t) && t.image !== imageName(d.image))
    const specImage = imageName(original.Spec.TaskTemplate.ContainerSpec?.Image)
    if (
      state === 'rollback_started' ||
      state === 'rollback_completed' ||
      state === 'rollback_paused' ||
      state === 'paused' ||
      specImage !== imageName(d.image)
    ) {
      return this.gateFailed(d, {
        state: 'fail',
        reasons: [
          `Swarm's rolling update of ${d.service} to ${d.image} stopped: ${state ?? 'spec changed'}${original.UpdateStatus?.Message ? ` (${original.UpdateStatus.Message})` : ''}`,
        ],
        comparison: d.gate ?? emptyComparison(),
      })
    }
    if ((state === 'completed' || state === null) && current.length >= d.replicas && stale.length === 0) {
      await removeCanary(d.service, d.id)
      await this.event(
        d,
        'succeeded',
        `${d.service} runs ${d.image} on all ${d.replicas} tasks; canary removed`,
        undefined,
        (x) => {
          x.phase = 'succeeded'
          x.finishedAt = new Date().toISOString()
          x.waitingFor = undefined
        },
      )
      return
    }
    if (Date.now() - Date.parse(d.promotedAt ?? d.updatedAt) > this.deps.config.CANARY_PROMOTE_TIMEOUT_SECONDS * 1000)
      return this.gateFailed(d, {
        state: 'fail',
        reasons: [
          `the rolling update of ${d.service} did not finish within ${this.deps.config.CANARY_PROMOTE_TIMEOUT_SECONDS} s (${current.length}/${d.replicas} tasks updated)`,
        ],
        comparison: d.gate ?? emptyComparison(),
      })
    const waitingFor = `${current.length}/${d.replicas} tasks on ${d.image} (update ${state ?? 'starting'})`
    if (waitingFor !== d.waitingFor) await this.deploys.update(d.id, (x) => void (x.waitingFor = waitingFor))
  }

  /** The gate failed: rolling back at once, and an incident that shows the comparison. */
  private async gateFailed(d: Deploy, verdict: Extract<GateVerdict, { state: 'fail' }>): Promise<void> {
    const incidentId = await this.openIncident(d, verdict)
    await this.event(
      d,
      'gate_failed',
      `gate failed: ${verdict.reasons.join('; ')}; rolling back`,
      { comparison: verdict.comparison, reasons: verdict.reasons },
      (x) => {
        x.phase = 'rolling_back'
        x.reason = verdict.reasons.join('; ')
        x.reasons = verdict.reasons
        x.gate = verdict.comparison
        x.incidentId = incidentId
      },
    )
  }

  private async openIncident(d: Deploy, verdict: Extract<GateVerdict, { state: 'fail' }>): Promise<string> {
    const { store, audit } = this.deps
    const now = Date.now()
    const c = verdict.comparison
    const alert: Alert = {
      fingerprint: `deploy:${d.id}`,
      type: 'service_degraded',
      severity: 'warning',
      metric: 'canary_gate',
      value: c.canary.errorRate,
      threshold: this.settings.maxErrorRateDelta,
      resource: { kind: 'service', id: d.serviceId, name: d.service },
      labels: { service: d.service, deploy: d.id, image: d.image },
      source: 'canary gate',
      at: new Date(now).toISOString(),
      details: {
        deployId: d.id,
        image: d.image,
        previousImage: d.previousImage,
        step: d.stepIndex + 1,
        canaryTasks: d.steps[d.stepIndex] ?? null,
        phase: d.phase,
        reasons: verdict.reasons,
        comparison: c,
      },
    }
    const id = d.incidentId ?? deployIncidentId(d.id, now)
    const { incident, created } = await store.open(alert, {
      title: `canary of ${d.image} on ${d.service} failed its health gate: ${verdict.reasons[0]}`,
      actor: DEPLOY_ACTOR,
      id,
    })
    if (created) {
      await audit.append({
        kind: 'incident.opened',
        actor: DEPLOY_ACTOR,
        incidentId: incident.id,
        resource: d.service,
        data: { type: alert.type, fingerprint: alert.fingerprint, deployId: d.id, comparison: c },
      })
      // The deploy's steps so far, on the incident's own timeline.
      await store.update(incident.id, (i) => {
        for (const e of d.events)
          note(i, {
            actor: e.actor,
            at: e.at,
            summary: `deploy ${d.id}: ${e.summary}`,
            data: { deployId: d.id, kind: e.kind },
          })
        return true
      })
    }
    if (!incident.decision && !isClosed(incident)) {
      let decided = false
      const decision = {
        route: 'auto' as const,
        risk: 'medium' as const,
        actionId: 'canary_rollback',
        params: { service: d.service, deployId: d.id },
        rule: 'canary-gate',
        reasons: [
          `the canary of ${d.image} is worse than the old tasks: ${verdict.reasons.join('; ')}`,
          'the deploy controller rolls a failed canary back by itself',
        ],
        decidedAt: new Date().toISOString(),
      }
      await store.update(incident.id, (i) => {
        decided = recordDecision(i, decision, DEPLOY_ACTOR)
        if (decided)
          startRemediation(i, {
            actionId: 'canary_rollback',
            params: decision.params,
            snapshot: {
              service: d.service,
              image: d.previousImage,
              replicas: d.replicas,
              canary: d.canaryService,
              canaryTasks: d.steps[d.stepIndex] ?? null,
            },
            startedAt: decision.decidedAt,
          })
        return decided
      })
      if (decided)
        await audit.append({
          kind: 'policy.decided',
          actor: DEPLOY_ACTOR,
          incidentId: incident.id,
          resource: d.service,
          outcome: 'auto',
          data: { ...decision },
        })
    }
    return incident.id
  }

  /** Removes the canary (and undoes a promotion), then checks the service runs its old image on every task. */
  private async rollBack(d: Deploy): Promise<void> {
    const removed = await removeCanary(d.service, d.id)
    if (removed) await this.event(d, 'canary_removed', `canary service ${d.canaryService} removed`)
    const original = await inspectService(d.serviceId)
    if (!original) return this.finish(d, false, `service ${d.service} is gone`)
    const specImage = imageName(original.Spec.TaskTemplate.ContainerSpec?.Image)
    if (
      specImage === imageName(d.image) &&
      imageName(original.PreviousSpec?.TaskTemplate.ContainerSpec?.Image) === imageName(d.previousImage)
    ) {
      await rollbackService(original)
      await this.event(d, 'service_rollback', `${d.service} rolled back by Swarm to ${d.previousImage}`)
      return
    }
    const tasks = await serviceTasks(original.ID)
    const back = tasks.filter((t) => isRunning(t) && t.image === imageName(d.previousImage))
    const updating = ['updating', 'rollback_started'].includes(original.UpdateStatus?.State ?? '')
    if (specImage === imageName(d.previousImage) && back.length >= d.replicas && !updating)
      return this.finish(d, true, `${d.service} runs ${d.previousImage} on ${back.length}/${d.replicas} tasks`)
    const startedMs = Date.parse(d.events.at(-1)?.at ?? d.updatedAt)
    if (Date.now() - startedMs > this.deps.config.CANARY_PROMOTE_TIMEOUT_SECONDS * 1000)
      return this.finish(
        d,
        false,
        `${d.service} runs ${back.length}/${d.replicas} tasks of ${d.previousImage} after the rollback`,
      )
    const waitingFor = `rollback: ${back.length}/${d.replicas} tasks on ${d.previousImage}`
    if (waitingFor !== d.waitingFor) await this.deploys.update(d.id, (x) => void (x.waitingFor = waitingFor))
  }

  private async finish(d: Deploy, ok: boolean, detail: string): Promise<void> {
    const aborted = Boolean(d.abortRequested) && !d.incidentId
    const phase = !ok ? 'failed' : aborted ? 'aborted' : 'rolled_back'
    const next = await this.event(d, phase, `${aborted ? 'aborted' : 'rolled back'}: ${detail}`, undefined, (x) => {
      x.phase = phase
      x.finishedAt = new Date().toISOString()
      x.waitingFor = undefined
    })
    if (!next.incidentId) return
    const { store, audit } = this.deps
    let resolved = false
    await store.update(next.incidentId, (i) => {
      if (isClosed(i)) return false
      const params = { service: d.service, deployId: d.id }
      if (i.actions.some((a) => a.actionId === 'canary_rollback' && a.status === 'started'))
        recordActionResult(
          i,
          ok
            ? {
                actionId: 'canary_rollback',
                params,
                actor: DEPLOY_ACTOR,
                ok: true,
                result: {
                  performed: `canary ${d.canaryService} removed${d.promotedAt ? ', service rolled back' : ''}`,
                },
              }
            : { actionId: 'canary_rollback', params, actor: DEPLOY_ACTOR, ok: false, error: detail },
        )
      if (!ok) return true
      recordVerification(i, { actor: DEPLOY_ACTOR, summary: detail, data: { ok: true } })
      resolved = resolve(i, { actor: DEPLOY_ACTOR, summary: `deploy ${d.id} rolled back; ${detail}` })
      return true
    })
    await audit.append({
      kind: ok ? 'action.executed' : 'action.failed',
      actor: DEPLOY_ACTOR,
      incidentId: next.incidentId,
      resource: d.service,
      outcome: ok ? 'success' : 'failure',
      data: { actionId: 'canary_rollback', deployId: d.id, detail },
    })
    if (resolved)
      await audit.append({
        kind: 'incident.resolved',
        actor: DEPLOY_ACTOR,
        incidentId: next.incidentId,
        resource: d.service,
        outcome: 'rolled back',
      })
  }
}

const pctOf = (canary: number, old: number) => `${Math.round(canaryShare(canary, old) * 100)} %`

function emptyComparison() {
  const g = { desired: 0, running: 0, failed: 0, unhealthy: 0, probes: 0, errorRate: null, p50LatencyMs: null }
  return { canary: g, baseline: { ...g }, elapsedSeconds: 0 }
}

/**
 * The gate's PromQL reader on PROMETHEUS_URL (undefined without one): the expression, with
 * `$service` replaced, should give one sample; several are summed, none is no reading.
 */
export function promqlReader(url: string | undefined): ((expr: string) => Promise<number | null>) | undefined {
  if (!url) return undefined
  const client = new PrometheusClient({ url, timeoutMs: 3000 })
  return async (expr) => {
    const samples = (await client.query(expr)).filter((s) => Number.isFinite(s.value))
    return samples.length ? samples.reduce((a, s) => a + s.value, 0) : null
  }
}
