/**
 * The live stream: a Server-Sent Events hub living in each controller (main process), mounted as
 * `GET /api/stream?token=...`. Everything the dashboard shows live goes through one event log in
 * Redis (a Redis stream, see ./publish), shared by every controller: `publish` here and
 * `publishToStream` in step processes append to it, and every hub tails it (XREAD BLOCK on a
 * connection of its own) and fans each entry out to its clients.
 *
 * - Every event's `id:` is its log entry id (`<ms>-<seq>`), the same on every controller. A client
 *   reconnecting with `Last-Event-ID` (header, or `lastEventId` query parameter), to this
 *   controller or another, gets exactly the entries after it (XRANGE), then the live ones. When
 *   that id is no longer in the log (trimmed away, from a previous Redis, or malformed) it gets a
 *   `reset` event and should reload its state.
 * - No gap and no duplicate at the seam between that replay and the live tail: the client is
 *   registered before the XRANGE is sent, live entries for it are held meanwhile, and every client
 *   has a cursor (the last entry id it was given) below which nothing is sent again.
 * - A client connecting without a resume point first gets a `ready` event whose id is the hub's
 *   position in the log.
 * - Samples (`sample`) are ephemeral: sent at once to this hub's clients, without an id, never
 *   logged nor replayed (each controller samples its own host).
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
 * - Redis down: `publish` resolves to null (logged), the tail retries every `redisRetryMs`, and resumes
 *   from its position when Redis is back, so nothing that reached the log is skipped.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import {
  STREAM_LOG_KEY,
  STREAM_LOG_MAXLEN,
  appendToStreamLog,
  isStreamEventType,
  type RedisCommandRunner,
  type StreamEventType,
} from './publish'

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
  /** The Redis stream holding the log (default STREAM_LOG_KEY; tests use their own). */
  logKey?: string
  /** About how many entries this hub's appends keep in the log (default STREAM_LOG_MAXLEN). */
  logMaxLen?: number
  /**
   * A replay bigger than this (default 16 MiB) earns a `reset` instead: big incidents must not
   * pile up in one client's buffer.
   */
  replayMaxBytes?: number
  /** How long one XREAD of the tail blocks (default 5000 ms). */
  tailBlockMs?: number
  /** How long to wait before trying Redis again after it failed (default 1000 ms). */
  redisRetryMs?: number
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
  /** Called with a short message when something notable happens (a drop, a bad log entry). */
  log?: (msg: string, fields?: Record<string, unknown>) => void
}

export interface StreamHubStats {
  clients: number
  /** Events this hub appended to the log (or, for samples, sent). */
  published: number
  /** Events this hub could not append (Redis failed, or no log attached). */
  lost: number
  /** Log entries the tail delivered. */
  delivered: number
  /** The id of the last log entry the tail delivered ('0-0' before any). */
  lastId: string
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

/** What the hub needs of a Redis client (ioredis fits): commands, and a connection of its own to block on. */
export interface StreamLogRedis extends RedisCommandRunner {
  duplicate(): StreamLogRedis
  disconnect(): void
  on(event: 'error', listener: (err: Error) => void): unknown
}

export interface StreamHub {
  /** Express-compatible handler for `GET /api/stream`. */
  handler(req: IncomingMessage, res: ServerResponse): Promise<void>
  /**
   * Appends an event to the shared log; every hub (this one too) delivers it from there. Resolves
   * to its log id, or null when it could not be appended (logged; never rejects). A `sample` is
   * sent to this hub's clients at once, without an id, and resolves to null.
   * Throws at once for an unknown type.
   */
  publish(type: StreamEventType, data: unknown): Promise<string | null>
  clientCount(): number
  stats(): StreamHubStats
  /**
   * Starts using the log in Redis: `redis` for appends and replays, `redis.duplicate()` for the
   * blocking tail (closed by the returned function, or by close()). Resolves once the hub knows
   * its position in the log; until then new streams wait (up to 5 s, then 503).
   */
  attachLog(redis: StreamLogRedis): Promise<() => Promise<void>>
  /** Ends every connection, stops the heartbeat and the tail. */
  close(): Promise<void>
}

/** One log entry, ready to send. */
interface LogEntry {
  id: string
  type: StreamEventType
  /** The whole SSE frame, serialised once for every client ('' for an entry nobody gets replayed). */
  frame: string
  bytes: number
}

interface Client {
  res: ServerResponse
  role: string | undefined
  /** What the client's token granted, as verifyToken said. */
  grant: TokenCheck
  /** The id of the last log entry this client was given (or skipped): nothing at or below it is sent. */
  cursor: string
  /** Entries from the tail held while this client's replay is being read from the log. */
  pending: LogEntry[] | null
  /** When the socket last refused a write without draining yet (0 when it is flowing). */
  blockedSince: number
  /**
   * Bytes allowed above maxBufferedBytes until the socket first drains: the replay sent on
   * connecting, which is bounded by replayMaxBytes and must not count as reading too slowly.
   */
  allowance: number
  closed: boolean
}

/**
 * Readings sampled every few seconds for the live charts: a client that was away needs the next
 * one, not the ones it missed, and a thousand of them would push out of the log the incident
 * events a reconnecting dashboard must get. They go out without an id and are not kept.
 */
const EPHEMERAL_EVENT_TYPES: ReadonlySet<StreamEventType> = new Set(['sample'])

const defaultCanReceive = (role: string | undefined, type: StreamEventType) => type !== 'audit' || role === 'admin'

/** Entries one XREAD of the tail takes at most. */
const TAIL_BATCH = 500
/** How long a new stream waits for the hub to find its position in the log. */
const POSITION_WAIT_MS = 5000

const ZERO_ID = '0-0'

/** A log entry id, normalised (no leading zeros), or null when `raw` is not one. */
export function parseStreamId(raw: string): string | null {
  const m = /^(\d{1,20})-(\d{1,20})$/.exec(raw.trim())
  if (!m) return null
  const ms = BigInt(m[1])
  const seq = BigInt(m[2])
  const max = 2n ** 64n - 1n
  return ms <= max && seq <= max ? `${ms}-${seq}` : null
}

/** Orders two normalised entry ids (negative when a comes first). */
export function compareStreamIds(a: string, b: string): number {
  const [am, as] = a.split('-')
  const [bm, bs] = b.split('-')
  const part = (x: string, y: string) => (x.length !== y.length ? x.length - y.length : x < y ? -1 : x > y ? 1 : 0)
  return part(am, bm) || part(as, bs)
}

function frameOf(id: string, type: string, data: unknown): string {
  // JSON.stringify escapes CR and LF, so the payload fits on one `data:` line.
  return `id: ${id}\nevent: ${type}\ndata: ${JSON.stringify(data ?? null)}\n\n`
}

type RawEntry = [string, string[]]

function sendJson(res: ServerResponse, status: number, body: unknown) {
  const text = JSON.stringify(body)
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
    'Cache-Control': 'no-store',
  })
  res.end(text)
}

const sleep = (ms: number) =>
  new Promise<void>((r) => {
    const t = setTimeout(r, ms)
    t.unref()
  })

export function createStreamHub(opts: StreamHubOptions): StreamHub {
  const logKey = opts.logKey ?? STREAM_LOG_KEY
  const logMaxLen = Math.max(1, Math.floor(opts.logMaxLen ?? STREAM_LOG_MAXLEN))
  const replayMaxBytes = Math.max(1024, opts.replayMaxBytes ?? 16 * 1024 * 1024)
  const tailBlockMs = Math.max(10, opts.tailBlockMs ?? 5000)
  const redisRetryMs = Math.max(10, opts.redisRetryMs ?? 1000)
  const heartbeatMs = opts.heartbeatMs ?? 15_000
  const maxBufferedBytes = Math.max(1024, opts.maxBufferedBytes ?? 1024 * 1024)
  const drainTimeoutMs = opts.drainTimeoutMs ?? 30_000
  const retryMs = opts.retryMs ?? 3000
  const recheckMs = Math.max(10, opts.recheckMs ?? 3000)
  const maxClients = opts.maxClients ?? 10_000
  const canReceive = opts.canReceive ?? defaultCanReceive
  const log = opts.log ?? (() => {})

  const clients = new Set<Client>()
  /** The id of the last log entry the tail delivered. */
  let position = ZERO_ID
  const counters = {
    published: 0,
    lost: 0,
    delivered: 0,
    dropped: 0,
    replayed: 0,
    resets: 0,
    rejected: 0,
    endedForReauth: 0,
    connections: 0,
  }
  let closed = false
  /** Where appends and replays go, once attachLog was called. */
  let logRedis: StreamLogRedis | null = null
  /** Settles once the hub knows its position in the log. */
  let positioned: Promise<void> | null = null
  let isPositioned = false
  let stopTail: (() => Promise<void>) | null = null

  const detach = (c: Client) => {
    c.closed = true
    c.pending = null
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
   * Ends a stream whose grant no longer holds. The `reauth` frame carries the client's cursor: it
   * has been sent every event up to it, so its reconnect (with a new token, to any controller)
   * resumes exactly there. A client that is not reading would never see the frame: it is cut off.
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
    c.res.write(frameOf(c.cursor, 'reauth', { reason }))
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

  /** The part of an entry a client gets ('' when nothing: already had, or not for its role). */
  const forClient = (c: Client, e: LogEntry): string => {
    if (compareStreamIds(e.id, c.cursor) <= 0) return ''
    c.cursor = e.id
    return canReceive(c.role, e.type) ? e.frame : ''
  }

  const deliver = (e: LogEntry) => {
    position = e.id
    counters.delivered++
    for (const c of clients) {
      if (c.pending) {
        c.pending.push(e)
        // A replay that takes this long is stuck: the client reconnects and tries again.
        if (c.pending.length > logMaxLen) drop(c, 'replay_stuck')
        continue
      }
      const frame = forClient(c, e)
      if (frame) write(c, frame)
    }
  }

  /**
   * After the tail fell behind the trimmed log: every client reloads (a `reset` whose id is `to`,
   * the last entry read, so what was read is not sent again); a client still reading its replay
   * is cut off and comes back with its own id.
   */
  const resetAll = (to: string) => {
    log('stream tail fell behind the log: clients reset', { from: position, to })
    position = to
    for (const c of [...clients]) {
      if (c.pending) {
        drop(c, 'tail_fell_behind')
        continue
      }
      write(c, resetFrame(c, 'hub_fell_behind', c.cursor))
    }
  }

  /** A log entry as the tail or XRANGE gives it; null (logged) when it is not one of ours. */
  const entryOf = (raw: RawEntry): LogEntry | null => {
    const [id, fields] = raw
    let type: unknown
    let data: string | undefined
    for (let i = 0; i + 1 < fields.length; i += 2) {
      if (fields[i] === 'type') type = fields[i + 1]
      else if (fields[i] === 'data') data = fields[i + 1]
    }
    // A raw CR or LF in the data would end the SSE line and let the rest pass for other fields.
    if (!isStreamEventType(type) || data === undefined || /[\r\n]/.test(data)) {
      log('bad stream log entry skipped', { id, reason: isStreamEventType(type) ? 'bad_data' : 'unknown_type' })
      return null
    }
    const frame = EPHEMERAL_EVENT_TYPES.has(type)
      ? `event: ${type}\ndata: ${data}\n\n`
      : `id: ${id}\nevent: ${type}\ndata: ${data}\n\n`
    return { id, type, frame, bytes: Buffer.byteLength(frame) }
  }

  const publish = (type: StreamEventType, data: unknown): Promise<string | null> => {
    if (!isStreamEventType(type)) throw new Error(`unknown stream event type ${String(type)}`)
    if (EPHEMERAL_EVENT_TYPES.has(type)) {
      // No id, not logged: the client's Last-Event-ID stays the last event that matters.
      const frame = `event: ${type}\ndata: ${JSON.stringify(data ?? null)}\n\n`
      counters.published++
      for (const c of clients) if (!c.pending && canReceive(c.role, type)) write(c, frame)
      return Promise.resolve(null)
    }
    if (!logRedis) {
      counters.lost++
      log('stream event dropped: no log attached', { type })
      return Promise.resolve(null)
    }
    return appendToStreamLog(logRedis, type, data, { key: logKey, maxLen: logMaxLen }).then(
      (id) => {
        counters.published++
        return id
      },
      (err: Error) => {
        counters.lost++
        log('stream event lost: the log could not be appended to', { type, error: err.message })
        return null
      },
    )
  }

  type Replay = { entries: LogEntry[] } | { reset: 'too_far_behind' | 'unknown_id' }

  /** The entries after `from` (exclusive), or why they cannot all be had. Throws when Redis does. */
  const readAfter = async (from: string): Promise<Replay> => {
    if (!logRedis) return { reset: 'unknown_id' }
    let raw: RawEntry[]
    if (from === ZERO_ID) {
      // The position of a hub that started on an empty log. Trimming keeps at least logMaxLen
      // entries, so a shorter log has lost none since.
      const length = Number(await logRedis.call('XLEN', logKey))
      if (length >= logMaxLen) return { reset: 'too_far_behind' }
      raw = (await logRedis.call('XRANGE', logKey, '-', '+')) as RawEntry[]
    } else {
      // From `from` inclusive: when it is still there, nothing after it was trimmed away.
      raw = (await logRedis.call('XRANGE', logKey, from, '+')) as RawEntry[]
      if (raw[0]?.[0] !== from) {
        const first = (await logRedis.call('XRANGE', logKey, '-', '+', 'COUNT', 1)) as RawEntry[]
        const trimmed = first.length > 0 && compareStreamIds(from, first[0][0]) < 0
        return { reset: trimmed ? 'too_far_behind' : 'unknown_id' }
      }
      raw = raw.slice(1)
    }
    const entries: LogEntry[] = []
    for (const r of raw) {
      const e = entryOf(r)
      if (e) entries.push(e)
    }
    return { entries }
  }

  const resetFrame = (c: Client, reason: string, lastEventId: string) => {
    counters.resets++
    // Whatever the tail delivered meanwhile is in the state the client reloads.
    c.cursor = position
    return frameOf(c.cursor, 'reset', { reason, lastEventId, latestId: c.cursor })
  }

  /** Sends a resuming client what it missed, then what the tail held for it meanwhile. */
  const resume = async (c: Client, from: string) => {
    let replay: Replay
    try {
      replay = await readAfter(from)
    } catch (err) {
      // Without the log nothing can be replayed: end, and let the client come back with its id.
      log('stream replay failed: the log is unreachable', { error: (err as Error).message })
      detach(c)
      c.res.end()
      return
    }
    if (c.closed || !c.pending) return
    const held = c.pending
    c.pending = null
    let head = ''
    if ('reset' in replay) {
      head = resetFrame(c, replay.reset, from)
    } else {
      let frames = ''
      let replayed = 0
      for (const e of replay.entries) {
        const frame = forClient(c, e)
        if (frame && !EPHEMERAL_EVENT_TYPES.has(e.type)) {
          frames += frame
          replayed++
        }
      }
      if (Buffer.byteLength(frames) > replayMaxBytes) {
        head = resetFrame(c, 'too_far_behind', from)
      } else {
        head = frames
        counters.replayed += replayed
      }
    }
    // Held entries at or below the cursor were in the replay (or are in the reloaded state).
    for (const e of held) head += forClient(c, e)
    c.allowance = Buffer.byteLength(head)
    if (head) write(c, head)
  }

  /** Waits (bounded) for the hub to know its position; false when it does not in time. */
  const waitPositioned = async (): Promise<boolean> => {
    if (!positioned || isPositioned) return true
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<void>((r) => (timer = setTimeout(r, POSITION_WAIT_MS)))
    await Promise.race([positioned, timeout])
    clearTimeout(timer)
    return isPositioned
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
    if (!(await waitPositioned())) {
      counters.rejected++
      res.setHeader('Retry-After', '5')
      return sendJson(res, 503, { error: 'stream_log_unavailable' })
    }
    // The socket may have closed while the token was checked. (Not req.destroyed: a request whose
    // body was read to the end counts as destroyed while its connection is still open.)
    if (res.destroyed || res.writableEnded || req.socket.destroyed) return

    const rawResume = req.headers['last-event-id'] ?? url.searchParams.get('lastEventId')
    const resumeText = (Array.isArray(rawResume) ? rawResume[0] : rawResume)?.trim() ?? ''
    const resumeFrom = resumeText ? parseStreamId(resumeText) : null

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
    const client: Client = {
      res,
      role: check.role,
      grant: check,
      cursor: position,
      pending: null,
      blockedSince: 0,
      allowance: 0,
      closed: false,
    }
    counters.connections++
    // Registered before any replay is read, so no live entry can slip between the two.
    clients.add(client)
    // res 'close' means the connection went away (or the response ended); req 'close' would also
    // fire merely because a middleware consumed the request body.
    res.on('close', () => detach(client))

    let head = `retry: ${retryMs}\n\n`
    if (resumeText && resumeFrom === null) {
      // Not a log id (a previous version's numeric id, or garbage): nothing can be resumed.
      head += resetFrame(client, 'unknown_id', resumeText.slice(0, 64))
    } else if (resumeFrom === null || resumeFrom === position) {
      // Tells a fresh client where the stream stands, so a later reconnect (even from a new
      // EventSource, passing ?lastEventId=) resumes from here although no event arrived yet.
      head += frameOf(position, 'ready', { lastEventId: position })
    } else {
      client.cursor = resumeFrom
      client.pending = []
      write(client, head)
      return resume(client, resumeFrom)
    }
    client.allowance = Buffer.byteLength(head)
    write(client, head)
  }

  const attachLog = async (redis: StreamLogRedis): Promise<() => Promise<void>> => {
    if (logRedis) throw new Error('the stream hub already has a log')
    logRedis = redis
    const conn = redis.duplicate()
    // Failures surface as rejected calls in the loops below; this only keeps ioredis quiet.
    conn.on('error', () => {})
    let stopped = false
    let failing = false
    const failed = (what: string, err: unknown) => {
      if (!failing) log(`stream log unreachable (${what}); retrying`, { error: (err as Error).message })
      failing = true
    }
    positioned = (async () => {
      while (!stopped && !closed) {
        try {
          const last = (await redis.call('XREVRANGE', logKey, '+', '-', 'COUNT', 1)) as RawEntry[]
          position = last[0]?.[0] ?? ZERO_ID
          isPositioned = true
          return
        } catch (err) {
          failed('position', err)
          await sleep(redisRetryMs)
        }
      }
    })()
    /**
     * Whether entries this hub never read were trimmed away: when its position is still in the
     * log, it was there when the XREAD ran, and so was everything after it (trimming only takes
     * the oldest). Only a tail more than the bound behind (a stalled process) can fall behind.
     */
    const fellBehind = async (): Promise<boolean> => {
      if (position === ZERO_ID) return false
      const here = (await redis.call('XRANGE', logKey, position, position)) as RawEntry[]
      return here.length === 0
    }
    const tail = (async () => {
      await positioned
      while (!stopped && !closed) {
        try {
          const reply = (await conn.call(
            'XREAD',
            'COUNT',
            TAIL_BATCH,
            'BLOCK',
            tailBlockMs,
            'STREAMS',
            logKey,
            position,
          )) as [string, RawEntry[]][] | null
          if (failing) log('stream log reachable again', { position })
          failing = false
          if (stopped || closed) return
          for (const [, entries] of reply ?? []) {
            if (entries.length > 0 && (await fellBehind())) {
              if (stopped || closed) return
              resetAll(entries[entries.length - 1][0])
              continue
            }
            for (const raw of entries) {
              const e = entryOf(raw)
              if (e) deliver(e)
              // A skipped entry still moves the position, or the next XREAD would return it again.
              else position = raw[0]
            }
          }
        } catch (err) {
          if (stopped || closed) return
          failed('tail', err)
          await sleep(redisRetryMs)
        }
      }
    })()
    const stop = async () => {
      if (stopped) return
      stopped = true
      stopTail = null
      // disconnect, not quit: quit would wait behind the blocked XREAD.
      conn.disconnect()
      await tail
    }
    stopTail = stop
    await positioned
    return stop
  }

  return {
    handler,
    publish,
    attachLog,
    clientCount: () => clients.size,
    stats: () => ({ clients: clients.size, lastId: position, ...counters }),
    async close() {
      closed = true
      if (heartbeat) clearInterval(heartbeat)
      if (recheckTimer) clearInterval(recheckTimer)
      await stopTail?.()
      for (const c of [...clients]) {
        detach(c)
        c.res.end()
      }
    },
  }
}
