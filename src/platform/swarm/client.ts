/**
 * Docker Swarm services through the Engine API (dockerode, on the configured DOCKER_SOCKET): the
 * watched services, their tasks and the nodes those run on, and the three changes Sentinel makes
 * to a service (a forced rolling update, a new replica count, a rollback to the previous spec).
 *
 * Only services carrying the watch label (WATCH_LABEL, as for containers) are read closely or
 * changed: a service is looked up in a listing filtered by that label, never inspected first, and
 * the label is checked again on what the inspect returns. Every change names the spec version it
 * was computed from, so Swarm refuses it when someone changed the service in between.
 */
import type Docker from 'dockerode'
import { getConfig } from '../config/index'
import { getDocker, isWatchedLabels } from '../docker/client'

export class NotWatchedServiceError extends Error {
  constructor(ref: string) {
    super(`service ${ref} does not carry the watch label; Sentinel will not touch it`)
    this.name = 'NotWatchedServiceError'
  }
}

/** The parts of a service Sentinel reads (the Engine API's `Service` object). */
export interface ServiceInfo {
  ID: string
  Version: { Index: number }
  CreatedAt: string
  UpdatedAt: string
  Spec: ServiceSpec
  PreviousSpec?: ServiceSpec
  UpdateStatus?: { State?: string; StartedAt?: string; CompletedAt?: string; Message?: string }
}

export interface ServiceSpec {
  Name: string
  Labels?: Record<string, string>
  TaskTemplate: {
    ContainerSpec?: { Image?: string; Env?: string[]; [k: string]: unknown }
    ForceUpdate?: number
    [k: string]: unknown
  }
  Mode?: { Replicated?: { Replicas?: number }; Global?: Record<string, never> }
  [k: string]: unknown
}

/** One task as Sentinel reports it: where it runs, what it is doing, and why it stopped. */
export interface TaskSummary {
  id: string
  slot: number | null
  nodeId: string
  node: string
  state: string
  desiredState: string
  /** The image of the spec the task was made from (without its digest). */
  image: string
  error: string | null
  exitCode: number | null
  containerId: string | null
  createdAt: string
  updatedAt: string
}

interface RawTask {
  ID: string
  ServiceID?: string
  Slot?: number
  NodeID?: string
  DesiredState?: string
  CreatedAt?: string
  UpdatedAt?: string
  Spec?: { ContainerSpec?: { Image?: string }; ForceUpdate?: number }
  Status?: {
    State?: string
    Err?: string
    ContainerStatus?: { ContainerID?: string; ExitCode?: number }
  }
}

/** An image reference without the digest Swarm pins it to (`busybox:1@sha256:…` → `busybox:1`). */
export const imageName = (ref: string | undefined): string => String(ref ?? '').split('@')[0]

/** The label that bounds scale_service: the most replicas Sentinel may give the service. */
export const MAX_REPLICAS_LABEL = 'sentinel.max-replicas'

function labelFilter(): string {
  const { key, value } = getConfig().WATCH_LABEL
  return `${key}=${value}`
}

/** Whether this engine is an active swarm manager: only a manager answers the service APIs. */
export async function isSwarmManager(docker?: Docker): Promise<boolean> {
  const d = docker ?? (await getDocker())
  const info = (await d.info()) as { Swarm?: { LocalNodeState?: string; ControlAvailable?: boolean } }
  return info.Swarm?.LocalNodeState === 'active' && info.Swarm.ControlAvailable === true
}

/** The services carrying the watch label (listing filtered by it, the label checked again). */
export async function listWatchedServices(): Promise<ServiceInfo[]> {
  const d = await getDocker()
  const listed = (await d.listServices({ filters: { label: [labelFilter()] } })) as unknown as ServiceInfo[]
  return listed.filter((s) => isWatchedLabels(s.Spec?.Labels))
}

/**
 * The watched service `ref` names (its ID, a unique ID prefix of 12 or more, or its name), read
 * fresh; throws NotWatchedServiceError when no watched service answers to it.
 */
export async function assertWatchedService(ref: string): Promise<ServiceInfo> {
  const watched = await listWatchedServices()
  const found =
    watched.find((s) => s.ID === ref || s.Spec.Name === ref) ??
    (ref.length >= 12 ? watched.find((s) => s.ID.startsWith(ref)) : undefined)
  if (!found) throw new NotWatchedServiceError(ref)
  const info = (await (await getDocker()).getService(found.ID).inspect()) as ServiceInfo
  if (!isWatchedLabels(info.Spec?.Labels)) throw new NotWatchedServiceError(ref)
  return info
}

/** Node ID → host name, for naming where tasks run. */
export async function nodeNames(): Promise<Map<string, string>> {
  const nodes = (await (await getDocker()).listNodes()) as { ID: string; Description?: { Hostname?: string } }[]
  return new Map(nodes.map((n) => [n.ID, n.Description?.Hostname ?? n.ID]))
}

/** The service's tasks (current and the history Swarm keeps), newest first. */
export async function serviceTasks(serviceId: string, nodes?: Map<string, string>): Promise<TaskSummary[]> {
  const raw = (await (await getDocker()).listTasks({ filters: { service: [serviceId] } })) as RawTask[]
  const names = nodes ?? (await nodeNames())
  return (
    raw
      // The filter matches a service's name too: only this service's own tasks.
      .filter((t) => t.ServiceID === serviceId)
      .map((t) => ({
        id: t.ID,
        slot: t.Slot ?? null,
        nodeId: t.NodeID ?? '',
        node: t.NodeID ? (names.get(t.NodeID) ?? t.NodeID) : '',
        state: t.Status?.State ?? 'unknown',
        desiredState: t.DesiredState ?? 'unknown',
        image: imageName(t.Spec?.ContainerSpec?.Image),
        error: t.Status?.Err || null,
        exitCode: typeof t.Status?.ContainerStatus?.ExitCode === 'number' ? t.Status.ContainerStatus.ExitCode : null,
        containerId: t.Status?.ContainerStatus?.ContainerID || null,
        createdAt: t.CreatedAt ?? '',
        updatedAt: t.UpdatedAt ?? '',
      }))
      .sort((a, b) => b.createdAt.localeCompare(a.createdAt))
  )
}

/** Replicas the spec asks for; null for a global service. */
export function desiredReplicas(spec: ServiceSpec): number | null {
  return spec.Mode?.Replicated ? (spec.Mode.Replicated.Replicas ?? 1) : null
}

export const isRunning = (t: TaskSummary) => t.state === 'running' && t.desiredState === 'running'
export const FAILED_STATES = new Set(['failed', 'rejected'])

/** Update states during which Swarm is still replacing tasks. */
export const UPDATE_IN_PROGRESS = new Set(['updating', 'paused', 'rollback_started', 'rollback_paused'])

/** Where the service stands: replicas wanted and running, and its update. */
export interface ServiceState {
  id: string
  name: string
  version: number
  image: string
  desired: number | null
  running: number
  /**
   * Tasks whose container started and whose health check has not passed yet (Swarm's `starting`):
   * on their way, not missing. One whose check keeps failing is killed by Swarm, and fails.
   */
  starting: number
  /** Running tasks made from another image than the spec's (an update under way, or stuck). */
  stale: number
  updateState: string | null
  updatedAt: string
  tasks: TaskSummary[]
}

export function serviceState(service: ServiceInfo, tasks: TaskSummary[]): ServiceState {
  const image = imageName(service.Spec.TaskTemplate.ContainerSpec?.Image)
  const running = tasks.filter(isRunning)
  return {
    id: service.ID,
    name: service.Spec.Name,
    version: service.Version.Index,
    image,
    desired: desiredReplicas(service.Spec),
    running: running.length,
    starting: tasks.filter((t) => t.state === 'starting' && t.desiredState === 'running').length,
    stale: running.filter((t) => t.image !== image).length,
    updateState: service.UpdateStatus?.State ?? null,
    updatedAt: service.UpdatedAt,
    tasks,
  }
}

/** Reads a watched service and its tasks. */
export async function readServiceState(ref: string): Promise<{ service: ServiceInfo; state: ServiceState }> {
  const service = await assertWatchedService(ref)
  return { service, state: serviceState(service, await serviceTasks(service.ID)) }
}

/**
 * Writes `spec` as the service's new spec, refused by Swarm (409/500 "update out of sequence")
 * when the service is no longer at `version`. `rollback`: Swarm's own rollback to PreviousSpec
 * (the spec sent is then ignored by Swarm, but must be sent).
 */
export async function updateService(
  id: string,
  version: number,
  spec: ServiceSpec,
  opts: { rollback?: boolean } = {},
): Promise<void> {
  const service = (await getDocker()).getService(id)
  const query: Record<string, string | number> = { version }
  if (opts.rollback) query.rollback = 'previous'
  // `_query` / `_body`: docker-modem would otherwise also put the whole spec in the query string.
  await service.update({ _query: query, _body: spec } as unknown as Record<string, unknown>)
}

/** The per-service bound of scale_service, from its `sentinel.max-replicas` label; null when absent or invalid. */
export function maxReplicasOf(spec: ServiceSpec): number | null {
  const raw = spec.Labels?.[MAX_REPLICAS_LABEL]
  if (raw === undefined || !/^[0-9]{1,4}$/.test(raw.trim())) return null
  const n = Number(raw.trim())
  return n >= 1 ? n : null
}
