/**
 * restart_service: a forced rolling update of a watched Swarm service (ForceUpdate + 1), which
 * replaces every task by Swarm's own update order and parallelism, for a service whose tasks died
 * or stopped answering. Low risk: the spec does not change. Idempotent: the force value this
 * incident asked for is recorded before the update; a retry that finds the service at or past it
 * does nothing again.
 */
import { z } from 'zod'
import { assertWatchedService, updateService } from '../../platform/swarm/client'
import { serviceIdParam, serviceSettled, serviceSnapshot } from '../../platform/swarm/checks'
import { IncidentRecords, type ActionDefinition } from '../types'

const params = z.object({ serviceId: serviceIdParam })
export type RestartServiceParams = z.infer<typeof params>

interface RestartRecord {
  serviceId: string
  fromVersion: number
  forceUpdate: number
}

const records = () => IncidentRecords.forAction<RestartRecord>('restart_service')

export const restartService: ActionDefinition<RestartServiceParams> = {
  id: 'restart_service',
  risk: 'low',
  description:
    'Replace every task of a watched Swarm service by a forced rolling update (docker service update --force).',
  params,

  snapshot: ({ serviceId }) => serviceSnapshot(serviceId),

  async execute({ serviceId }, ctx) {
    const service = await assertWatchedService(serviceId)
    const force = service.Spec.TaskTemplate.ForceUpdate ?? 0
    const done = await records().read(ctx.incidentId)
    if (done && done.serviceId === service.ID && force >= done.forceUpdate)
      return {
        performed: 'none',
        reason: `the forced update of this incident (ForceUpdate ${done.forceUpdate}) was made already`,
        service: service.Spec.Name,
        version: service.Version.Index,
      }
    const next = { serviceId: service.ID, fromVersion: service.Version.Index, forceUpdate: force + 1 }
    // Recorded first: a retry after a crash between the two finds the update made, or makes it.
    await records().write(ctx.incidentId, next)
    await updateService(service.ID, service.Version.Index, {
      ...service.Spec,
      TaskTemplate: { ...service.Spec.TaskTemplate, ForceUpdate: next.forceUpdate },
    })
    return {
      performed: 'force-update',
      service: service.Spec.Name,
      fromVersion: next.fromVersion,
      forceUpdate: next.forceUpdate,
    }
  },

  verify: ({ serviceId }) => serviceSettled(serviceId),
}
