/**
 * A node's Docker engine as the controller's fast path reads it (ContainerEngine in
 * src/act/container-events.ts), through the node's agent: each read is a request on the fleet
 * channel. The agent answers for watched containers only; an engine error keeps its HTTP status, so
 * "no such container" (404) means the same here as on this host's engine. A death arrives with the
 * agent's own inspect of the container (prime), which the first read after it uses.
 */
import type { Redis } from 'ioredis'
import type { ContainerEngine } from '../act/container-events'
import type { ContainerInfo } from '../platform/docker/client'
import { EngineApiError } from '../platform/docker/engine-api'
import { NodeRequestFailed, type FleetOp, requestOnNode } from '../platform/fleet/channel'
import type { DeathInspect } from '../platform/fleet/keys'

/** How long the inspect an agent sent with a death stands for the container's state. */
const PRIMED_FOR_MS = 5000

export interface RemoteEngine extends ContainerEngine {
  /**
   * The inspect the agent took just after a death (keys.ts, DeathInspect): the next read of that
   * container, within PRIMED_FOR_MS, is answered from it instead of a round trip to the agent.
   * Used once: any later read asks the node again.
   */
  prime(info: DeathInspect): void
}

export function remoteEngine(opts: { redis: Redis; node: string; from: string; timeoutMs: number }): RemoteEngine {
  const primed = new Map<string, { at: number; info: ContainerInfo }>()
  const ask = async (op: FleetOp, body: Record<string, unknown>): Promise<unknown> => {
    try {
      return await requestOnNode(
        opts.redis,
        { node: opts.node, op, body, from: opts.from },
        { timeoutMs: opts.timeoutMs },
      )
    } catch (err) {
      if (err instanceof NodeRequestFailed) throw new EngineApiError(err.statusCode, err.message, err.code)
      throw new EngineApiError(undefined, (err as Error).message, 'NODE_UNREACHABLE')
    }
  }
  return {
    node: opts.node,
    prime(info) {
      primed.set(info.Id, { at: Date.now(), info: info as unknown as ContainerInfo })
      // A death never read (its handling ended early) must not keep its entry.
      setTimeout(() => primed.delete(info.Id), PRIMED_FOR_MS).unref()
    },
    inspect: async (id) => {
      const seen = primed.get(id)
      primed.delete(id)
      if (seen && Date.now() - seen.at < PRIMED_FOR_MS) return seen.info
      return (await ask('inspect', { id })) as ContainerInfo
    },
    listContainers: async (o) => (await ask('list', { all: o.all, filters: o.filters })) as { Id: string }[],
  }
}
