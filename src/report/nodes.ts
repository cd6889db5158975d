/**
 * The fleet's node list, as GET /api/nodes serves it: for every node an agent announced (plus the
 * controller's own), whether it is up, down or unknown by the controller's own record of its beats
 * (FLEET_SEEN_KEY), what its agent last published (engine, host readings, watched containers) and
 * its open incidents. Everything in a node's status key was written by that node's agent, so it is
 * checked before it is shown: a status that does not parse, or that speaks for another node, makes
 * the node `unknown` with a `problem` saying why, and never fails the whole list.
 */
import { getConfig } from '../platform/config/index'
import type { Redis } from 'ioredis'
import { z } from 'zod'
import { FLEET_NODES_KEY, FLEET_SEEN_KEY, isNodeName, nodeKeys, type NodeContainer } from '../platform/fleet/keys'
import { incidentKeys, IncidentStore } from '../platform/store/incidents'
import { isClosed } from '../platform/store/lifecycle'
import type { Incident } from '../platform/store/model'

/**
 * The controller's own node: incidents without a `node` label are about it.
 * TODO(lead): read config NODE_NAME once it is wired (same default).
 */
export function controllerNodeName(): string {
  return getConfig().NODE_NAME
}

export type NodeState = 'up' | 'down' | 'unknown'

/** An open incident of a node, as the list shows it. */
export interface NodeIncident {
  id: string
  type: string
  severity: string
  status: string
  resource: string
  openedAt: string
  test?: true
}

export interface NodeView {
  name: string
  /** The controller's own host. */
  local: boolean
  state: NodeState
  /** Why the state is unknown when the records are there but cannot be believed (or are not there). */
  problem?: string
  /** The controller's clock: when it last saw the agent's beat count change, and how long ago. */
  lastBeatAt: string | null
  lastBeatAgeSeconds: number | null
  /** When the current state began (controller clock). */
  since: string | null
  seq: number | null
  /** The agent's own clock, for display only. */
  beatAt: string | null
  agent: { pid: number; startedAt: string; heartbeatSeconds: number; uploadingOffline: boolean } | null
  engine: { reachable: boolean; version: string | null; error?: string } | null
  host: { cpuPercent: number | null; memoryPercent: number | null; diskPercent: number | null } | null
  containers: NodeContainer[]
  incidents: NodeIncident[]
}

// Bounds on what one agent may make the API carry: an agent is trusted with its own node, not
// with the size of everyone's answer.
const MAX_CONTAINERS = 1000
const text = (max: number) => z.string().max(max)
const percent = z.number().finite().nullable()

const nodeStatusSchema = z.object({
  node: text(63),
  seq: z.number().int().nonnegative(),
  pid: z.number().int(),
  startedAt: text(64),
  beatAt: text(64),
  heartbeatSeconds: z.number().positive(),
  engine: z.object({ reachable: z.boolean(), version: text(64).nullable(), error: text(1000).optional() }),
  host: z.object({ cpuPercent: percent, memoryPercent: percent, diskPercent: percent }).nullable(),
  containers: z
    .array(z.object({ id: text(128), name: text(256), image: text(512), state: text(32), status: text(256) }))
    .max(MAX_CONTAINERS),
  uploadingOffline: z.boolean().optional(),
})

/** The controller's record of one node (FLEET_SEEN_KEY), written by the controller only. */
const seenSchema = z.object({
  state: z.enum(['up', 'down']),
  lastBeatAt: z.iso.datetime({ offset: true }),
  seq: z.number(),
  since: z.iso.datetime({ offset: true }),
  incidentId: z.string().optional(),
})
type Seen = z.infer<typeof seenSchema>

const firstIssue = (e: z.ZodError) => {
  const i = e.issues[0]
  return i ? `${i.path.join('.') || '(top)'}: ${i.message}` : 'invalid'
}

function parseJson(raw: string): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(raw) }
  } catch {
    return { ok: false }
  }
}

function emptyView(name: string, local: boolean): NodeView {
  return {
    name,
    local,
    state: 'unknown',
    lastBeatAt: null,
    lastBeatAgeSeconds: null,
    since: null,
    seq: null,
    beatAt: null,
    agent: null,
    engine: null,
    host: null,
    containers: [],
    incidents: [],
  }
}

function applySeen(view: NodeView, raw: string | undefined, now: number): Seen | null {
  if (raw === undefined) return null
  const json = parseJson(raw)
  const seen = json.ok ? seenSchema.safeParse(json.value) : null
  if (!seen?.success) {
    view.problem = `the controller's record of this node is unreadable${seen ? ` (${firstIssue(seen.error)})` : ''}`
    return null
  }
  view.state = seen.data.state
  view.lastBeatAt = seen.data.lastBeatAt
  view.lastBeatAgeSeconds = Math.max(0, Math.round((now - Date.parse(seen.data.lastBeatAt)) / 1000))
  view.since = seen.data.since
  view.seq = seen.data.seq
  return seen.data
}

function applyStatus(view: NodeView, raw: string | null): void {
  if (raw === null) return
  const json = parseJson(raw)
  if (!json.ok) {
    view.state = 'unknown'
    view.problem = 'its status is not JSON'
    return
  }
  const status = nodeStatusSchema.safeParse(json.value)
  if (!status.success) {
    view.state = 'unknown'
    view.problem = `its status is not a node status (${firstIssue(status.error)})`
    return
  }
  if (status.data.node !== view.name) {
    // Written under this node's prefix but speaking for another: nothing in it can be believed.
    view.state = 'unknown'
    view.problem = `its status names another node (${JSON.stringify(status.data.node)})`
    return
  }
  const s = status.data
  view.beatAt = s.beatAt
  view.agent = {
    pid: s.pid,
    startedAt: s.startedAt,
    heartbeatSeconds: s.heartbeatSeconds,
    uploadingOffline: !!s.uploadingOffline,
  }
  view.engine = s.engine
  view.host = s.host
  view.containers = s.containers
}

function incidentView(i: Incident): NodeIncident {
  return {
    id: i.id,
    type: i.type,
    severity: i.severity,
    status: i.status,
    resource: i.resource?.name ?? i.resource?.id ?? '',
    openedAt: i.openedAt,
    ...(i.test ? { test: true as const } : {}),
  }
}

/**
 * The open (not closed) incidents by node. The store's open index holds every incident Sentinel
 * still works on; an escalated one leaves that index, so the node_down incidents the seen records
 * name are read too (an escalated node_down stays on its node's card). Other escalated incidents
 * are not in any index this can read cheaply and are not shown here.
 */
async function openIncidentsByNode(
  redis: Redis,
  extraIds: string[],
  localNode: string,
): Promise<Map<string, NodeIncident[]>> {
  const ids = [...new Set([...(await new IncidentStore(redis).openIds()), ...extraIds])]
  const byNode = new Map<string, NodeIncident[]>()
  if (ids.length === 0) return byNode
  const raws = await redis.mget(ids.map((id) => incidentKeys.doc(id)))
  for (const raw of raws) {
    if (raw === null) continue
    const json = parseJson(raw)
    if (!json.ok) continue
    const incident = json.value as Incident
    if (!incident || typeof incident.id !== 'string' || isClosed(incident)) continue
    const label = incident.alert?.labels?.node
    const node = typeof label === 'string' && label ? label : localNode
    const list = byNode.get(node) ?? []
    list.push(incidentView(incident))
    byNode.set(node, list)
  }
  for (const list of byNode.values())
    list.sort((a, b) => (a.openedAt < b.openedAt ? 1 : a.openedAt > b.openedAt ? -1 : 0))
  return byNode
}

/** The node list, sorted by name. `now` is the controller's clock. */
export async function listNodes(redis: Redis, opts: { localNode?: string; now?: number } = {}): Promise<NodeView[]> {
  const localNode = opts.localNode ?? controllerNodeName()
  const now = opts.now ?? Date.now()
  const [registered, seenHash] = await Promise.all([redis.smembers(FLEET_NODES_KEY), redis.hgetall(FLEET_SEEN_KEY)])
  const names = [...new Set([...registered, localNode])]
  const views = new Map<string, NodeView>()
  const seenIncidentIds: string[] = []
  for (const name of names) {
    const view = emptyView(name, name === localNode)
    views.set(name, view)
    if (!isNodeName(name)) {
      // The registry set is writable by every agent: a junk member is shown, never keyed on.
      view.problem = 'not a node name'
      continue
    }
    const seen = applySeen(view, seenHash[name], now)
    if (seen?.incidentId) seenIncidentIds.push(seen.incidentId)
  }
  const keyed = names.filter(isNodeName)
  const statuses = keyed.length ? await redis.mget(keyed.map((n) => nodeKeys(n).status)) : []
  keyed.forEach((name, n) => {
    const view = views.get(name)!
    if (view.problem) {
      // An unreadable seen record: the status alone proves nothing about liveness.
      view.state = 'unknown'
      return
    }
    applyStatus(view, statuses[n])
  })
  const local = views.get(localNode)!
  if (!registered.includes(localNode) && !local.problem) {
    // No agent on the controller's host: the controller answering is its heartbeat.
    local.state = 'up'
  }
  const incidents = await openIncidentsByNode(redis, seenIncidentIds, localNode)
  for (const [node, list] of incidents) {
    let view = views.get(node)
    if (!view) {
      // A node only its incidents name (removed from the registry, or a label from elsewhere):
      // listed so that its open incidents are not hidden.
      view = emptyView(node, false)
      view.problem = 'not a registered node: named only by its incidents'
      views.set(node, view)
    }
    view.incidents = list
  }
  return [...views.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
}
