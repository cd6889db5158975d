/**
 * The rule analyser's answer for a Swarm service incident (src/observe/swarm-services.ts). The
 * service is read again (only when it carries the watch label): an update within
 * DEPLOY_WATCH_MINUTES that changed what its tasks run (image, command, environment), with a
 * previous spec to return to, is named as the likely cause and rollback_service is proposed;
 * otherwise tasks that died are replaced by restart_service. A crash loop with no recent change
 * has no fix the rules trust: a person looks. What counts as an update (not a forced one, a
 * scaling or a rollback) is the watcher's own definition (src/observe/service-health.ts), so the
 * update that opened an incident for a low health score is the one named here.
 */
import { getConfig } from '../../platform/config/index'
import type { Alert } from '../../platform/store/model'
import {
  assertWatchedService,
  NotWatchedServiceError,
  type ServiceInfo,
  serviceState,
  serviceTasks,
} from '../../platform/swarm/client'
import { recentUpdateOf } from '../../observe/service-health'
import type { FaultVerdict } from './faults/types'

export { recentUpdateOf }

/**
 * The health score the watcher saw, in words, when it was below DEPLOY_ROLLBACK_SCORE (what opens
 * the incident at once after an update); null otherwise.
 */
export function lowScoreOf(alert: Pick<Alert, 'details'>): string | null {
  const d = (alert.details ?? {}) as { healthScore?: unknown; rollbackScore?: unknown }
  if (typeof d.healthScore !== 'number' || typeof d.rollbackScore !== 'number') return null
  return d.healthScore < d.rollbackScore
    ? `health score ${d.healthScore}, below DEPLOY_ROLLBACK_SCORE ${d.rollbackScore}`
    : null
}

export async function serviceVerdict(alert: Alert, nowMs = Date.now()): Promise<FaultVerdict> {
  const d = (alert.details ?? {}) as { problem?: string; summary?: string }
  let service: ServiceInfo
  try {
    service = await assertWatchedService(alert.resource.id)
  } catch (err) {
    const why =
      err instanceof NotWatchedServiceError
        ? `no service carrying the watch label answers to ${alert.resource.name}: it was removed, or Sentinel does not watch it`
        : `the service could not be read: ${(err as Error).message}`
    return {
      cause: 'unknown',
      root_cause: `service ${alert.resource.name}: ${why}; nothing is done to it.`,
      evidence: [why],
      confidence: 0.1,
      proposed_fix: null,
      risk_level: 'low',
    }
  }
  const state = serviceState(service, await serviceTasks(service.ID))
  const failed = state.tasks.filter((t) => t.state === 'failed' || t.state === 'rejected').slice(0, 5)
  const evidence = [
    `${state.running}/${state.desired ?? '?'} tasks of ${state.name} running (image ${state.image})`,
    ...(d.summary ? [`seen: ${d.summary}`] : []),
    ...failed.map((t) => `task ${t.id.slice(0, 12)} on ${t.node || '?'}: ${t.state}${t.error ? ` (${t.error})` : ''}`),
  ]
  const params = { serviceId: service.ID }
  const update = recentUpdateOf(service, nowMs, getConfig().DEPLOY_WATCH_MINUTES)
  const scored = lowScoreOf(alert)
  if (update)
    return {
      cause: 'crash',
      root_cause: `Service ${state.name} was updated ${update.minutesAgo} min ago (${update.fromImage} → ${update.toImage}), and its tasks fail since${scored ? ` (${scored})` : ''}: the update is the likely cause; roll back to the previous spec.`,
      evidence: [
        `updated at ${update.at}: ${update.fromImage} → ${update.toImage}`,
        ...(scored ? [`${scored}, ${update.minutesAgo} min after the update`] : []),
        ...evidence,
      ],
      confidence: 0.8,
      proposed_fix: { action: 'rollback_service', params },
      risk_level: 'medium',
    }
  if (d.problem === 'tasks_below_desired')
    return {
      cause: failed.some((t) => t.exitCode === 137) ? 'killed' : 'crash',
      root_cause: `Service ${state.name} runs fewer tasks than its ${state.desired} replicas (tasks died); a forced rolling update replaces them.`,
      evidence,
      confidence: 0.7,
      proposed_fix: { action: 'restart_service', params },
      risk_level: 'low',
    }
  return {
    cause: 'crash',
    root_cause: `Tasks of service ${state.name} keep failing with no recent change to roll back: restarting them again would not help, so a person should look.`,
    evidence,
    confidence: 0.5,
    proposed_fix: null,
    risk_level: 'medium',
  }
}
