/**
 * A Swarm service's health score, and the update it may be judged against. Pure functions of what
 * one look at the service and its tasks found, so every rule is unit-tested without a swarm.
 *
 *   score = min(1, (running + 0.75·comingUp) / desired) × (1 − min(1, failures / desired))
 *
 * - running: tasks Swarm runs and wants running. A task with a health check is `running` only once
 *   the check passed (before that it is `starting`, and Swarm kills one whose check keeps failing,
 *   which then counts as a failure): running is running-and-healthy.
 * - comingUp: tasks on their way (health check pending, or scheduled and made less than the grace
 *   ago): 0.75 each, as a starting container scores in src/observe/health/score.ts. A rolling update
 *   replaces a task with one coming up, and must not look like an outage while it does.
 * - failures: tasks that failed (exited, rejected, killed unhealthy) since `sinceMs`. Swarm replaces
 *   a dead task, so the tasks alone recover the first factor within seconds; the failures are what
 *   remember that the version keeps dying. One failure per replica takes the score to 0.
 *
 * So 1 is every replica running with no recent failure, 0 is none running or as many failures as
 * replicas; one failed task of 2 replicas halves the score, one of 6 takes a sixth off.
 */
import { FAILED_STATES, imageName, type ServiceInfo, type TaskSummary } from '../platform/swarm/client'

/** Tasks Swarm is still bringing up (scheduled, preparing, waiting out a restart delay). */
const PRE_RUNNING = new Set(['new', 'pending', 'assigned', 'accepted', 'preparing', 'ready'])

/** What a task on its way counts for, against 1 for one running (a starting container's availability). */
export const COMING_UP_CREDIT = 0.75

/**
 * Tasks on their way: starting (health check pending), or scheduled and made less than `graceMs`
 * ago. A new service, an update, or Swarm's own replacement of a task gets that long before a slot
 * counts as missing.
 */
export function tasksComingUp(tasks: TaskSummary[], nowMs: number, graceMs: number): number {
  return tasks.filter(
    (t) =>
      t.desiredState === 'running' &&
      (t.state === 'starting' || (PRE_RUNNING.has(t.state) && nowMs - Date.parse(t.createdAt) < graceMs)),
  ).length
}

/** Tasks that failed at `sinceMs` or later. */
export function failuresSince(tasks: TaskSummary[], sinceMs: number): TaskSummary[] {
  return tasks.filter((t) => FAILED_STATES.has(t.state) && Date.parse(t.updatedAt || t.createdAt) >= sinceMs)
}

export interface ServiceHealth {
  /** 0..1, rounded to 3 decimals. */
  score: number
  /** Replicas wanted (for a global service, the tasks Swarm wants running). */
  desired: number
  running: number
  comingUp: number
  /** Failures since `sinceMs`. */
  failures: number
}

const round = (x: number) => Math.round(x * 1000) / 1000

export function serviceHealthScore(
  tasks: TaskSummary[],
  opts: { desired: number | null; nowMs: number; graceMs: number; sinceMs: number },
): ServiceHealth {
  const running = tasks.filter((t) => t.state === 'running' && t.desiredState === 'running').length
  const comingUp = tasksComingUp(tasks, opts.nowMs, opts.graceMs)
  const failures = failuresSince(tasks, opts.sinceMs).length
  // A global service has no replica count: one task per node is wanted, the ones Swarm wants running.
  const desired = opts.desired ?? tasks.filter((t) => t.desiredState === 'running').length
  // Scaled to 0 (nothing wanted): nothing can be missing.
  if (desired <= 0) return { score: 1, desired: 0, running, comingUp, failures }
  const up = Math.min(1, (running + COMING_UP_CREDIT * comingUp) / desired)
  const survived = 1 - Math.min(1, failures / desired)
  return { score: round(up * survived), desired, running, comingUp, failures }
}

/** An update of a service that changed what its tasks run, with the image before and after it. */
export interface ServiceUpdate {
  /** ISO time the update began. */
  at: string
  fromImage: string
  toImage: string
  minutesAgo: number
}

/**
 * The service's last update when it changed what the tasks run (image, command, environment) and
 * began within `watchMinutes`; null otherwise. Anyone's update counts (Sentinel's canary, a
 * `docker service update`): Swarm records it in PreviousSpec and UpdateStatus. Not an update:
 * - a forced one (restart_service, `--force`): the tasks run what they ran;
 * - a change of replicas: the tasks run what they ran;
 * - a rollback (Sentinel's rollback_service, `docker service rollback`, Swarm's own on a failed
 *   update): it is the remedy, and rolling it back would put the broken spec back.
 */
export function recentUpdateOf(service: ServiceInfo, nowMs: number, watchMinutes: number): ServiceUpdate | null {
  const prev = service.PreviousSpec?.TaskTemplate.ContainerSpec
  const cur = service.Spec.TaskTemplate.ContainerSpec
  if (!prev || !cur) return null
  if (JSON.stringify(prev) === JSON.stringify(cur)) return null
  if (service.UpdateStatus?.State?.startsWith('rollback')) return null
  const at = service.UpdateStatus?.StartedAt ?? service.UpdatedAt
  const ms = Date.parse(at)
  if (!Number.isFinite(ms) || nowMs - ms > watchMinutes * 60_000) return null
  return {
    at,
    fromImage: imageName(prev.Image),
    toImage: imageName(cur.Image),
    minutesAgo: Math.round((nowMs - ms) / 600) / 100,
  }
}
