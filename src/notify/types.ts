/**
 * What the notifier hands a receiver, and what a receiver answers. A receiver (Slack, PagerDuty,
 * Opsgenie, e-mail, a webhook: ./receivers/) turns one notification into one call to its service
 * and throws DeliveryError when the call did not take; the delivery queue (./delivery.ts) owns
 * retries, backoff, the dead-letter list and the metrics, so a receiver never retries by itself.
 */
import type { Redis } from 'ioredis'
import type { IncidentEvent } from '../platform/store/notify-outbox'
import type { Incident } from '../platform/store/model'

/**
 * Why a notification is sent: an incident event from the outbox, or `repeat` (nobody acknowledged
 * it within the route's repeat_interval, or the escalation policy moved it to the next level).
 */
export type NotificationKind = IncidentEvent | 'repeat'

export interface Notification {
  /**
   * The idempotency key: the same (incident, event, receiver, sequence) always has the same key,
   * retries and replays included. Every receiver sends it where its service can use it to drop a
   * duplicate (a webhook header, the e-mail Message-ID, Opsgenie's note, PagerDuty's payload).
   */
  key: string
  kind: NotificationKind
  /** The escalation level that is paged: 1 is the first. */
  level: number
  /** The incident as it is when the notification is delivered (not when it was queued). */
  incident: Incident
  /** Where a person opens it: the dashboard's incident page, when SENTINEL_PUBLIC_URL is set. */
  url?: string
  /** When the event happened (ISO). */
  at: string
}

/** A call that did not take. The queue retries it unless `permanent`; `retryAfterMs` is the service's own ask. */
export class DeliveryError extends Error {
  constructor(
    message: string,
    readonly opts: { permanent?: boolean; retryAfterMs?: number; status?: number } = {},
  ) {
    super(message)
    this.name = 'DeliveryError'
  }
  get permanent(): boolean {
    return this.opts.permanent ?? false
  }
  get retryAfterMs(): number | undefined {
    return this.opts.retryAfterMs
  }
}

export const RECEIVER_TYPES = ['slack', 'pagerduty', 'opsgenie', 'email', 'webhook'] as const
export type ReceiverType = (typeof RECEIVER_TYPES)[number]

/** What every receiver gets when it is built: Redis (Slack keeps its message per incident there). */
export interface ReceiverDeps {
  redis: Redis
}

export interface Receiver {
  /** The receiver's name in the routing file. */
  readonly name: string
  readonly type: ReceiverType
  /** Delivers one notification; resolves when the service accepted it, throws DeliveryError when not. */
  send(notification: Notification, signal: AbortSignal): Promise<void>
  /** Frees sockets and pools (SMTP) at shutdown. */
  close?(): Promise<void>
}
