/**
 * scale_service: sets a watched replicated Swarm service's replica count, never above the maximum
 * its own `sentinel.max-replicas` label gives (a service without the label is not scaled at all):
 * the bound is the service owner's, not the proposer's. Medium risk. Idempotent: a service already
 * at the count is left as it is. Reversible: the count before is recorded and restored by rollback.
 */
import { z } from 'zod'
import {
  assertWatchedService,
  desiredReplicas,
  MAX_REPLICAS_LABEL,
  maxReplicasOf,
  updateService,
} from '../../platform/swarm/client'
import { serviceIdParam, serviceSettled, serviceSnapshot } from '../../platform/swarm/checks'
import { IncidentRecords, type ActionDefinition } from '../types'

const params = z.object({ serviceId: serviceIdParam, replicas: z.number().int().min(1).max(1000) })
export type ScaleServiceParams = z.infer<typeof params>

interface ScaleRecord {
  serviceId: string
  fromReplicas: number
  toReplicas: number
}

const records = () => IncidentRecords.forAction<ScaleRecord>('scale_service')

export class ScaleBoundError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'ScaleBoundError'
  }
}

export const scaleService: ActionDefinition<ScaleServiceParams> = {
  id: 'scale_service',
  risk: 'medium',
  description: `Set a watched Swarm service's replicas, at most its ${MAX_REPLICAS_LABEL} label (docker service scale).`,
  params,

  snapshot: ({ serviceId }) => serviceSnapshot(serviceId),

  async execute({ serviceId, replicas }, ctx) {
    const service = await assertWatchedService(serviceId)
    const current = desiredReplicas(service.Spec)
    if (current === null) throw new ScaleBoundError(`service ${service.Spec.Name} is global: it has no replica count`)
    const max = maxReplicasOf(service.Spec)
    if (max === null)
      throw new ScaleBoundError(
        `service ${service.Spec.Name} has no valid ${MAX_REPLICAS_LABEL} label: Sentinel does not scale it`,
      )
    if (replicas > max)
      throw new ScaleBoundError(`${replicas} replicas is over ${service.Spec.Name}'s ${MAX_REPLICAS_LABEL}=${max}`)
    if (current === replicas)
      return { performed: 'none', reason: `already at ${replicas} replicas`, service: service.Spec.Name }
    // The count before the first run is what a rollback restores; a retry keeps it.
    const before = await records().read(ctx.incidentId)
    await records().write(ctx.incidentId, {
      serviceId: service.ID,
      fromReplicas: before?.serviceId === service.ID ? before.fromReplicas : current,
      toReplicas: replicas,
    })
    await updateService(service.ID, service.Version.Index, {
      ...service.Spec,
      Mode: { Replicated: { Replicas: replicas } },
    })
    return { performed: 'scale', service: service.Spec.Name, fromReplicas: current, toReplicas: replicas }
  },

  verify: ({ serviceId, replicas }) => serviceSettled(serviceId, { replicas }),

  async rollback({ serviceId }, ctx) {
    const rec = await records().read(ctx.incidentId)
    if (!rec) return { performed: 'none', reason: 'this incident scaled nothing' }
    const service = await assertWatchedService(serviceId)
    if (service.ID !== rec.serviceId) return { performed: 'none', reason: 'another service than the one scaled' }
    const current = desiredReplicas(service.Spec)
    // Changed by someone else since: theirs stands.
    if (current !== rec.toReplicas)
      return { performed: 'none', reason: `replicas are ${current} now, not the ${rec.toReplicas} set` }
    await updateService(service.ID, service.Version.Index, {
      ...service.Spec,
      Mode: { Replicated: { Replicas: rec.fromReplicas } },
    })
    return { performed: 'scale', service: service.Spec.Name, toReplicas: rec.fromReplicas }
  },
}
