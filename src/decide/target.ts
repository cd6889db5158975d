/**
 * Whether a fix aims at the incident's own container (or Swarm service). The policy escalates a proposal aimed
 * elsewhere (an LLM misled by the logs it read), and the executor refuses one
 * (src/act/authorize-execution.ts): both ask here.
 */
import { SHORT_ID_LENGTH } from '../platform/docker/engine-api'
import type { Incident, ResourceRef } from '../platform/store/model'

/** The container an action's parameters aim at, for actions that act on a container. */
function containerTarget(params: Record<string, unknown>): string | undefined {
  return typeof params.containerId === 'string' ? params.containerId : undefined
}

function namesContainer(ref: string, resource: ResourceRef): boolean {
  if (ref === resource.id || ref === resource.name) return true
  const [shorter, longer] = ref.length < resource.id.length ? [ref, resource.id] : [resource.id, ref]
  return /^[0-9a-f]+$/.test(longer) && shorter.length >= SHORT_ID_LENGTH && longer.startsWith(shorter)
}

/**
 * Why a fix with these parameters may not run on this incident's resource, or null when it may:
 * on an incident about a container, an action aimed at a container must aim at that one; on one
 * about a service, an action aimed at a service must aim at that one.
 */
export function targetMismatch(
  incident: Pick<Incident, 'resource'>,
  actionId: string,
  params: Record<string, unknown>,
): string | null {
  // The same for a Swarm service: an action aimed at a service must aim at the incident's own.
  const service = typeof params.serviceId === 'string' ? params.serviceId : undefined
  if (
    service !== undefined &&
    incident.resource.kind === 'service' &&
    service !== incident.resource.id &&
    service !== incident.resource.name
  )
    return `${actionId} aims at service ${service}, but the incident is about service ${incident.resource.name} (${incident.resource.id})`
  const target = containerTarget(params)
  if (target === undefined || incident.resource.kind !== 'container') return null
  if (namesContainer(target, incident.resource)) return null
  return `${actionId} aims at container ${target}, but the incident is about container ${incident.resource.name} (${incident.resource.id})`
}
