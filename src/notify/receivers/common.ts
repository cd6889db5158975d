/**
 * What the HTTP receivers (PagerDuty, Opsgenie, the webhook) share: one POST with a timeout and
 * the caller's AbortSignal, the answer sorted into delivered / retry later / never, `Retry-After`
 * read in both of its forms, and error texts that carry neither a secret nor a URL's path or query
 * (a webhook URL may hold a token). No receiver retries by itself: the delivery queue does.
 */
import { DeliveryError, type Notification, type NotificationKind } from '../types'

export const DEFAULT_TIMEOUT_MS = 10_000

/** `Retry-After` in milliseconds: delta-seconds or an HTTP date; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | null | undefined, nowMs = Date.now()): number | undefined {
  if (value === null || value === undefined) return undefined
  const v = value.trim()
  if (/^\d+(\.\d+)?$/.test(v)) return Math.round(Number(v) * 1000)
  const at = Date.parse(v)
  if (Number.isNaN(at)) return undefined
  return Math.max(0, at - nowMs)
}

/** Replaces every secret (and its URL-encoded form) in a text with `[redacted]`. */
export function redact(text: string, secrets: readonly string[]): string {
  let out = text
  for (const s of secrets) {
    if (!s || s.length < 4) continue
    for (const form of new Set([s, encodeURIComponent(s)])) out = out.split(form).join('[redacted]')
  }
  return out
}

/** A URL as an error may show it: scheme, host and port, never the path or the query. */
export function originOf(url: string): string {
  try {
    return new URL(url).origin
  } catch {
    return '(invalid URL)'
  }
}

export const clip = (s: string, max: number): string => (s.length <= max ? s : `${s.slice(0, Math.max(0, max - 1))}…`)

/** One line of text: control characters (CR, LF...) become spaces, for subjects and headers. */
export const oneLine = (s: string): string => s.replace(/\p{Cc}+/gu, ' ').trim()

export interface HttpAnswer {
  status: number
  headers: Headers
  body: string
}

export interface PostOptions {
  /** Who is calling, for error texts: `pagerduty "pd-main"`. */
  what: string
  url: string
  body: string
  headers: Record<string, string>
  signal: AbortSignal
  timeoutMs?: number
  /** Values that must never appear in an error text. */
  secrets: readonly string[]
}

/**
 * POSTs once and returns the answer, whatever its status. A network error, a timeout or an abort
 * throws a retryable DeliveryError. Redirects are not followed: a signed or authorised request is
 * never replayed to another address.
 */
export async function post(o: PostOptions): Promise<HttpAnswer> {
  const timeoutMs = o.timeoutMs ?? DEFAULT_TIMEOUT_MS
  const timeout = AbortSignal.timeout(timeoutMs)
  let res: Response
  try {
    res = await fetch(o.url, {
      method: 'POST',
      headers: o.headers,
      body: o.body,
      redirect: 'manual',
      signal: AbortSignal.any([o.signal, timeout]),
    })
  } catch (err) {
    const why = o.signal.aborted
      ? 'the delivery was cancelled'
      : timeout.aborted
        ? `no answer within ${timeoutMs} ms`
        : networkReason(err)
    throw new DeliveryError(redact(`${o.what}: POST ${originOf(o.url)} failed: ${why}`, o.secrets))
  }
  let body = ''
  try {
    body = await res.text()
  } catch {
    // The status is what decides; a body cut short changes nothing.
  }
  return { status: res.status, headers: res.headers, body }
}

function networkReason(err: unknown): string {
  const e = err as { cause?: { code?: string; message?: string }; message?: string }
  return e.cause?.code ?? e.cause?.message ?? e.message ?? 'network error'
}

/**
 * 2xx: delivered. 408, 429 and 5xx: retryable, with the service's Retry-After. Anything else
 * (another 4xx, a redirect): permanent, with the start of the service's answer.
 */
export function checkAnswer(a: HttpAnswer, o: Pick<PostOptions, 'what' | 'url' | 'secrets'>): void {
  if (a.status >= 200 && a.status < 300) return
  const retryable = a.status === 408 || a.status === 429 || a.status >= 500
  const detail = a.body ? `: ${clip(oneLine(a.body), 300)}` : ''
  const where = a.status >= 300 && a.status < 400 ? ` (a redirect to ${originOf(a.headers.get('location') ?? '')})` : ''
  throw new DeliveryError(redact(`${o.what}: ${originOf(o.url)} answered ${a.status}${where}${detail}`, o.secrets), {
    permanent: !retryable,
    status: a.status,
    retryAfterMs: retryable ? parseRetryAfter(a.headers.get('retry-after')) : undefined,
  })
}

/** The caller's signal, as a rejection: for clients (SMTP, Slack) that take no AbortSignal. */
export function abortable<T>(work: Promise<T>, signal: AbortSignal, what: string): Promise<T> {
  if (signal.aborted) return Promise.reject(new DeliveryError(`${what}: the delivery was cancelled`))
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new DeliveryError(`${what}: the delivery was cancelled`))
    signal.addEventListener('abort', onAbort, { once: true })
    work.then(
      (v) => {
        signal.removeEventListener('abort', onAbort)
        resolve(v)
      },
      (err) => {
        signal.removeEventListener('abort', onAbort)
        reject(err)
      },
    )
  })
}

/** How each kind reads in a subject, a summary or a Slack thread. */
export const KIND_LABEL: Record<NotificationKind, string> = {
  opened: 'Opened',
  approval_requested: 'Approval needed',
  escalated: 'Escalated',
  acknowledged: 'Acknowledged',
  resolved: 'Resolved',
  repeat: 'Still unacknowledged',
}

/** `ESCALATED`, `APPROVAL NEEDED`, `STILL UNACKNOWLEDGED (level 2)`. */
export function kindHeadline(n: Pick<Notification, 'kind' | 'level'>): string {
  const head = KIND_LABEL[n.kind].toUpperCase()
  return n.level > 1 ? `${head} (level ${n.level})` : head
}
