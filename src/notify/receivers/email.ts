/**
 * E-mail over SMTP (nodemailer, a pooled transport closed at shutdown): one message per
 * notification, in plain text and in HTML, to the receiver's `to` list.
 *
 * - Subject: `[Sentinel] ESCALATED critical container_down: web-1` (the kind, `(level 2)` when a
 *   later escalation level is paged, the severity, the type, the resource).
 * - `Message-ID: <hex of SHA-256(idempotency key)@sentinel>` and `X-Sentinel-Idempotency-Key`: a
 *   retried or replayed notification is the same message, which a mail system or a person can
 *   recognise as a duplicate.
 * - Threading: the first message delivered for an incident is the thread's root; its Message-ID is
 *   kept in Redis (`sentinel:notify:email:<receiver>:<incident id>`, 30 days) and every later
 *   message names it in `In-Reply-To` and `References`, so a mail client shows one thread per
 *   incident.
 * - `Auto-Submitted: auto-generated` (RFC 3834), so out-of-office replies are not sent back.
 *
 * Failures: a connection or TLS error, a timeout or a 4xx SMTP answer is retried; a 5xx answer
 * (a recipient refused, the login refused) is permanent. When the server takes some recipients and
 * refuses others, a 4xx refusal retries the whole message (the recipients who got it see the same
 * Message-ID again) and a 5xx one fails it permanently (the dead-letter entry names who missed it).
 */
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import nodemailer from 'nodemailer'
import { z } from 'zod'
import { incidentLabels } from '../matchers'
import { secretRef, type SecretReader } from '../secret'
import { DeliveryError, type Notification, type Receiver, type ReceiverDeps } from '../types'
import { groupOf } from '../../platform/store/lifecycle'
import { abortable, KIND_LABEL, kindHeadline, oneLine, redact } from './common'

export const EMAIL_THREAD_TTL_SECONDS = 30 * 24 * 3600
export const emailThreadKey = (receiver: string, incidentId: string) =>
  `sentinel:notify:email:${receiver}:${incidentId}`

const address = z.email({ error: 'an e-mail address' })

/** `ops@example.com` or `Sentinel <ops@example.com>`. */
const mailbox = z.string().superRefine((v, ctx) => {
  const m = /^\s*(?:[^<>]*<([^<>]+)>|([^<>\s]+))\s*$/.exec(v)
  const addr = m?.[1] ?? m?.[2]
  if (!addr || !address.safeParse(addr.trim()).success)
    ctx.addIssue({ code: 'custom', message: 'an e-mail address, or a name and <address>' })
})

export const emailConfig = z
  .object({
    host: z.string().min(1),
    port: z.number().int().min(1).max(65535),
    /** Implicit TLS from the first byte (port 465); otherwise STARTTLS when the server offers it. */
    secure: z.boolean().default(false),
    /** Refuse to send unless the connection is upgraded with STARTTLS. */
    require_tls: z.boolean().default(false),
    /** A PEM file of the CA(s) the server's certificate must chain to (a private CA). */
    tls_ca_file: z.string().min(1).optional(),
    username: z.string().min(1).optional(),
    password: secretRef.optional(),
    from: mailbox,
    to: z.array(address).min(1),
  })
  .strict()
  .refine((c) => (c.username === undefined) === (c.password === undefined), {
    message: 'username and password go together',
    path: ['password'],
  })
export type EmailConfig = z.infer<typeof emailConfig>

const sha = (s: string) => createHash('sha256').update(s).digest('hex')

/** The Message-ID of a notification: the same key, the same id. */
export const emailMessageId = (key: string) => `<${sha(key).slice(0, 40)}@sentinel>`

/** `[Sentinel] ESCALATED critical container_down: web-1`. */
export function emailSubject(n: Notification): string {
  const i = n.incident
  return oneLine(`[Sentinel] ${kindHeadline(n)} ${i.severity} ${i.type}: ${i.resource.name}`)
}

/** The facts both bodies show, label and value, in order. */
function facts(n: Notification): [string, string][] {
  const i = n.incident
  const a = i.alert
  const rows: [string, string][] = [
    ['Incident', i.id],
    ['Status', `${i.status} (${groupOf(i.status).replace('_', ' ')})`],
    ['Severity', i.severity],
    ['Type', i.type],
    ['Resource', `${i.resource.name} (${i.resource.kind})`],
    ['Node', incidentLabels(i).node],
    [
      'Metric',
      `${a.metric}${a.value === null ? '' : ` = ${a.value}`}${a.threshold === null ? '' : ` (threshold ${a.threshold})`}`,
    ],
    ['Opened', i.openedAt],
  ]
  if (i.acknowledgement) rows.push(['Taken by', `${i.acknowledgement.by} at ${i.acknowledgement.at}`])
  if (i.resolvedAt) rows.push(['Resolved', i.resolvedAt])
  if (n.level > 1) rows.push(['Escalation level', String(n.level)])
  if (i.decision)
    rows.push([
      'Decision',
      `${i.decision.route}, ${i.decision.risk} risk${i.decision.actionId ? `, ${i.decision.actionId}` : ''} (rule ${i.decision.rule})`,
    ])
  return rows
}

function analysisSummary(n: Notification): string | undefined {
  const s = n.incident.analysis?.summary
  return typeof s === 'string' && s ? s : undefined
}

export function emailText(n: Notification): string {
  const rows = facts(n)
  const width = Math.max(...rows.map(([k]) => k.length))
  const lines = [`${KIND_LABEL[n.kind]}: ${n.incident.title}`, '']
  for (const [k, v] of rows) lines.push(`${k.padEnd(width)}  ${v}`)
  const summary = analysisSummary(n)
  if (summary) lines.push('', summary)
  if (n.url) lines.push('', `Open it: ${n.url}`)
  lines.push('', `-- `, `Sentinel, ${n.at}. Idempotency key: ${n.key}`)
  return `${lines.join('\n')}\n`
}

/** Escapes text for HTML element content and quoted attribute values. */
export const escapeHtml = (s: string): string =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;')

export function emailHtml(n: Notification): string {
  const e = escapeHtml
  const rows = facts(n)
    .map(
      ([k, v]) =>
        `<tr><th style="text-align:left;padding:2px 12px 2px 0;vertical-align:top">${e(k)}</th><td style="padding:2px 0">${e(v)}</td></tr>`,
    )
    .join('\n')
  const summary = analysisSummary(n)
  const link =
    n.url && /^https?:\/\//i.test(n.url) ? `<p><a href="${e(n.url)}">Open the incident in Sentinel</a></p>` : ''
  return [
    '<!doctype html>',
    '<html><body style="font-family:sans-serif">',
    `<h2 style="margin:0 0 8px">${e(KIND_LABEL[n.kind])}: ${e(n.incident.title)}</h2>`,
    `<table style="border-collapse:collapse">\n${rows}\n</table>`,
    summary ? `<p>${e(summary)}</p>` : '',
    link,
    `<p style="color:#666;font-size:12px">Sentinel, ${e(n.at)}. Idempotency key: <code>${e(n.key)}</code></p>`,
    '</body></html>',
  ]
    .filter(Boolean)
    .join('\n')
}

interface SmtpError {
  code?: string
  responseCode?: number
  response?: string
  command?: string
  message?: string
  rejectedErrors?: SmtpError[]
  recipient?: string
}

function classify(err: unknown, what: string, secrets: string[]): DeliveryError {
  if (err instanceof DeliveryError) return err
  const e = (err ?? {}) as SmtpError
  const code = e.responseCode
  const permanent = code !== undefined ? code >= 500 : e.code === 'EAUTH' || e.code === 'EENVELOPE'
  const text =
    code !== undefined
      ? `the server answered ${oneLine(e.response ?? String(code))}${e.command ? ` to ${e.command}` : ''}`
      : `${e.code ?? 'error'}: ${oneLine(e.message ?? String(err))}`
  return new DeliveryError(redact(`${what}: ${text}`, secrets), { permanent, status: code })
}

export function createEmailReceiver(
  name: string,
  cfg: EmailConfig,
  deps: ReceiverDeps & { secret: SecretReader },
): Receiver {
  const what = `email receiver "${name}"`
  const password = cfg.password ? deps.secret(cfg.password, `${what}: password`) : undefined
  let ca: string | undefined
  if (cfg.tls_ca_file) {
    try {
      ca = readFileSync(cfg.tls_ca_file, 'utf8')
    } catch (err) {
      throw new Error(
        `${what}: cannot read tls_ca_file ${cfg.tls_ca_file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`,
      )
    }
  }
  const secrets = password ? [password] : []
  const transport = nodemailer.createTransport({
    pool: true,
    maxConnections: 2,
    host: cfg.host,
    port: cfg.port,
    secure: cfg.secure ?? false,
    requireTLS: cfg.require_tls ?? false,
    ...(ca ? { tls: { ca } } : {}),
    ...(cfg.username && password ? { auth: { user: cfg.username, pass: password } } : {}),
    connectionTimeout: 10_000,
    greetingTimeout: 10_000,
    socketTimeout: 30_000,
    logger: false,
    debug: false,
  })
  const redis = deps.redis

  return {
    name,
    type: 'email',
    async send(n, signal) {
      const threadKey = emailThreadKey(name, n.incident.id)
      const messageId = emailMessageId(n.key)
      let root: string | null
      try {
        root = await redis.get(threadKey)
      } catch (err) {
        throw new DeliveryError(`${what}: cannot read the incident's thread from Redis (${(err as Error).message})`)
      }
      const replyTo = root && root !== messageId ? root : undefined
      let info: { accepted?: unknown[]; rejected?: unknown[]; rejectedErrors?: SmtpError[] }
      try {
        info = await abortable(
          transport.sendMail({
            from: cfg.from,
            to: cfg.to,
            subject: emailSubject(n),
            text: emailText(n),
            html: emailHtml(n),
            messageId,
            ...(replyTo ? { inReplyTo: replyTo, references: [replyTo] } : {}),
            headers: {
              'X-Sentinel-Idempotency-Key': n.key,
              'X-Sentinel-Incident': n.incident.id,
              'X-Sentinel-Kind': n.kind,
              'Auto-Submitted': 'auto-generated',
            },
          }),
          signal,
          what,
        )
      } catch (err) {
        throw classify(err, what, secrets)
      }
      const refused = info.rejectedErrors ?? []
      if ((info.rejected?.length ?? 0) > 0) {
        const temporary = refused.some((r) => (r.responseCode ?? 500) < 500)
        const who = (info.rejected ?? []).map(String).join(', ')
        throw new DeliveryError(
          `${what}: the server refused ${who} (${refused.map((r) => oneLine(r.response ?? '')).join('; ')}); ${info.accepted?.length ?? 0} recipient(s) got the message`,
          { permanent: !temporary, status: refused[0]?.responseCode },
        )
      }
      if (!root) {
        // The first message delivered is the thread's root; a concurrent first keeps its own.
        try {
          await redis.set(threadKey, messageId, 'EX', EMAIL_THREAD_TTL_SECONDS, 'NX')
        } catch {
          // Delivered all the same: only the threading of later messages is lost.
        }
      }
    },
    async close() {
      transport.close()
    },
  }
}
