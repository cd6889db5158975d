/**
 * Our own check of Slack's request signature, in front of Bolt's, and the only way into Bolt.
 * Bolt answers 401 to a bad signature or a timestamp more than 5 minutes old, but accepts a
 * timestamp in the future and the same signed request any number of times within the 5 minutes.
 * This guard refuses both: a timestamp more than 5 minutes old or more than a minute ahead, and a
 * signed request it has already accepted, whatever path it was sent to.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import type { Request, RequestHandler, Response } from 'express'

/** How old a request's timestamp may be: Slack's own rule, and Bolt's. */
export const MAX_AGE_SECONDS = 300
/**
 * How far ahead of our clock a timestamp may be: clock drift between Slack and us is seconds, and a
 * request stamped in the future would stay replayable (to Bolt) for longer than five minutes.
 */
export const MAX_AHEAD_SECONDS = 60
const MAX_BODY_BYTES = 1024 * 1024

export type GuardFailure =
  | 'missing_headers'
  | 'bad_timestamp'
  | 'stale'
  | 'future'
  | 'bad_signature'
  | 'replayed'
  | 'replay_store_unavailable'
  | 'too_large'
  | 'body_consumed'

export interface SignatureCheck {
  ok: boolean
  reason?: GuardFailure
}

/** Checks one request's headers and raw body. Does not record it (see createReplayCache). */
export function checkSlackSignature(
  signingSecret: string,
  headers: IncomingMessage['headers'],
  rawBody: Buffer | string,
  nowMs = Date.now(),
): SignatureCheck {
  const ts = headers['x-slack-request-timestamp']
  const sig = headers['x-slack-signature']
  if (typeof ts !== 'string' || typeof sig !== 'string') return { ok: false, reason: 'missing_headers' }
  if (!/^\d{1,12}$/.test(ts)) return { ok: false, reason: 'bad_timestamp' }
  const age = Math.floor(nowMs / 1000) - Number(ts)
  if (age > MAX_AGE_SECONDS) return { ok: false, reason: 'stale' }
  if (-age > MAX_AHEAD_SECONDS) return { ok: false, reason: 'future' }
  const m = /^v0=([0-9a-f]{64})$/.exec(sig)
  if (!m) return { ok: false, reason: 'bad_signature' }
  const expected = createHmac('sha256', signingSecret).update(`v0:${ts}:`).update(rawBody).digest()
  if (!timingSafeEqual(Buffer.from(m[1], 'hex'), expected)) return { ok: false, reason: 'bad_signature' }
  return { ok: true }
}

/**
 * What identifies a signed request for the replay guard: its timestamp and the digest of its body,
 * the very bytes the signature covers. Not the path (the signature does not cover it, so the same
 * click can be sent to any spelling of the endpoint) and not the signature header's text (one
 * signed content, one entry, however its signature is written).
 */
export function replayKey(timestamp: string, rawBody: Buffer | string): string {
  return `${timestamp}:${createHash('sha256').update(rawBody).digest('base64url')}`
}

/** Remembers accepted requests; firstUse is true only the first time a key is offered. */
export interface ReplayStore {
  firstUse(key: string, nowMs?: number): boolean | Promise<boolean>
}

/** How long an accepted request is remembered: until its timestamp can no longer pass the time check. */
const REPLAY_KEEP_MS = (MAX_AGE_SECONDS + MAX_AHEAD_SECONDS) * 1000

/**
 * Requests accepted recently, in Redis: shared by every Sentinel process on that Redis and kept
 * across a restart, so a click captured before a restart (or sent to another controller) cannot be
 * replayed. SET NX with the expiry is the check and the record in one step.
 */
export function createRedisReplayStore(
  redis: { set(key: string, value: string, px: 'PX', ms: number, nx: 'NX'): Promise<string | null> },
  prefix = 'sentinel:slack:replay:',
): ReplayStore {
  return {
    async firstUse(key: string): Promise<boolean> {
      return (await redis.set(`${prefix}${key}`, '1', 'PX', REPLAY_KEEP_MS, 'NX')) === 'OK'
    },
  }
}

/**
 * Requests accepted recently, in this process's memory (tests, and Slack without a Redis). A
 * request stays acceptable from MAX_AHEAD_SECONDS before its timestamp until MAX_AGE_SECONDS after
 * it, so it is remembered for the sum of both from the moment it is accepted: by then its timestamp
 * is stale and the time check refuses it on its own.
 */
export function createReplayCache(max = 10_000): ReplayStore & { firstUse(key: string, nowMs?: number): boolean } {
  const seen = new Map<string, number>()
  const keepMs = REPLAY_KEEP_MS
  return {
    /** True the first time a request is offered; false after, until it could no longer pass the time check. */
    firstUse(key: string, nowMs = Date.now()): boolean {
      // Entries go in the order they expire, so the oldest are at the front.
      for (const [k, exp] of seen) {
        if (exp > nowMs && seen.size < max) break
        seen.delete(k)
      }
      if (seen.has(key)) return false
      seen.set(key, nowMs + keepMs)
      return true
    },
  }
}

/**
 * A path reduced for comparison: no query or fragment, lower case, no repeated or trailing slash.
 * Express (and so Bolt's router) matches case-insensitively and with an optional trailing slash;
 * this is looser still. It need not mirror Express's rules exactly: Bolt only ever sees what the
 * guard lets through, so a spelling this does not match goes elsewhere, never to Bolt unchecked.
 */
export function canonicalPath(url: string): string {
  const path = url
    .split(/[?#]/, 1)[0]
    .toLowerCase()
    .replace(/\/{2,}/g, '/')
  return path.length > 1 ? path.replace(/\/$/, '') : path
}

export interface GuardOptions {
  signingSecret: string
  endpoint: string
  /** Where accepted requests go (Bolt's receiver router). Nothing else reaches it. */
  handler: RequestHandler
  now?: () => number
  onReject?: (reason: GuardFailure) => void
  /** Where accepted requests are remembered. Default: this process's memory. */
  replay?: ReplayStore
}

type Next = (err?: unknown) => void

/**
 * Connect-style middleware, and the only way into `handler`: a POST whose path is any spelling of
 * `endpoint` is read whole (or taken from `req.rawBody` when the stream was already read), checked,
 * recorded, and handed on as `req.rawBody` (Bolt reads that instead of the stream) with its URL
 * set to `endpoint` itself, so Bolt routes it. Every other
 * request goes to `next` without meeting Bolt at all: however Bolt's router matches paths, it never
 * sees a request the guard did not check. Anything refused gets an empty 401.
 */
export function createSignatureGuard(opts: GuardOptions) {
  const replay = opts.replay ?? createReplayCache()
  const now = opts.now ?? Date.now
  const endpoint = canonicalPath(opts.endpoint)
  return (req: Request & { _body?: boolean }, res: Response, next: Next) => {
    if (req.method !== 'POST' || canonicalPath(req.url ?? '') !== endpoint) return next()
    const refuse = (status: number, reason: GuardFailure) => {
      opts.onReject?.(reason)
      res.statusCode = status
      res.end()
    }
    const decide = async (body: Buffer) => {
      if (body.length > MAX_BODY_BYTES) return refuse(413, 'too_large')
      const t = now()
      const check = checkSlackSignature(opts.signingSecret, req.headers, body, t)
      if (!check.ok) return refuse(401, check.reason!)
      let first: boolean
      try {
        first = await replay.firstUse(replayKey(String(req.headers['x-slack-request-timestamp']), body), t)
      } catch {
        // Unknown whether it was seen: refused, and Slack retries a failed delivery.
        return refuse(503, 'replay_store_unavailable')
      }
      if (!first) return refuse(401, 'replayed')
      ;(req as { rawBody?: Buffer }).rawBody = body
      const sentTo = req.url
      req.url = opts.endpoint
      opts.handler(req, res, (err?: unknown) => {
        req.url = sentTo
        next(err)
      })
    }
    // Whatever read the stream in front of us (the main process's front door) hands the exact
    // bytes on as req.rawBody, as Bolt expects; only server code can set that property.
    const given = (req as { rawBody?: unknown }).rawBody
    if (Buffer.isBuffer(given)) return void decide(given).catch(next)
    // A body parser mounted in front of us has eaten the stream; the signature cannot be checked.
    if (req._body || req.readableEnded) return refuse(500, 'body_consumed')
    const chunks: Buffer[] = []
    let size = 0
    let done = false
    req.on('data', (c: Buffer) => {
      size += c.length
      if (size > MAX_BODY_BYTES && !done) {
        done = true
        refuse(413, 'too_large')
        req.destroy()
        return
      }
      chunks.push(c)
    })
    req.on('error', (err) => {
      if (!done) {
        done = true
        next(err)
      }
    })
    req.on('end', () => {
      if (done) return
      done = true
      decide(Buffer.concat(chunks)).catch(next)
    })
  }
}
