/**
 * A local stand-in for Slack, for tests: an HTTP server speaking the Web API (the methods Sentinel
 * uses) to the real WebClient pointed at it with `slackApiUrl`, and a sender of real signed
 * interactivity requests (what Slack POSTs when someone clicks a button).
 */
import { createHmac } from 'node:crypto'
import http from 'node:http'
import type { AddressInfo } from 'node:net'

export interface RecordedCall {
  method: string
  /** Arguments as the Web API received them; JSON-encoded form fields (blocks...) decoded. */
  args: Record<string, any>
  token: string | undefined
  contentType: string
}

export interface ResponseUrlPost {
  path: string
  body: any
}

/** A message the stand-in has seen posted, as it stands now (updates applied). */
export interface StoredMessage {
  channel: string
  ts: string
  text: string | undefined
  blocks: any[] | undefined
  /** Set on a thread reply: the parent's ts. */
  thread_ts?: string
  metadata?: any
  /** How many times chat.update changed it. */
  updates: number
  deleted: boolean
}

export interface FailOptions {
  /** The HTTP status of the failing answers (200 by default, as Slack answers platform errors). */
  status?: number
  /** Seconds, sent as Retry-After (Slack sends it with a 429 `ratelimited`). */
  retryAfter?: number
}

export interface SlackStandIn {
  /** For WebClient's slackApiUrl: `http://127.0.0.1:<port>/api/`. */
  apiUrl: string
  /** A response_url for a payload; posts to it are recorded in responseUrlPosts. */
  responseUrl(id?: string): string
  calls: RecordedCall[]
  responseUrlPosts: ResponseUrlPost[]
  callsTo(method: string): RecordedCall[]
  /** Makes the next calls to `method` answer `{ok:false, error}` (with an HTTP status and Retry-After, if given). */
  failNext(method: string, error: string, times?: number, opts?: FailOptions): void
  /** Every message posted (thread replies included), in order, as they stand now. */
  messages: StoredMessage[]
  message(channel: string, ts: string): StoredMessage | undefined
  /** The thread replies to a message, in order. */
  replies(channel: string, ts: string): StoredMessage[]
  /** Deletes a message as a person would: chat.update on it then answers `message_not_found`. */
  deleteMessage(channel: string, ts: string): void
  close(): Promise<void>
}

export interface StandInOptions {
  /** The bot token the stand-in accepts; any other gets `invalid_auth`, as Slack does. */
  token: string
  teamId?: string
  botUserId?: string
}

const JSON_FIELDS = new Set(['blocks', 'attachments', 'metadata'])

function parseBody(raw: string, contentType: string): Record<string, any> {
  if (contentType.startsWith('application/json')) return raw ? JSON.parse(raw) : {}
  const out: Record<string, any> = {}
  for (const [k, v] of new URLSearchParams(raw)) {
    out[k] = JSON_FIELDS.has(k) ? JSON.parse(v) : v
  }
  return out
}

export async function startSlackStandIn(opts: StandInOptions): Promise<SlackStandIn> {
  const calls: RecordedCall[] = []
  const responseUrlPosts: ResponseUrlPost[] = []
  const failures = new Map<string, { error: string; times: number } & FailOptions>()
  const messages: StoredMessage[] = []
  const byKey = new Map<string, StoredMessage>()
  const find = (channel: unknown, ts: unknown) => byKey.get(`${String(channel)}:${String(ts)}`)
  let tsCounter = 0
  const nextTs = () => `${Math.floor(Date.now() / 1000)}.${String(++tsCounter).padStart(6, '0')}`
  const teamId = opts.teamId ?? 'T0SENTINEL'
  const botUserId = opts.botUserId ?? 'U0SENTINELBOT'

  const answer = (method: string, args: Record<string, any>): Record<string, unknown> => {
    switch (method) {
      case 'auth.test':
        return {
          ok: true,
          url: 'https://sentinel-test.slack.com/',
          team: 'sentinel-test',
          user: 'sentinel',
          team_id: teamId,
          user_id: botUserId,
          bot_id: 'B0SENTINEL',
          is_enterprise_install: false,
        }
      case 'chat.postMessage': {
        if (!args.channel) return { ok: false, error: 'channel_not_found' }
        const stored: StoredMessage = {
          channel: args.channel,
          ts: nextTs(),
          text: args.text,
          blocks: args.blocks,
          ...(args.thread_ts ? { thread_ts: String(args.thread_ts) } : {}),
          ...(args.metadata ? { metadata: args.metadata } : {}),
          updates: 0,
          deleted: false,
        }
        messages.push(stored)
        byKey.set(`${stored.channel}:${stored.ts}`, stored)
        return {
          ok: true,
          channel: args.channel,
          ts: stored.ts,
          message: { type: 'message', text: args.text, blocks: args.blocks, user: botUserId, bot_id: 'B0SENTINEL' },
        }
      }
      case 'chat.update': {
        if (!args.channel || !args.ts) return { ok: false, error: 'message_not_found' }
        // A message this stand-in never saw is taken as it always was; one deleted is gone.
        const stored = find(args.channel, args.ts)
        if (stored?.deleted) return { ok: false, error: 'message_not_found' }
        if (stored) {
          stored.text = args.text
          stored.blocks = args.blocks
          stored.updates++
        }
        return {
          ok: true,
          channel: args.channel,
          ts: args.ts,
          text: args.text,
          message: { text: args.text, blocks: args.blocks },
        }
      }
      case 'chat.delete': {
        const stored = find(args.channel, args.ts)
        if (!stored || stored.deleted) return { ok: false, error: 'message_not_found' }
        stored.deleted = true
        return { ok: true, channel: args.channel, ts: args.ts }
      }
      case 'chat.postEphemeral':
        if (!args.channel || !args.user) return { ok: false, error: 'user_not_in_channel' }
        return { ok: true, message_ts: nextTs() }
      default:
        return { ok: false, error: 'unknown_method' }
    }
  }

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c) => chunks.push(c))
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8')
      const contentType = String(req.headers['content-type'] ?? '')
      const url = new URL(req.url ?? '/', 'http://127.0.0.1')
      const send = (status: number, body: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' })
        res.end(JSON.stringify(body))
      }
      if (req.method !== 'POST') return send(405, { ok: false, error: 'method_not_allowed' })
      let args: Record<string, any>
      try {
        args = parseBody(raw, contentType)
      } catch {
        return send(200, { ok: false, error: 'invalid_form_data' })
      }
      if (url.pathname.startsWith('/response/')) {
        responseUrlPosts.push({ path: url.pathname, body: args })
        return send(200, { ok: true })
      }
      const m = /^\/api\/([a-zA-Z.]+)$/.exec(url.pathname)
      if (!m) return send(404, { ok: false, error: 'unknown_method' })
      const method = m[1]
      const bearer = /^Bearer (.+)$/.exec(String(req.headers.authorization ?? ''))?.[1]
      const token = bearer ?? (typeof args.token === 'string' ? args.token : undefined)
      delete args.token
      calls.push({ method, args, token, contentType })
      if (token !== opts.token) return send(200, { ok: false, error: token ? 'invalid_auth' : 'not_authed' })
      const fail = failures.get(method)
      if (fail && fail.times > 0) {
        fail.times--
        if (fail.retryAfter !== undefined) res.setHeader('retry-after', String(fail.retryAfter))
        return send(fail.status ?? 200, { ok: false, error: fail.error })
      }
      send(200, answer(method, args))
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port
  let responseCounter = 0
  return {
    apiUrl: `http://127.0.0.1:${port}/api/`,
    responseUrl: (id) => `http://127.0.0.1:${port}/response/${id ?? ++responseCounter}`,
    calls,
    responseUrlPosts,
    callsTo: (method) => calls.filter((c) => c.method === method),
    failNext: (method, error, times = 1, opts = {}) => void failures.set(method, { error, times, ...opts }),
    messages,
    message: (channel, ts) => find(channel, ts),
    replies: (channel, ts) => messages.filter((m) => m.channel === channel && m.thread_ts === ts),
    deleteMessage: (channel, ts) => {
      const stored = find(channel, ts)
      if (stored) stored.deleted = true
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

/** `v0=` + HMAC-SHA256(secret, `v0:<timestamp>:<body>`) in hex, as Slack signs requests. */
export function slackSignature(signingSecret: string, timestamp: number | string, body: string): string {
  return `v0=${createHmac('sha256', signingSecret).update(`v0:${timestamp}:${body}`).digest('hex')}`
}

export interface BlockActionOptions {
  userId: string
  actionId: string
  value: string
  channel: string
  messageTs: string
  responseUrl: string
  userName?: string
  teamId?: string
}

/** A `block_actions` payload shaped like the one Slack sends for a button click on a message. */
export function blockActionPayload(o: BlockActionOptions): Record<string, unknown> {
  const teamId = o.teamId ?? 'T0SENTINEL'
  const actionTs = (Date.now() / 1000).toFixed(6)
  return {
    type: 'block_actions',
    user: {
      id: o.userId,
      username: o.userName ?? o.userId.toLowerCase(),
      name: o.userName ?? o.userId.toLowerCase(),
      team_id: teamId,
    },
    api_app_id: 'A0SENTINEL',
    token: 'legacy-verification-token',
    container: { type: 'message', message_ts: o.messageTs, channel_id: o.channel, is_ephemeral: false },
    trigger_id: `${Date.now()}.1.abc`,
    team: { id: teamId, domain: 'sentinel-test' },
    enterprise: null,
    is_enterprise_install: false,
    channel: { id: o.channel, name: 'sentinel-approvals' },
    message: { type: 'message', ts: o.messageTs, text: 'Approval needed', bot_id: 'B0SENTINEL', blocks: [] },
    state: { values: {} },
    response_url: o.responseUrl,
    actions: [
      {
        action_id: o.actionId,
        block_id: 'sentinel_decision',
        text: { type: 'plain_text', text: o.actionId.endsWith('approve') ? 'Approve' : 'Reject', emoji: true },
        value: o.value,
        style: o.actionId.endsWith('approve') ? 'primary' : 'danger',
        type: 'button',
        action_ts: actionTs,
      },
    ],
  }
}

export interface SignedRequestOptions {
  url: string
  signingSecret: string
  payload: Record<string, unknown>
  /** Unix seconds; now by default. */
  timestamp?: number
  /** Replaces the computed signature (to forge one). */
  signature?: string
  /** Signs this body but sends `payload` (to tamper after signing). */
  signedBody?: string
}

/** POSTs a real signed interactivity request, form-encoded with `payload=<json>`, as Slack does. */
export async function sendSignedInteraction(
  o: SignedRequestOptions,
): Promise<{ status: number; body: string; headers: Headers }> {
  const body = new URLSearchParams({ payload: JSON.stringify(o.payload) }).toString()
  const timestamp = o.timestamp ?? Math.floor(Date.now() / 1000)
  const signature = o.signature ?? slackSignature(o.signingSecret, timestamp, o.signedBody ?? body)
  const res = await fetch(o.url, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      'x-slack-request-timestamp': String(timestamp),
      'x-slack-signature': signature,
      'user-agent': 'Slackbot 1.0 (+https://api.slack.com/robots)',
    },
    body,
  })
  return { status: res.status, body: await res.text(), headers: res.headers }
}
