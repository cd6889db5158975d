/**
 * After a restart (a crash, kill -9, a deploy), every incident that was open is picked up where it
 * stopped. Each stage is idempotent, so resuming one that had in fact finished does nothing twice.
 */
import type { IncidentStore } from '../platform/store/incidents'
import { type FlowEmit, TOPICS } from '../platform/events/topics'
import type { ContainerEventHandler } from './container-events'

export interface RecoveryDeps {
  store: IncidentStore
  containerEvents?: ContainerEventHandler
  emit: FlowEmit
  log: (level: 'info' | 'warn' | 'error', msg: string, data?: Record<string, unknown>) => void
}

export async function recoverOpenIncidents(deps: RecoveryDeps): Promise<number> {
  const ids = await deps.store.openIds()
  let resumed = 0
  for (const id of ids) {
    const incident = await deps.store.get(id)
    if (!incident) continue
    try {
      const isContainer = incident.type === 'container_down' || incident.type === 'container_unhealthy'
      if ((incident.status === 'open' || incident.status === 'remediating') && isContainer && deps.containerEvents) {
        // In order with the container's events: a replayed event may be finishing the same incident.
        await deps.containerEvents.resume(incident)
        resumed++
      } else if (incident.status === 'verifying') {
        await deps.emit(TOPICS.acted, { incidentId: id, resumed: true }, id)
        resumed++
      }
      // awaiting_approval waits for a person; analysing incidents are re-driven by their queue.
    } catch (err) {
      deps.log('error', 'could not resume incident', { incidentId: id, error: (err as Error).message })
    }
  }
  return resumed
}
