/*
 * Sentinel operations console: the entry point (<script type="module" src="/js/main.js">). Native
 * ES modules, no build step, no dependencies. This module signs in and out, wires the stream's
 * events to the modules that own each panel, loads everything when a stream starts afresh, and
 * runs the timers that keep relative times, countdowns and health scores current. The History and
 * Reports views (views.js) load their own data when shown.
 */
import { api, setUnauthorizedHandler } from './api.js'
import { loadApprovals, onApprovalEvent } from './approvals.js'
import { loadAudit, onAudit } from './audit.js'
import { chartHover, drawCharts, loadRecent, onMetrics, onSample, scheduleCharts } from './charts.js'
import { loadContainers, onContainer, renderContainers } from './containers.js'
import { $, toast } from './dom.js'
import { fmtAgo, refreshRelativeTimes } from './format.js'
import { initHistory, resetHistory } from './history.js'
import { closeDetail, loadIncidents, onIncident, renderIncidents } from './incidents.js'
import { loadNotifications } from './notifications.js'
import { initReports, resetReports } from './reports.js'
import { initSilences, loadSilences } from './silences.js'
import { KEY_STORAGE, isAdmin, isOperator, state } from './state.js'
import { connect, disconnect, setConn, setStreamHandlers, updateOfflineText } from './stream.js'
import { renderSummary } from './summary.js'
import { applyRoute, hideViews, initViews } from './views.js'

/** How often relative times ("2m ago") are rewritten. */
const RELATIVE_TIMES_MS = 15_000

// ---------- sign in / out ----------
function showLogin(message) {
  $('app').hidden = true
  hideViews()
  $('login').hidden = false
  $('signout').hidden = true
  $('role-badge').hidden = true
  const err = $('login-error')
  err.textContent = message || ''
  err.hidden = !message
  setTimeout(() => $('key-input').focus(), 0)
}

function signOut(message) {
  state.generation++
  sessionStorage.removeItem(KEY_STORAGE)
  state.key = null
  state.role = null
  state.token = null
  disconnect()
  setConn('idle', 'Not connected')
  $('offline-banner').hidden = true
  closeDetail()
  resetHistory()
  resetReports()
  showLogin(message)
}
setUnauthorizedHandler(signOut)

async function start(key) {
  state.key = key
  const gen = ++state.generation
  let who
  try {
    who = await api('/api/whoami', { allow401: true })
  } catch (err) {
    if (gen !== state.generation) return
    if (err.status === 401 || err.status === 403) {
      sessionStorage.removeItem(KEY_STORAGE)
      state.key = null
      showLogin('That API key was not accepted.')
    } else {
      showLogin(`Could not reach Sentinel (${err.message}).`)
    }
    return
  }
  if (gen !== state.generation) return
  sessionStorage.setItem(KEY_STORAGE, key)
  state.role = who && who.role
  $('login').hidden = true
  $('app').hidden = false
  $('signout').hidden = false
  const badge = $('role-badge')
  badge.textContent = state.role || 'unknown'
  badge.hidden = false
  $('audit-panel').hidden = !isAdmin()
  $('app').classList.toggle('no-audit', !isAdmin())
  $('approvals-note').textContent = isOperator() ? '' : 'read-only: your role cannot decide'
  // Shown once GET /api/notifications answers (admins, on a Sentinel that has it).
  $('notifications-panel').hidden = true
  $('app').classList.add('no-notifications')
  // The view the address names (#history, #reports...): the live console by default.
  applyRoute()
  connect()
}

// ---------- loading ----------

/** Health scores (0–1) and the latest readings, from the infrastructure status; every reload and every 30 s. */
async function loadHealth() {
  const body = await api('/api/infrastructure-status')
  // The latest reading of every check and the other metrics, so the charts end at the latest tick.
  const latest = [...((body && body.checks) || []), ...((body && body.metrics) || [])]
  if (latest.length) onMetrics({ readings: latest })
  const health = body && body.health
  if (!health) return
  state.systemHealth =
    health.system && Number.isFinite(Number(health.system.score)) ? Number(health.system.score) : null
  for (const h of health.containers || []) {
    const c = state.containers.get(String(h.name))
    if (c && Number.isFinite(Number(h.score))) c.healthScore = Number(h.score)
  }
  renderContainers()
  renderSummary()
}

async function reloadAll() {
  const gen = state.generation
  const jobs = [loadRecent(), loadIncidents(), loadApprovals(), loadContainers().then(loadHealth), loadSilences()]
  if (isAdmin()) jobs.push(loadAudit(), loadNotifications())
  const results = await Promise.allSettled(jobs)
  if (gen !== state.generation) return
  for (const r of results)
    if (r.status === 'rejected' && r.reason && r.reason.status !== 401)
      toast(`Could not load: ${r.reason.message}`, 'error')
}

setStreamHandlers(
  {
    'incident.opened': onIncident,
    'incident.updated': onIncident,
    'incident.resolved': onIncident,
    metrics: onMetrics,
    sample: onSample,
    container: onContainer,
    'approval.requested': (data) => onApprovalEvent(data, onIncident),
    'approval.decided': (data) => onApprovalEvent(data, onIncident),
    audit: (ev) => {
      onAudit(ev)
      // Someone added or ended a silence: the panel follows (admins see audit events live).
      if (ev && typeof ev.kind === 'string' && ev.kind.startsWith('silence.')) loadSilences().catch(() => {})
    },
    reset: () => reloadAll(),
  },
  () => reloadAll(),
)

// ---------- wiring ----------
function segmented(selector, apply) {
  const buttons = document.querySelectorAll(selector)
  for (const b of buttons) {
    b.addEventListener('click', () => {
      apply(b)
      for (const o of buttons) {
        o.classList.toggle('active', o === b)
        o.setAttribute('aria-pressed', String(o === b))
      }
    })
  }
}

function init() {
  $('login-form').addEventListener('submit', (e) => {
    e.preventDefault()
    const key = $('key-input').value.trim()
    if (!key) return
    $('key-input').value = ''
    start(key)
  })
  $('signout').addEventListener('click', () => signOut())
  $('retry-now').addEventListener('click', () => {
    state.retryDelay = 1000
    connect()
  })
  $('detail-close').addEventListener('click', closeDetail)
  $('scrim').addEventListener('click', closeDetail)
  document.addEventListener('keydown', (e) => {
    if (e.key === 'Escape' && !$('detail').hidden) closeDetail()
  })
  $('load-more').addEventListener('click', () => loadIncidents(true).catch((err) => toast(err.message, 'error')))
  initSilences()
  initViews()
  initHistory()
  initReports()
  $('notifications-refresh').addEventListener('click', () =>
    loadNotifications().catch((err) => err.status !== 401 && toast(`Could not load: ${err.message}`, 'error')),
  )
  segmented('[data-filter]', (b) => {
    state.chartFilter = b.dataset.filter
    drawCharts()
  })
  segmented('[data-window]', (b) => {
    state.chartWindowMs = Number(b.dataset.window)
    drawCharts()
  })
  segmented('[data-ifilter]', (b) => {
    state.incidentFilter = b.dataset.ifilter
    renderIncidents()
  })
  for (const fig of document.querySelectorAll('.chart')) {
    const box = fig.querySelector('.chart-box')
    box.addEventListener('mousemove', (e) => chartHover(fig, e))
    box.addEventListener('mouseleave', () => {
      fig.querySelector('.chart-tip').hidden = true
    })
  }
  window.addEventListener('resize', scheduleCharts)
  window.addEventListener('online', () => {
    if (state.key && !state.connected) {
      state.retryDelay = 1000
      connect()
    }
  })
  // Expiry countdowns and the offline countdown tick every second.
  setInterval(() => {
    if (!state.key) return
    if (!$('offline-banner').hidden) updateOfflineText()
    for (const span of document.querySelectorAll('.expires[data-expires]'))
      span.textContent = `expires ${fmtAgo(span.dataset.expires)}`
  }, 1000)
  // Relative times ("requested 2m ago", "opened 5m ago") age by themselves.
  setInterval(() => {
    if (state.key) refreshRelativeTimes()
  }, RELATIVE_TIMES_MS)
  // The "healed" badge, the charts' time axis and the health scores.
  setInterval(() => {
    if (!state.key) return
    renderContainers()
    scheduleCharts()
    loadHealth().catch(() => {})
    // Silences start and end by the clock; the notification queue moves by itself.
    loadSilences().catch(() => {})
    if (isAdmin()) loadNotifications().catch(() => {})
  }, 30_000)

  const saved = sessionStorage.getItem(KEY_STORAGE)
  if (saved) start(saved)
  else showLogin()
  // Seen by boot.js, which reloads a page whose modules never arrived.
  document.documentElement.dataset.ready = 'yes'
}

// A module runs after the document is parsed; the check keeps it safe if it is ever loaded otherwise.
if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init)
else init()
