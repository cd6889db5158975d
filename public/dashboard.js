/*
 * Sentinel operations console. Plain browser JavaScript, no build step, no dependencies.
 * Every piece of data goes into the page through textContent / attributes (see el()), never
 * through innerHTML, so titles, logs and analyses cannot inject markup.
 */
'use strict'
;(() => {
  const KEY_STORAGE = 'sentinel.apiKey'
  const METRICS = ['cpu', 'memory', 'disk', 'latency']
  const CHART_OF = { cpu_busy_percent: 'cpu', container_cpu_percent: 'cpu', memory_used_percent: 'memory', container_memory_percent: 'memory', disk_used_percent: 'disk', latency_ms: 'latency' }
  const CHART_WINDOW_MS = 10 * 60 * 1000
  const MAX_POINTS = 600
  const MAX_AUDIT = 500
  const HEALED_SHOW_MS = 2 * 60 * 1000
  const PALETTE = ['#4da3ff', '#2fbf71', '#f0b429', '#ef4d56', '#b48cff', '#3dd6d0', '#ff8f5a', '#e66bc1', '#9bd35a', '#c9ced6']
  const ACTIVE = ['open', 'analyzing', 'awaiting_approval', 'remediating', 'verifying']

  const state = {
    key: null,
    role: null,
    token: null,
    tokenExpiresAt: 0,
    es: null,
    lastEventId: null,
    connected: false,
    retryTimer: null,
    retryDelay: 1000,
    retryAt: 0,
    incidents: new Map(),
    nextCursor: null,
    incidentFilter: 'all',
    selected: null,
    containers: new Map(),
    approvals: [],
    audit: [],
    series: new Map(),
    seriesColors: new Map(),
    chartFilter: 'all',
    generation: 0,
  }

  const $ = (id) => document.getElementById(id)

  /** Builds an element; strings in children become text nodes, never markup. */
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag)
    if (attrs) {
      for (const [k, v] of Object.entries(attrs)) {
        if (v === undefined || v === null || v === false) continue
        if (k === 'class') node.className = v
        else if (k === 'text') node.textContent = String(v)
        else if (k.startsWith('on') && typeof v === 'function') node.addEventListener(k.slice(2), v)
        else if (k === 'style' && typeof v === 'object') Object.assign(node.style, v)
        else node.setAttribute(k, v === true ? '' : String(v))
      }
    }
    for (const c of children.flat()) {
      if (c === undefined || c === null || c === false) continue
      node.append(c instanceof Node ? c : document.createTextNode(String(c)))
    }
    return node
  }
  const clear = (node) => { while (node.firstChild) node.removeChild(node.firstChild) }

  // ---------- formatting ----------
  const timeFmt = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' })
  const dateTimeFmt = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit' })
  const fmtTime = (iso) => { const t = Date.parse(iso); return Number.isFinite(t) ? timeFmt.format(t) : '—' }
  const fmtDateTime = (iso) => { const t = Date.parse(iso); return Number.isFinite(t) ? dateTimeFmt.format(t) : '—' }
  function fmtAgo(iso) {
    const t = Date.parse(iso)
    if (!Number.isFinite(t)) return ''
    const s = Math.round((Date.now() - t) / 1000)
    if (s < 0) return `in ${fmtDuration(-s * 1000)}`
    if (s < 5) return 'just now'
    return `${fmtDuration(s * 1000)} ago`
  }
  function fmtDuration(ms) {
    const s = Math.round(ms / 1000)
    if (s < 60) return `${s}s`
    const m = Math.floor(s / 60)
    if (m < 60) return `${m}m ${s % 60}s`
    const h = Math.floor(m / 60)
    if (h < 48) return `${h}h ${m % 60}m`
    return `${Math.floor(h / 24)}d ${h % 24}h`
  }
  function fmtBytes(n) {
    if (!Number.isFinite(n)) return '—'
    const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
    let i = 0
    let v = Math.abs(n)
    while (v >= 1024 && i < units.length - 1) { v /= 1024; i++ }
    return `${n < 0 ? '-' : ''}${v >= 100 || i === 0 ? v.toFixed(0) : v.toFixed(1)} ${units[i]}`
  }
  function fmtValue(v, unit) {
    if (!Number.isFinite(v)) return '—'
    const u = String(unit || '').toLowerCase()
    if (u === 'bytes' || u === 'b' || u === 'byte') return fmtBytes(v)
    if (u === 'percent' || u === '%' || u === 'pct') return `${v.toFixed(v < 10 ? 1 : 0)}%`
    if (u === 'ratio') return `${(v * 100).toFixed(1)}%`
    if (u === 'ms' || u === 'milliseconds') return v >= 1000 ? `${(v / 1000).toFixed(2)} s` : `${v.toFixed(v < 10 ? 1 : 0)} ms`
    if (u === 's' || u === 'seconds') return v < 1 ? `${(v * 1000).toFixed(0)} ms` : `${v.toFixed(2)} s`
    const n = Math.abs(v) >= 100 ? v.toFixed(0) : v.toFixed(2)
    return u ? `${n} ${unit}` : n
  }
  /** Axis ticks: whole numbers stay whole (0%, 25%, 100 ms). */
  function fmtAxis(v, unit) {
    const u = String(unit || '').toLowerCase()
    if (Number.isInteger(v) && (u === 'percent' || u === '%' || u === 'pct')) return `${v}%`
    if (Number.isInteger(v) && (u === 'ms' || u === 'milliseconds') && v < 1000) return `${v} ms`
    return fmtValue(v, unit)
  }
  const titleCase = (s) => String(s || '').replace(/_/g, ' ')

  // ---------- toasts ----------
  function toast(message, kind) {
    const t = el('div', { class: `toast ${kind || ''}`, role: kind === 'error' ? 'alert' : 'status' }, message)
    $('toasts').append(t)
    setTimeout(() => t.remove(), kind === 'error' ? 8000 : 4000)
  }

  // ---------- API ----------
  class ApiError extends Error {
    constructor(status, message) { super(message); this.status = status }
  }
  async function api(path, options) {
    const opts = options || {}
    const headers = { Accept: 'application/json', Authorization: `Bearer ${state.key}` }
    if (opts.body !== undefined) headers['Content-Type'] = 'application/json'
    let res
    try {
      res = await fetch(path, { method: opts.method || 'GET', headers, body: opts.body === undefined ? undefined : JSON.stringify(opts.body), cache: 'no-store', credentials: 'omit' })
    } catch (err) {
      throw new ApiError(0, 'network error')
    }
    let body = null
    const text = await res.text()
    if (text) { try { body = JSON.parse(text) } catch { body = null } }
    if (!res.ok) {
      const msg = (body && (body.message || body.error)) || `HTTP ${res.status}`
      if (res.status === 401 && !opts.allow401) signOut('Your API key was refused. Sign in again.')
      throw new ApiError(res.status, typeof msg === 'string' ? msg : `HTTP ${res.status}`)
    }
    return body
  }

  // ---------- roles ----------
  const RANK = { viewer: 0, operator: 1, admin: 2 }
  const rank = (r) => (r in RANK ? RANK[r] : -1)
  /** Mirrors the server's rule: operators decide low and medium risk, admins anything. */
  function canDecide(risk, approverRole) {
    if (rank(state.role) >= RANK.admin) return true
    if (rank(state.role) < RANK.operator) return false
    if (approverRole === 'admin') return false
    return risk === 'low' || risk === 'medium'
  }
  const canRollback = () => rank(state.role) >= RANK.admin
  const canAudit = () => rank(state.role) >= RANK.admin

  // ---------- sign in / out ----------
  function showLogin(message) {
    $('app').hidden = true
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
    showLogin(message)
  }

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
    $('audit-panel').hidden = !canAudit()
    $('app').classList.toggle('no-audit', !canAudit())
    $('approvals-note').textContent = rank(state.role) >= RANK.operator ? '' : 'read-only: your role cannot decide'
    connect()
  }

  // ---------- live stream ----------
  function setConn(kind, text) {
    const pill = $('conn-status')
    pill.dataset.state = kind
    pill.querySelector('.pill-text').textContent = text
  }

  function disconnect() {
    if (state.es) { state.es.close(); state.es = null }
    if (state.retryTimer) { clearTimeout(state.retryTimer); state.retryTimer = null }
    state.connected = false
  }

  async function streamToken() {
    // Tokens are only checked when a stream opens; reuse one with time to spare.
    if (state.token && state.tokenExpiresAt * 1000 - Date.now() > 10_000) return state.token
    const res = await api('/api/stream/token', { method: 'POST', body: {} })
    state.token = res.token
    // expiresAt may be unix seconds or an ISO string.
    const exp = typeof res.expiresAt === 'number' ? res.expiresAt : Date.parse(res.expiresAt) / 1000
    state.tokenExpiresAt = Number.isFinite(exp) ? exp : 0
    return state.token
  }

  async function connect() {
    disconnect()
    const gen = state.generation
    setConn('connecting', 'Connecting…')
    let token
    try {
      token = await streamToken()
    } catch (err) {
      if (gen !== state.generation || !state.key) return
      scheduleReconnect(err.status === 0 ? 'Sentinel is unreachable' : `stream token refused (${err.message})`)
      return
    }
    if (gen !== state.generation) return
    const params = new URLSearchParams({ token })
    // A new EventSource does not carry the previous one's Last-Event-ID: pass it in the URL.
    if (state.lastEventId) params.set('lastEventId', state.lastEventId)
    const resuming = Boolean(state.lastEventId)
    const es = new EventSource(`/api/stream?${params}`)
    state.es = es
    let openedAt = 0
    es.onopen = () => {
      if (state.es !== es) return
      openedAt = Date.now()
      state.connected = true
      state.retryDelay = 1000
      $('offline-banner').hidden = true
      setConn('live', 'Live')
      // Without a resume point anything may have changed: load the current state.
      if (!resuming) reloadAll()
    }
    es.onerror = () => {
      if (state.es !== es) return
      // The browser would retry with the same (possibly expired) token: take over with a fresh one.
      es.close()
      state.es = null
      state.connected = false
      state.token = null
      scheduleReconnect('the live stream was interrupted')
    }
    const on = (type, fn) => es.addEventListener(type, (e) => {
      if (e.lastEventId) state.lastEventId = e.lastEventId
      let data = null
      try { data = JSON.parse(e.data) } catch { return }
      try { fn(data) } catch (err) { console.error('event handler failed', type, err) }
    })
    on('incident.opened', onIncident)
    on('incident.updated', onIncident)
    on('incident.resolved', onIncident)
    on('metrics', onMetrics)
    on('container', onContainer)
    on('approval.requested', onApprovalEvent)
    on('approval.decided', onApprovalEvent)
    on('audit', onAudit)
    on('reset', () => { reloadAll() })
    // The server ends a stream whose key was revoked or whose token expired a while ago, after
    // this event (its id is where the stream stands, so the reconnect misses nothing). Reconnect
    // with a new token at once, without the offline banner; a revoked key is refused that token
    // and signs out. A stream that asks again right after opening goes through the backoff, so a
    // server that keeps asking cannot make the page loop.
    on('reauth', () => {
      if (state.es !== es) return
      es.close()
      state.es = null
      state.connected = false
      state.token = null
      if (Date.now() - openedAt < 10_000) scheduleReconnect('the live stream asked for a new sign-in')
      else connect()
    })
    // Only records the stream's position (done by on()), so a reconnect resumes from here.
    on('ready', () => {})
  }

  function scheduleReconnect(why) {
    if (!state.key) return
    state.connected = false
    const delay = state.retryDelay
    state.retryDelay = Math.min(state.retryDelay * 2, 30_000)
    state.retryAt = Date.now() + delay
    setConn('offline', 'Offline')
    $('offline-banner').hidden = false
    updateOfflineText(why)
    if (state.retryTimer) clearTimeout(state.retryTimer)
    state.retryTimer = setTimeout(() => { state.retryTimer = null; connect() }, delay)
  }
  let offlineWhy = ''
  function updateOfflineText(why) {
    if (why) offlineWhy = why
    const left = Math.max(0, Math.ceil((state.retryAt - Date.now()) / 1000))
    $('offline-text').textContent = `Live updates are paused: ${offlineWhy}. ${left > 0 ? `Reconnecting in ${left}s…` : 'Reconnecting…'}`
  }

  async function reloadAll() {
    const gen = state.generation
    const jobs = [loadIncidents(), loadApprovals(), loadContainers().then(loadHealth)]
    if (canAudit()) jobs.push(loadAudit())
    const results = await Promise.allSettled(jobs)
    if (gen !== state.generation) return
    for (const r of results) if (r.status === 'rejected' && r.reason && r.reason.status !== 401) toast(`Could not load: ${r.reason.message}`, 'error')
  }

  // ---------- incidents ----------
  function upsertIncident(inc) {
    if (!inc || typeof inc.id !== 'string') return false
    const prev = state.incidents.get(inc.id)
    // Events and page loads can cross: keep the newest version, and a whole incident over a list's
    // summary of the same version (the list sends summaries; events and the detail view whole ones).
    if (prev && typeof prev.version === 'number' && typeof inc.version === 'number') {
      if (inc.version < prev.version) return false
      if (inc.version === prev.version && inc.view === 'summary' && prev.view !== 'summary') return false
    }
    state.incidents.set(inc.id, inc)
    return !prev
  }

  async function loadIncidents(more) {
    const q = more && state.nextCursor ? `?limit=50&cursor=${encodeURIComponent(state.nextCursor)}` : '?limit=50'
    const body = await api(`/api/incidents${q}`)
    for (const inc of (body && body.incidents) || []) upsertIncident(inc)
    state.nextCursor = (body && body.nextCursor) || null
    for (const inc of state.incidents.values()) containerFromIncident(inc)
    renderIncidents()
    renderContainers()
    renderSummary()
  }

  function onIncident(inc) {
    const isNew = upsertIncident(inc)
    const current = state.incidents.get(inc.id)
    if (current !== inc) return
    containerFromIncident(inc)
    syncApprovalFromIncident(inc)
    renderIncidents(isNew ? inc.id : null)
    renderContainers()
    renderApprovals()
    renderSummary()
    if (state.selected === inc.id) renderDetail(inc)
  }

  function visibleIncidents() {
    const all = [...state.incidents.values()].sort((a, b) => Date.parse(b.openedAt) - Date.parse(a.openedAt))
    if (state.incidentFilter === 'active') return all.filter((i) => ACTIVE.includes(i.status))
    if (state.incidentFilter === 'closed') return all.filter((i) => !ACTIVE.includes(i.status))
    return all
  }

  function renderIncidents(freshId) {
    const list = $('incident-list')
    clear(list)
    const rows = visibleIncidents()
    if (rows.length === 0) list.append(el('li', { class: 'empty' }, state.incidents.size ? 'No incidents match this filter.' : 'No incidents. All quiet.'))
    for (const inc of rows) {
      const resource = inc.resource || {}
      const row = el('li', {
        class: `incident-row${state.selected === inc.id ? ' selected' : ''}${freshId === inc.id ? ' fresh' : ''}`,
        tabindex: 0,
        role: 'button',
        'data-testid': 'incident-row',
        'data-incident-id': inc.id,
        'data-status': inc.status,
        onclick: () => openDetail(inc.id),
        onkeydown: (e) => { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); openDetail(inc.id) } },
      },
      el('span', { class: `sev sev-${inc.severity}`, title: inc.severity }),
      el('span', { class: 'incident-title' }, inc.title || inc.id),
      el('span', { class: `status status-${inc.status}` }, titleCase(inc.status)),
      el('span', { class: 'incident-sub' }, `${titleCase(inc.type)} · ${resource.name || resource.id || '—'} · ${fmtAgo(inc.openedAt)}${inc.test ? ' · test' : ''}`))
      list.append(row)
    }
    $('load-more').hidden = !state.nextCursor
  }

  // ---------- incident detail ----------
  async function openDetail(id) {
    state.selected = id
    renderIncidents()
    const cached = state.incidents.get(id)
    if (cached) renderDetail(cached, true)
    $('detail').hidden = false
    $('scrim').hidden = false
    try {
      const body = await api(`/api/incidents/${encodeURIComponent(id)}`)
      const inc = body && body.incident ? body.incident : body
      if (inc && inc.id === id) {
        upsertIncident(inc)
        if (state.selected === id) renderDetail(state.incidents.get(id))
      }
    } catch (err) {
      if (err.status !== 401) toast(`Could not load incident: ${err.message}`, 'error')
    }
  }

  function closeDetail() {
    state.selected = null
    $('detail').hidden = true
    $('scrim').hidden = true
    renderIncidents()
  }

  const section = (title, ...children) => el('section', { class: 'detail-section' }, el('h3', null, title), ...children)
  const kv = (pairs) => el('dl', { class: 'kv' }, pairs.filter((p) => p[1] !== undefined && p[1] !== null && p[1] !== '').flatMap(([k, v]) => [el('dt', null, k), el('dd', null, v)]))
  const compactJson = (v) => { try { return JSON.stringify(v) } catch { return String(v) } }

  let detailDirty = false
  function renderDetail(inc, force) {
    if (!inc) return
    if (!force && $('detail-body').querySelector('.reject-form')) { detailDirty = true; return }
    detailDirty = false
    const resource = inc.resource || {}
    const kicker = $('detail-kicker')
    clear(kicker)
    kicker.append(
      el('span', { class: `status status-${inc.status}`, 'data-testid': 'detail-status' }, titleCase(inc.status)),
      el('span', { class: `sev sev-${inc.severity}` }),
      el('span', null, `${inc.severity} · ${titleCase(inc.type)}`),
      el('span', { class: 'mono' }, inc.id),
    )
    $('detail-title').textContent = inc.title || inc.id
    const body = $('detail-body')
    clear(body)

    const buttons = el('div', { class: 'detail-buttons' })
    const approval = inc.approval
    if (inc.status === 'awaiting_approval' && approval && approval.status === 'pending' && canDecide(approval.risk, approval.approverRole)) {
      buttons.append(...decisionButtons(inc.id))
    }
    if (canRollback() && (inc.actions || []).some((a) => a.status === 'succeeded')) {
      buttons.append(el('button', { class: 'btn btn-reject btn-sm', type: 'button', 'data-testid': 'rollback-button', onclick: (e) => rollback(inc.id, e.currentTarget) }, 'Roll back'))
    }
    if (buttons.childElementCount) body.append(buttons)

    const opened = Date.parse(inc.openedAt)
    const resolved = Date.parse(inc.resolvedAt)
    body.append(section('Summary', kv([
      ['Resource', `${resource.name || resource.id || '—'} (${resource.kind || '?'})`],
      ['Opened', fmtDateTime(inc.openedAt)],
      ['Resolved', inc.resolvedAt ? `${fmtDateTime(inc.resolvedAt)} (after ${fmtDuration(resolved - opened)})` : null],
      ['Alert', inc.alert ? `${inc.alert.metric || ''} = ${inc.alert.value ?? '—'}${inc.alert.threshold !== null && inc.alert.threshold !== undefined ? ` (threshold ${inc.alert.threshold})` : ''}` : null],
      ['Source', inc.alert && inc.alert.source],
    ])))

    const a = inc.analysis
    if (a && typeof a === 'object') {
      const conf = Number(a.confidence)
      const parts = [
        el('p', { class: 'analysis-cause', 'data-testid': 'analysis-root-cause' }, String(a.root_cause ?? 'No root cause given')),
        kv([
          ['Analyser', a.analyser],
          ['Risk', a.risk_level ? el('span', { class: `risk risk-${a.risk_level}` }, a.risk_level) : null],
          ['Confidence', Number.isFinite(conf) ? el('span', { class: 'confidence' }, el('span', { class: 'bar' }, el('span', { style: { width: `${Math.round(Math.max(0, Math.min(1, conf)) * 100)}%` } })), `${Math.round(conf * 100)}%`) : null],
          ['Proposed fix', a.proposed_fix === undefined ? null : a.proposed_fix === null ? 'none needed' : typeof a.proposed_fix === 'string' ? a.proposed_fix : compactJson(a.proposed_fix)],
        ]),
      ]
      if (Array.isArray(a.evidence) && a.evidence.length) {
        parts.push(el('h3', { style: { marginTop: '12px' } }, 'Evidence'), el('ul', { class: 'evidence', 'data-testid': 'analysis-evidence' }, a.evidence.map((ev) => el('li', null, typeof ev === 'string' ? ev : compactJson(ev)))))
      }
      if (a.reasoning) parts.push(el('h3', { style: { marginTop: '12px' } }, 'Reasoning'), el('pre', { class: 'reasoning', 'data-testid': 'analysis-reasoning' }, String(a.reasoning)))
      if (a.fallbackReason) parts.push(el('p', { class: 'fallback' }, `Fallback analysis: ${String(a.fallbackReason)}`))
      body.append(section('Analysis', ...parts))
    }

    const d = inc.decision
    if (d) {
      body.append(section('Decision', kv([
        ['Route', d.route],
        ['Risk', d.risk ? el('span', { class: `risk risk-${d.risk}` }, d.risk) : null],
        ['Action', d.actionId ? `${d.actionId} ${compactJson(d.params || {})}` : 'none'],
        ['Rule', d.rule],
        ['Approver', d.approverRole],
      ]), Array.isArray(d.reasons) && d.reasons.length ? el('ul', { class: 'reasons' }, d.reasons.map((r) => el('li', null, r))) : null))
    }

    if (Array.isArray(inc.actions) && inc.actions.length) {
      body.append(section('Actions', el('ul', { class: 'actions-list' }, inc.actions.map((act) => el('li', null,
        el('span', null, el('strong', null, act.actionId), ' ', el('span', { class: 'mono muted' }, compactJson(act.params || {}))),
        el('span', { class: act.status === 'succeeded' ? 'outcome-ok' : act.status === 'failed' ? 'outcome-bad' : 'muted' }, `${act.status} · ${fmtTime(act.startedAt)}${act.error ? ` · ${act.error}` : ''}`))))))
    }

    const tl = Array.isArray(inc.timeline) ? [...inc.timeline].sort((x, y) => Date.parse(x.at) - Date.parse(y.at)) : []
    body.append(section('Timeline', tl.length ? el('ol', { class: 'timeline', 'data-testid': 'timeline' }, tl.map((t) => el('li', { 'data-stage': t.stage, 'data-testid': 'timeline-entry' },
      el('div', { class: 'tl-head' }, el('span', { class: 'tl-stage' }, titleCase(t.stage)), el('time', { class: 'tl-time', datetime: t.at }, fmtDateTime(t.at)), el('span', { class: 'tl-actor' }, t.actor)),
      t.summary ? el('div', { class: 'tl-summary' }, t.summary) : null))) : el('p', { class: 'muted' }, 'No timeline entries.')))
  }

  // ---------- approvals ----------
  async function loadApprovals() {
    const body = await api('/api/approvals/pending')
    state.approvals = ((body && body.approvals) || []).filter((x) => x && typeof x.incidentId === 'string')
    renderApprovals()
    renderSummary()
  }

  let approvalsReload = null
  function onApprovalEvent(data) {
    // Sentinel sends the whole incident with approval events: keep it current too.
    if (data && typeof data.id === 'string' && Array.isArray(data.timeline)) onIncident(data)
    // The pending list is the source of truth (who may decide, expiry): refetch, coalesced.
    if (data && typeof data.incidentId === 'string' && data.expiresAt && data.status === undefined && data.approverRole) {
      state.approvals = state.approvals.filter((x) => x.incidentId !== data.incidentId).concat([data])
      renderApprovals()
    }
    if (approvalsReload) return
    approvalsReload = setTimeout(() => {
      approvalsReload = null
      loadApprovals().catch(() => {})
    }, 150)
  }

  function syncApprovalFromIncident(inc) {
    const ap = inc.approval
    const pending = inc.status === 'awaiting_approval' && ap && ap.status === 'pending'
    const idx = state.approvals.findIndex((x) => x.incidentId === inc.id)
    if (!pending && idx >= 0) state.approvals.splice(idx, 1)
    else if (pending && idx < 0) {
      state.approvals.push({ incidentId: inc.id, title: inc.title, risk: ap.risk, approverRole: ap.approverRole, proposedAction: ap.actionId, params: ap.params || {}, requestedAt: ap.requestedAt, expiresAt: ap.expiresAt })
    }
  }

  function decisionButtons(incidentId) {
    const approve = el('button', { class: 'btn btn-approve btn-sm', type: 'button', 'data-testid': 'approve-button', 'data-incident-id': incidentId }, 'Approve')
    const reject = el('button', { class: 'btn btn-reject btn-sm', type: 'button', 'data-testid': 'reject-button', 'data-incident-id': incidentId }, 'Reject')
    approve.addEventListener('click', () => decide(incidentId, 'approve', {}, [approve, reject]))
    reject.addEventListener('click', () => {
      const holder = reject.parentElement
      if (!holder || holder.querySelector('.reject-form')) return
      const input = el('input', { type: 'text', placeholder: 'Reason for rejecting', maxlength: 500, 'data-testid': 'reject-reason', 'aria-label': 'Reason for rejecting' })
      const confirmBtn = el('button', { class: 'btn btn-reject btn-sm', type: 'submit', 'data-testid': 'reject-confirm' }, 'Reject')
      const cancelBtn = el('button', { class: 'btn btn-ghost btn-sm', type: 'button' }, 'Cancel')
      const form = el('form', { class: 'reject-form' }, input, confirmBtn, cancelBtn)
      cancelBtn.addEventListener('click', () => {
        form.remove()
        if (approvalsDirty) renderApprovals(true)
        if (detailDirty && state.selected) renderDetail(state.incidents.get(state.selected), true)
      })
      form.addEventListener('submit', (e) => {
        e.preventDefault()
        const reason = input.value.trim()
        if (!reason) { input.focus(); return }
        decide(incidentId, 'reject', { reason }, [approve, reject, confirmBtn])
      })
      holder.append(form)
      input.focus()
    })
    return [approve, reject]
  }

  async function decide(incidentId, verb, body, buttons) {
    for (const b of buttons) b.disabled = true
    try {
      await api(`/api/incidents/${encodeURIComponent(incidentId)}/${verb}`, { method: 'POST', body })
      toast(verb === 'approve' ? 'Approved: the fix will run now.' : 'Rejected.', 'ok')
      state.approvals = state.approvals.filter((x) => x.incidentId !== incidentId)
      renderApprovals(true)
      if (state.selected === incidentId) renderDetail(state.incidents.get(incidentId), true)
      renderSummary()
      loadApprovals().catch(() => {})
    } catch (err) {
      for (const b of buttons) b.disabled = false
      if (err.status !== 401) toast(`Could not ${verb}: ${err.message}`, 'error')
    }
  }

  async function rollback(incidentId, button) {
    button.disabled = true
    try {
      await api(`/api/incidents/${encodeURIComponent(incidentId)}/rollback`, { method: 'POST', body: {} })
      toast('Rollback requested.', 'ok')
    } catch (err) {
      if (err.status !== 401) toast(`Could not roll back: ${err.message}`, 'error')
    } finally {
      button.disabled = false
    }
  }

  let approvalsDirty = false
  function renderApprovals(force) {
    const list = $('approvals')
    // Someone is typing a reason: do not wipe the form; render when it closes.
    if (!force && list.querySelector('.reject-form')) { approvalsDirty = true; return }
    approvalsDirty = false
    clear(list)
    const items = [...state.approvals].sort((a, b) => Date.parse(a.expiresAt) - Date.parse(b.expiresAt))
    if (!items.length) list.append(el('li', { class: 'empty' }, 'Nothing waiting for a decision.'))
    for (const ap of items) {
      const buttons = el('div', { class: 'approval-buttons' })
      if (canDecide(ap.risk, ap.approverRole)) buttons.append(...decisionButtons(ap.incidentId))
      else buttons.append(el('span', { class: 'muted small' }, `Needs ${ap.approverRole || 'an approver'}`))
      list.append(el('li', { class: 'approval', 'data-testid': 'approval', 'data-incident-id': ap.incidentId },
        el('div', { class: 'approval-title', onclick: () => openDetail(ap.incidentId) }, ap.title || ap.incidentId),
        el('div', { class: 'approval-meta' },
          el('span', { class: `risk risk-${ap.risk}` }, `${ap.risk} risk`),
          el('span', null, `approver: ${ap.approverRole || '—'}`),
          el('span', null, `requested ${fmtAgo(ap.requestedAt)}`),
          el('span', { class: 'expires', 'data-expires': ap.expiresAt }, `expires ${fmtAgo(ap.expiresAt)}`)),
        el('div', { class: 'approval-action' }, `${ap.proposedAction || 'no action'} ${compactJson(ap.params || {})}`),
        buttons))
    }
  }

  // ---------- containers ----------
  function containerKey(c) { return String(c.name || c.id) }

  function onContainer(c) {
    if (!c || (typeof c.id !== 'string' && typeof c.name !== 'string')) return
    upsertContainer(c)
    renderContainers()
    renderSummary()
  }

  function upsertContainer(c) {
    const k = containerKey(c)
    const prev = state.containers.get(k) || {}
    const base = { ...prev }
    // A container that went down has no current usage or health: do not show the last ones.
    if (c.state === 'down' && prev.state !== 'down') for (const k of ['cpuPercent', 'memoryBytes', 'health', 'healthScore']) delete base[k]
    const next = { ...base, ...Object.fromEntries(Object.entries(c).filter(([, v]) => v !== undefined)) }
    if ((prev.state === 'down' || prev.state === 'restarting') && next.state === 'running') next.healedAt = Date.now()
    if (next.state !== 'running') next.healedAt = undefined
    next.updatedAt = Date.now()
    state.containers.set(k, next)
  }

  async function loadContainers() {
    const body = await api('/api/containers')
    for (const c of (body && body.containers) || []) {
      const prev = state.containers.get(containerKey(c))
      // A live event newer than this listing wins.
      if (prev && prev.updatedAt && Date.parse(c.since) < prev.updatedAt && prev.state !== c.state) continue
      if (c.state === 'removed') continue
      upsertContainer(c)
    }
    renderContainers()
    renderSummary()
  }

  // Health scores (0–1) come with the infrastructure status; refreshed with every reload and every 30 s.
  async function loadHealth() {
    const body = await api('/api/infrastructure-status')
    // The latest readings, so the charts have a point before the monitor's next tick.
    if (body && Array.isArray(body.metrics)) onMetrics({ readings: body.metrics })
    const health = body && body.health
    if (!health) return
    state.systemHealth = health.system && Number.isFinite(Number(health.system.score)) ? Number(health.system.score) : null
    for (const h of health.containers || []) {
      const c = state.containers.get(String(h.name))
      if (c && Number.isFinite(Number(h.score))) c.healthScore = Number(h.score)
    }
    renderContainers()
    renderSummary()
  }

  function containerFromIncident(inc) {
    if (inc.type !== 'container_down' || !inc.resource || inc.resource.kind !== 'container') return
    const k = String(inc.resource.name || inc.resource.id)
    const prev = state.containers.get(k)
    const active = ACTIVE.includes(inc.status)
    // A newer status report about the container beats an incident's view of it.
    if (prev && prev.updatedAt && prev.updatedAt > Date.parse(inc.updatedAt)) {
      prev.incidentId = inc.id
      return
    }
    if (active) upsertContainer({ id: inc.resource.id, name: inc.resource.name, state: 'down', incidentId: inc.id })
    else if (inc.status === 'resolved' && prev && prev.state !== 'running') upsertContainer({ id: inc.resource.id, name: inc.resource.name, state: 'running', incidentId: inc.id })
  }

  function renderContainers() {
    const box = $('container-cards')
    clear(box)
    const items = [...state.containers.values()].sort((a, b) => {
      const w = (c) => (c.state === 'down' ? 0 : c.state === 'restarting' ? 1 : 2)
      return w(a) - w(b) || containerKey(a).localeCompare(containerKey(b))
    })
    if (!items.length) box.append(el('p', { class: 'empty' }, 'No container status received yet.'))
    const now = Date.now()
    for (const c of items) {
      const healed = c.state === 'running' && c.healedAt && now - c.healedAt < HEALED_SHOW_MS
      const label = healed ? 'healed' : c.state || 'unknown'
      const cpu = Number(c.cpuPercent)
      const mem = Number(c.memoryBytes)
      box.append(el('article', { class: 'card', 'data-testid': 'container-card', 'data-name': c.name || c.id, 'data-state': c.state || 'unknown', 'data-healed': healed ? 'true' : 'false' },
        el('div', { class: 'card-top' }, el('span', { class: 'card-name', title: c.name || c.id }, c.name || c.id), el('span', { class: `state state-${label}` }, label)),
        el('div', { class: 'card-stats' },
          el('div', { class: 'card-stat' }, el('span', { class: 'k' }, 'CPU'), el('span', { class: 'v' }, Number.isFinite(cpu) ? `${cpu.toFixed(1)}%` : '—')),
          el('div', { class: 'card-stat' }, el('span', { class: 'k' }, 'Memory'), el('span', { class: 'v' }, Number.isFinite(mem) ? fmtBytes(mem) : '—')),
          el('div', { class: 'card-stat' }, el('span', { class: 'k' }, 'Restarts'), el('span', { class: 'v' }, Number.isFinite(Number(c.restarts)) ? String(c.restarts) : '—'))),
        Number.isFinite(cpu) ? el('div', { class: 'bar', title: 'CPU' }, el('span', { style: { width: `${Math.max(0, Math.min(100, cpu))}%` } })) : null,
        el('div', { class: 'card-foot' },
          el('span', { 'data-testid': 'card-health' }, [c.health ? `health: ${c.health}` : '', Number.isFinite(Number(c.healthScore)) ? `score ${Number(c.healthScore).toFixed(2)}` : ''].filter(Boolean).join(' · ')),
          el('span', null, c.updatedAt ? fmtTime(new Date(c.updatedAt).toISOString()) : ''))))
    }
    const down = items.filter((c) => c.state === 'down').length
    $('containers-count').textContent = items.length ? `${items.length} watched · ${down} down` : ''
  }

  // ---------- summary ----------
  function renderSummary() {
    const incs = [...state.incidents.values()]
    const active = incs.filter((i) => ACTIVE.includes(i.status)).length
    const resolved = incs.filter((i) => i.status === 'resolved' && i.resolvedAt)
    const down = [...state.containers.values()].filter((c) => c.state === 'down').length
    $('sum-active').textContent = String(active)
    $('sum-approvals').textContent = String(state.approvals.length)
    $('sum-down').textContent = String(down)
    $('sum-containers').textContent = state.containers.size ? `of ${state.containers.size} containers` : ''
    $('sum-health').textContent = Number.isFinite(state.systemHealth) ? state.systemHealth.toFixed(2) : '—'
    $('sum-health').parentElement.classList.toggle('alert', Number.isFinite(state.systemHealth) && state.systemHealth < 0.5)
    $('sum-resolved').textContent = String(resolved.length)
    const ttr = resolved.map((i) => Date.parse(i.resolvedAt) - Date.parse(i.openedAt)).filter((x) => Number.isFinite(x) && x >= 0).sort((x, y) => x - y)
    $('sum-mttr').textContent = ttr.length ? `median time to resolve ${fmtDuration(ttr[Math.floor((ttr.length - 1) / 2)])}` : ''
    $('sum-active').parentElement.classList.toggle('attention', active > 0)
    $('sum-approvals').parentElement.classList.toggle('attention', state.approvals.length > 0)
    $('sum-down').parentElement.classList.toggle('alert', down > 0)
  }

  // ---------- audit ----------
  async function loadAudit() {
    const body = await api('/api/audit?limit=100')
    state.audit = ((body && body.events) || []).slice(0, MAX_AUDIT)
    renderAudit()
  }
  function onAudit(ev) {
    if (!canAudit() || !ev) return
    state.audit.unshift(ev)
    if (state.audit.length > MAX_AUDIT) state.audit.length = MAX_AUDIT
    renderAudit(true)
  }
  function renderAudit(freshTop) {
    const tbody = $('audit-body')
    clear(tbody)
    if (!state.audit.length) tbody.append(el('tr', null, el('td', { colspan: 5, class: 'muted' }, 'No audit events yet.')))
    state.audit.forEach((ev, i) => {
      const outcome = ev.outcome === undefined || ev.outcome === null ? '' : String(ev.outcome)
      const res = ev.resource && typeof ev.resource === 'object' ? ev.resource.name || ev.resource.id : ev.resource
      tbody.append(el('tr', { class: freshTop && i === 0 ? 'fresh' : '', 'data-testid': 'audit-row', 'data-kind': ev.kind },
        el('td', { title: ev.at }, fmtTime(ev.at)),
        el('td', null, titleCase(ev.kind)),
        el('td', { class: 'mono' }, ev.actor || ''),
        el('td', null, ev.incidentId ? el('span', { class: 'mono' }, ev.incidentId) : null, ev.incidentId && res ? el('br') : null, res || ''),
        el('td', { class: /^(ok|success|succeeded|approved|allowed)$/i.test(outcome) ? 'outcome-ok' : /^(fail|failed|error|denied|rejected)/i.test(outcome) ? 'outcome-bad' : '' }, outcome)))
    })
  }

  // ---------- metrics and charts ----------
  function onMetrics(data) {
    const readings = data && Array.isArray(data.readings) ? data.readings : []
    for (const raw of readings) {
      if (!raw || !Number.isFinite(Number(raw.value))) continue
      // The monitor names readings by what they measure (cpu_busy_percent, container_memory_bytes...).
      const chart = CHART_OF[raw.metric] || (METRICS.includes(raw.metric) ? raw.metric : null)
      const resource = raw.resource || {}
      if (resource.kind === 'container') {
        const c = state.containers.get(String(resource.name || resource.id))
        if (c && raw.metric === 'container_cpu_percent') c.cpuPercent = Number(raw.value)
        if (c && raw.metric === 'container_memory_bytes') c.memoryBytes = Number(raw.value)
      }
      if (!chart) continue
      const r = { ...raw, metric: chart }
      const key = String(r.series || `${r.metric}|${resource.kind}|${resource.id}`)
      let s = state.series.get(key)
      if (!s) {
        s = { key, metric: r.metric, unit: r.unit, resource, points: [] }
        state.series.set(key, s)
      }
      const t = Number.isFinite(Date.parse(r.at)) ? Date.parse(r.at) : Date.now()
      // The status API and the stream can both deliver the same reading.
      if (s.points.length && s.points[s.points.length - 1].t >= t) continue
      s.points.push({ t, v: Number(r.value) })
      s.unit = r.unit || s.unit
      s.resource = resource
      if (s.points.length > MAX_POINTS) s.points.splice(0, s.points.length - MAX_POINTS)
      // Fill the container card's figures from readings when its status report has none.
      if (resource.kind === 'container') {
        const c = state.containers.get(String(resource.name || resource.id))
        if (c && r.metric === 'cpu' && (r.unit === 'percent' || r.unit === '%')) c.cpuPercent = Number(r.value)
        if (c && r.metric === 'memory' && (r.unit === 'bytes' || r.unit === 'B')) c.memoryBytes = Number(r.value)
      }
    }
    scheduleCharts()
    if (readings.some((r) => r && r.resource && r.resource.kind === 'container')) scheduleCards()
  }
  let cardsPending = false
  function scheduleCards() {
    if (cardsPending) return
    cardsPending = true
    setTimeout(() => { cardsPending = false; renderContainers() }, 1000)
  }

  let chartsPending = false
  function scheduleCharts() {
    if (chartsPending) return
    chartsPending = true
    requestAnimationFrame(() => { chartsPending = false; drawCharts() })
  }

  function colorFor(key) {
    if (!state.seriesColors.has(key)) state.seriesColors.set(key, PALETTE[state.seriesColors.size % PALETTE.length])
    return state.seriesColors.get(key)
  }

  function seriesFor(metric) {
    return [...state.series.values()].filter((s) => s.metric === metric && s.points.length && (state.chartFilter === 'all' || s.resource.kind === state.chartFilter || (state.chartFilter === 'host' && s.resource.kind !== 'container')))
  }

  function niceMax(v) {
    if (!(v > 0)) return 1
    const p = Math.pow(10, Math.floor(Math.log10(v)))
    for (const m of [1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10]) if (v <= m * p) return m * p
    return 10 * p
  }

  function drawCharts() {
    for (const fig of document.querySelectorAll('.chart')) drawChart(fig)
  }

  function drawChart(fig) {
    const metric = fig.dataset.metric
    const canvas = fig.querySelector('canvas')
    const list = seriesFor(metric)
    fig.querySelector('.chart-empty').hidden = list.length > 0
    const dpr = window.devicePixelRatio || 1
    const w = canvas.clientWidth
    const h = canvas.clientHeight
    if (!w || !h) return
    if (canvas.width !== Math.round(w * dpr) || canvas.height !== Math.round(h * dpr)) {
      canvas.width = Math.round(w * dpr)
      canvas.height = Math.round(h * dpr)
    }
    const ctx = canvas.getContext('2d')
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0)
    ctx.clearRect(0, 0, w, h)

    const legend = fig.querySelector('.legend')
    clear(legend)
    if (!list.length) { fig.chartGeom = null; return }

    // One value axis: plot the series of the most common unit; the others are only listed.
    const byUnit = new Map()
    for (const s of list) byUnit.set(String(s.unit || ''), (byUnit.get(String(s.unit || '')) || 0) + 1)
    const unit = [...byUnit.entries()].sort((a, b) => b[1] - a[1])[0][0]
    const all = list
    const plotted = list.filter((s) => String(s.unit || '') === unit)
    let tMax = 0
    for (const s of all) tMax = Math.max(tMax, s.points[s.points.length - 1].t)
    const tMin = tMax - CHART_WINDOW_MS
    const percent = /^(percent|%|pct)$/i.test(String(unit || ''))
    let vMax = 0
    for (const s of plotted) for (const p of s.points) if (p.t >= tMin) vMax = Math.max(vMax, p.v)
    vMax = percent ? Math.max(100, niceMax(vMax)) : niceMax(vMax * 1.1)

    const padL = 54, padR = 8, padT = 8, padB = 18
    const pw = w - padL - padR
    const ph = h - padT - padB
    const x = (t) => padL + ((t - tMin) / CHART_WINDOW_MS) * pw
    const y = (v) => padT + ph - (Math.max(0, v) / vMax) * ph

    ctx.font = '10px system-ui, sans-serif'
    ctx.textBaseline = 'middle'
    ctx.lineWidth = 1
    for (let i = 0; i <= 4; i++) {
      const v = (vMax * i) / 4
      const yy = Math.round(y(v)) + 0.5
      ctx.strokeStyle = i === 0 ? '#2f3e53' : '#1f2a3a'
      ctx.beginPath(); ctx.moveTo(padL, yy); ctx.lineTo(w - padR, yy); ctx.stroke()
      ctx.fillStyle = '#8a9bb0'
      ctx.textAlign = 'right'
      ctx.fillText(fmtAxis(v, unit), padL - 6, yy)
    }
    ctx.textAlign = 'center'
    ctx.textBaseline = 'alphabetic'
    for (let i = 0; i <= 5; i++) {
      const t = tMin + (CHART_WINDOW_MS * i) / 5
      const label = i === 5 ? 'now' : `-${Math.round((tMax - t) / 60000)}m`
      ctx.fillStyle = '#6d7f96'
      ctx.fillText(label, Math.min(Math.max(x(t), padL + 10), w - padR - 12), h - 4)
    }

    ctx.save()
    ctx.beginPath(); ctx.rect(padL, padT - 2, pw, ph + 4); ctx.clip()
    for (const s of plotted) {
      const color = colorFor(s.key)
      const pts = s.points.filter((p) => p.t >= tMin - 60_000)
      ctx.strokeStyle = color
      ctx.lineWidth = 1.6
      ctx.lineJoin = 'round'
      ctx.beginPath()
      pts.forEach((p, i) => (i ? ctx.lineTo(x(p.t), y(p.v)) : ctx.moveTo(x(p.t), y(p.v))))
      ctx.stroke()
      if (pts.length === 1 || plotted.length === 1) {
        const last = pts[pts.length - 1]
        if (last) { ctx.fillStyle = color; ctx.beginPath(); ctx.arc(x(last.t), y(last.v), 2.5, 0, Math.PI * 2); ctx.fill() }
      }
    }
    ctx.restore()
    fig.chartGeom = { tMin, x, list: plotted, padL, pw }

    for (const s of all.slice().sort((a, b) => b.points[b.points.length - 1].v - a.points[a.points.length - 1].v)) {
      const last = s.points[s.points.length - 1]
      const off = String(s.unit || '') !== unit
      legend.append(el('li', { 'data-series': s.key, class: off ? 'off-scale' : null, title: off ? 'Not plotted: another unit than this chart\'s axis' : null },
        el('span', { class: 'swatch', style: { background: colorFor(s.key) } }),
        el('span', { class: 'lname', title: s.resource.name || s.resource.id }, s.resource.name || s.resource.id || s.key),
        el('span', { class: 'lkind' }, s.resource.kind || ''),
        el('span', { class: 'lval' }, fmtValue(last.v, s.unit))))
    }
  }

  function chartHover(fig, e) {
    const tip = fig.querySelector('.chart-tip')
    const g = fig.chartGeom
    const rect = fig.querySelector('canvas').getBoundingClientRect()
    const px = e.clientX - rect.left
    if (!g || px < g.padL) { tip.hidden = true; return }
    const t = g.tMin + ((px - g.padL) / g.pw) * CHART_WINDOW_MS
    clear(tip)
    let any = false
    let when = 0
    for (const s of g.list) {
      let best = null
      for (const p of s.points) if (!best || Math.abs(p.t - t) < Math.abs(best.t - t)) best = p
      if (!best || Math.abs(best.t - t) > 90_000) continue
      any = true
      when = best.t
      tip.append(el('div', null, el('span', { class: 'swatch', style: { background: colorFor(s.key), width: '8px', height: '8px', display: 'inline-block', borderRadius: '2px' } }), `${s.resource.name || s.key}: ${fmtValue(best.v, s.unit)}`))
    }
    if (!any) { tip.hidden = true; return }
    tip.prepend(el('div', { class: 'muted' }, timeFmt.format(when)))
    tip.hidden = false
    tip.style.left = `${Math.min(px + 12, rect.width - tip.offsetWidth - 4)}px`
  }

  // ---------- wiring ----------
  function init() {
    $('login-form').addEventListener('submit', (e) => {
      e.preventDefault()
      const key = $('key-input').value.trim()
      if (!key) return
      $('key-input').value = ''
      start(key)
    })
    $('signout').addEventListener('click', () => signOut())
    $('retry-now').addEventListener('click', () => { state.retryDelay = 1000; connect() })
    $('detail-close').addEventListener('click', closeDetail)
    $('scrim').addEventListener('click', closeDetail)
    document.addEventListener('keydown', (e) => { if (e.key === 'Escape' && !$('detail').hidden) closeDetail() })
    $('load-more').addEventListener('click', () => loadIncidents(true).catch((err) => toast(err.message, 'error')))
    for (const b of document.querySelectorAll('[data-filter]')) {
      b.addEventListener('click', () => {
        state.chartFilter = b.dataset.filter
        for (const o of document.querySelectorAll('[data-filter]')) { o.classList.toggle('active', o === b); o.setAttribute('aria-pressed', String(o === b)) }
        drawCharts()
      })
    }
    for (const b of document.querySelectorAll('[data-ifilter]')) {
      b.addEventListener('click', () => {
        state.incidentFilter = b.dataset.ifilter
        for (const o of document.querySelectorAll('[data-ifilter]')) { o.classList.toggle('active', o === b); o.setAttribute('aria-pressed', String(o === b)) }
        renderIncidents()
      })
    }
    for (const fig of document.querySelectorAll('.chart')) {
      const box = fig.querySelector('.chart-box')
      box.addEventListener('mousemove', (e) => chartHover(fig, e))
      box.addEventListener('mouseleave', () => { fig.querySelector('.chart-tip').hidden = true })
    }
    window.addEventListener('resize', scheduleCharts)
    window.addEventListener('online', () => { if (state.key && !state.connected) { state.retryDelay = 1000; connect() } })
    // Relative times, expiry countdowns, the "healed" badge and the offline countdown age by themselves.
    setInterval(() => {
      if (!state.key) return
      if (!$('offline-banner').hidden) updateOfflineText()
      for (const span of document.querySelectorAll('.expires[data-expires]')) span.textContent = `expires ${fmtAgo(span.dataset.expires)}`
    }, 1000)
    setInterval(() => {
      if (!state.key) return
      renderIncidents(); renderContainers(); scheduleCharts()
      loadHealth().catch(() => {})
    }, 30_000)

    const saved = sessionStorage.getItem(KEY_STORAGE)
    if (saved) start(saved)
    else showLogin()
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init)
  else init()
})()
