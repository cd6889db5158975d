/**
 * A generic webhook: one signed JSON POST per notification.
 *
 * ## What is sent
 *
 *   POST <url>
 *   Content-Type: application/json
 *   X-Sentinel-Request-Timestamp: 1718000000            (unix seconds, when this attempt was signed)
 *   X-Sentinel-Signature: v1=<64 lower-case hex digits>
 *   X-Sentinel-Idempotency-Key: <key>
 *
 *   {"version":1,"key":"…","kind":"escalated","level":1,"at":"…","url":"…"|null,
 *    "incident":{"id","title","status","severity","type","resource":{kind,id,name},"labels":{…},
 *                "openedAt","resolvedAt"|null,"acknowledgement":{by,at}|null,
 *                "decision":{route,risk,actionId,rule,decidedAt}|null}}
 *
 * `kind` is opened, approval_requested, escalated, acknowledged, resolved or repeat.
 *
 * ## Verifying it (the scheme of Slack's request signing, with `v1`)
 *
 * 1. Read the raw body as received (before any JSON parsing) and the two headers.
 * 2. Refuse a timestamp more than 5 minutes from your clock (a replay).
 * 3. Compute HMAC-SHA256 with the shared secret (its UTF-8 bytes) as the key over the text
 *    `v1:<timestamp>:<raw body>`, in lower-case hex, and prefix it with `v1=`.
 * 4. Compare it with X-Sentinel-Signature in constant time; refuse the request on a difference.
 * 5. Drop a request whose X-Sentinel-Idempotency-Key you have already handled: delivery is
 *    at-least-once, and a retry or a replay after a restart carries the same key (its timestamp,
 *    signature and the incident's state in the body may differ).
 *
 * In TypeScript, `verifyWebhookSignature` below does steps 2 to 4. In a shell:
 *
 *   printf 'v1:%s:%s' "$TS" "$BODY" | openssl dgst -sha256 -hmac "$SECRET" -hex
 *
 * ## Answers
 *
 * 2xx is delivered. 408, 429, 5xx, a network error and no answer within `timeout_seconds` are
 * retried (Retry-After honoured); any other status is permanent (the dead-letter list). Redirects
 * are not followed.
 */
import { createHmac, timingSafeEqual } from 'node:crypto'
import { z } from 'zod'
import { incidentLabels } from '../matchers'
import { secretRef, type SecretReader } from '../secret'
import type { Notification, Receiver, ReceiverDeps } from '../types'
import { checkAnswer, post } from './common'

export const SIGNATURE_VERSION = 'v1'
export const WEBHOOK_HEADERS = {
  timestamp: 'X-Sentinel-Request-Timestamp',
  signature: 'X-Sentinel-Signature',
  idempotencyKey: 'X-Sentinel-Idempotency-Key',
} as const
export const DEFAULT_TOLERANCE_SECONDS = 300

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/
const RESERVED_HEADERS = /^(content-type|content-length|host|transfer-encoding|connection|x-sentinel-.*)$/i

export const webhookConfig = z
  .object({
    url: z.url({ protocol: /^https?$/, error: 'an http(s) URL' }),
    /** The shared secret the body is signed with. */
    secret: secretRef,
    timeout_seconds: z.number().positive().max(300).default(10),
    /** Extra headers that are not secrets (a tenant, a routing hint). */
    headers: z
      .record(
        z
          .string()
          .regex(HEADER_NAME, 'a header name')
          .refine((h) => !RESERVED_HEADERS.test(h), 'a header Sentinel sets itself'),
        z.string().regex(/^[^\r\n\0]*$/, 'one line of text'),
      )
      .optional(),
  })
  .strict()
export type WebhookConfig = z.infer<typeof webhookConfig>

/** `v1=` + hex HMAC-SHA256(secret, `v1:<timestamp>:<body>`). */
export function webhookSignature(secret: string, timestamp: number | string, rawBody: string | Buffer): string {
  const mac = createHmac('sha256', secret).update(`${SIGNATURE_VERSION}:${timestamp}:`)
  mac.update(rawBody)
  return `${SIGNATURE_VERSION}=${mac.digest('hex')}`
}

/**
 * True when the signature is Sentinel's for this body and timestamp, and the timestamp is within
 * `toleranceSeconds` of `nowSeconds`. The comparison takes the same time whatever differs.
 */
export function verifyWebhookSignature(
  secret: string,
  timestampHeader: string | null | undefined,
  signatureHeader: string | null | undefined,
  rawBody: string | Buffer,
  nowSeconds: number,
  toleranceSeconds = DEFAULT_TOLERANCE_SECONDS,
): boolean {
  if (!secret || !timestampHeader || !signatureHeader) return false
  if (!/^\d{1,12}$/.test(timestampHeader.trim())) return false
  const ts = Number(timestampHeader.trim())
  if (Math.abs(nowSeconds - ts) > toleranceSeconds) return false
  const given = Buffer.from(signatureHeader.trim(), 'utf8')
  const expected = Buffer.from(webhookSignature(secret, ts, rawBody), 'utf8')
  return given.length === expected.length && timingSafeEqual(given, expected)
}

/** The JSON document a notification becomes. */
export function webhookBody(n: Notification): Record<string, unknown> {
  const i = n.incident
  return {
    version: 1,
    key: n.key,
    kind: n.kind,
    level: n.level,
    at: n.at,
    url: n.url ?? null,
    incident: {
      id: i.id,
      title: i.title,
      status: i.status,
      severity: i.severity,
      type: i.type,
      resource: i.resource,
      labels: incidentLabels(i),
      openedAt: i.openedAt,
      resolvedAt: i.resolvedAt ?? null,
      acknowledgement: i.acknowledgement ?? null,
      decision: i.decision
        ? {
            route: i.decision.route,
            risk: i.decision.risk,
            actionId: i.decision.actionId,
            rule: i.decision.rule,
            decidedAt: i.decision.decidedAt,
          }
        : null,
    },
  }
}

export function createWebhookReceiver(
  name: string,
  cfg: WebhookConfig,
  deps: ReceiverDeps & { secret: SecretReader },
): Receiver {
  const what = `webhook receiver "${name}"`
  const secret = deps.secret(cfg.secret, `${what}: secret`)
  const timeoutMs = Math.round((cfg.timeout_seconds ?? 10) * 1000)
  return {
    name,
    type: 'webhook',
    async send(n, signal) {
      const body = JSON.stringify(webhookBody(n))
      const timestamp = Math.floor(Date.now() / 1000)
      const o = { what, url: cfg.url, secrets: [secret] }
      const answer = await post({
        ...o,
        body,
        headers: {
          ...cfg.headers,
          'content-type': 'application/json',
          'user-agent': 'Sentinel-Webhook/1',
          [WEBHOOK_HEADERS.timestamp]: String(timestamp),
          [WEBHOOK_HEADERS.signature]: webhookSignature(secret, timestamp, body),
          [WEBHOOK_HEADERS.idempotencyKey]: n.key,
        },
        signal,
        timeoutMs,
      })
      checkAnswer(answer, o)
    },
  }
}
