/*
 * The Notifications panel (admins): whether Sentinel pages anyone and through which receivers, how
 * many notifications wait, the dead letters (a notification every attempt failed for) and the latest
 * deliveries, from GET /api/notifications. A Sentinel without that route (404) or a key that may not
 * read it (403) shows no panel.
 */
import { api } from './api.js'
import { $, clear, el } from './dom.js'
import { fmtDateTime, fmtTime, titleCase } from './format.js'
import { openDetail } from './incidents.js'
import { isAdmin, state } from './state.js'

const RESULT_CLASS = { delivered: 'outcome-ok', failed: 'outcome-bad', dead: 'outcome-bad', muted: 'muted' }
const MAX_ROWS = 50

function show(visible) {
  $('notifications-panel').hidden = !visible
  $('app').classList.toggle('no-notifications', !visible)
}

export async function loadNotifications() {
  if (!isAdmin()) {
    state.notifications = null
    show(false)
    return
  }
  let body
  try {
    body = await api('/api/notifications')
  } catch (err) {
    if (err.status === 404 || err.status === 403) {
      state.notifications = null
      show(false)
      return
    }
    throw err
  }
  state.notifications = body && typeof body === 'object' ? body : null
  show(!!state.notifications)
  renderNotifications()
}

const incidentLink = (id) =>
  id
    ? el(
        'button',
        { class: 'link mono', type: 'button', title: 'Open the incident', onclick: () => openDetail(String(id)) },
        String(id),
      )
    : ''

const table = (testid, head, rows) =>
  el(
    'div',
    { class: 'audit-scroll notify-scroll' },
    el(
      'table',
      { class: 'audit', 'data-testid': testid },
      el(
        'thead',
        null,
        el(
          'tr',
          null,
          head.map((h) => el('th', null, h)),
        ),
      ),
      el('tbody', null, rows),
    ),
  )

export function renderNotifications() {
  const n = state.notifications
  const box = $('notifications')
  clear(box)
  if (!n) return
  const receivers = Array.isArray(n.receivers) ? n.receivers : []
  const dead = Array.isArray(n.deadLetters) ? n.deadLetters : []
  const recent = Array.isArray(n.recent) ? n.recent : []
  const pending = Number.isFinite(Number(n.pending)) ? Number(n.pending) : 0

  box.append(
    el(
      'div',
      { class: 'notify-summary' },
      el(
        'span',
        {
          class: `notify-state ${n.enabled ? 'outcome-ok' : 'notify-off'}`,
          'data-testid': 'notify-state',
          'data-enabled': String(!!n.enabled),
        },
        n.enabled ? 'Paging on' : `Paging off${n.why ? `: ${n.why}` : ''}`,
      ),
      el('span', { 'data-testid': 'notify-pending' }, `${pending} waiting`),
      el(
        'span',
        { class: dead.length ? 'outcome-bad' : '' },
        `${dead.length} dead letter${dead.length === 1 ? '' : 's'}`,
      ),
    ),
    el(
      'ul',
      { class: 'receivers', 'data-testid': 'notify-receivers' },
      receivers.length
        ? receivers.map((r) =>
            el(
              'li',
              { class: 'receiver', 'data-testid': 'notify-receiver' },
              el('span', { class: 'mono' }, String(r.name ?? '')),
              el('span', { class: 'muted' }, String(r.type ?? '')),
            ),
          )
        : el('li', { class: 'muted small' }, 'No receivers configured.'),
    ),
  )

  if (dead.length) {
    box.append(
      el('h3', { class: 'notify-h' }, 'Dead letters'),
      table(
        'notify-dead',
        ['Failed', 'Receiver', 'Incident', 'Kind', 'Tries', 'Last error'],
        dead
          .slice(0, MAX_ROWS)
          .map((d) =>
            el(
              'tr',
              { 'data-testid': 'notify-dead-row', title: d.key ? `key ${d.key}` : undefined },
              el('td', { title: fmtDateTime(d.failedAt) }, fmtTime(d.failedAt)),
              el('td', { class: 'mono' }, String(d.receiver ?? '')),
              el('td', null, incidentLink(d.incidentId)),
              el('td', null, titleCase(d.kind)),
              el('td', null, String(d.attempts ?? '')),
              el('td', { class: 'outcome-bad' }, String(d.lastError ?? '')),
            ),
          ),
      ),
    )
  }

  box.append(
    el('h3', { class: 'notify-h' }, 'Latest deliveries'),
    recent.length
      ? table(
          'notify-recent',
          ['Time', 'Receiver', 'Incident', 'Kind', 'Result', 'Tries'],
          recent.slice(0, MAX_ROWS).map((r) =>
            el(
              'tr',
              {
                'data-testid': 'notify-recent-row',
                'data-result': String(r.result ?? ''),
                title: r.key ? `key ${r.key}` : undefined,
              },
              el('td', { title: fmtDateTime(r.at) }, fmtTime(r.at)),
              el('td', { class: 'mono' }, String(r.receiver ?? '')),
              el('td', null, incidentLink(r.incidentId)),
              el('td', null, titleCase(r.kind)),
              el('td', { class: RESULT_CLASS[r.result] || '' }, String(r.result ?? '')),
              el('td', null, String(r.attempts ?? '')),
            ),
          ),
        )
      : el('p', { class: 'muted small' }, 'Nothing delivered yet.'),
  )
}
