/**
 * update_memory_limit: raises a watched container's memory limit in place (docker update: Memory
 * and MemorySwap, keeping the same swap allowance). Only upward and only up to a ceiling. The old
 * limit is recorded on disk per incident before anything changes, so a retry does nothing and a
 * rollback restores the exact previous values even when the retry's result carries none.
 */
import { z } from 'zod'
import {
  assertWatched,
  containerName,
  getDocker,
  inspectContainer,
  withTimeout,
  type ContainerInfo,
} from '../../platform/docker/client'
import { IncidentRecords, numberSetting, type ActionDefinition } from '../types'

const MiB = 1024 * 1024
/** Docker refuses limits below 6 MiB. */
const DOCKER_MIN_MEMORY = 6 * MiB

const params = z.strictObject({
  containerId: z
    .string()
    .min(1)
    .max(128)
    .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, 'a container id or name'),
  memoryBytes: z.number().int().min(DOCKER_MIN_MEMORY).max(Number.MAX_SAFE_INTEGER),
})
export type UpdateMemoryLimitParams = z.infer<typeof params>

export interface UpdateMemoryLimitOptions {
  /** The highest limit this action sets; default MEMORY_LIMIT_CEILING_BYTES or 4 GiB. */
  ceilingBytes?: number
  /** Where per-incident records go; default `<DATA_DIR>/actions/update_memory_limit`. */
  stateDir?: string
}

interface LimitRecord {
  incidentId: string
  containerId: string
  container: string
  previousMemory: number
  previousMemorySwap: number
  newMemory: number
  newMemorySwap: number
  raisedAt: string
  rolledBackAt?: string
}

export function memoryCeilingBytes(opts: UpdateMemoryLimitOptions = {}): number {
  return opts.ceilingBytes ?? numberSetting('MEMORY_LIMIT_CEILING_BYTES')
}

/**
 * The swap limit that goes with a new memory limit: unlimited stays unlimited, otherwise the
 * container keeps the swap it had on top of its memory (docker requires MemorySwap >= Memory).
 */
export function swapFor(newMemory: number, oldMemory: number, oldSwap: number): number {
  if (oldSwap === -1) return -1
  if (oldSwap > 0) return newMemory + Math.max(0, oldSwap - oldMemory)
  return newMemory
}

const recordKey = (incidentId: string, info: Pick<ContainerInfo, 'Id'>) => `${incidentId}.${info.Id.slice(0, 12)}`

function limits(info: ContainerInfo) {
  return { memory: info.HostConfig?.Memory ?? 0, memorySwap: info.HostConfig?.MemorySwap ?? 0 }
}

async function memoryUsage(id: string): Promise<number | null> {
  try {
    const container = (await getDocker()).getContainer(id)
    const stats = (await withTimeout(
      container.stats({ stream: false, 'one-shot': true } as { stream: false }),
      5000,
      'docker stats',
    )) as {
      memory_stats?: { usage?: number }
    }
    return stats.memory_stats?.usage ?? null
  } catch {
    return null
  }
}

export function createUpdateMemoryLimit(
  opts: UpdateMemoryLimitOptions = {},
): ActionDefinition<UpdateMemoryLimitParams> {
  const records = () => IncidentRecords.forAction<LimitRecord>('update_memory_limit', opts.stateDir)

  return {
    id: 'update_memory_limit',
    risk: 'medium',
    description:
      "Raise a watched container's memory limit in place (docker update), e.g. after it was OOM-killed. Params: containerId, memoryBytes (must be above the current limit and at most the configured ceiling, 4 GiB by default). Reversible.",
    params,

    async snapshot({ containerId }) {
      const info = await assertWatched(containerId)
      const { memory, memorySwap } = limits(info)
      return {
        container: containerName(info),
        id: info.Id,
        memoryLimit: memory,
        memorySwap,
        memoryUsage: info.State.Running ? await memoryUsage(info.Id) : null,
        state: info.State.Status,
        oomKilled: info.State.OOMKilled,
        restartCount: info.RestartCount,
        ceiling: memoryCeilingBytes(opts),
      }
    },

    async execute({ containerId, memoryBytes }, ctx) {
      const info = await assertWatched(containerId)
      const { memory, memorySwap } = limits(info)
      const store = records()
      const key = recordKey(ctx.incidentId, info)
      const existing = await store.read(key)
      if (existing) {
        const reason = existing.rolledBackAt
          ? 'raised and rolled back already for this incident'
          : 'already raised for this incident'
        return {
          performed: 'none',
          reason,
          container: containerName(info),
          previousMemory: existing.previousMemory,
          memory,
        }
      }
      const ceiling = memoryCeilingBytes(opts)
      if (memoryBytes > ceiling) throw new Error(`memoryBytes ${memoryBytes} is above the ceiling of ${ceiling} bytes`)
      if (memory === 0) throw new Error(`${containerName(info)} has no memory limit; setting one would lower it`)
      if (memoryBytes === memory)
        return {
          performed: 'none',
          reason: 'the limit is already at the requested value',
          container: containerName(info),
          memory,
        }
      if (memoryBytes < memory)
        throw new Error(`memoryBytes ${memoryBytes} is not above the current limit of ${memory} bytes`)

      const record: LimitRecord = {
        incidentId: ctx.incidentId,
        containerId: info.Id,
        container: containerName(info),
        previousMemory: memory,
        previousMemorySwap: memorySwap,
        newMemory: memoryBytes,
        newMemorySwap: swapFor(memoryBytes, memory, memorySwap),
        raisedAt: new Date().toISOString(),
      }
      // Recorded first: if Sentinel dies mid-update, the retry and the rollback still know the old limit.
      await store.write(key, record)
      const container = (await getDocker()).getContainer(info.Id)
      await withTimeout(
        container.update({ Memory: record.newMemory, MemorySwap: record.newMemorySwap }),
        15_000,
        'docker update',
      )
      return {
        performed: 'raised',
        container: record.container,
        previousMemory: record.previousMemory,
        previousMemorySwap: record.previousMemorySwap,
        memory: record.newMemory,
        memorySwap: record.newMemorySwap,
      }
    },

    async verify({ containerId, memoryBytes }) {
      const info = await inspectContainer(containerId)
      const { memory, memorySwap } = limits(info)
      const data = { memoryLimit: memory, memorySwap, state: info.State.Status, oomKilled: info.State.OOMKilled }
      if (memory !== memoryBytes) return { ok: false, detail: `limit is ${memory} bytes, not ${memoryBytes}`, data }
      if (!info.State.Running || info.State.Restarting)
        return { ok: false, detail: `limit is ${memory} bytes but the container is ${info.State.Status}`, data }
      return { ok: true, detail: `limit is ${memory} bytes and the container is running`, data }
    },

    async rollback({ containerId }, ctx, executed) {
      const info = await assertWatched(containerId)
      const store = records()
      const key = recordKey(ctx.incidentId, info)
      let record = await store.read(key)
      if (
        !record &&
        typeof executed.previousMemory === 'number' &&
        typeof executed.memory === 'number' &&
        executed.performed === 'raised'
      ) {
        record = {
          incidentId: ctx.incidentId,
          containerId: info.Id,
          container: containerName(info),
          previousMemory: executed.previousMemory,
          previousMemorySwap: Number(executed.previousMemorySwap),
          newMemory: executed.memory,
          newMemorySwap: Number(executed.memorySwap),
          raisedAt: '',
        }
      }
      if (!record) return { performed: 'none', reason: 'no limit was raised for this incident' }
      const { memory, memorySwap } = limits(info)
      if (memory === record.previousMemory && memorySwap === record.previousMemorySwap) {
        return { performed: 'none', reason: 'the previous limit is already in place', memory }
      }
      // Someone else changed the limit since: putting ours back would undo their change, not ours.
      if (memory !== record.newMemory) {
        throw new Error(
          `the limit is now ${memory} bytes, not the ${record.newMemory} this incident set; not restoring over someone else's change`,
        )
      }
      const container = (await getDocker()).getContainer(info.Id)
      await withTimeout(
        container.update({ Memory: record.previousMemory, MemorySwap: record.previousMemorySwap }),
        15_000,
        'docker update',
      )
      await store.write(key, { ...record, rolledBackAt: new Date().toISOString() })
      return {
        performed: 'restored',
        container: record.container,
        memory: record.previousMemory,
        memorySwap: record.previousMemorySwap,
      }
    },
  }
}

export const updateMemoryLimit = createUpdateMemoryLimit()
