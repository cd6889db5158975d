/**
 * The controller's side of an agent's offline journal (./offline.ts): each uploaded entry becomes
 * the incident the online path would have opened for that death, with the same id, marked as
 * handled offline: the restart the agent ran is recorded as its action (and its execution claimed,
 * so no one runs it again), then the usual verification takes over. A restart refused offline
 * (rate limit, freeze, no policy) or failed is escalated with the agent's reason.
 *
 * Idempotent: an entry uploaded again, or a death the controller also heard of, finds its incident
 * and only adds a note the first time.
 */
import type { ContainerEventDeps } from '../act/container-events'
import { saveDecision } from '../decide/stage'
import { type FlowEmit, TOPICS } from '../platform/events/topics'
import { isClosed, note, recordActionResult, startRemediation } from '../platform/store/lifecycle'
import type { Alert } from '../platform/store/model'
import type { OfflineEntry } from './offline'

export const OFFLINE_ACTOR = 'sentinel:fleet-offline'
const RESTART = 'restart_container'

export function isOfflineEntry(v: unknown): v is OfflineEntry {
  const e = v as Partial<OfflineEntry>
  return (
    typeof e?.incidentId === 'string' &&
    /^inc_[a-z0-9_]+$/.test(e.incidentId) &&
    typeof e.containerId === 'string' &&
    typeof e.name === 'string' &&
    typeof e.diedAt === 'string' &&
    typeof e.handledAt === 'string' &&
    typeof e.outcome === 'string'
  )
}

export async function recordOfflineEntry(
  deps: Pick<ContainerEventDeps, 'store' | 'executions' | 'audit'> & { emit: FlowEmit },
  node: string,
  entry: OfflineEntry,
): Promise<'opened' | 'known'> {
  const { store, executions, audit, emit } = deps
  const handledNote = `handled offline by the agent on ${node} at ${entry.handledAt} (cut off from Redis): ${entry.outcome}, ${entry.reason}`
  const alert: Alert = {
    fingerprint: `container_down:${entry.containerId}`,
    type: 'container_down',
    severity: 'critical',
    metric: 'container_running',
    value: 0,
    threshold: 1,
    resource: { kind: 'container', id: entry.containerId, name: entry.name },
    labels: { container: entry.name, image: entry.image, node },
    source: `node agent ${node} (offline journal)`,
    at: entry.diedAt,
    details: {
      exitCode: entry.exitCode,
      oomKilled: entry.oomKilled,
      handledOffline: true,
      offlineOutcome: entry.outcome,
    },
  }
  const { incident, created } = await store.open(alert, {
    title: `container ${entry.name} died while node ${node} was cut off (handled offline: ${entry.outcome})`,
    actor: OFFLINE_ACTOR,
    id: entry.incidentId,
  })
  if (!created) {
    // The death reached the controller too, or this entry was uploaded before: one incident, noted once.
    const already = incident.timeline.some((t) => t.actor === OFFLINE_ACTOR)
    if (!already && !isClosed(incident)) {
      await store.update(incident.id, (i) =>
        note(i, { actor: OFFLINE_ACTOR, summary: handledNote, data: { ...entry } }),
      )
    }
    return 'known'
  }
  await audit.append({
    kind: 'incident.opened',
    actor: OFFLINE_ACTOR,
    incidentId: incident.id,
    resource: entry.name,
    node,
    data: { type: 'container_down', fingerprint: alert.fingerprint, handledOffline: true, outcome: entry.outcome },
  })
  await store.update(incident.id, (i) => note(i, { actor: OFFLINE_ACTOR, summary: handledNote, data: { ...entry } }))
  const params = { containerId: entry.containerId }
  if (entry.outcome !== 'restarted' && entry.outcome !== 'failed') {
    await saveDecision(
      { store, audit },
      incident.id,
      {
        route: 'escalate',
        risk: 'low',
        actionId: RESTART,
        params,
        approverRole: 'admin',
        rule: `offline-${entry.outcome}`,
        reasons: [`the agent on ${node} was cut off and did not restart it: ${entry.reason}`],
        decidedAt: entry.handledAt,
      },
      OFFLINE_ACTOR,
    )
    return 'opened'
  }
  await saveDecision(
    { store, audit },
    incident.id,
    {
      route: 'auto',
      risk: 'low',
      actionId: RESTART,
      params,
      rule: 'offline-policy',
      reasons: [`restarted by the agent on ${node} under the controller's last policy while cut off from Redis`],
      decidedAt: entry.handledAt,
    },
    OFFLINE_ACTOR,
  )
  // The execution is claimed as done, so the controller never runs this restart again.
  await executions.claim(incident.id, RESTART, OFFLINE_ACTOR)
  const ok = entry.outcome === 'restarted'
  await executions.finish(
    incident.id,
    RESTART,
    ok ? { status: 'succeeded', result: entry.result ?? {} } : { status: 'failed', error: entry.error ?? entry.reason },
  )
  await store.update(incident.id, (i) => {
    startRemediation(i, { actionId: RESTART, params, snapshot: { handledOffline: true }, startedAt: entry.handledAt })
    return recordActionResult(
      i,
      ok
        ? {
            actionId: RESTART,
            params,
            actor: `agent-offline@${node}`,
            at: entry.handledAt,
            ok: true,
            result: entry.result ?? {},
          }
        : {
            actionId: RESTART,
            params,
            actor: `agent-offline@${node}`,
            at: entry.handledAt,
            ok: false,
            error: entry.error ?? entry.reason,
          },
    )
  })
  await audit.append({
    kind: 'action.executed',
    actor: `agent-offline@${node}`,
    incidentId: incident.id,
    resource: entry.name,
    node,
    outcome: ok ? 'succeeded' : 'failed',
    data: { actionId: RESTART, params, offline: true, ...(ok ? { result: entry.result } : { error: entry.error }) },
  })
  // Verified like any fix, now that the node answers again.
  if (ok) await emit(TOPICS.acted, { incidentId: incident.id }, incident.id)
  return 'opened'
}
