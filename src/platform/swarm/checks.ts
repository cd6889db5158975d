/**
 * What the three service actions share: the parameter naming a service, the snapshot taken before
 * one runs, and the check after it (the service settled: as many tasks as wanted, all current).
 */
import { z } from 'zod'
import { assertWatchedService, readServiceState, serviceState, serviceTasks, UPDATE_IN_PROGRESS } from './client'

export const serviceIdParam = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, 'a service id or name')

/** What a service action changes and should improve, for the incident's snapshots. */
export async function serviceSnapshot(serviceId: string): Promise<Record<string, unknown>> {
  const { service, state } = await readServiceState(serviceId)
  return {
    service: state.name,
    id: state.id,
    version: state.version,
    image: state.image,
    previousImage: service.PreviousSpec?.TaskTemplate.ContainerSpec?.Image?.split('@')[0] ?? null,
    desired: state.desired,
    running: state.running,
    forceUpdate: service.Spec.TaskTemplate.ForceUpdate ?? 0,
    updatedAt: state.updatedAt,
    updateState: state.updateState,
    tasks: state.tasks.slice(0, 10).map((t) => ({ id: t.id, node: t.node, state: t.state, error: t.error })),
  }
}

/**
 * The check after a service action: as many tasks run as the spec asks for (at least `replicas`
 * when given), all from the spec's image, and no update or rollback is still under way.
 */
export async function serviceSettled(
  serviceId: string,
  opts: { replicas?: number; image?: string } = {},
): Promise<{ ok: boolean; detail: string; data: Record<string, unknown> }> {
  const service = await assertWatchedService(serviceId)
  const state = serviceState(service, await serviceTasks(service.ID))
  const want = opts.replicas ?? state.desired
  const data = {
    desired: state.desired,
    running: state.running,
    stale: state.stale,
    image: state.image,
    updateState: state.updateState,
    version: state.version,
  }
  const problems: string[] = []
  if (want === null ? state.running === 0 : state.running < want)
    problems.push(`${state.running}/${want ?? 'some'} tasks running`)
  if (state.stale > 0) problems.push(`${state.stale} running tasks from another image`)
  if (state.updateState && UPDATE_IN_PROGRESS.has(state.updateState)) problems.push(`update ${state.updateState}`)
  if (opts.image && state.image !== opts.image) problems.push(`spec image is ${state.image}, not ${opts.image}`)
  if (problems.length) return { ok: false, detail: `service ${state.name}: ${problems.join('; ')}`, data }
  return { ok: true, detail: `service ${state.name}: ${state.running}/${want ?? state.running} tasks running`, data }
}
