/**
 * The controller's side of the fleet, in Sentinel's main process: for every node agent that has
 * announced itself, it reads the node's event stream into a container fast path of its own (the
 * same ContainerEventHandler as this host's engine, reading the node's engine through its agent:
 * ./remote-engine.ts), and it watches the nodes' heartbeats (./heartbeats.ts). This host's own
 * engine keeps its in-process watcher (src/app/runtime.ts): a one-host Sentinel runs exactly as
 * before, and its host is simply the first node.
 *
 * A message on a node's stream that claims to come from another node is refused, logged and
 * audited: with ACL users (src/platform/fleet/acl.ts) an agent cannot write another node's stream
 * at all, and without them the name on the stream still wins over the name in the message.
 */
import type { Redis } from 'ioredis'
import { ContainerEventHandler, type ContainerEventDeps } from '../act/container-events'
import type { DockerEvent } from '../platform/docker/events'
import { consumeNodeMessages, type NodeMessage } from '../platform/fleet/channel'
import { type DeathInspect, FLEET_NODES_KEY, isNodeName } from '../platform/fleet/keys'
import { COMMAND_OUTPUT_KIND, relayCommandOutput } from './commands'
import { NodeHeartbeats } from './heartbeats'
import { offlinePolicyOf } from './offline'
import { isOfflineEntry, recordOfflineEntry } from './offline-record'
import { type RemoteEngine, remoteEngine } from './remote-engine'
import { requestOnNode } from '../platform/fleet/channel'

type Log = (level: 'info' | 'warn' | 'error', msg: string, data?: Record<string, unknown>) => void

export interface FleetControllerDeps {
  redis: Redis
  /** What each node's fast path needs (its engine is added per node). */
  handlerDeps: Omit<ContainerEventDeps, 'engine' | 'log'>
  log: Log
}

const DISCOVER_EVERY_MS = 2000
const TICK_EVERY_MS = 1000
// How often each agent is sent the policy it follows when cut off (and at once when followed).
const POLICY_EVERY_MS = 30_000

/** The controllers' consumer name on every node's event stream (see follow()). */
const FLEET_CONSUMER = 'controller'

export class FleetController {
  private readonly stopping = new AbortController()
  private readonly consumers = new Map<string, { handler: ContainerEventHandler; done: Promise<void> }>()
  private timers: NodeJS.Timeout[] = []
  readonly heartbeats: NodeHeartbeats
  private readonly localNode: string

  constructor(private readonly deps: FleetControllerDeps) {
    const cfg = deps.handlerDeps.config
    this.localNode = cfg.NODE_NAME
    this.heartbeats = new NodeHeartbeats({
      redis: deps.redis,
      store: deps.handlerDeps.store,
      audit: deps.handlerDeps.audit,
      localNode: this.localNode,
      downAfterMs: cfg.NODE_DOWN_AFTER_SECONDS * 1000,
      log: deps.log,
    })
  }

  start(): void {
    const discover = () =>
      this.discover().catch((err) =>
        this.deps.log('warn', 'could not list the fleet nodes', { error: (err as Error).message }),
      )
    const tick = () =>
      this.heartbeats
        .tick()
        .catch((err) => this.deps.log('warn', 'heartbeat check failed', { error: (err as Error).message }))
    void discover()
    this.timers.push(setInterval(discover, DISCOVER_EVERY_MS), setInterval(tick, TICK_EVERY_MS))
    for (const t of this.timers) t.unref()
  }

  async stop(): Promise<void> {
    for (const t of this.timers) clearInterval(t)
    this.stopping.abort()
    for (const c of this.consumers.values()) c.handler.stop()
    await Promise.allSettled([...this.consumers.values()].map((c) => c.done))
  }

  /** The nodes whose streams are read (every announced node but this host). */
  nodes(): string[] {
    return [...this.consumers.keys()].sort()
  }

  private async discover(): Promise<void> {
    const names = await this.deps.redis.smembers(FLEET_NODES_KEY)
    for (const node of names) {
      if (!isNodeName(node) || node === this.localNode || this.consumers.has(node)) continue
      this.follow(node)
    }
  }

  private follow(node: string): void {
    const { redis, handlerDeps, log } = this.deps
    const cfg = handlerDeps.config
    const nodeLog: Log = (level, msg, data) => log(level, msg, { node, ...data })
    const engine = remoteEngine({
      redis,
      node,
      from: `${this.localNode}:fast-path`,
      timeoutMs: cfg.NODE_ACTION_TIMEOUT_SECONDS * 1000,
    })
    const handler = new ContainerEventHandler({ ...handlerDeps, engine, log: nodeLog })
    const done = consumeNodeMessages({
      redis,
      node,
      // One consumer name for every controller: only the fleet duty's leader reads (src/platform/lease/),
      // and a new leader (or the same one restarted) gets back what the last one had not acknowledged.
      consumer: FLEET_CONSUMER,
      handle: (msg) => this.onMessage(handler, engine, msg, nodeLog),
      onForged: (msg) => this.onForged(node, msg),
      signal: this.stopping.signal,
      log: nodeLog,
    })
    this.consumers.set(node, { handler, done })
    log('info', 'following a node agent', { node })
    const sendPolicy = () =>
      requestOnNode(
        redis,
        { node, op: 'policy', body: { policy: offlinePolicyOf(cfg) }, from: `${this.localNode}:fleet` },
        { timeoutMs: 5000 },
      ).catch((err) =>
        nodeLog('info', 'could not send the offline policy (sent again later)', { error: (err as Error).message }),
      )
    void sendPolicy()
    const timer = setInterval(() => void sendPolicy(), POLICY_EVERY_MS)
    timer.unref()
    this.timers.push(timer)
  }

  private async onMessage(
    handler: ContainerEventHandler,
    engine: RemoteEngine,
    msg: NodeMessage,
    log: Log,
  ): Promise<void> {
    if (msg.kind === 'docker') {
      const { nodeInspect, ...event } = msg.data as unknown as DockerEvent & { nodeInspect?: DeathInspect }
      // Only an inspect of the very container that died, from its own node's stream (checked by the channel).
      if (event.Action === 'die' && nodeInspect?.Id === event.Actor?.ID) engine.prime(nodeInspect)
      return handler.handle(event)
    }
    if (msg.kind === COMMAND_OUTPUT_KIND) return relayCommandOutput(this.deps.redis, msg, log)
    if (msg.kind === 'sweep') {
      const gap = msg.data as { fromMs: number | null; toMs: number }
      const r = await handler.sweepDead({ fromMs: gap.fromMs ?? null, toMs: Number(gap.toMs) })
      if (r.opened.length || r.leftAlone.length) log('info', 'checked the node for deaths before its agent started', r)
      return
    }
    if (msg.kind === 'offline') {
      if (!isOfflineEntry(msg.data)) {
        log('warn', 'an offline journal entry that does not parse was dropped', { entryId: msg.entryId })
        return
      }
      const { store, executions, audit, emit } = this.deps.handlerDeps
      const outcome = await recordOfflineEntry({ store, executions, audit, emit }, msg.node, msg.data)
      log('info', 'recorded an action the node took offline', { incidentId: msg.data.incidentId, outcome })
      return
    }
    log('warn', 'a node message of an unknown kind was dropped', { kind: msg.kind, entryId: msg.entryId })
  }

  private async onForged(node: string, msg: NodeMessage): Promise<void> {
    this.deps.log('warn', 'refused a message that claims another node', {
      stream: node,
      claims: msg.node,
      kind: msg.kind,
      entryId: msg.entryId,
    })
    await this.deps.handlerDeps.audit.append({
      kind: 'fleet.refused',
      actor: 'sentinel:fleet',
      resource: node,
      outcome: 'forged node name',
      data: { stream: node, claims: msg.node, kind: msg.kind, entryId: msg.entryId },
    })
  }
}
