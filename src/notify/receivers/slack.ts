/**
 * Slack: one message per incident in the receiver's channel, redrawn in place (chat.update) on
 * every notification, and each notification also posted as a reply in that message's thread, so
 * the channel shows one line per incident and the thread its history.
 *
 * - The message's place ({channel, ts}) is kept in Redis at
 *   `sentinel:notify:slack:<receiver>:<incident id>` for 30 days. An incident that already has an
 *   approval message (`incident.approval.slack`) and no message of this receiver's gets that
 *   approval message updated instead of a second one posted.
 * - The first notification posts, then stores the place with SET NX. A second sender that stored
 *   first wins: the message just posted is deleted and the stored one updated. The window: when
 *   the process dies after chat.postMessage and before the SET (or Redis refuses the SET), the
 *   retry posts the message again and the first one stays in the channel, orphaned.
 * - Thread replies carry the idempotency key in their message metadata
 *   (`event_type: sentinel_notification`) and are remembered per key in
 *   `<that key>:replies`, so a retry does not post the same reply twice (same window as above).
 * - The message: title, status, severity, resource, who took it, and an **Acknowledge** button
 *   (action_id `sentinel_ack`, value = the incident id) while the incident is neither closed nor
 *   acknowledged. While it awaits an approval it is the approval message
 *   (src/approve/slack/blocks.ts) with Acknowledge beside Approve and Reject.
 *
 * Slack's WebClient is used without its own retries (the delivery queue retries): `ratelimited`
 * (HTTP 429) is retried after its Retry-After; internal errors, HTTP 5xx and network errors are
 * retried; other Slack errors (invalid_auth, channel_not_found, invalid_blocks...) are permanent.
 */
import type { Button, ChatPostMessageResponse, WebClient } from '@slack/web-api'
import type { Redis } from 'ioredis'
import { z } from 'zod'
import {
  acknowledgeButton,
  actorText,
  approvalMessage,
  decisionFromTimeline,
  escapeText,
  type Block,
  type OutcomeInfo,
  OPEN_ACTION,
} from '../../approve/slack/blocks'
import { normalizeApiUrl } from '../../platform/config/slack'
import { groupOf, isClosed, lifecycleDescription } from '../../platform/store/lifecycle'
import type { Incident, Severity } from '../../platform/store/model'
import { secretRef, type SecretReader } from '../secret'
import { DeliveryError, type Notification, type Receiver, type ReceiverDeps } from '../types'
import { abortable, clip, KIND_LABEL, redact } from './common'

export const SLACK_REF_TTL_SECONDS = 30 * 24 * 3600
export const slackRefKey = (receiver: string, incidentId: string) => `sentinel:notify:slack:${receiver}:${incidentId}`

export const slackConfig = z
  .object({
    /** A channel id (C0123…) or name the bot may post in. */
    channel: z.string().min(1),
    token: secretRef.default({ env: 'SLACK_BOT_TOKEN' }),
    /** Slack's Web API base (https://slack.com/api/); a stand-in in tests. */
    api_url: z
      .string()
      .superRefine((v, ctx) => {
        try {
          normalizeApiUrl(v)
        } catch (err) {
          ctx.addIssue({ code: 'custom', message: (err as Error).message.replace(/^SLACK_API_URL: /, '') })
        }
      })
      .optional(),
  })
  .strict()
export type SlackConfig = z.infer<typeof slackConfig>

export interface SlackRef {
  channel: string
  ts: string
}

const STATUS_LABEL = Object.fromEntries(lifecycleDescription().statuses.map((s) => [s.id, s.label])) as Record<
  Incident['status'],
  string
>
const SEVERITY_ICON: Record<Severity, string> = {
  critical: ':red_circle:',
  warning: ':large_orange_circle:',
  info: ':large_blue_circle:',
}
const KIND_ICON: Record<Notification['kind'], string> = {
  opened: ':rotating_light:',
  approval_requested: ':raised_hand:',
  escalated: ':sos:',
  acknowledged: ':eyes:',
  resolved: ':white_check_mark:',
  repeat: ':bell:',
}

const code = (s: string) => `\`${escapeText(s).replace(/`/g, "'")}\``

/** Status, escalation level and who took the incident, in one context line. */
function statusLine(n: Notification): Block {
  const i = n.incident
  const parts = [`*${STATUS_LABEL[i.status] ?? i.status}*`]
  if (n.level > 1 && !isClosed(i)) parts.push(`level ${n.level}`)
  parts.push(
    i.acknowledgement
      ? `taken by ${actorText(i.acknowledgement.by)} at ${escapeText(i.acknowledgement.at)}`
      : isClosed(i)
        ? 'closed'
        : 'nobody has taken it yet',
  )
  if (n.url) parts.push(`<${n.url}|open in Sentinel>`)
  return { type: 'context', elements: [{ type: 'mrkdwn', text: clip(parts.join(' · '), 3000) }] }
}

function outcomeOf(i: Incident): OutcomeInfo | undefined {
  const summary = i.timeline.at(-1)?.summary ?? ''
  if (i.status === 'resolved') return { status: 'resolved', summary, at: i.resolvedAt }
  if (i.status === 'escalated') return { status: 'escalated', summary }
  return undefined
}

/** Puts `block` before the last actions block (the buttons stay at the bottom), else at the end. */
function insertBeforeActions(blocks: Block[], block: Block): Block[] {
  const out = [...blocks]
  let at = out.length
  for (let k = out.length - 1; k >= 0; k--) {
    if (out[k].type === 'actions') {
      at = k
      break
    }
  }
  out.splice(at, 0, block)
  return out
}

/** The incident's message, as it should look after this notification. */
export function slackIncidentMessage(n: Notification): { text: string; blocks: Block[] } {
  const i = n.incident
  const acknowledge = !isClosed(i) && !i.acknowledgement
  if (i.approval?.status === 'pending' && i.status === 'awaiting_approval') {
    const m = approvalMessage(i, { acknowledge })
    return { text: m.text, blocks: insertBeforeActions(m.blocks, statusLine(n)) }
  }
  const decision = i.approval ? decisionFromTimeline(i) : undefined
  if (decision) {
    const m = approvalMessage(i, { decision, outcome: outcomeOf(i), acknowledge })
    return { text: m.text, blocks: insertBeforeActions(m.blocks, statusLine(n)) }
  }
  const a = i.alert
  const value = a.value === null ? '' : ` = ${a.value}${a.threshold === null ? '' : ` (threshold ${a.threshold})`}`
  const blocks: Block[] = [
    {
      type: 'header',
      text: { type: 'plain_text', text: clip(`${i.title}`, 150), emoji: true },
    },
    {
      type: 'section',
      fields: [
        `*Incident*\n${code(i.id)}`,
        `*Status*\n${escapeText(STATUS_LABEL[i.status] ?? i.status)}`,
        `*Severity*\n${SEVERITY_ICON[i.severity]} ${i.severity}`,
        `*Resource*\n${escapeText(i.resource.name)} (${i.resource.kind})`,
        `*Type*\n${i.type}`,
        `*Acknowledgement*\n${i.acknowledgement ? `taken by ${actorText(i.acknowledgement.by)}` : isClosed(i) ? '-' : 'nobody yet'}`,
      ].map((text) => ({ type: 'mrkdwn', text: clip(text, 2000) })),
    },
    {
      type: 'section',
      text: {
        type: 'mrkdwn',
        text: clip(
          `${code(a.metric)}${escapeText(value)} on ${escapeText(i.resource.name)}, seen by ${code(a.source)}`,
          3000,
        ),
      },
    },
    statusLine(n),
  ]
  const buttons: Button[] = []
  if (acknowledge) buttons.push({ ...acknowledgeButton(i.id), style: 'primary' })
  if (n.url && /^https?:\/\//i.test(n.url))
    buttons.push({
      type: 'button',
      action_id: OPEN_ACTION,
      text: { type: 'plain_text', text: 'Open in Sentinel', emoji: true },
      url: n.url,
    })
  if (buttons.length) blocks.push({ type: 'actions', block_id: 'sentinel_incident', elements: buttons })
  const fallback = `${KIND_LABEL[n.kind]}: ${i.title} (${i.severity}, ${STATUS_LABEL[i.status] ?? i.status})`
  return { text: clip(escapeText(fallback), 3000), blocks }
}

/** The thread reply for one notification. */
export function slackReplyText(n: Notification): string {
  const i = n.incident
  const level = n.level > 1 ? ` (level ${n.level})` : ''
  let text = `${KIND_ICON[n.kind]} *${KIND_LABEL[n.kind]}*${level}`
  if (n.kind === 'acknowledged' && i.acknowledgement) text += ` by ${actorText(i.acknowledgement.by)}`
  else if (n.kind === 'resolved' || n.kind === 'escalated') {
    const last = i.timeline.at(-1)?.summary
    if (last) text += `: ${escapeText(last)}`
  } else if (n.kind === 'repeat')
    text += `: nobody has taken it (${i.severity}, ${groupOf(i.status).replace('_', ' ')})`
  else text += `: ${i.severity} ${i.type} on ${escapeText(i.resource.name)}`
  return clip(`${text} · ${escapeText(n.at)}`, 3000)
}

interface SlackError {
  code?: string
  retryAfter?: number
  statusCode?: number
  data?: { error?: string; response_metadata?: { retryAfter?: number } }
  original?: { message?: string; code?: string }
  message?: string
}

const RETRYABLE_SLACK_ERRORS = new Set([
  'ratelimited',
  'rate_limited',
  'internal_error',
  'fatal_error',
  'service_unavailable',
  'request_timeout',
  'team_added_to_org',
])
const GONE_MESSAGE_ERRORS = new Set(['message_not_found', 'cant_update_message', 'edit_window_closed'])

const platformError = (err: unknown): string | undefined =>
  (err as SlackError)?.code === 'slack_webapi_platform_error' ? (err as SlackError).data?.error : undefined

function classify(err: unknown, what: string, method: string, secrets: string[]): DeliveryError {
  if (err instanceof DeliveryError) return err
  const e = (err ?? {}) as SlackError
  const say = (text: string) => redact(`${what}: ${method}: ${text}`, secrets)
  switch (e.code) {
    case 'slack_webapi_rate_limited_error':
      return new DeliveryError(say('ratelimited'), {
        status: 429,
        retryAfterMs: e.retryAfter === undefined ? undefined : e.retryAfter * 1000,
      })
    case 'slack_webapi_platform_error': {
      const error = e.data?.error ?? 'unknown_error'
      const after = e.data?.response_metadata?.retryAfter
      return new DeliveryError(say(error), {
        permanent: !RETRYABLE_SLACK_ERRORS.has(error),
        retryAfterMs: after === undefined ? undefined : after * 1000,
      })
    }
    case 'slack_webapi_http_error':
      return new DeliveryError(say(`HTTP ${e.statusCode}`), {
        status: e.statusCode,
        permanent: e.statusCode !== undefined && e.statusCode < 500 && e.statusCode !== 408,
      })
    case 'slack_webapi_request_error':
      return new DeliveryError(say(`request failed (${e.original?.code ?? e.original?.message ?? 'network error'})`))
    default:
      return new DeliveryError(say(e.message ?? String(err)))
  }
}

export function createSlackReceiver(
  name: string,
  cfg: SlackConfig,
  deps: ReceiverDeps & { secret: SecretReader },
): Receiver {
  const what = `slack receiver "${name}"`
  const token = deps.secret(cfg.token ?? { env: 'SLACK_BOT_TOKEN' }, `${what}: token`)
  const apiUrl = normalizeApiUrl(cfg.api_url)
  const secrets = [token]
  const redis: Redis = deps.redis
  let client: Promise<WebClient> | undefined
  const getClient = () =>
    (client ??= import('@slack/web-api').then(
      ({ WebClient, LogLevel }) =>
        new WebClient(token, {
          slackApiUrl: apiUrl,
          // The delivery queue retries, with backoff and jitter: no retry schedule of the client's own.
          retryConfig: { retries: 0 },
          rejectRateLimitedCalls: true,
          timeout: 10_000,
          logLevel: LogLevel.ERROR,
        }),
    ))

  const store = async <T>(op: string, work: () => Promise<T>): Promise<T> => {
    try {
      return await work()
    } catch (err) {
      throw new DeliveryError(`${what}: Redis ${op} failed (${(err as Error).message})`)
    }
  }
  const readRef = async (key: string): Promise<SlackRef | undefined> => {
    const raw = await store('GET', () => redis.get(key))
    if (!raw) return undefined
    try {
      const v = JSON.parse(raw) as SlackRef
      return typeof v.channel === 'string' && typeof v.ts === 'string' ? { channel: v.channel, ts: v.ts } : undefined
    } catch {
      return undefined
    }
  }
  const call = async <T>(method: string, signal: AbortSignal, work: (c: WebClient) => Promise<T>): Promise<T> => {
    const c = await getClient()
    try {
      return await abortable(work(c), signal, what)
    } catch (err) {
      throw classify(err, what, method, secrets)
    }
  }
  /** chat.update; false when the message is gone (deleted in Slack, or no longer editable). */
  const updateMessage = async (ref: SlackRef, msg: { text: string; blocks: Block[] }, signal: AbortSignal) => {
    const c = await getClient()
    try {
      await abortable(
        c.chat.update({ channel: ref.channel, ts: ref.ts, text: msg.text, blocks: msg.blocks }),
        signal,
        what,
      )
      return true
    } catch (err) {
      const error = platformError(err)
      if (error && GONE_MESSAGE_ERRORS.has(error)) return false
      throw classify(err, what, 'chat.update', secrets)
    }
  }

  return {
    name,
    type: 'slack',
    async send(n, signal) {
      const i = n.incident
      const key = slackRefKey(name, i.id)
      const msg = slackIncidentMessage(n)

      let ref = await readRef(key)
      if (!ref && i.approval?.slack) {
        const approvalRef = { channel: i.approval.slack.channel, ts: i.approval.slack.ts }
        const stored = await store('SET', () =>
          redis.set(key, JSON.stringify(approvalRef), 'EX', SLACK_REF_TTL_SECONDS, 'NX'),
        )
        ref = stored === 'OK' ? approvalRef : ((await readRef(key)) ?? approvalRef)
      }
      if (ref) {
        if (await updateMessage(ref, msg, signal)) {
          await store('EXPIRE', () => redis.expire(key, SLACK_REF_TTL_SECONDS))
        } else {
          // Deleted in Slack (or no longer editable): the incident gets a new message.
          await store('DEL', () => redis.del(key))
          ref = undefined
        }
      }
      if (!ref) {
        const res: ChatPostMessageResponse = await call('chat.postMessage', signal, (c) =>
          c.chat.postMessage({
            channel: cfg.channel,
            text: msg.text,
            blocks: msg.blocks,
            unfurl_links: false,
            unfurl_media: false,
          }),
        )
        if (!res.channel || !res.ts)
          throw new DeliveryError(`${what}: chat.postMessage answered without channel and ts`, { permanent: true })
        const posted = { channel: res.channel, ts: res.ts }
        const stored = await store('SET', () =>
          redis.set(key, JSON.stringify(posted), 'EX', SLACK_REF_TTL_SECONDS, 'NX'),
        )
        ref = posted
        if (stored !== 'OK') {
          // Another delivery for this incident stored its message first: keep one message.
          const other = await readRef(key)
          if (other && (other.channel !== posted.channel || other.ts !== posted.ts)) {
            try {
              await call('chat.delete', signal, (c) => c.chat.delete({ channel: posted.channel, ts: posted.ts }))
            } catch {
              // Left in the channel: a duplicate line, nothing lost.
            }
            ref = other
            await updateMessage(ref, msg, signal)
          }
        }
      }

      const repliesKey = `${key}:replies`
      if (await store('HEXISTS', () => redis.hexists(repliesKey, n.key))) return
      const target = ref
      const reply = await call('chat.postMessage', signal, (c) =>
        c.chat.postMessage({
          channel: target.channel,
          thread_ts: target.ts,
          text: slackReplyText(n),
          unfurl_links: false,
          unfurl_media: false,
          metadata: {
            event_type: 'sentinel_notification',
            event_payload: { key: n.key, kind: n.kind, level: n.level, incident_id: i.id },
          },
        }),
      )
      await store('HSET', async () => {
        await redis.hset(repliesKey, n.key, reply.ts ?? '')
        await redis.expire(repliesKey, SLACK_REF_TTL_SECONDS)
      })
    },
  }
}
