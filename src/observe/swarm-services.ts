/**
 * Swarm services as resources Sentinel watches: every SWARM_POLL_SECONDS the services carrying the
 * watch label and their tasks are read from the Engine API (in the main process, where the Docker
 * client lives; no step process pays for dockerode), and an incident opens for a service that
 * - runs fewer tasks than its replicas for SWARM_DEGRADED_SECONDS (a task killed, a node lost; a
 *   task starting, or made less than that long ago and still coming up, is not missing), or
 * - had SWARM_CRASHLOOP_FAILURES tasks fail within SWARM_CRASHLOOP_WINDOW_SECONDS: a crash loop,
 *   or a health check that keeps failing (Swarm kills an unhealthy task, and says so in its error);
 * and at once, without waiting for either, for a service whose health score (./service-health.ts)
 * is below DEPLOY_ROLLBACK_SCORE within DEPLOY_WATCH_MINUTES of an update that changed what its
 * tasks run (by Sentinel or anyone else): a bad version should be rolled back before it has hurt
 * for SWARM_DEGRADED_SECONDS, and the update is the likely cause. Outside that window the score
 * only informs (it is in every alert).
 * The incident names the service, its tasks and the nodes they are on, and enters the flow like
 * any monitor alert (`incident.opened`): the analysis proposes the fix (restart, or rollback after
 * a recent update), the policy routes it, the executor runs it, verification resolves it. One
 * incident per service at a time (its fingerprint); task failures already covered by an earlier
 * incident of the service do not count again.
 */
import type { SentinelConfig } from '../platform/config/index'
import type { FlowEmit } from '../platform/events/topics'
import { TOPICS } from '../platform/events/topics'
import type { AuditLog } from '../platform/store/audit'
import type { IncidentStore } from '../platform/store/incidents'
import type { Alert } from '../platform/store/model'
import {
  imageName,
  isSwarmManager,
  listWatchedServices,
  nodeNames,
  type ServiceInfo,
  serviceState,
  serviceTasks,
  type TaskSummary,
} from '../platform/swarm/client'
import {
  failuresSince,
  recentUpdateOf,
  type ServiceHealth,
  serviceHealthScore,
  type ServiceUpdate,
  tasksComingUp,
} from './service-health'

export const SWARM_ACTOR = 'sentinel:swarm-watcher'

export type ServiceProblem = 'tasks_below_desired' | 'crash_loop' | 'health_check_failing' | 'unhealthy_after_update'

export const serviceFingerprint = (serviceId: string) => `service_degraded:${serviceId}`

export interface SwarmWatcherDeps {
  config: Pick<
    SentinelConfig,
    | 'SWARM_POLL_SECONDS'
    | 'SWARM_DEGRADED_SECONDS'
    | 'SWARM_CRASHLOOP_FAILURES'
    | 'SWARM_CRASHLOOP_WINDOW_SECONDS'
    | 'DEPLOY_WATCH_MINUTES'
    | 'DEPLOY_ROLLBACK_SCORE'
    | 'NODE_NAME'
  >
  store: IncidentStore
  audit: AuditLog
  emit: FlowEmit
  log: (level: 'info' | 'warn' | 'error', msg: string, data?: Record<string, unknown>) => void
  now?: () => number
  /**
   * Services another part of Sentinel is changing right now (a canary deploy under way, which has
   * its own health gate and rollback): not judged while it says so. Absent: every watched service is.
   */
  busy?: (serviceId: string) => Promise<boolean>
}

/** What one look at a service found wrong, or null when it is fine. */
export interface ServiceFinding {
  problem: ServiceProblem
  summary: string
  failures: TaskSummary[]
  /** The service's health score at this look (failures counted as for the crash loop, and since the update). */
  health: ServiceHealth
  /** The update within DEPLOY_WATCH_MINUTES, when there is one. */
  update: ServiceUpdate | null
}

/**
 * The tasks that count as up: running, starting (health check pending), or made less than
 * `graceMs` ago and still coming up. A new service, an update, or Swarm's own replacement of a
 * task gets that long before a slot counts as missing.
 */
export function tasksUp(service: ServiceInfo, tasks: TaskSummary[], nowMs: number, graceMs: number): number {
  return serviceState(service, tasks).running + tasksComingUp(tasks, nowMs, graceMs)
}

/**
 * The problem a service has now: `belowSinceMs` is when it was first seen short of tasks (kept by
 * the caller), `countFromMs` the time before which failures were handled already, `update` the
 * service's update within DEPLOY_WATCH_MINUTES (recentUpdateOf), if any.
 */
export function findProblem(
  service: ServiceInfo,
  tasks: TaskSummary[],
  opts: {
    nowMs: number
    belowSinceMs: number | null
    countFromMs: number
    update?: ServiceUpdate | null
    config: SwarmWatcherDeps['config']
  },
): ServiceFinding | null {
  const state = serviceState(service, tasks)
  const update = opts.update ?? null
  const graceMs = opts.config.SWARM_DEGRADED_SECONDS * 1000
  const windowStart = Math.max(opts.countFromMs, opts.nowMs - opts.config.SWARM_CRASHLOOP_WINDOW_SECONDS * 1000)
  const failures = failuresSince(tasks, windowStart)
  // Failures before the update were the old version's: not held against the new one.
  const health = serviceHealthScore(tasks, {
    desired: state.desired,
    nowMs: opts.nowMs,
    graceMs,
    sinceMs: update ? Math.max(windowStart, Date.parse(update.at)) : windowStart,
  })
  if (update && health.score < opts.config.DEPLOY_ROLLBACK_SCORE) {
    const unhealthy = failures.filter((t) => /unhealthy/i.test(t.error ?? '')).length
    return {
      problem: 'unhealthy_after_update',
      summary:
        `health score ${health.score} below ${opts.config.DEPLOY_ROLLBACK_SCORE}, ${update.minutesAgo} min after the update ` +
        `${update.fromImage} → ${update.toImage}: ${health.running}/${health.desired} tasks running, ` +
        `${health.failures} failed since${unhealthy ? ` (${unhealthy} killed by a failing health check)` : ''}`,
      failures,
      health,
      update,
    }
  }
  if (failures.length >= opts.config.SWARM_CRASHLOOP_FAILURES) {
    const unhealthy = failures.filter((t) => /unhealthy/i.test(t.error ?? '')).length
    const healthCheck = unhealthy * 2 >= failures.length
    return {
      problem: healthCheck ? 'health_check_failing' : 'crash_loop',
      summary: `${failures.length} tasks failed in ${opts.config.SWARM_CRASHLOOP_WINDOW_SECONDS} s${healthCheck ? ' (killed by a failing health check)' : ''}`,
      failures,
      health,
      update,
    }
  }
  if (
    state.desired !== null &&
    tasksUp(service, tasks, opts.nowMs, opts.config.SWARM_DEGRADED_SECONDS * 1000) < state.desired &&
    opts.belowSinceMs !== null &&
    opts.nowMs - opts.belowSinceMs >= opts.config.SWARM_DEGRADED_SECONDS * 1000
  )
    return {
      problem: 'tasks_below_desired',
      summary: `${state.running}/${state.desired} tasks running${state.starting ? ` (${state.starting} starting)` : ''} for ${Math.round((opts.nowMs - opts.belowSinceMs) / 1000)} s`,
      failures,
      health,
      update,
    }
  return null
}

/**
 * The alert for a service problem: the service, its tasks and their nodes, its health score and
 * its last update. One opened for a low score after an update is measured in the score (metric,
 * value and threshold: the score and DEPLOY_ROLLBACK_SCORE); the others in running tasks.
 */
export function serviceAlert(
  service: ServiceInfo,
  tasks: TaskSummary[],
  finding: ServiceFinding,
  opts: { nowMs: number; deployWatchMinutes: number; rollbackScore: number; node: string },
): Alert {
  const state = serviceState(service, tasks)
  // The tasks worth naming: those meant to run, and the recent failures.
  const named = [...tasks.filter((t) => t.desiredState === 'running'), ...finding.failures]
    .filter((t, i, all) => all.findIndex((x) => x.id === t.id) === i)
    .slice(0, 20)
  const nodes = [...new Set(named.map((t) => t.node).filter(Boolean))]
  const updatedMs = Date.parse(service.UpdateStatus?.StartedAt ?? service.UpdatedAt)
  const previousImage = service.PreviousSpec ? imageName(service.PreviousSpec.TaskTemplate.ContainerSpec?.Image) : null
  const update = finding.update ?? recentUpdateOf(service, opts.nowMs, opts.deployWatchMinutes)
  const byScore = finding.problem === 'unhealthy_after_update'
  return {
    fingerprint: serviceFingerprint(service.ID),
    type: 'service_degraded',
    severity: state.running === 0 ? 'critical' : 'warning',
    metric: byScore ? 'service_health_score' : 'service_running_tasks',
    value: byScore ? finding.health.score : state.running,
    threshold: byScore ? opts.rollbackScore : state.desired,
    resource: { kind: 'service', id: service.ID, name: service.Spec.Name },
    labels: { service: service.Spec.Name, image: state.image, node: opts.node },
    source: 'swarm services and tasks (Engine API)',
    at: new Date(opts.nowMs).toISOString(),
    details: {
      problem: finding.problem,
      summary: finding.summary,
      service: service.Spec.Name,
      serviceId: service.ID,
      version: service.Version.Index,
      image: state.image,
      previousImage,
      desired: state.desired,
      running: state.running,
      failures: finding.failures.length,
      healthScore: finding.health.score,
      health: finding.health,
      rollbackScore: opts.rollbackScore,
      nodes,
      tasks: named.map((t) => ({
        id: t.id,
        slot: t.slot,
        node: t.node,
        // Host names need not be unique in a swarm; the node id is.
        nodeId: t.nodeId,
        state: t.state,
        desiredState: t.desiredState,
        image: t.image,
        error: t.error,
        exitCode: t.exitCode,
      })),
      updatedAt: service.UpdatedAt,
      updateState: service.UpdateStatus?.State ?? null,
      updatedMinutesAgo: Number.isFinite(updatedMs) ? Math.round((opts.nowMs - updatedMs) / 600) / 100 : null,
      // The update of what the tasks run within DEPLOY_WATCH_MINUTES (not a forced one, a scaling or a rollback).
      recentUpdate: update !== null,
      update,
    },
  }
}

function titleOf(alert: Alert): string {
  const d = alert.details as { service: string; summary: string; nodes: string[] }
  return `service ${d.service}: ${d.summary}${d.nodes.length ? ` (on ${d.nodes.join(', ')})` : ''}`
}

export class SwarmServiceWatcher {
  private timer?: NodeJS.Timeout
  private running = false
  private stopped = false
  /** Service ID → when it was first seen short of tasks, this time. */
  private readonly belowSince = new Map<string, number>()
  private managerCheckedAt = 0
  private manager = false

  constructor(private readonly deps: SwarmWatcherDeps) {}

  private now(): number {
    return this.deps.now?.() ?? Date.now()
  }

  start(): void {
    const every = Math.max(200, this.deps.config.SWARM_POLL_SECONDS * 1000)
    this.timer = setInterval(() => void this.tick(), every)
    this.timer.unref()
    void this.tick()
  }

  stop(): void {
    this.stopped = true
    clearInterval(this.timer)
  }

  /** One look at every watched service; overlapping ticks are skipped. Returns the incidents opened. */
  async tick(): Promise<string[]> {
    if (this.running || this.stopped) return []
    this.running = true
    try {
      // Only a manager answers the service APIs; an engine outside a swarm is asked again each minute.
      if (!this.manager && this.now() - this.managerCheckedAt < 60_000 && this.managerCheckedAt > 0) return []
      if (!this.manager) {
        this.managerCheckedAt = this.now()
        this.manager = await isSwarmManager().catch(() => false)
        if (!this.manager) return []
        this.deps.log('info', 'this engine is a swarm manager: watching labelled services')
      }
      return await this.look()
    } catch (err) {
      this.deps.log('warn', 'could not read the swarm services', { error: (err as Error).message })
      // Left the swarm, or the engine is away: asked again at the next tick.
      this.manager = false
      this.managerCheckedAt = 0
      return []
    } finally {
      this.running = false
    }
  }

  private async look(): Promise<string[]> {
    const services = await listWatchedServices()
    const nodes = await nodeNames()
    const opened: string[] = []
    const seen = new Set<string>()
    for (const service of services) {
      seen.add(service.ID)
      const tasks = await serviceTasks(service.ID, nodes)
      const state = serviceState(service, tasks)
      const nowMs = this.now()
      const up = tasksUp(service, tasks, nowMs, this.deps.config.SWARM_DEGRADED_SECONDS * 1000)
      if (state.desired !== null && up < state.desired) {
        if (!this.belowSince.has(service.ID)) this.belowSince.set(service.ID, nowMs)
      } else this.belowSince.delete(service.ID)
      const fingerprint = serviceFingerprint(service.ID)
      if (await this.deps.store.openIncidentFor(fingerprint)) continue
      if (this.deps.busy && (await this.deps.busy(service.ID))) {
        this.belowSince.delete(service.ID)
        continue
      }
      // Failures before the last incident of this service ended were that incident's.
      const last = await this.deps.store.lastIncidentFor(fingerprint)
      const countFromMs = last ? Date.parse(last.resolvedAt ?? last.updatedAt) : 0
      const finding = findProblem(service, tasks, {
        nowMs,
        belowSinceMs: this.belowSince.get(service.ID) ?? null,
        countFromMs,
        update: recentUpdateOf(service, nowMs, this.deps.config.DEPLOY_WATCH_MINUTES),
        config: this.deps.config,
      })
      if (!finding) continue
      const alert = serviceAlert(service, tasks, finding, {
        nowMs,
        deployWatchMinutes: this.deps.config.DEPLOY_WATCH_MINUTES,
        rollbackScore: this.deps.config.DEPLOY_ROLLBACK_SCORE,
        node: this.deps.config.NODE_NAME,
      })
      const { incident, created } = await this.deps.store.open(alert, { title: titleOf(alert), actor: SWARM_ACTOR })
      if (!created) continue
      this.belowSince.delete(service.ID)
      await this.deps.audit.append({
        kind: 'incident.opened',
        actor: SWARM_ACTOR,
        incidentId: incident.id,
        resource: service.Spec.Name,
        node: this.deps.config.NODE_NAME,
        data: {
          type: alert.type,
          fingerprint,
          problem: finding.problem,
          desired: state.desired,
          running: state.running,
          healthScore: finding.health.score,
          ...(finding.update ? { update: `${finding.update.fromImage} → ${finding.update.toImage}` } : {}),
          tasks: (alert.details as { tasks: unknown[] }).tasks.length,
        },
      })
      this.deps.log('info', 'watched service is degraded: incident opened', {
        service: service.Spec.Name,
        incidentId: incident.id,
        problem: finding.problem,
        healthScore: finding.health.score,
      })
      await this.deps.emit(TOPICS.opened, { incidentId: incident.id }, incident.id)
      opened.push(incident.id)
    }
    for (const id of [...this.belowSince.keys()]) if (!seen.has(id)) this.belowSince.delete(id)
    return opened
  }
}
