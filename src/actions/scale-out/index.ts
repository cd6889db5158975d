/**
 * scale_out: starts one more replica of a watched service container, from the same image (by id)
 * and configuration: env, command, labels (the watch label included), memory and CPU limits,
 * network mode, mounts. Named `<original>-replica-<n>`, labelled `sentinel.replica-of=<original
 * id>` and `sentinel.incident=<incident id>`; the incident label is how a retry finds the replica
 * it already made and how rollback finds the one to remove. Bounded by a maximum per service, even
 * under concurrent incidents: the replica names are the slots 1..max. Published ports get ephemeral
 * host ports, so a replica of a service on a fixed host port still starts.
 */
import type Docker from 'dockerode'
import { z } from 'zod'
import { getConfig } from '../../platform/config/index'
import {
  assertWatched,
  containerHealth,
  containerName,
  getDocker,
  withTimeout,
  type ContainerInfo,
} from '../../platform/docker/client'
import { numberSetting, type ActionDefinition } from '../types'

export const REPLICA_OF_LABEL = 'sentinel.replica-of'
export const INCIDENT_LABEL = 'sentinel.incident'
export const REPLICA_INDEX_LABEL = 'sentinel.replica-index'
const HARD_MAX_REPLICAS = 20

const params = z.strictObject({
  containerId: z
    .string()
    .min(1)
    .max(128)
    .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, 'a container id or name'),
  /** Lowers the configured maximum for this service; it can never raise it. */
  maxReplicas: z.number().int().min(1).max(HARD_MAX_REPLICAS).optional(),
})
export type ScaleOutParams = z.infer<typeof params>

export interface ScaleOutOptions {
  /** Replicas per service at most; default SCALE_OUT_MAX_REPLICAS or 3. */
  maxReplicas?: number
}

export function maxReplicasFor(p: Pick<ScaleOutParams, 'maxReplicas'>, opts: ScaleOutOptions = {}): number {
  const configured = opts.maxReplicas ?? numberSetting('SCALE_OUT_MAX_REPLICAS')
  return Math.min(configured, p.maxReplicas ?? configured)
}

/** Replicas of `originalId`, optionally only the one made for an incident (any state). */
export async function listReplicas(originalId: string | null, incidentId?: string): Promise<Docker.ContainerInfo[]> {
  const label = [originalId ? `${REPLICA_OF_LABEL}=${originalId}` : REPLICA_OF_LABEL]
  if (incidentId !== undefined) label.push(`${INCIDENT_LABEL}=${incidentId}`)
  const found = await (await getDocker()).listContainers({ all: true, filters: { label } })
  // The engine filters already; checking again keeps a filter quirk from widening what we touch.
  return found.filter(
    (c) =>
      (!originalId || c.Labels?.[REPLICA_OF_LABEL] === originalId) &&
      (incidentId === undefined || c.Labels?.[INCIDENT_LABEL] === incidentId),
  )
}

/** A replica asked to scale again scales its original: replicas of replicas are not made. */
async function resolveOriginal(containerId: string): Promise<ContainerInfo> {
  const info = await assertWatched(containerId)
  const originalId = info.Config.Labels?.[REPLICA_OF_LABEL]
  if (!originalId) return info
  return assertWatched(originalId)
}

/** Host ports cannot be shared: published ports of the replica get ephemeral host ports. */
function ephemeralPortBindings(
  bindings: Record<string, Array<{ HostIp?: string; HostPort?: string }> | null> | undefined,
) {
  if (!bindings) return undefined
  const out: Record<string, Array<{ HostIp: string; HostPort: string }>> = {}
  for (const [port, list] of Object.entries(bindings))
    out[port] = (list ?? []).map((b) => ({ HostIp: b.HostIp ?? '', HostPort: '' }))
  return out
}

function replicaCreateOptions(
  info: ContainerInfo,
  name: string,
  index: number,
  incidentId: string,
): Docker.ContainerCreateOptions {
  const c = info.Config
  const h = info.HostConfig
  return {
    name,
    // The image by id: the same bits even if the tag has moved since the original started.
    Image: info.Image,
    Cmd: c.Cmd ?? undefined,
    Entrypoint: c.Entrypoint ?? undefined,
    Env: c.Env ?? undefined,
    WorkingDir: c.WorkingDir || undefined,
    User: c.User || undefined,
    Tty: c.Tty,
    OpenStdin: false,
    ExposedPorts: c.ExposedPorts,
    Healthcheck: c.Healthcheck,
    // Not in @types/dockerode's inspect type, but the engine returns it.
    StopSignal: (c as { StopSignal?: string }).StopSignal,
    Labels: {
      ...(c.Labels ?? {}),
      [REPLICA_OF_LABEL]: info.Id,
      [INCIDENT_LABEL]: incidentId,
      [REPLICA_INDEX_LABEL]: String(index),
    },
    HostConfig: {
      Memory: h.Memory,
      MemorySwap: h.MemorySwap,
      MemoryReservation: h.MemoryReservation,
      NanoCpus: h.NanoCpus,
      CpuShares: h.CpuShares,
      CpuPeriod: h.CpuPeriod,
      CpuQuota: h.CpuQuota,
      CpusetCpus: h.CpusetCpus,
      PidsLimit: h.PidsLimit,
      NetworkMode: h.NetworkMode,
      RestartPolicy: h.RestartPolicy,
      Binds: h.Binds ?? undefined,
      PortBindings: ephemeralPortBindings(h.PortBindings as never),
      ReadonlyRootfs: h.ReadonlyRootfs,
      CapAdd: h.CapAdd ?? undefined,
      CapDrop: h.CapDrop ?? undefined,
      Privileged: h.Privileged,
      SecurityOpt: h.SecurityOpt ?? undefined,
      Ulimits: h.Ulimits ?? undefined,
      LogConfig: h.LogConfig,
      Init: h.Init ?? undefined,
      ExtraHosts: h.ExtraHosts ?? undefined,
      Dns: h.Dns ?? undefined,
    },
  }
}

async function startIfStopped(id: string): Promise<void> {
  const container = (await getDocker()).getContainer(id)
  try {
    await withTimeout(container.start(), getConfig().RESTART_TIMEOUT_SECONDS * 1000, 'docker start')
  } catch (err) {
    if ((err as { statusCode?: number }).statusCode !== 304) throw err
  }
}

export function createScaleOut(opts: ScaleOutOptions = {}): ActionDefinition<ScaleOutParams> {
  return {
    id: 'scale_out',
    risk: 'medium',
    description:
      'Start one more replica of a watched service container (same image and configuration, name <original>-replica-<n>), up to a maximum per service (3 by default). Params: containerId, optional maxReplicas (can only lower the maximum). Reversible: rollback removes the replica.',
    params,

    async snapshot(p) {
      const info = await resolveOriginal(p.containerId)
      const replicas = await listReplicas(info.Id)
      return {
        container: containerName(info),
        id: info.Id,
        image: info.Config.Image,
        state: info.State.Status,
        health: info.State.Health?.Status ?? null,
        replicas: replicas.map((r) => ({ id: r.Id, name: (r.Names?.[0] ?? '').replace(/^\//, ''), state: r.State })),
        runningReplicas: replicas.filter((r) => r.State === 'running').length,
        maxReplicas: maxReplicasFor(p, opts),
      }
    },

    async execute(p, ctx) {
      const info = await resolveOriginal(p.containerId)
      const original = containerName(info)
      const mine = await listReplicas(info.Id, ctx.incidentId)
      if (mine.length > 0) {
        // Made by an earlier attempt for this incident; make sure it runs, never make a second one.
        await startIfStopped(mine[0].Id)
        return {
          performed: 'none',
          reason: 'a replica was already started for this incident',
          original,
          replicaId: mine[0].Id,
          replicaName: (mine[0].Names?.[0] ?? '').replace(/^\//, ''),
        }
      }
      const max = maxReplicasFor(p, opts)
      const existing = await listReplicas(info.Id)
      if (existing.length >= max)
        throw new Error(`${original} already has ${existing.length} replicas (maximum ${max})`)

      const docker = await getDocker()
      const taken = new Set(
        (await docker.listContainers({ all: true })).flatMap((c) => (c.Names ?? []).map((n) => n.replace(/^\//, ''))),
      )
      // Replica names are slots 1..max and Docker refuses a second container of the same name, so
      // two incidents scaling the same service at once can never make more than `max` replicas:
      // the engine's name check is the lock.
      for (let index = 1; index <= max; index++) {
        const name = `${original}-replica-${index}`
        if (taken.has(name)) continue
        let created: Docker.Container
        try {
          created = await withTimeout(
            docker.createContainer(replicaCreateOptions(info, name, index, ctx.incidentId)),
            30_000,
            'docker create',
          )
        } catch (err) {
          // 409: the slot was taken between the listing and the create; try the next one.
          if ((err as { statusCode?: number }).statusCode === 409) continue
          throw err
        }
        try {
          await startIfStopped(created.id)
        } catch (err) {
          await created.remove({ force: true }).catch(() => {})
          throw err
        }
        return {
          performed: 'created',
          original,
          originalId: info.Id,
          replicaId: created.id,
          replicaName: name,
          index,
          replicas: existing.length + 1,
          maxReplicas: max,
        }
      }
      throw new Error(
        `${original} has no free replica slot: ${original}-replica-1..${max} are all taken (maximum ${max})`,
      )
    },

    async verify(_p, ctx) {
      const mine = await listReplicas(null, ctx.incidentId)
      if (mine.length === 0) return { ok: false, detail: 'no replica exists for this incident', data: {} }
      const { health, info } = await containerHealth(mine[0].Id)
      const data = { replicaId: mine[0].Id, replicaName: info ? containerName(info) : null, health }
      if (health === 'running' || health === 'healthy')
        return { ok: true, detail: `replica ${data.replicaName} is ${health}`, data }
      return { ok: false, detail: `replica ${data.replicaName ?? mine[0].Id} is ${health}`, data }
    },

    async rollback(_p, ctx) {
      const mine = await listReplicas(null, ctx.incidentId)
      if (mine.length === 0) return { performed: 'none', reason: 'no replica exists for this incident' }
      const docker = await getDocker()
      const removed: string[] = []
      for (const r of mine) {
        // Only what this action made: a replica label and the watch label, checked on the live container.
        const info = await assertWatched(r.Id)
        if (!info.Config.Labels?.[REPLICA_OF_LABEL] || info.Config.Labels?.[INCIDENT_LABEL] !== ctx.incidentId) continue
        const container = docker.getContainer(r.Id)
        await withTimeout(container.stop({ t: 10 }), 30_000, 'docker stop').catch((err) => {
          if ((err as { statusCode?: number }).statusCode !== 304) throw err
        })
        await withTimeout(container.remove({ force: true }), 30_000, 'docker rm')
        removed.push(containerName(info))
      }
      return { performed: 'removed', removed }
    },
  }
}

export const scaleOut = createScaleOut()
