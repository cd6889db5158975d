/**
 * The Redis keys of the fleet channel between the controller and its node agents, and the shapes
 * an agent publishes. Redis is the only channel between them (no Docker socket on the network), and
 * every key an agent writes lives under its own prefix `sentinel:fleet:node:<node>:`, so a Redis ACL
 * user per agent (`~sentinel:fleet:node:<node>:*`) can write nothing that speaks for another node.
 * The one exception is the registry set, which only lists names: a name in it proves nothing, a
 * heartbeat under the node's own prefix does.
 */
import { z } from 'zod'

/** A node's name: a host name, or the NODE_NAME an agent was given. */
export const NODE_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/

export const nodeName = z
  .string()
  .regex(NODE_NAME_PATTERN, 'a node name: letters, digits, dot, dash, underscore; up to 63 characters')

export function isNodeName(s: unknown): s is string {
  return typeof s === 'string' && NODE_NAME_PATTERN.test(s)
}

/** Names of every node an agent ever announced (agents SADD themselves at start). */
export const FLEET_NODES_KEY = 'sentinel:fleet:nodes'
/** The controller's own record of each node's beats, by its own clock (agents never write it). */
export const FLEET_SEEN_KEY = 'sentinel:fleet:seen'

export const nodePrefix = (node: string) => `sentinel:fleet:node:${node}:`

export function nodeKeys(node: string) {
  if (!isNodeName(node)) throw new Error(`not a node name: ${JSON.stringify(node)}`)
  const p = nodePrefix(node)
  return {
    /** STRING, JSON NodeStatus: rewritten at every heartbeat (agent → controller). */
    status: `${p}status`,
    /** STREAM of engine events and sweeps (agent → controller), trimmed. */
    events: `${p}events`,
    /** STREAM of requests (controller → agent), read by the agent through the group AGENT_GROUP. */
    requests: `${p}requests`,
    /** LIST the requester waits on for request `id`'s answer (agent → controller). */
    reply: (id: string) => `${p}reply:${id}`,
    /** STRING set once: `agent` when the agent took request `id`, `abandoned` when the requester gave up. */
    claim: (id: string) => `${p}claim:${id}`,
    /** STRING, JSON: the answer of request `id`, kept so a redelivered request is answered, not rerun. */
    result: (id: string) => `${p}result:${id}`,
    /** STRING: the agent's position in its engine's event stream (ms). */
    position: `${p}position`,
    /** STREAM of actions the agent took while cut off from Redis, uploaded when it reconnects. */
    offline: `${p}offline`,
  }
}

/** The consumer group the agent reads its requests through; the controllers' group on events. */
export const AGENT_GROUP = 'agent'
export const CONTROLLER_GROUP = 'controller'

/** One watched container as the agent last saw it. */
export interface NodeContainer {
  id: string
  name: string
  image: string
  state: string
  status: string
}

/** What an agent publishes at every heartbeat under its own prefix. */
export interface NodeStatus {
  node: string
  /** Grows by one per beat: the controller judges liveness by its change, on its own clock. */
  seq: number
  pid: number
  startedAt: string
  /** The agent's clock, for display only (liveness never trusts a remote clock). */
  beatAt: string
  heartbeatSeconds: number
  engine: { reachable: boolean; version: string | null; error?: string }
  host: { cpuPercent: number | null; memoryPercent: number | null; diskPercent: number | null } | null
  containers: NodeContainer[]
  /**
   * The host collector's readings (CPU, memory, each filesystem), resources named after the node:
   * the controller's monitor checks them against its thresholds (src/observe/fleet-readings.ts).
   * Absent from agents before it was added.
   */
  hostReadings?: NodeHostReading[]
  /** True while the agent is replaying actions it took offline. */
  uploadingOffline?: boolean
}

/**
 * A watched container's death as the agent forwards it: Docker's event, with the agent's own inspect
 * of the container taken just after it (the fields the controller's fast path reads: state, labels,
 * image, restart policy). The controller would otherwise ask for the same inspect through the
 * channel, a round trip per death that a burst of deaths waits on. Absent when the inspect failed
 * (the container already removed, say): the controller then asks, as for any event.
 */
export interface DeathInspect {
  Id: string
  Name: string
  RestartCount: number
  State: Record<string, unknown>
  Config: { Image?: string; Labels?: Record<string, string> }
  HostConfig: { RestartPolicy?: { Name?: string; MaximumRetryCount?: number } }
}

/** One host reading as an agent publishes it (the observe layer's Reading, as plain data). */
export interface NodeHostReading {
  metric: string
  value: number
  unit: string
  resource: { kind: string; id: string; name: string }
  labels: Record<string, string>
  query: string
  at: string
}
