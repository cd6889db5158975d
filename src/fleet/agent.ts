/**
 * A node agent: the small Sentinel process on each host of a fleet. It follows its own Docker
 * engine's event stream (with the replay after an outage and the start-up sweep, as the
 * controller's local watcher does) and forwards the watched containers' events to the controller,
 * beats a heartbeat carrying its engine's and host's state, and runs the requests addressed to its
 * node: container reads and the allow-listed actions, against its own engine only. Redis is its
 * only channel (src/platform/fleet/): no Docker socket is ever exposed on the network, and with
 * its own ACL user it can write nothing that speaks for another node.
 *
 * Decisions stay with the controller: an agent never opens an incident or chooses an action. It
 * checks what it is asked to do itself: the request must name this node, the container must carry
 * the watch label (every container action asserts it), the action must be in the catalog.
 */
import path from 'node:path'
import type { Redis } from 'ioredis'
import { getAction } from '../actions/catalog'
import type { ActionContext } from '../actions/types'
import type { SentinelConfig } from '../platform/config/index'
import {
  assertWatched,
  type ContainerInfo,
  getDocker,
  inspectContainer,
  isWatchedLabels,
  NotWatchedError,
} from '../platform/docker/client'
import type { DockerEvent } from '../platform/docker/events'
import { DockerEventWatcher } from '../platform/docker/watcher'
import { type FleetRequest, publishToController, serveRequests } from '../platform/fleet/channel'
import {
  type DeathInspect,
  FLEET_NODES_KEY,
  type NodeContainer,
  type NodeStatus,
  nodeKeys,
} from '../platform/fleet/keys'
import { collectHost } from '../observe/collectors/host'
import { handleOfflineEvent, OfflineJournal, parseOfflinePolicy } from './offline'
import { handleCommandRequest } from './commands'

type Log = (level: 'info' | 'warn' | 'error', msg: string, data?: Record<string, unknown>) => void

export interface NodeAgentDeps {
  config: SentinelConfig
  redis: Redis
  log: Log
}

/** What the agent forwards: a watched container's events (the rest of the engine's stay on the host). */
export function forwardable(event: DockerEvent): boolean {
  return event.Type === 'container' && isWatchedLabels(event.Actor?.Attributes)
}

// A message the controller's Redis has not taken within this is taken for a cut-off: the agent acts
// alone (./offline.ts). Should the message still get through later, the death's incident id is the
// same on both paths and the restart idempotent, so nothing is done twice.
const PUBLISH_DEADLINE_MS = 3000

function withDeadline<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Redis did not answer within ${ms} ms`)), ms)
  })
  return Promise.race([p, late]).finally(() => clearTimeout(timer))
}

/** A death's inspect on this host's own socket: a slow engine delays the death's forwarding by this at most. */
const DEATH_INSPECT_DEADLINE_MS = 2000

/** The fields of an inspect the controller's fast path reads (keys.ts says why it travels). */
function deathInspect(info: ContainerInfo): DeathInspect {
  return {
    Id: info.Id,
    Name: info.Name,
    RestartCount: info.RestartCount,
    State: info.State as unknown as Record<string, unknown>,
    Config: { Image: info.Config?.Image, Labels: info.Config?.Labels ?? {} },
    HostConfig: { RestartPolicy: info.HostConfig?.RestartPolicy },
  }
}

export class NodeAgent {
  readonly node: string
  readonly journal: OfflineJournal
  private offlineSince: number | null = null
  private uploading = false
  private readonly stopping = new AbortController()
  private watcher?: DockerEventWatcher
  private beatTimer?: NodeJS.Timeout
  private serving?: Promise<void>
  private seq = 0
  private readonly forwarding = new Map<string, Promise<void>>()
  private readonly startedAt = new Date().toISOString()

  constructor(private readonly deps: NodeAgentDeps) {
    this.node = deps.config.NODE_NAME
    const cfg = deps.config
    this.journal = new OfflineJournal(path.resolve(cfg.projectRoot, cfg.DATA_DIR, 'agent', this.node))
  }

  async start(): Promise<void> {
    const { redis, log } = this.deps
    const keys = nodeKeys(this.node)
    await redis.sadd(FLEET_NODES_KEY, this.node)
    await this.beat()
    this.beatTimer = setInterval(() => {
      this.beat().catch((err) => log('warn', 'heartbeat failed', { error: (err as Error).message }))
    }, this.deps.config.AGENT_HEARTBEAT_SECONDS * 1000)
    this.serving = serveRequests({
      redis,
      node: this.node,
      consumer: this.node,
      handle: (req) => this.handle(req),
      signal: this.stopping.signal,
      log,
    })
    this.watcher = new DockerEventWatcher({
      onEvent: (event) => this.forward(event),
      loadPosition: async () => {
        const v = await redis.get(keys.position)
        return v ? Number(v) : undefined
      },
      savePosition: async (t) => {
        await redis.set(keys.position, String(t))
      },
      log,
      // The deaths no event will report (before the replay reaches): the controller sweeps them
      // through this agent's reads, as it does for its own engine.
      onFirstConnect: (gap) => {
        publishToController(redis, this.node, 'sweep', gap).catch((err) =>
          log('warn', 'could not ask the controller for a start-up sweep', { error: (err as Error).message }),
        )
      },
    })
    this.watcher.start()
    log('info', 'node agent started', { node: this.node, heartbeatSeconds: this.deps.config.AGENT_HEARTBEAT_SECONDS })
  }

  /**
   * Forwards a watched container's event, in order with that container's other events (the watcher
   * hands events over in parallel, and a death waits for its inspect): a start must never reach
   * the controller before the death it follows.
   */
  private forward(event: DockerEvent): Promise<void> {
    if (!forwardable(event)) return Promise.resolve()
    const id = event.Actor.ID
    const prev = this.forwarding.get(id) ?? Promise.resolve()
    const next = prev.catch(() => {}).then(() => this.forwardNow(event))
    this.forwarding.set(id, next)
    void next
      .finally(() => {
        if (this.forwarding.get(id) === next) this.forwarding.delete(id)
      })
      .catch(() => {})
    return next
  }

  private async forwardNow(event: DockerEvent): Promise<void> {
    const data: Record<string, unknown> = { ...event }
    if (event.Action === 'die') {
      const info = await withDeadline(inspectContainer(event.Actor.ID), DEATH_INSPECT_DEADLINE_MS).catch(() => null)
      if (info && info.Id === event.Actor.ID) data.nodeInspect = deathInspect(info)
    }
    try {
      await withDeadline(publishToController(this.deps.redis, this.node, 'docker', data), PUBLISH_DEADLINE_MS)
    } catch (err) {
      await this.actAlone(event, err as Error)
    }
  }

  async stop(): Promise<void> {
    this.stopping.abort()
    if (this.beatTimer) clearInterval(this.beatTimer)
    this.watcher?.stop()
    await this.serving
  }

  /** One heartbeat: the node's status under its own key (the controller judges liveness by `seq`). */
  async beat(): Promise<NodeStatus> {
    const status = await this.status()
    // Kept a day so the controller can say what a dead node last ran; liveness is judged by seq.
    await this.deps.redis.set(nodeKeys(this.node).status, JSON.stringify(status), 'EX', 86400)
    if (this.offlineSince !== null) {
      this.deps.log('info', 'reconnected to the controller', {
        offlineSeconds: (Date.now() - this.offlineSince) / 1000,
      })
      this.offlineSince = null
    }
    await this.uploadJournal()
    return status
  }

  /** Redis out of reach: a watched container's death is handled here, under the last policy. */
  private async actAlone(event: DockerEvent, why: Error): Promise<void> {
    const { log, config } = this.deps
    if (this.offlineSince === null) {
      this.offlineSince = Date.now()
      log('warn', 'cut off from the controller: acting alone under the last policy', { error: why.message })
    }
    const entry = await handleOfflineEvent(event, { node: this.node, journal: this.journal, config })
    if (entry)
      log('warn', 'handled a death offline', { container: entry.name, outcome: entry.outcome, reason: entry.reason })
  }

  /** The journal of what was done offline, to the controller, each entry once it is on the stream. */
  async uploadJournal(): Promise<number> {
    if (this.uploading) return 0
    this.uploading = true
    let sent = 0
    try {
      for (const entry of this.journal.pending()) {
        await publishToController(this.deps.redis, this.node, 'offline', entry as unknown as Record<string, unknown>)
        this.journal.markUploaded(entry.incidentId)
        sent++
      }
      if (sent) this.deps.log('info', 'uploaded the actions taken offline', { entries: sent })
      return sent
    } finally {
      this.uploading = false
    }
  }

  private async status(): Promise<NodeStatus> {
    const cfg = this.deps.config
    let engine: NodeStatus['engine'] = { reachable: false, version: null }
    let containers: NodeContainer[] = []
    try {
      const docker = await getDocker()
      const version = await docker.version()
      engine = { reachable: true, version: version.Version ?? null }
      const { key, value } = cfg.WATCH_LABEL
      const listed = await docker.listContainers({ all: true, filters: { label: [`${key}=${value}`] } })
      containers = listed.map((c) => ({
        id: c.Id,
        name: (c.Names?.[0] ?? c.Id.slice(0, 12)).replace(/^\//, ''),
        image: c.Image,
        state: c.State,
        status: c.Status,
      }))
    } catch (err) {
      engine = { reachable: false, version: null, error: (err as Error).message }
    }
    let host: NodeStatus['host'] = null
    let hostReadings: NodeStatus['hostReadings']
    try {
      const readings = await collectHost({ sampleMs: 200, withLatency: false, instance: this.node })
      hostReadings = readings.map(({ metric, value, unit, resource, labels, query, at }) => ({
        metric,
        value,
        unit,
        resource,
        labels,
        query,
        at,
      }))
      const pick = (metric: string) => readings.find((r) => r.metric === metric)?.value ?? null
      const disks = readings.filter((r) => r.metric === 'disk_used_percent').map((r) => r.value)
      host = {
        cpuPercent: pick('cpu_busy_percent'),
        memoryPercent: pick('memory_used_percent'),
        diskPercent: disks.length ? Math.max(...disks) : null,
      }
    } catch {
      // No /proc (not Linux): the node still beats, without host readings.
    }
    return {
      node: this.node,
      seq: ++this.seq,
      pid: process.pid,
      startedAt: this.startedAt,
      beatAt: new Date().toISOString(),
      heartbeatSeconds: cfg.AGENT_HEARTBEAT_SECONDS,
      engine,
      host,
      containers,
      ...(hostReadings ? { hostReadings } : {}),
    }
  }

  /** Answers one request from the controller (the channel has checked it names this node). */
  async handle(req: FleetRequest): Promise<unknown> {
    const { log } = this.deps
    switch (req.op) {
      case 'inspect': {
        const id = String(req.body.id ?? '')
        const info = await inspectContainer(id)
        // Reads stop at the watch label, as actions do: the controller has no business elsewhere.
        if (!isWatchedLabels(info.Config.Labels)) throw Object.assign(new NotWatchedError(id), { statusCode: 403 })
        return info
      }
      case 'list': {
        const { key, value } = this.deps.config.WATCH_LABEL
        const filters = (req.body.filters ?? {}) as Record<string, string[]>
        const docker = await getDocker()
        // Whatever was asked, only watched containers are listed.
        return docker.listContainers({
          all: req.body.all === true,
          filters: { ...filters, label: [`${key}=${value}`] },
        })
      }
      case 'action': {
        const actionId = String(req.body.actionId ?? '')
        const action = getAction(actionId)
        if (!action) throw Object.assign(new Error(`no action ${actionId} in the catalog`), { statusCode: 400 })
        const parsed = action.params.safeParse(req.body.params)
        if (!parsed.success) {
          throw Object.assign(new Error(`bad parameters for ${actionId}: ${parsed.error.issues[0]?.message}`), {
            statusCode: 400,
          })
        }
        // Every operation on a container, reads included, stops at the watch label here, whatever
        // the controller decided: the agent is the last check before its engine.
        const containerId = (parsed.data as { containerId?: unknown }).containerId
        if (typeof containerId === 'string') {
          try {
            await assertWatched(containerId)
          } catch (err) {
            if (err instanceof NotWatchedError) throw Object.assign(err, { statusCode: 403 })
            throw err
          }
        }
        const ctxIn = (req.body.ctx ?? {}) as Partial<ActionContext>
        const ctx: ActionContext = {
          incidentId: String(ctxIn.incidentId ?? ''),
          actor: `${String(ctxIn.actor ?? 'controller')}@${this.node}`,
          ...(typeof ctxIn.since === 'string' ? { since: ctxIn.since } : {}),
          node: this.node,
        }
        const op = String(req.body.op)
        log('info', 'running an action for the controller', { actionId, op, incidentId: ctx.incidentId })
        switch (op) {
          case 'snapshot':
            return action.snapshot(parsed.data, ctx)
          case 'execute':
            return action.execute(parsed.data, ctx)
          case 'verify':
            return action.verify(parsed.data, ctx)
          case 'rollback':
            if (!action.rollback) throw new Error(`${actionId} cannot be rolled back`)
            return action.rollback(parsed.data, ctx, (req.body.executed ?? {}) as Record<string, unknown>)
          default:
            throw Object.assign(new Error(`unknown action operation ${op}`), { statusCode: 400 })
        }
      }
      case 'command':
        return handleCommandRequest(req, { ...this.deps, node: this.node })
      case 'policy': {
        // What the agent may do alone when cut off; kept on disk so it outlives a restart offline.
        const policy = parseOfflinePolicy(req.body.policy)
        this.journal.savePolicy(policy)
        return { kept: policy.issuedAt }
      }
      default:
        throw Object.assign(new Error(`unknown request ${req.op}`), { statusCode: 400 })
    }
  }
}
