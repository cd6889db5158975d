/**
 * The live stream: a Server-Sent Events hub living in the main process, mounted as
 * `GET /api/stream?token=...`. Everything the dashboard shows live goes through `publish`
 * (or, from step processes, through Redis pub/sub: see ./publish).
 *
 * - Every event carries a numeric `id:` that only grows. A client reconnecting with
 *   `Last-Event-ID` (header, or `lastEventId` query parameter) gets exactly the events it missed
 *   from a bounded replay buffer; when they are no longer all there it gets a `reset` event and
 *   should reload its state.
 * - Ids start at the hub's start time × 1000, so they keep growing across restarts of the main
 *   process and an id from a previous run falls below the buffer and earns a `reset` instead of
 *   a wrong replay.
 * - A client connecting without a resume point first gets a `ready` event whose id is the current
 *   position of the stream.
 * - `: ping` comments every `heartbeatMs` keep proxies from closing idle connections.
 * - A client that does not read is dropped once its unsent bytes pass `maxBufferedBytes`, or
 *   when its socket does not drain for `drainTimeoutMs`: memory per client stays bounded.
 * - EventSource cannot send headers, so the client shows a short-lived stream token in the
 *   `token` query parameter (never the API key); `verifyToken` decides.
 * - A token is checked when the stream opens, but a stream outlives its token: `recheckGrant`
 *   (injected: the hub knows nothing of keys or configuration) is asked again at the opening and
 *   every `recheckMs` whether what the token granted still holds (its key not revoked, its expiry
 *   not too long past). When it does not, the client gets a final `reauth` event and the stream
 *   ends; the page reconnects with a new token, which a revoked key cannot get.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { STREAM_CHANNEL, isStreamEventType, type StreamEventType } from './publish'

export type { StreamEventType } from './publish'

export interface TokenCheck {
  ok: boolean
  role?: string
  /** The API key the token was issued for. */
  keyId?: string
  /** When the token expires, in unix seconds. */
  expiresAt?: number
}

/** Whether what a token granted still holds; `reason` goes to the client in the `reauth` event. */
export type GrantVerdict = { ok: true } | { ok: false; reason: string }

export interface StreamHubOptions {
  /** Checks the `token` query parameter; null or `{ ok: false }` → 401. */
  verifyToken: (token: string) => TokenCheck | null | undefined | Promise<TokenCheck | null | undefined>
  /**
   * Asked when a stream opens (not ok → 401) and every `recheckMs` while it is open (not ok, or
   * throwing → a `reauth` event and the stream ends) whether the grant of its token still holds.
   * Without it a stream stays open as long as its client.
   */
  recheckGrant?: (grant: TokenCheck, nowMs: number) => GrantVerdict | Promise<GrantVerdict>
  /** How often open streams are rechecked (default 3000 ms). */
  recheckMs?: number
  /** Events kept for replay to reconnecting clients (default 1000). */
  replaySize?: number
  /** ...and at most this many bytes of them (default 16 MiB): big incidents must not pile up. */
  replayMaxBytes?: number
  /** Interval of `: ping` comments (default 15 000 ms; 0 turns them off). */
  heartbeatMs?: number
  /** Unsent bytes a client may accumulate before it is dropped (default 1 MiB). */
  maxBufferedBytes?: number
  /**
   * How long a blocked socket may stay undrained before its client is dropped (default 30 000 ms).
   * Checked on each heartbeat, so it needs heartbeatMs > 0.
   */
  drainTimeoutMs?: number
  /** The `retry:` hint sent to EventSource, in ms (default 3000). */
  retryMs?: number
  /** Connections beyond this get 503 (default 10 000). */
  maxClients?: number
  /** Who may see which events. Default: `audit` events only for admins, everything else for all. */
  canReceive?: (role: string | undefined, type: StreamEventType) => boolean
  /** The first id is `firstId` (default: start time in ms × 1000 + 1). */
  firstId?: number
  /** Called with a short message when something notable happens (a drop, a bad Redis message). */
  log?: (msg: string, fields?: Record<string, unknown>) => void
}

export interface StreamHubStats {
  clients: number
  published: number
  lastId: number
  /** Events held for replay, and their size. */
  buffered: number
  bufferedBytes: number
  /** Clients dropped for reading too slowly. */
  dropped: number
  replayed: number
  resets: number
  /** Connections refused (401, 503). */
  rejected: number
  /** Streams ended with `reauth` because their grant no longer held. */
  endedForReauth: number
  connections: number
}

export interface RedisSubscriberLike {
  subscribe(channel: string): Promise<unknown>
  unsubscribe(channel: string): Promise<unknown>
  on(event: 'message', listener: (channel: string, message: string) => void): unknown
  removeListener(event: 'message', listener: (channel: string, message: string) => void): unknown
  duplicate?: () => RedisSubscriberLike
  quit?: () => Promise<unknown>
  disconnect?: () => void
}

export interface StreamHub {
  /** Express-compatible handler for `GET /api/stream`. */
  handler(req: IncomingMessage, res: ServerResponse): Promise<void>
  /**
   * Sends an event to every connected client allowed to see it; returns its id (for an ephemeral
   * `sample`, which has none and is not replayed: the id of the last event that has one).
   */
  publish(type: StreamEventType, data: unknown): number
  clientCount(): number
  stats(): StreamHubStats
  /**
   * Relays events published with `publishToStream` on `sentinel:stream`. By default it subscribes on
   * `redis.duplicate()` (a connection in subscriber mode can do nothing else) and closes that
   * connection when unsubscribed. Resolves to the unsubscribe function.
   */
  subscribeRedis(redis: RedisSubscriberLike, opts?: { duplicate?: boolean }): Promise<() => Promise<void>>
  /** Ends every connection, stops the heartbeat, unsubscribes from Redis. */
  close(): Promise<void>
}

interface BufferedEvent {
  id: number
  type: StreamEventType
  /** The whole SSE frame, serialised once for every client. */
  frame: string
  bytes: number
}

interface Client {
  res: ServerResponse
  role: string | undefined
  /** What the client's token granted, as verifyToken said. */
  grant: TokenCheck
  /** When the socket last refused a write without draining yet (0 when it is flowing). */
  blockedSince: number
  /**
   * Bytes allowed above maxBufferedBytes until the socket first drains: the replay sent on
   * connecting, which is bounded by the replay buffer and must not count as reading too slowly.
   */
  allowance: number
  closed: boolean
}

/**
 * Readings sampled every few seconds for the live charts: a client that was away needs the next
 * one, not the ones it missed, and a thousand of them would push out of the replay buffer the
 * incident events a reconnecting dashboard must get. They go out without an id and are not kept.
 */
const EPHEMERAL_EVENT_TYPES: ReadonlySet<StreamEventType> = new Set(['sample'])

const defaultCanReceive = (role: string | undefined, type: StreamEventType) => type !== 'audit' || role === 'admin'

function frameOf(id: number, type: string, data: unknown): string {
  // JSON.stringify escapes CR and LF, so the payload fits on one `data:` line.
  return `id: ${id}\nevent: ${type}\ndata: ${JSON.stringify(data ?? null)}\n\n`
}

function parseLastEventId(raw: string | string[] | null | undefined): number | null {
  const v = Array.isArray(raw) ? raw[0] : raw
  if (typeof v !== 'string' || !/^\d{1,16}$/.test(v.trim())) return null
  const n = Number(v.trim())
  return Number.isSafeInteger(n) ? n : null
}

function sendJson(res: ServerResponse, status: number, body: unknown) {
  const text = JSON.stringify(body)
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
    'Cache-Control': 'no-store',
  })
  res.end(text)
}

export function createStreamHub(opts: StreamHubOptions): StreamHub {
  const replaySize = Math.max(1, Math.floor(opts.replaySize ?? 1000))
  const replayMaxBytes = Math.max(1024, opts.replayMaxBytes ?? 16 * 1024 * 1024)
  const heartbeatMs = opts.heartbeatMs ?? 15_000
  const maxBufferedBytes = Math.max(1024, opts.maxBufferedBytes ?? 1024 * 1024)
  const drainTimeoutMs = opts.drainTimeoutMs ?? 30_000
  const retryMs = opts.retryMs ?? 3000
  const recheckMs = Math.max(10, opts.recheckMs ?? 3000)
  const maxClients = opts.maxClients ?? 10_000
  const canReceive = opts.canReceive ?? defaultCanReceive
  const log = opts.log ?? (() => {})

  const clients = new Set<Client>()
  // A ring would save the shift; at 1000 entries Array.shift is cheap enough and simpler.
  const buffer: BufferedEvent[] = []
  let bufferBytes = 0
  let lastId = (opts.firstId ?? Date.now() * 1000 + 1) - 1
  /** Every id above this is still in the buffer (or not yet published). */
  let floorId = lastId
  const counters = { published: 0, dropped: 0, replayed: 0, resets: 0, rejected: 0, endedForReauth: 0, connections: 0 }
  let closed = false
  const redisSubs = new Set<() => Promise<void>>()

  const detach = (c: Client) => {
    c.closed = true
    clients.delete(c)
  }

  const drop = (c: Client, why: string) => {
    if (c.closed) return
    counters.dropped++
    detach(c)
    log('stream client dropped', { why, buffered: c.res.writableLength })
    // destroy, not end: end() would queue behind the very bytes this client is not reading.
    c.res.destroy()
  }

  /**
   * Ends a stream whose grant no longer holds. The `reauth` frame carries the current id: the
   * client has been sent every event up to it, so its reconnect (with a new token) resumes
   * exactly there. A client that is not reading would never see the frame: it is cut off.
   */
  const endForReauth = (c: Client, reason: string) => {
    if (c.closed) return
    counters.endedForReauth++
    log('stream closed: its token no longer holds', { reason, role: c.role, keyId: c.grant.keyId })
    if (c.blockedSince > 0) {
      detach(c)
      c.res.destroy()
      return
    }
    c.res.write(frameOf(lastId, 'reauth', { reason }))
    detach(c)
    c.res.end()
    // end() waits for the client to read what is queued; one that stops now is cut off later.
    const cutOff = setTimeout(() => c.res.destroy(), drainTimeoutMs)
    cutOff.unref()
    c.res.once('close', () => clearTimeout(cutOff))
  }

  const recheck = async (grant: TokenCheck): Promise<GrantVerdict> => {
    if (!opts.recheckGrant) return { ok: true }
    try {
      return await opts.recheckGrant(grant, Date.now())
    } catch (err) {
      // Fails closed: a grant that cannot be confirmed is not kept.
      log('stream grant check failed', { error: (err as Error).message })
      return { ok: false, reason: 'check_failed' }
    }
  }

  let rechecking = false
  const recheckTimer = opts.recheckGrant
    ? setInterval(async () => {
        if (rechecking) return
        rechecking = true
        try {
          for (const c of [...clients]) {
            const verdict = await recheck(c.grant)
            if (!verdict.ok) endForReauth(c, verdict.reason)
          }
        } finally {
          rechecking = false
        }
      }, recheckMs)
    : undefined
  recheckTimer?.unref()

  /** Writes to one client; false when the client is gone or was dropped. */
  const write = (c: Client, chunk: string): boolean => {
    if (c.closed) return false
    const flowing = c.res.write(chunk)
    if (flowing) c.allowance = 0
    if (c.res.writableLength > maxBufferedBytes + c.allowance) {
      drop(c, 'buffer_limit')
      return false
    }
    if (!flowing && c.blockedSince === 0) {
      c.blockedSince = Date.now()
      c.res.once('drain', () => {
        c.blockedSince = 0
        c.allowance = 0
      })
    }
    return true
  }

  const heartbeat =
    heartbeatMs > 0
      ? setInterval(() => {
          const now = Date.now()
          for (const c of clients) {
            if (c.blockedSince > 0 && now - c.blockedSince > drainTimeoutMs) drop(c, 'drain_timeout')
            else write(c, ': ping\n\n')
          }
        }, heartbeatMs)
      : undefined
  heartbeat?.unref()

  const publish = (type: StreamEventType, data: unknown): number => {
    if (!isStreamEventType(type)) throw new Error(`unknown stream event type ${String(type)}`)
    if (EPHEMERAL_EVENT_TYPES.has(type)) {
      // No id, not buffered: the client's Last-Event-ID stays the last event that matters.
      const frame = `event: ${type}\ndata: ${JSON.stringify(data ?? null)}\n\n`
      counters.published++
      for (const c of clients) if (canReceive(c.role, type)) write(c, frame)
      return lastId
    }
    const id = ++lastId
    const frame = frameOf(id, type, data)
    const ev: BufferedEvent = { id, type, frame, bytes: Buffer.byteLength(frame) }
    buffer.push(ev)
    bufferBytes += ev.bytes
    while (buffer.length > replaySize || (bufferBytes > replayMaxBytes && buffer.length > 1)) {
      const gone = buffer.shift()!
      bufferBytes -= gone.bytes
      floorId = gone.id
    }
    counters.published++
    for (const c of clients) if (canReceive(c.role, type)) write(c, ev.frame)
    return id
  }

  const handler = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://localhost')
    if (closed) {
      counters.rejected++
      return sendJson(res, 503, { error: 'stream_closed' })
    }
    const token = url.searchParams.get('token')
    let check: TokenCheck | null | undefined = null
    if (token) {
      try {
        check = await opts.verifyToken(token)
      } catch {
        check = null
      }
    }
    if (!check || check.ok !== true) {
      counters.rejected++
      return sendJson(res, 401, {
        error: 'unauthorized',
        message: 'a valid stream token is required in ?token= (POST /api/stream/token)',
      })
    }
    // A token issued before its key was revoked is still signed and unexpired: not enough.
    const verdict = await recheck(check)
    if (!verdict.ok) {
      counters.rejected++
      return sendJson(res, 401, {
        error: 'unauthorized',
        message: `this stream token no longer holds (${verdict.reason}); get a new one (POST /api/stream/token)`,
      })
    }
    if (clients.size >= maxClients) {
      counters.rejected++
      return sendJson(res, 503, { error: 'too_many_stream_clients' })
    }
    // The socket may have closed while the token was checked. (Not req.destroyed: a request whose
    // body was read to the end counts as destroyed while its connection is still open.)
    if (res.destroyed || res.writableEnded || req.socket.destroyed) return

    const fromHeader = req.headers['last-event-id']
    const resumeFrom = parseLastEventId(fromHeader ?? url.searchParams.get('lastEventId'))

    req.socket.setTimeout(0)
    req.socket.setNoDelay(true)
    req.socket.setKeepAlive(true)
    res.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-cache, no-transform',
      Connection: 'keep-alive',
      // Tells nginx-style proxies not to hold events back in their buffers.
      'X-Accel-Buffering': 'no',
    })
    const client: Client = { res, role: check.role, grant: check, blockedSince: 0, allowance: 0, closed: false }
    counters.connections++
    clients.add(client)
    // res 'close' means the connection went away (or the response ended); req 'close' would also
    // fire merely because a middleware consumed the request body.
    res.on('close', () => detach(client))

    let head = `retry: ${retryMs}\n\n`
    if (resumeFrom !== null && resumeFrom !== lastId) {
      if (resumeFrom >= floorId && resumeFrom < lastId) {
        const start = buffer.findIndex((e) => e.id > resumeFrom)
        for (let i = start; i >= 0 && i < buffer.length; i++) {
          const ev = buffer[i]
          if (!canReceive(client.role, ev.type)) continue
          head += ev.frame
          counters.replayed++
        }
      } else {
        // Too far behind (or an id from another run): the missed events are gone, reload.
        counters.resets++
        head += frameOf(lastId, 'reset', {
          reason: resumeFrom > lastId ? 'unknown_id' : 'too_far_behind',
          lastEventId: resumeFrom,
          latestId: lastId,
        })
      }
    } else {
      // Tells a fresh client where the stream stands, so a later reconnect (even from a new
      // EventSource, passing ?lastEventId=) resumes from here although no event arrived yet.
      head += frameOf(lastId, 'ready', { lastEventId: lastId })
    }
    client.allowance = Buffer.byteLength(head)
    write(client, head)
  }

  const subscribeRedis = async (redis: RedisSubscriberLike, o: { duplicate?: boolean } = {}) => {
    const useDuplicate = o.duplicate !== false && typeof redis.duplicate === 'function'
    const sub = useDuplicate ? redis.duplicate!() : redis
    const onMessage = (channel: string, message: string) => {
      if (channel !== STREAM_CHANNEL || closed) return
      let parsed: { type?: unknown; data?: unknown }
      try {
        parsed = JSON.parse(message)
      } catch {
        log('bad stream message on redis', { reason: 'not_json' })
        return
      }
      if (!parsed || !isStreamEventType(parsed.type)) {
        log('bad stream message on redis', { reason: 'unknown_type' })
        return
      }
      publish(parsed.type, parsed.data)
    }
    sub.on('message', onMessage)
    await sub.subscribe(STREAM_CHANNEL)
    let done = false
    const unsubscribe = async () => {
      if (done) return
      done = true
      redisSubs.delete(unsubscribe)
      sub.removeListener('message', onMessage)
      if (useDuplicate) {
        try {
          await sub.quit?.()
        } catch {
          sub.disconnect?.()
        }
      } else {
        await sub.unsubscribe(STREAM_CHANNEL).catch(() => {})
      }
    }
    redisSubs.add(unsubscribe)
    return unsubscribe
  }

  return {
    handler,
    publish,
    subscribeRedis,
    clientCount: () => clients.size,
    stats: () => ({ clients: clients.size, lastId, buffered: buffer.length, bufferedBytes: bufferBytes, ...counters }),
    async close() {
      closed = true
      if (heartbeat) clearInterval(heartbeat)
      if (recheckTimer) clearInterval(recheckTimer)
      await Promise.all([...redisSubs].map((u) => u()))
      for (const c of [...clients]) {
        detach(c)
        c.res.end()
      }
    },
  }
}
