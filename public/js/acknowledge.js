/*
 * Acknowledge ("I take this incident"): the button on an open incident nobody has taken yet, for a
 * key whose role may acknowledge (operator, admin), and who took it and when, in the drawer and as
 * a small badge in the incident list. POST /api/incidents/:id/ack records it; the stream then
 * brings the incident back with its acknowledgement.
 */
import { api } from './api.js'
import { el, toast } from './dom.js'
import { fmtDateTime, fmtTime } from './format.js'
import { acknowledgeable } from './rules.js'
import { isOperator } from './state.js'

/** True when this key may take this incident now. */
export const canAcknowledge = (inc) => isOperator() && acknowledgeable(inc)

/** "key:ops-1" as recorded; a Slack user as "Slack U0ABC". */
export const takenByName = (by) => {
  const s = String(by || 'someone')
  return s.startsWith('slack:') ? `Slack ${s.slice('slack:'.length)}` : s
}

/**
 * The Acknowledge button. `done(acknowledgement)` runs once the server recorded it (to redraw);
 * a 409 (someone was quicker, or the incident closed) is said and the incident read again.
 */
export function ackButton(inc, done) {
  const button = el(
    'button',
    {
      class: 'btn btn-ack btn-sm',
      type: 'button',
      'data-testid': 'ack-button',
      'data-incident-id': inc.id,
      title: 'Take this incident: re-paging stops and the paging services are told',
    },
    'Acknowledge',
  )
  button.addEventListener('click', async () => {
    button.disabled = true
    try {
      const body = await api(`/api/incidents/${encodeURIComponent(inc.id)}/ack`, { method: 'POST', body: {} })
      toast('Acknowledged: the incident is yours, and re-paging stops.', 'ok')
      done(body && body.acknowledgement ? body.acknowledgement : null)
    } catch (err) {
      button.disabled = false
      if (err.status !== 401) toast(`Could not acknowledge: ${err.message}`, 'error')
      if (err.status === 409) done(null)
    }
  })
  return button
}

/** The drawer's line: "Taken by key:ops-1 at Jun 3, 10:15:02". */
export function ackNote(inc) {
  const a = inc && inc.acknowledgement
  if (!a) return null
  return el(
    'p',
    { class: 'ack-note', 'data-testid': 'ack-note' },
    'Taken by ',
    el('strong', { class: 'mono' }, takenByName(a.by)),
    ' at ',
    el('time', { datetime: a.at }, fmtDateTime(a.at)),
  )
}

/** The incident list's badge: "taken · key:ops-1". */
export function ackBadge(inc) {
  const a = inc && inc.acknowledgement
  if (!a) return null
  return el(
    'span',
    {
      class: 'ack-badge',
      'data-testid': 'ack-badge',
      title: `Taken by ${takenByName(a.by)} at ${fmtDateTime(a.at)}`,
    },
    `taken by ${takenByName(a.by)} ${fmtTime(a.at)}`,
  )
}
