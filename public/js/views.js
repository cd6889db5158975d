/*
 * The page's three views: Live (the operations console), History (past incidents, and one
 * incident's page) and Reports. The URL's hash says which (#live, #history, #history/<id>,
 * #reports), so the back button, a reload and a copied link land on the same view; each view loads
 * its data when it is shown, not at sign-in (the live console must not wait for the archive).
 */
import { $ } from './dom.js'
import { scheduleCharts } from './charts.js'
import { showHistoryIncident, showHistoryList } from './history.js'
import { showReports } from './reports.js'
import { state } from './state.js'

/** The view and incident a hash names; anything unknown is the live console. */
export function parseHash(hash) {
  const h = String(hash || '').replace(/^#/, '')
  const m = /^history\/(.+)$/.exec(h)
  if (m) {
    let id = m[1]
    try {
      id = decodeURIComponent(id)
    } catch {
      // Left as written: an id that does not decode is shown as "not found".
    }
    return { view: 'history', id }
  }
  if (h === 'history' || h === 'reports') return { view: h, id: null }
  return { view: 'live', id: null }
}

/** Shows the view of the current hash (signed in only: the sign-in form is gone). */
export function applyRoute() {
  if (!state.key || !$('login').hidden) return
  const { view, id } = parseHash(location.hash)
  $('views').hidden = false
  $('app').hidden = view !== 'live'
  $('history-view').hidden = view !== 'history'
  $('reports-view').hidden = view !== 'reports'
  for (const a of document.querySelectorAll('.view-link')) {
    const on = a.dataset.view === view
    a.classList.toggle('active', on)
    if (on) a.setAttribute('aria-current', 'page')
    else a.removeAttribute('aria-current')
  }
  if (view === 'live') scheduleCharts()
  else if (view === 'history') {
    if (id) showHistoryIncident(id)
    else showHistoryList()
  } else showReports()
}

/** Signed out: no view at all. */
export function hideViews() {
  $('views').hidden = true
  $('history-view').hidden = true
  $('reports-view').hidden = true
}

export function initViews() {
  window.addEventListener('hashchange', applyRoute)
}
