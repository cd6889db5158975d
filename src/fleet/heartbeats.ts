/**
 * The controller's watch on its node agents' heartbeats. A node is up while its status key's beat
 * (`startedAt` + `seq`, src/platform/fleet/keys.ts) keeps changing, judged on the controller's own
 * clock: a remote clock that drifts cannot make a dead node look alive, nor a live one dead. A node
 * whose beat has not changed for NODE_DOWN_AFTER_SECONDS opens a critical `node_down` incident,
 * escalated at once (no automatic fix exists for a lost host), saying when the last beat came and
 * what the node ran; it is resolved when the beat returns.
 *
 * What the controller saw is kept in Redis (FLEET_SEEN_KEY), so a controller restarted while a
 * node is down finds its open incident instead of opening another, and GET /api/nodes can show it.
 */
import { createHash } from 'node:crypto'
import type { Redis } from 'ioredis'
import { saveDecision } from '../decide/stage'
import type { AuditLog } from '../platform/store/audit'
import type { IncidentStore } from '../platform/store/incidents'
import { isClosed, resolve } from '../platform/store/lifecycle'
import type { Alert } from '../platform/store/model'
import { FLEET_NODES_KEY, FLEET_SEEN_KEY, isNodeName, type NodeStatus, nodeKeys } from '../platform/fleet/keys'

type Log = (level: 'info' | 'warn' | 'error', msg: string, data?: Record<string, unknown>) => void

export const HEARTBEAT_ACTOR = 'sentinel:node-heartbeats'

/** What the controller records per node (FLEET_SEEN_KEY). */
export interface SeenNode {
  state: 'up' | 'down'
  /** The controller's clock when the beat last changed. */
  lastBeatAt: string
  /** The beat last seen: `<startedAt>#<seq>`. */
  beat: string
  seq: number
  /** When this state began. */
  since: string
  /** The open node_down incident, while down. */
  incidentId?: string
}

export interface HeartbeatDeps {
  redis: Redis
  store: IncidentStore
  audit: AuditLog
  /** This controller's own node: its engine is watched in-process, it has no heartbeat. */
  localNode: string
  downAfterMs: number
  log: Log
  /** Called when a node goes up or down (the controller starts or keeps its consumer). */
  onChange?: (node: string, state: SeenNode['state']) => void
}

/** The incident of one outage: the same id for the same last beat, so a retry opens no second one. */
export function nodeDownIncidentId(node: string, lastBeatAtMs: number): string {
  const h = createHash('sha256').update(`node_down:${node}:${lastBeatAtMs}`).digest('hex').slice(0, 10)
  return `inc_${lastBeatAtMs.toString(36)}_${h}`
}

export class NodeHeartbeats {
  private seen = new Map<string, SeenNode>()
  private loaded = false

  constructor(private readonly deps: HeartbeatDeps) {}

  /** The nodes as last judged (for the status views). */
  snapshot(): Map<string, SeenNode> {
    return new Map(this.seen)
  }

  /** One look at every node's beat; run every second or so. */
  async tick(now = Date.now()): Promise<void> {
    const { redis, log } = this.deps
    if (!this.loaded) {
      for (const [node, raw] of Object.entries(await redis.hgetall(FLEET_SEEN_KEY))) {
        try {
          this.seen.set(node, JSON.parse(raw) as SeenNode)
        } catch {
          // Rewritten below from the next beat.
        }
      }
      this.loaded = true
    }
    const names = (await redis.smembers(FLEET_NODES_KEY)).filter((n) => isNodeName(n) && n !== this.deps.localNode)
    if (names.length === 0) return
    const raws = await redis.mget(...names.map((n) => nodeKeys(n).status))
    for (let i = 0; i < names.length; i++) {
      const node = names[i]
      const status = parseStatus(raws[i], node, log)
      const prev = this.seen.get(node)
      const beat = status ? `${status.startedAt}#${status.seq}` : null
      const at = new Date(now).toISOString()
      if (beat && beat !== prev?.beat) {
        const next: SeenNode = {
          state: 'up',
          lastBeatAt: at,
          beat,
          seq: status!.seq,
          since: prev?.state === 'up' ? prev.since : at,
        }
        if (prev?.state === 'down') await this.up(node, prev, now)
        await this.save(node, next)
        if (prev?.state !== 'up') this.deps.onChange?.(node, 'up')
        continue
      }
      if (prev?.state === 'up' && now - Date.parse(prev.lastBeatAt) > this.deps.downAfterMs) {
        const incidentId = await this.down(node, prev, status)
        await this.save(node, { ...prev, state: 'down', since: at, incidentId })
        this.deps.onChange?.(node, 'down')
      }
    }
  }

  private async save(node: string, s: SeenNode): Promise<void> {
    this.seen.set(node, s)
    await this.deps.redis.hset(FLEET_SEEN_KEY, node, JSON.stringify(s))
  }

  private async down(node: string, prev: SeenNode, status: NodeStatus | null): Promise<string> {
    const { store, audit, log } = this.deps
    const lastBeatMs = Date.parse(prev.lastBeatAt)
    const silentS = Math.round((Date.now() - lastBeatMs) / 1000)
    const alert: Alert = {
      fingerprint: `node_down:${node}`,
      type: 'node_down',
      severity: 'critical',
      metric: 'node_heartbeat',
      value: 0,
      threshold: 1,
      resource: { kind: 'host', id: node, name: node },
      labels: { node },
      source: 'node agent heartbeat',
      at: new Date(lastBeatMs + this.deps.downAfterMs).toISOString(),
      details: {
        lastBeatAt: prev.lastBeatAt,
        silentSeconds: silentS,
        lastSeq: prev.seq,
        agentStartedAt: status?.startedAt ?? null,
        engineVersion: status?.engine.version ?? null,
        // What the node ran when it was last heard: what a person checks first.
        containers: (status?.containers ?? []).map((c) => ({ name: c.name, image: c.image, state: c.state })),
      },
    }
    const id = nodeDownIncidentId(node, lastBeatMs)
    const { incident, created } = await store.open(alert, {
      title: `node ${node} stopped beating (last heartbeat ${prev.lastBeatAt})`,
      actor: HEARTBEAT_ACTOR,
      id,
    })
    if (created) {
      await audit.append({
        kind: 'incident.opened',
        actor: HEARTBEAT_ACTOR,
        incidentId: incident.id,
        resource: node,
        data: { type: 'node_down', fingerprint: alert.fingerprint, node, lastBeatAt: prev.lastBeatAt },
      })
    }
    if (!incident.decision && !isClosed(incident)) {
      await saveDecision(
        { store, audit },
        incident.id,
        {
          route: 'escalate',
          risk: 'high',
          actionId: null,
          params: {},
          approverRole: 'admin',
          rule: 'node-down',
          reasons: [
            `no heartbeat from node ${node} for ${silentS} s (last at ${prev.lastBeatAt}); there is no automatic fix for a lost host`,
          ],
          decidedAt: new Date().toISOString(),
        },
        HEARTBEAT_ACTOR,
      )
    }
    log('warn', 'node stopped beating', { node, lastBeatAt: prev.lastBeatAt, incidentId: incident.id })
    return incident.id
  }

  private async up(node: string, prev: SeenNode, now: number): Promise<void> {
    const { store, audit, log } = this.deps
    const downFor = Math.round((now - Date.parse(prev.lastBeatAt)) / 1000)
    log('info', 'node beats again', { node, silentSeconds: downFor })
    if (!prev.incidentId) return
    let resolved = false
    await store.update(prev.incidentId, (i) => {
      if (isClosed(i)) return false
      resolved = resolve(i, {
        actor: HEARTBEAT_ACTOR,
        summary: `node ${node} beats again after ${downFor} s without a heartbeat`,
      })
      return resolved
    })
    if (resolved)
      await audit.append({
        kind: 'incident.resolved',
        actor: HEARTBEAT_ACTOR,
        incidentId: prev.incidentId,
        resource: node,
        outcome: 'heartbeat returned',
      })
  }
}

/** A node's status, or null when absent or not its own (a status naming another node is refused). */
export function parseStatus(raw: string | null, node: string, log: Log): NodeStatus | null {
  if (!raw) return null
  try {
    const s = JSON.parse(raw) as NodeStatus
    if (s.node !== node) {
      log('warn', 'refused a heartbeat that names another node', { key: nodeKeys(node).status, claims: s.node })
      return null
    }
    if (typeof s.seq !== 'number' || typeof s.startedAt !== 'string') return null
    return s
  } catch {
    return null
  }
}
