/**
 * A node's Docker engine as the controller's fast path reads it (ContainerEngine in
 * src/act/container-events.ts), through the node's agent: each read is a request on the fleet
 * channel. The agent answers for watched containers only; an engine error keeps its HTTP status, so
 * "no such container" (404) means the same here as on this host's engine.
 */
import type { Redis } from 'ioredis'
import type { ContainerEngine } from '../act/container-events'
import type { ContainerInfo } from '../platform/docker/client'
import { EngineApiError } from '../platform/docker/engine-api'
import { NodeRequestFailed, type FleetOp, requestOnNode } from '../platform/fleet/channel'

export function remoteEngine(opts: { redis: Redis; node: string; from: string; timeoutMs: number }): ContainerEngine {
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
    inspect: async (id) => (await ask('inspect', { id })) as ContainerInfo,
    listContainers: async (o) => (await ask('list', { all: o.all, filters: o.filters })) as { Id: string }[],
  }
}
