/**
 * A person takes an incident (POST /api/incidents/:id/ack, the dashboard's Acknowledge button,
 * Slack's): the lifecycle's `acknowledge` records who and when, the store's outbox tells the
 * notifier (acknowledged incidents stop re-paging; PagerDuty and Opsgenie are told), and the audit
 * log keeps it. The first one owns it: a second acknowledgement is a 409 naming who has it.
 */
import { z } from 'zod'
import { authorize, whoMay, type Role } from '../platform/auth/roles'
import { HttpError, notFound } from '../platform/http/errors'
import type { AuditLog } from '../platform/store/audit'
import type { IncidentStore } from '../platform/store/incidents'
import { acknowledge, isClosed } from '../platform/store/lifecycle'
import type { Incident } from '../platform/store/model'

/** POST /api/incidents/:id/ack's body: an optional note, kept in the timeline and the audit log. */
export const acknowledgeBody = z
  .object({
    comment: z
      .string()
      .trim()
      .max(500)
      .optional()
      .describe('a note for the others ("looking at it from the db side"); kept in the timeline and the audit log'),
  })
  .strict()

export interface Acknowledger {
  /** Who, as the timeline and the audit log name them: `key:<key id>`, `slack:<user id>`. */
  user: string
  role: Role
}

/** The 409 for an incident someone has taken already: who, and when. */
export function alreadyAcknowledged(incident: Incident): HttpError {
  const a = incident.acknowledgement!
  return new HttpError(
    409,
    'already_acknowledged',
    `incident ${incident.id} was acknowledged by ${a.by} at ${a.at}; nothing changed`,
    { acknowledgement: a },
  )
}

function alreadyClosed(incident: Incident): HttpError {
  return new HttpError(
    409,
    'already_closed',
    `incident ${incident.id} is ${incident.status}: there is nothing to acknowledge; nothing changed`,
    { status: incident.status },
  )
}

/**
 * Records that `who` took the incident. 404 when there is no such incident, 409 when it is
 * acknowledged already (with who and when) or closed, 403 when the role may not acknowledge (the
 * API's middleware and the Slack handler check first; this is the last word).
 */
export async function acknowledgeIncident(
  id: string,
  who: Acknowledger,
  opts: { comment?: string; via?: 'api' | 'slack' },
  deps: { store: IncidentStore; audit: AuditLog },
): Promise<Incident> {
  if (!authorize(who.role, 'acknowledge'))
    throw new HttpError(
      403,
      'forbidden',
      `acknowledging needs ${whoMay('acknowledge')}; ${who.user} is ${who.role === 'admin' ? 'an' : 'a'} ${who.role}`,
    )
  const current = await deps.store.get(id)
  if (!current) throw notFound(`incident ${id}`)
  if (current.acknowledgement) throw alreadyAcknowledged(current)
  if (isClosed(current)) throw alreadyClosed(current)
  const comment = opts.comment?.trim() || undefined
  const data: Record<string, unknown> = { role: who.role, ...(comment ? { comment } : {}), via: opts.via ?? 'api' }
  // Checked again on the version written: another person (or the incident's closing) in between is a 409 too.
  const incident = await deps.store.update(id, (i) => {
    if (i.acknowledgement) throw alreadyAcknowledged(i)
    if (isClosed(i)) throw alreadyClosed(i)
    return acknowledge(i, {
      actor: who.user,
      summary: `acknowledged by ${who.user}${comment ? `: ${comment}` : ''}`,
      data,
    })
  })
  await deps.audit.append({
    kind: 'incident.acknowledged',
    actor: who.user,
    incidentId: id,
    resource: incident.resource.name,
    outcome: 'acknowledged',
    data,
  })
  return incident
}

/** How Slack names who acknowledged: a Slack user as a mention, anyone else as recorded. */
const slackName = (by: string) => (/^slack:[A-Z0-9]+$/.test(by) ? `<@${by.slice('slack:'.length)}>` : by)

/**
 * The Slack Acknowledge button's callback (createSlackApprovals' `onAcknowledge`): a 404 or a 409
 * becomes the conflict the clicker is told ("already acknowledged by @ana at ..."), anything else
 * is thrown (the clicker is told to try again).
 */
export function acknowledgeFromSlack(deps: { store: IncidentStore; audit: AuditLog }) {
  return async (a: { incidentId: string; by: string; role: Role }): Promise<{ ok: true } | { conflict: string }> => {
    try {
      await acknowledgeIncident(a.incidentId, { user: a.by, role: a.role }, { via: 'slack' }, deps)
      return { ok: true }
    } catch (err) {
      if (!(err instanceof HttpError) || err.status >= 500) throw err
      if (err.code === 'already_acknowledged') {
        const ack = (err.details as { acknowledgement: { by: string; at: string } }).acknowledgement
        return { conflict: `already acknowledged by ${slackName(ack.by)} at ${ack.at}` }
      }
      if (err.code === 'already_closed') return { conflict: `it is ${(err.details as { status: string }).status}` }
      if (err.status === 404) return { conflict: 'incident not found' }
      return { conflict: err.message }
    }
  }
}
