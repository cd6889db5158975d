/**
 * The request / reply channel between the controller and a node agent, over Redis streams (keys in
 * ./keys.ts). Why streams and not a hand-made queue: a consumer group keeps every request until the
 * agent acknowledges it, hands it back after a crash (the pending list), and lets one agent read
 * while others cannot steal it.
 *
 * Exactly once, even when a node is down: a request is taken by the agent or given up by the
 * requester, never both. Each side writes the request's claim key with SET NX (`agent` when the
 * agent starts it, `abandoned` when the requester stops waiting); whoever writes first decides. A
 * request given up is never run when the node comes back, and a request the agent took is waited
 * for. The agent keeps each answer for an hour, so a request redelivered after the agent crashed
 * mid-way is answered from it when it finished, and run again when it did not (the actions are
 * idempotent against the time the problem was seen).
 */
import { randomUUID } from 'node:crypto'
import type { Redis } from 'ioredis'
import { AGENT_GROUP, CONTROLLER_GROUP, nodeKeys } from './keys'

export type FleetOp = 'inspect' | 'list' | 'action' | 'command' | 'policy'

export interface FleetRequest {
  id: string
  /** The node the request is for; an agent refuses one that names another node. */
  node: string
  op: FleetOp
  body: Record<string, unknown>
  /** Who asked (audit). */
  from: string
}

export type FleetReply = { ok: true; value: unknown } | { ok: false; error: string; statusCode?: number; code?: string }

/** The node did not take the request within the timeout (down, or cut off): it will never run. */
export class NodeUnreachable extends Error {
  constructor(
    readonly node: string,
    timeoutMs: number,
  ) {
    super(`node ${node} did not take the request within ${Math.round(timeoutMs / 1000)} s (down or cut off)`)
  }
}

/** The node answered with an error (the Docker engine's, or a refusal). */
export class NodeRequestFailed extends Error {
  constructor(
    readonly node: string,
    message: string,
    readonly statusCode?: number,
    readonly code?: string,
  ) {
    super(message)
  }
}

const RESULT_TTL_S = 3600
const CLAIM_TTL_S = 86400
const REQUESTS_MAXLEN = 10_000
const EVENTS_MAXLEN = 10_000

/**
 * Sends a request to `node` and waits for its answer. Waits `timeoutMs` for the agent to take it;
 * once taken, waits up to `runTimeoutMs` more for the answer. Throws NodeUnreachable when the node
 * did not take it (the request is then given up for good), NodeRequestFailed on an error answer.
 */
export async function requestOnNode(
  redis: Redis,
  req: { node: string; op: FleetOp; body: Record<string, unknown>; from: string },
  opts: { timeoutMs: number; runTimeoutMs?: number },
): Promise<unknown> {
  const keys = nodeKeys(req.node)
  const id = randomUUID()
  const blocking = takeReplyConnection(redis)
  let reusable = false
  try {
    await redis.xadd(
      keys.requests,
      'MAXLEN',
      '~',
      String(REQUESTS_MAXLEN),
      '*',
      'id',
      id,
      'node',
      req.node,
      'op',
      req.op,
      'from',
      req.from,
      'body',
      JSON.stringify(req.body),
    )
    let answer = await blocking.blpop(keys.reply(id), opts.timeoutMs / 1000)
    if (!answer) {
      const gaveUp = await redis.set(keys.claim(id), 'abandoned', 'EX', CLAIM_TTL_S, 'NX')
      if (gaveUp === 'OK') throw new NodeUnreachable(req.node, opts.timeoutMs)
      // Taken by the agent just now, or running for longer than the wait: its answer is coming.
      answer = await blocking.blpop(keys.reply(id), (opts.runTimeoutMs ?? opts.timeoutMs) / 1000)
      if (!answer) {
        throw new NodeRequestFailed(req.node, `node ${req.node} took the request but did not answer in time`)
      }
    }
    // Every BLPOP on it has ended: the connection may wait for another reply.
    reusable = true
    const reply = JSON.parse(answer[1]) as FleetReply
    if (reply.ok) return reply.value
    throw new NodeRequestFailed(req.node, reply.error, reply.statusCode, reply.code)
  } finally {
    giveBackReplyConnection(redis, blocking, reusable)
  }
}

/**
 * Connections that wait for replies (BLPOP holds a connection for the wait), kept for the next
 * request instead of one opened and closed per request: opening one is a TCP connect, AUTH and a
 * ready check, several per container death when a burst of deaths is healed through an agent. An
 * idle one does not keep the process alive (its socket is unreferenced) and is closed after
 * REPLY_IDLE_CLOSE_MS; at most REPLY_IDLE_MAX are kept.
 */
const REPLY_IDLE_CLOSE_MS = 30_000
const REPLY_IDLE_MAX = 64
const idleReplyConnections = new WeakMap<Redis, Map<Redis, { timer: NodeJS.Timeout; onClose(): void }>>()

function takeReplyConnection(redis: Redis): Redis {
  const idle = idleReplyConnections.get(redis)
  for (const [conn, { timer, onClose }] of idle ?? []) {
    idle!.delete(conn)
    clearTimeout(timer)
    conn.off('close', onClose)
    if (conn.status !== 'ready') {
      conn.disconnect()
      continue
    }
    conn.stream?.ref()
    return conn
  }
  const conn = redis.duplicate()
  conn.on('error', () => {})
  return conn
}

function giveBackReplyConnection(redis: Redis, conn: Redis, reusable: boolean): void {
  let idle = idleReplyConnections.get(redis)
  if (!idle) idleReplyConnections.set(redis, (idle = new Map()))
  // A wait cut short (an error, Redis going away) may still be queued on it: never reused.
  if (!reusable || conn.status !== 'ready' || idle.size >= REPLY_IDLE_MAX || redis.status === 'end') {
    conn.disconnect()
    return
  }
  conn.stream?.unref()
  // Closed while idle (Redis restarted, the timer): dropped, not reconnected on a referenced socket.
  const onClose = () => {
    clearTimeout(timer)
    conn.off('close', onClose)
    idle!.delete(conn)
    conn.disconnect()
  }
  const timer = setTimeout(onClose, REPLY_IDLE_CLOSE_MS)
  timer.unref()
  conn.once('close', onClose)
  idle.set(conn, { timer, onClose })
}

export interface ServeOptions {
  redis: Redis
  node: string
  /** This agent's consumer name in the group (its host and pid). */
  consumer: string
  handle(req: FleetRequest): Promise<unknown>
  /** Requests run at once, at most (a burst of deaths is restarted in parallel). */
  concurrency?: number
  signal: AbortSignal
  log: (level: 'info' | 'warn' | 'error', msg: string, data?: Record<string, unknown>) => void
}

/** An error as the answer carries it (a Docker error keeps its HTTP status). */
export function errorReply(err: unknown): FleetReply {
  const e = err as { message?: string; statusCode?: unknown; code?: unknown }
  return {
    ok: false,
    error: e?.message ?? String(err),
    ...(typeof e?.statusCode === 'number' ? { statusCode: e.statusCode } : {}),
    ...(typeof e?.code === 'string' ? { code: e.code } : {}),
  }
}

function fieldsOf(flat: string[]): Record<string, string> {
  const out: Record<string, string> = {}
  for (let i = 0; i + 1 < flat.length; i += 2) out[flat[i]] = flat[i + 1]
  return out
}

async function ensureGroup(redis: Redis, stream: string, group: string): Promise<void> {
  try {
    // From the start of the stream: requests sent before the group existed are claimed (or given
    // up) like any other.
    await redis.xgroup('CREATE', stream, group, '0', 'MKSTREAM')
  } catch (err) {
    if (!String((err as Error).message).includes('BUSYGROUP')) throw err
  }
}

/**
 * Reads `stream` through `group` as `consumer` until `signal` aborts, on a connection of its own
 * (XREADGROUP BLOCK holds it), handing each entry to `onEntry` in order. First this consumer's own
 * pending entries (delivered before a crash or a restart, never acknowledged), then new ones: the
 * pending list is read until it comes back empty, after which only new entries are asked for.
 * A read that fails (Redis away) is retried every second.
 */
async function readGroup(opts: {
  redis: Redis
  stream: string
  group: string
  consumer: string
  count: number
  signal: AbortSignal
  log: ServeOptions['log']
  what: string
  onEntry(entryId: string, fields: Record<string, string>): Promise<void>
}): Promise<void> {
  const { redis, stream, group, consumer, signal, log } = opts
  const reader = redis.duplicate()
  reader.on('error', () => {})
  let from = '0'
  try {
    while (!signal.aborted) {
      try {
        await ensureGroup(redis, stream, group)
        const res = (await reader.xreadgroup(
          'GROUP',
          group,
          consumer,
          'COUNT',
          String(opts.count),
          'BLOCK',
          '1000',
          'STREAMS',
          stream,
          from,
        )) as [string, [string, string[]][]][] | null
        const entries = res?.[0]?.[1] ?? []
        // An explicit id reads only the pending list: once it is exhausted, new entries ('>').
        if (from !== '>' && entries.length === 0) from = '>'
        for (const [entryId, flat] of entries) {
          if (from !== '>') from = entryId
          await opts.onEntry(entryId, fieldsOf(flat))
        }
      } catch (err) {
        if (signal.aborted) break
        log('warn', `reading ${opts.what} failed; retrying`, { stream, error: (err as Error).message })
        await new Promise((r) => setTimeout(r, 1000))
      }
    }
  } finally {
    reader.disconnect()
  }
}

/**
 * The agent's side: reads its requests and answers each once. Runs until `signal` aborts. Reads on
 * a connection of its own (XREADGROUP BLOCK holds it).
 */
export async function serveRequests(opts: ServeOptions): Promise<void> {
  const { redis, node, consumer, signal, log } = opts
  const running = new Set<Promise<void>>()
  const limit = opts.concurrency ?? 64
  await readGroup({
    redis,
    stream: nodeKeys(node).requests,
    group: AGENT_GROUP,
    consumer,
    count: limit,
    signal,
    log,
    what: 'requests',
    onEntry: async (entryId, fields) => {
      while (running.size >= limit) await Promise.race(running)
      const p = answer(opts, entryId, fields).catch((err) =>
        log('error', 'a request could not be answered', { entryId, error: (err as Error).message }),
      )
      running.add(p)
      void p.finally(() => running.delete(p))
    },
  })
  await Promise.allSettled(running)
}

async function answer(opts: ServeOptions, entryId: string, f: Record<string, string>): Promise<void> {
  const { redis, node, log } = opts
  const keys = nodeKeys(node)
  const ack = () => redis.xack(keys.requests, AGENT_GROUP, entryId)
  const id = f.id
  if (!id || !/^[A-Za-z0-9-]{1,64}$/.test(id)) {
    log('warn', 'a request without a valid id was dropped', { entryId })
    await ack()
    return
  }
  const reply = async (r: FleetReply) => {
    const text = JSON.stringify(r)
    await redis.set(keys.result(id), text, 'EX', RESULT_TTL_S)
    await redis.lpush(keys.reply(id), text)
    await redis.expire(keys.reply(id), RESULT_TTL_S)
  }
  if (f.node !== node) {
    // Never an order for another node, whoever wrote it into this node's stream.
    log('warn', 'refused a request naming another node', { entryId, requestNode: f.node, node })
    await reply({ ok: false, error: `this is node ${node}; the request names ${f.node}`, code: 'WRONG_NODE' })
    await ack()
    return
  }
  const taken = await redis.set(keys.claim(id), 'agent', 'EX', CLAIM_TTL_S, 'NX')
  if (taken !== 'OK') {
    const claim = await redis.get(keys.claim(id))
    if (claim === 'abandoned') {
      log('info', 'skipped a request its sender gave up on (the node was down or cut off)', { id, op: f.op })
      await ack()
      return
    }
    const done = await redis.get(keys.result(id))
    if (done) {
      await redis.lpush(keys.reply(id), done)
      await redis.expire(keys.reply(id), RESULT_TTL_S)
      await ack()
      return
    }
    // Taken before a crash and never answered: run again (idempotent) below.
  }
  let req: FleetRequest
  try {
    req = { id, node: f.node, op: f.op as FleetOp, from: f.from ?? '', body: JSON.parse(f.body ?? '{}') }
  } catch {
    await reply({ ok: false, error: 'the request body is not JSON', code: 'BAD_REQUEST' })
    await ack()
    return
  }
  let r: FleetReply
  try {
    r = { ok: true, value: await opts.handle(req) }
  } catch (err) {
    r = errorReply(err)
  }
  await reply(r)
  await ack()
}

/** Agent → controller: one message on the node's event stream. */
export async function publishToController(
  redis: Redis,
  node: string,
  kind: string,
  data: Record<string, unknown>,
): Promise<string> {
  const id = await redis.xadd(
    nodeKeys(node).events,
    'MAXLEN',
    '~',
    String(EVENTS_MAXLEN),
    '*',
    'kind',
    kind,
    'node',
    node,
    'data',
    JSON.stringify(data),
  )
  return id ?? ''
}

export interface NodeMessage {
  entryId: string
  kind: string
  /** The node the message claims to come from (checked against the stream it came on). */
  node: string
  data: Record<string, unknown>
}

/**
 * The controller's side of one node's event stream: hands each message to `handle` and
 * acknowledges it once handled; a message whose handling failed stays pending and is handed again
 * at the next start. Messages that claim another node than their stream's are refused
 * (`onForged`), never handled. Runs until `signal` aborts.
 */
export async function consumeNodeMessages(opts: {
  redis: Redis
  node: string
  consumer: string
  handle(msg: NodeMessage): Promise<void>
  onForged(msg: NodeMessage): Promise<void>
  signal: AbortSignal
  log: ServeOptions['log']
}): Promise<void> {
  const { redis, node, consumer, signal, log } = opts
  const keys = nodeKeys(node)
  await readGroup({
    redis,
    stream: keys.events,
    group: CONTROLLER_GROUP,
    consumer,
    count: 100,
    signal,
    log,
    what: 'node messages',
    onEntry: async (entryId, f) => {
      let data: Record<string, unknown> = {}
      try {
        data = JSON.parse(f.data ?? '{}') as Record<string, unknown>
      } catch {
        log('warn', 'a node message that is not JSON was dropped', { node, entryId })
        await redis.xack(keys.events, CONTROLLER_GROUP, entryId)
        return
      }
      const msg: NodeMessage = { entryId, kind: f.kind ?? '', node: f.node ?? '', data }
      if (msg.node !== node) {
        await opts.onForged(msg)
        await redis.xack(keys.events, CONTROLLER_GROUP, entryId)
        return
      }
      // Handled in the background: the handler keeps each container's events in order itself.
      void opts
        .handle(msg)
        .then(() => redis.xack(keys.events, CONTROLLER_GROUP, entryId))
        .catch((err) =>
          log('error', 'a node message could not be handled; it stays pending', {
            node,
            entryId,
            kind: msg.kind,
            error: (err as Error).message,
          }),
        )
    },
  })
}
