/**
 * The host readings of the fleet's nodes, for the controller's monitor: each agent collects its
 * host's CPU, memory and filesystems at every heartbeat (src/fleet/agent.ts) and publishes them in
 * its status; the monitor checks them against the same thresholds as this host's, so a node's full
 * disk opens an incident that names the node (labels.node), and its fix runs there.
 *
 * Only nodes the controller judges up count (FLEET_SEEN_KEY): a down node's last readings are old,
 * and its node_down incident says what there is to say. A reading must be about its own node (the
 * host named after it, or one of its filesystems): an agent writes only its own status key, but
 * what it writes there is not trusted to speak for another host. Times are the controller's.
 */
import type { Redis } from 'ioredis'
import { FLEET_NODES_KEY, FLEET_SEEN_KEY, isNodeName, type NodeStatus, nodeKeys } from '../platform/fleet/keys'
import { type Reading, type ReadingMetric, type ReadingUnit, readingSeries } from './types'

/** The host metrics an agent's readings may carry, with their units. */
const HOST_METRICS: Partial<Record<ReadingMetric, ReadingUnit>> = {
  cpu_busy_percent: 'percent',
  memory_used_percent: 'percent',
  disk_used_percent: 'percent',
}

const RESOURCE_KINDS = new Set(['host', 'filesystem'])

export interface FleetReadingsResult {
  readings: Reading[]
  /** Readings dropped, and why (for the log): never about another node than their own. */
  refused: string[]
}

export async function fleetHostReadings(
  redis: Redis,
  localNode: string,
  now: () => number = Date.now,
): Promise<FleetReadingsResult> {
  const [names, seen] = await Promise.all([redis.smembers(FLEET_NODES_KEY), redis.hgetall(FLEET_SEEN_KEY)])
  const up = names.filter((n) => n !== localNode && isNodeName(n) && stateOf(seen[n]) === 'up').sort()
  const raws = up.length ? await redis.mget(...up.map((n) => nodeKeys(n).status)) : []
  const at = new Date(now()).toISOString()
  const readings: Reading[] = []
  const refused: string[] = []
  up.forEach((node, i) => {
    let status: Partial<NodeStatus>
    try {
      status = JSON.parse(raws[i] ?? 'null') ?? {}
    } catch {
      return
    }
    for (const r of Array.isArray(status.hostReadings) ? status.hostReadings : []) {
      const unit = HOST_METRICS[r?.metric as ReadingMetric]
      const res = r?.resource
      if (!unit || typeof r.value !== 'number' || !Number.isFinite(r.value) || !res || !RESOURCE_KINDS.has(res.kind))
        continue
      const ownNode = res.kind === 'host' ? res.id === node : String(res.id).startsWith(`${node}:`)
      if (!ownNode) {
        refused.push(`${node}: a ${r.metric} reading about ${String(res.id).slice(0, 80)}`)
        continue
      }
      const resource = { kind: res.kind as 'host' | 'filesystem', id: String(res.id), name: String(res.name) }
      const metric = r.metric as ReadingMetric
      readings.push({
        series: readingSeries(metric, resource),
        metric,
        value: r.value,
        unit,
        resource,
        labels: { ...stringLabels(r.labels), instance: node, node },
        source: 'collector',
        query: `agent ${node}: ${String(r.query ?? 'collector').slice(0, 200)}`,
        at,
      })
    }
  })
  return { readings, refused }
}

function stateOf(raw: string | undefined): string | undefined {
  try {
    return raw ? (JSON.parse(raw) as { state?: string }).state : undefined
  } catch {
    return undefined
  }
}

function stringLabels(labels: unknown): Record<string, string> {
  const out: Record<string, string> = {}
  if (labels && typeof labels === 'object')
    for (const [k, v] of Object.entries(labels)) if (typeof v === 'string' && k.length <= 64) out[k] = v.slice(0, 256)
  return out
}
