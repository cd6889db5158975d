/*
 * The Deploys panel: a card per canary deploy (GET /api/deploys, polled every 3 s while the console
 * is shown), with its progress (1 task → 25 % → 100 %), what the gate saw last (the canary's tasks
 * against the old ones: running, failures, probe error rate and median latency), what it waits for,
 * and Pause / Resume / Abort for operators while it is under way. The panel makes its own section
 * (after the Controllers panel), so the page needs only this module's <script> tag.
 */
import { api } from './api.js'
import { $, clear, el, toast } from './dom.js'
import { pollPanel } from './poll.js'
import { isOperator } from './state.js'

const POLL_MS = 3000
const UNDER_WAY = ['pending', 'canary', 'promoting', 'rolling_back']
const TONE = { succeeded: 'ok', rolled_back: 'bad', failed: 'bad', aborted: 'warn' }

function panel() {
  let box = $('deploy-cards')
  if (box) return box
  if (typeof document === 'undefined') return null
  const anchor = document.querySelector('[data-testid="cluster-panel"]')
  if (!anchor) return null
  const section = el(
    'section',
    { class: 'panel panel-metrics panel-deploys', 'aria-labelledby': 'deploys-h', 'data-testid': 'deploys-panel' },
    el(
      'div',
      { class: 'panel-head' },
      el('h2', { id: 'deploys-h' }, 'Deploys'),
      el('span', { class: 'muted small', id: 'deploys-count', 'data-testid': 'deploys-count' }),
    ),
    el('p', { class: 'muted small', id: 'deploys-note', role: 'status', hidden: true }),
    el('div', { class: 'cards', id: 'deploy-cards', 'data-testid': 'deploy-cards' }),
  )
  anchor.after(section)
  return $('deploy-cards')
}

const pct = (x) => (typeof x === 'number' ? `${(x * 100).toFixed(1)} %` : '—')
const msText = (x) => (typeof x === 'number' ? `${Math.round(x)} ms` : '—')

/** "step 2 of 3: 2 canary tasks" or "100 %: rolling update". */
function progress(d) {
  const total = (d.steps || []).length + 1
  if (d.phase === 'promoting' || d.phase === 'succeeded') return { step: total, total, text: '100 %: rolling update' }
  const n = (d.steps || [])[d.stepIndex] || 1
  return { step: d.stepIndex + 1, total, text: `${n} canary task${n === 1 ? '' : 's'} beside ${d.replicas}` }
}

function gateLine(label, g) {
  if (!g) return null
  return el(
    'div',
    { class: 'card-foot', 'data-testid': `deploy-gate-${label}` },
    `${label}: ${g.running}/${g.desired} running, ${g.failed} failed, errors ${pct(g.errorRate)}, p50 ${msText(g.p50LatencyMs)}`,
  )
}

async function control(d, action) {
  try {
    await api(`/api/services/${encodeURIComponent(d.service)}/deploy/${action}`, { method: 'POST', body: {} })
    toast(`${action} asked for ${d.service}`)
    poller.load()
  } catch (err) {
    toast(`Could not ${action} ${d.service}: ${err.message}`, 'error')
  }
}

function card(d) {
  const p = progress(d)
  const underWay = UNDER_WAY.includes(d.phase)
  const tone = TONE[d.phase] || (d.paused ? 'warn' : 'ok')
  const buttons =
    underWay && isOperator() && d.phase !== 'rolling_back'
      ? el(
          'div',
          { class: 'card-foot' },
          d.paused
            ? el('button', { type: 'button', onclick: () => control(d, 'resume') }, 'Resume')
            : el('button', { type: 'button', onclick: () => control(d, 'pause') }, 'Pause'),
          el('button', { type: 'button', class: 'danger', onclick: () => control(d, 'abort') }, 'Abort'),
        )
      : null
  return el(
    'article',
    { class: 'card', 'data-testid': 'deploy-card', 'data-id': d.id, 'data-phase': d.phase, 'data-tone': tone },
    el(
      'div',
      { class: 'card-top' },
      el(
        'span',
        { class: 'card-name', title: `${d.service}: ${d.previousImage} → ${d.image}` },
        `${d.service} → ${d.image}`,
      ),
      el('span', { class: `state state-${tone}` }, d.paused && underWay ? 'paused' : d.phase.replace('_', ' ')),
    ),
    el('progress', { max: String(p.total), value: String(p.step), 'aria-label': `step ${p.step} of ${p.total}` }),
    el('div', { class: 'card-foot' }, `step ${p.step} of ${p.total}: ${p.text}`),
    d.gate ? gateLine('canary', d.gate.canary) : null,
    d.gate ? gateLine('old', d.gate.baseline) : null,
    d.waitingFor ? el('div', { class: 'card-foot muted' }, `waiting for ${d.waitingFor}`) : null,
    d.reason ? el('div', { class: 'card-foot bad' }, d.reason) : null,
    d.incidentId ? el('div', { class: 'card-foot' }, `incident ${d.incidentId}`) : null,
    buttons,
  )
}

export function renderDeploys(body) {
  const box = panel()
  if (!box) return
  clear(box)
  const deploys = Array.isArray(body && body.deploys) ? body.deploys.filter((d) => d && typeof d.id === 'string') : []
  if (!deploys.length) box.append(el('p', { class: 'empty' }, 'No deploy yet.'))
  for (const d of deploys) box.append(card(d))
  const active = deploys.filter((d) => UNDER_WAY.includes(d.phase)).length
  $('deploys-count').textContent = `${active} under way · ${deploys.length} shown`
}

const poller = pollPanel({
  path: '/api/deploys?limit=10',
  everyMs: POLL_MS,
  noteId: 'deploys-note',
  what: 'the deploys',
  render: renderDeploys,
})
