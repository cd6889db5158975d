/*
 * The Controllers panel: the Sentinel controllers sharing this Redis and who leads each duty, from
 * GET /api/cluster, polled every 5 s while the console is shown (leases change without a stream
 * event). One card per controller (the one that answered this page is marked), and a line per duty
 * with its leader and fencing token; a duty with no leader is red: nothing does that work now.
 * Ages are computed from the controller's timestamps against the browser's clock, so they are
 * approximate when the clocks differ; the panel says "renewed" only for the order of seconds.
 * Loaded by its own <script> tag; polled through poll.js like the Nodes panel.
 */
import { $, clear, el } from './dom.js'
import { fmtDuration } from './format.js'
import { pollPanel } from './poll.js'

const POLL_MS = 5000

/** "ctl-1:3000" for a holder "ctl-1:3000#ab12cd34" (the nonce tells processes apart, not people). */
const idOf = (holder) => String(holder || '').split('#')[0]

const ago = (iso, now) => {
  const t = Date.parse(iso)
  return Number.isFinite(t) ? `${fmtDuration(Math.max(0, now - t))} ago` : '—'
}

function memberCard(m, answeredBy, now) {
  const duties = Object.keys(m.leading || {}).sort()
  const self = m.holder === answeredBy
  return el(
    'article',
    {
      class: 'card',
      'data-testid': 'controller-card',
      'data-id': m.id,
      'data-self': String(self),
      'data-tone': 'ok',
      title: `${m.id} (pid ${m.pid} on ${m.host})`,
    },
    el(
      'div',
      { class: 'card-top' },
      el('span', { class: 'card-name' }, m.id),
      el('span', { class: 'state state-ok' }, self ? 'this page' : 'up'),
    ),
    el(
      'div',
      { class: 'card-foot' },
      el('span', null, `started ${ago(m.startedAt, now)}`),
      el('span', null, `renewed ${ago(m.renewedAt, now)}`),
    ),
    el(
      'div',
      { class: 'card-foot', 'data-testid': 'controller-duties' },
      duties.length ? `leads ${duties.join(', ')}` : 'leads no duty (standby)',
    ),
  )
}

function dutyLine(d, members) {
  const leader = members.find((m) => m.holder === d.holder)
  const text = d.holder
    ? `${d.duty}: ${leader ? leader.id : idOf(d.holder)} (token ${d.token})`
    : `${d.duty}: no leader`
  return el(
    'li',
    {
      'data-testid': 'duty-line',
      'data-duty': d.duty,
      'data-led': String(Boolean(d.holder)),
      class: d.holder ? '' : 'bad',
    },
    text,
  )
}

export function renderCluster(body, now = Date.now()) {
  const box = $('controller-cards')
  const list = $('duty-list')
  if (!box || !list) return
  clear(box)
  clear(list)
  const members = Array.isArray(body && body.members) ? body.members.filter((m) => m && typeof m.id === 'string') : []
  const duties = Array.isArray(body && body.duties) ? body.duties.filter((d) => d && typeof d.duty === 'string') : []
  if (!members.length) box.append(el('p', { class: 'empty' }, 'No controller reported yet.'))
  for (const m of members) box.append(memberCard(m, body.answeredBy, now))
  for (const d of duties) list.append(dutyLine(d, members))
  const unled = duties.filter((d) => !d.holder).length
  $('cluster-count').textContent =
    `${members.length} controller${members.length === 1 ? '' : 's'}` +
    (unled ? ` · ${unled} dut${unled === 1 ? 'y' : 'ies'} without a leader` : '') +
    (body && body.leaseSeconds ? ` · lease ${body.leaseSeconds} s` : '')
}

pollPanel({
  path: '/api/cluster',
  everyMs: POLL_MS,
  noteId: 'cluster-note',
  what: 'the cluster',
  render: renderCluster,
})
