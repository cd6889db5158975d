/**
 * rollback_service: returns a watched Swarm service to its previous spec (Swarm's PreviousSpec, as
 * `docker service rollback`), for a service that broke after an update. Medium risk: it undoes
 * someone's change. Idempotent: the spec version acted on is recorded first; once the service has
 * moved past it (this rollback, or anyone's update since), nothing is done again. Reversible:
 * rolling back once more restores the spec it left, when the service is still as it was left.
 */
import { z } from 'zod'
import { assertWatchedService, imageName, updateService } from '../../platform/swarm/client'
import { serviceIdParam, serviceSettled, serviceSnapshot } from '../../platform/swarm/checks'
import { IncidentRecords, type ActionDefinition } from '../types'

const params = z.object({ serviceId: serviceIdParam })
export type RollbackServiceParams = z.infer<typeof params>

interface RollbackRecord {
  serviceId: string
  fromVersion: number
  fromImage: string
  toImage: string
}

const records = () => IncidentRecords.forAction<RollbackRecord>('rollback_service')

export const rollbackService: ActionDefinition<RollbackServiceParams> = {
  id: 'rollback_service',
  risk: 'medium',
  description: 'Roll a watched Swarm service back to its previous spec (docker service rollback).',
  params,

  snapshot: ({ serviceId }) => serviceSnapshot(serviceId),

  async execute({ serviceId }, ctx) {
    const service = await assertWatchedService(serviceId)
    const done = await records().read(ctx.incidentId)
    if (done && done.serviceId === service.ID && service.Version.Index > done.fromVersion)
      return {
        performed: 'none',
        reason: `the service moved past version ${done.fromVersion} since this incident rolled it back`,
        service: service.Spec.Name,
        version: service.Version.Index,
      }
    if (!service.PreviousSpec) throw new Error(`service ${service.Spec.Name} has no previous spec to roll back to`)
    const rec: RollbackRecord = {
      serviceId: service.ID,
      fromVersion: service.Version.Index,
      fromImage: imageName(service.Spec.TaskTemplate.ContainerSpec?.Image),
      toImage: imageName(service.PreviousSpec.TaskTemplate.ContainerSpec?.Image),
    }
    await records().write(ctx.incidentId, rec)
    await updateService(service.ID, service.Version.Index, service.Spec, { rollback: true })
    return { performed: 'rollback', service: service.Spec.Name, ...rec }
  },

  async verify({ serviceId }, ctx) {
    const rec = await records().read(ctx.incidentId)
    return serviceSettled(serviceId, rec ? { image: rec.toImage } : {})
  },

  async rollback({ serviceId }, ctx) {
    const rec = await records().read(ctx.incidentId)
    if (!rec) return { performed: 'none', reason: 'this incident rolled nothing back' }
    const service = await assertWatchedService(serviceId)
    const image = imageName(service.Spec.TaskTemplate.ContainerSpec?.Image)
    const previous = imageName(service.PreviousSpec?.TaskTemplate.ContainerSpec?.Image)
    // Only the spec this rollback left is restored: a service changed since keeps its change.
    if (service.ID !== rec.serviceId || image !== rec.toImage || previous !== rec.fromImage)
      return { performed: 'none', reason: 'the service changed since the rollback; left as it is' }
    await updateService(service.ID, service.Version.Index, service.Spec, { rollback: true })
    return { performed: 'roll-forward', service: service.Spec.Name, toImage: rec.fromImage }
  },
}
