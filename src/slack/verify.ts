/**
 * Our own check of Slack's request signature, in front of Bolt's. Bolt answers 401 to a bad
 * signature or a timestamp more than 5 minutes old, but accepts a timestamp in the future and the
 * same signed request any number of times within the 5 minutes. This guard refuses both: the
 * timestamp must be within 5 minutes either way, and each signature is accepted once.
 */
import { createHmac, timingSafeEqual } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'

export const MAX_SKEW_SECONDS = 300
const MAX_BODY_BYTES = 1024 * 1024

export type GuardFailure = 'missing_headers' | 'bad_timestamp' | 'stale' | 'bad_signature' | 'replayed' | 'too_large' | 'body_consumed'

export interface SignatureCheck {
  ok: boolean
  reason?: GuardFailure
}

/** Checks one request's headers and raw body. Does not record it (see createReplayCache). */
export function checkSlackSignature(signingSecret: string, headers: IncomingMessage['headers'], rawBody: Buffer | string, nowMs = Date.now()): SignatureCheck {
  const ts = headers['x-slack-request-timestamp']
  const sig = headers['x-slack-signature']
  if (typeof ts !== 'string' || typeof sig !== 'string') return { ok: false, reason: 'missing_headers' }
  if (!/^\d{1,12}$/.test(ts)) return { ok: false, reason: 'bad_timestamp' }
  if (Math.abs(Math.floor(nowMs / 1000) - Number(ts)) > MAX_SKEW_SECONDS) return { ok: false, reason: 'stale' }
  const m = /^v0=([0-9a-f]{64})$/.exec(sig)
  if (!m) return { ok: false, reason: 'bad_signature' }
  const expected = createHmac('sha256', signingSecret).update(`v0:${ts}:`).update(rawBody).digest()
  if (!timingSafeEqual(Buffer.from(m[1], 'hex'), expected)) return { ok: false, reason: 'bad_signature' }
  return { ok: true }
}

/** Signatures seen in the last 10 minutes (twice the window, so nothing slips out early). */
export function createReplayCache(max = 10_000) {
  const seen = new Map<string, number>()
  return {
    /** True the first time a signature is offered while it is fresh; false after. */
    firstUse(signature: string, nowMs = Date.now()): boolean {
      for (const [k, exp] of seen) {
        if (exp > nowMs && seen.size < max) break
        seen.delete(k)
      }
      if (seen.has(signature)) return false
      seen.set(signature, nowMs + 2 * MAX_SKEW_SECONDS * 1000)
      return true
    },
  }
}

export interface GuardOptions {
  signingSecret: string
  endpoint: string
  now?: () => number
  onReject?: (reason: GuardFailure) => void
}

type Next = (err?: unknown) => void

/**
 * Connect-style middleware for POSTs to `endpoint`: reads the raw body, checks it, and hands it on as
 * `req.rawBody` (Bolt reads that instead of the stream). Anything refused gets an empty 401.
 */
export function createSignatureGuard(opts: GuardOptions) {
  const replay = createReplayCache()
  const now = opts.now ?? Date.now
  return (req: IncomingMessage & { _body?: boolean }, res: ServerResponse, next: Next) => {
    const path = (req.url ?? '').split('?')[0]
    if (req.method !== 'POST' || path !== opts.endpoint) return next()
    const refuse = (status: number, reason: GuardFailure) => {
      opts.onReject?.(reason)
      res.statusCode = status
      res.end()
    }
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
      const body = Buffer.concat(chunks)
      const t = now()
      const check = checkSlackSignature(opts.signingSecret, req.headers, body, t)
      if (!check.ok) return refuse(401, check.reason!)
      if (!replay.firstUse(String(req.headers['x-slack-signature']), t)) return refuse(401, 'replayed')
      ;(req as { rawBody?: Buffer }).rawBody = body
      next()
    })
  }
}
