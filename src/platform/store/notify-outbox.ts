/**
 * The notification outbox: what happened to an incident that people may need to hear about
 * (opened, an approval requested, escalated, acknowledged, resolved). The store appends these
 * entries to a Redis stream inside the same Lua script that writes the incident, so a change and
 * its notification commit together: a crash between the two cannot lose a page or send one for a
 * change that was never stored. The notifier (src/notify/) reads the stream with a consumer group
 * in the main process and deletes each entry once its deliveries are queued.
 */
import type { Incident } from './model'

/** The Redis stream the store appends to and the notifier consumes. */
export const NOTIFY_OUTBOX = 'sentinel:notify:outbox'
/**
 * The stream is capped (approximately) at this many entries: with notifications off nothing
 * consumes it, and its memory must stay bounded. A running notifier empties it within seconds;
 * only a notifier stopped through this many incident events would lose the oldest.
 */
export const OUTBOX_MAX = 100_000

export const INCIDENT_EVENTS = ['opened', 'approval_requested', 'escalated', 'acknowledged', 'resolved'] as const
export type IncidentEvent = (typeof INCIDENT_EVENTS)[number]

/** One outbox entry: the event, and what routing needs without reading the incident again. */
export interface OutboxEntry {
  incidentId: string
  event: IncidentEvent
  /** The incident's version that made the event: a replayed entry is recognised by it. */
  version: number
  at: string
}

/**
 * The events a write makes: `prev` is the stored incident (null when it is being created), `next`
 * what replaces it. A suppressed incident counts as resolved: whatever was paged for it is closed.
 */
export function incidentEvents(prev: Incident | null, next: Incident): IncidentEvent[] {
  const events: IncidentEvent[] = []
  if (!prev) events.push('opened')
  if (next.approval?.status === 'pending' && prev?.approval?.status !== 'pending') events.push('approval_requested')
  if (next.status === 'escalated' && prev?.status !== 'escalated') events.push('escalated')
  if (next.acknowledgement && !prev?.acknowledgement) events.push('acknowledged')
  const closed = (i: Incident | null) => i?.status === 'resolved' || i?.status === 'suppressed'
  if (closed(next) && !closed(prev)) events.push('resolved')
  return events
}

/** The entries, as the JSON texts the store's Lua script appends (one XADD each). */
export function outboxEntries(prev: Incident | null, next: Incident): string[] {
  return incidentEvents(prev, next).map((event) =>
    JSON.stringify({ incidentId: next.id, event, version: next.version, at: next.updatedAt } satisfies OutboxEntry),
  )
}
