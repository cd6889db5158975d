/*
 * The History view: every incident the archive holds (GET /api/history), filtered by time, node,
 * resource, type, severity, status, action, analyser and free text, a page at a time (the server's
 * cursor), with an Export CSV of the same filter (fetched with the key in its header, then saved as
 * a file: a link could not carry the key). A row opens the incident's own page (#history/<id>):
 * summary, root cause, decision, actions, timeline and audit entries from GET /api/history/:id,
 * and its postmortem, rendered as safe Markdown with a Download button. The live console's drawer
 * is about what is happening now; this page is about what happened, so it reads the archive.
 */
import { api, apiBlob } from './api.js'
import { $, clear, downloadBlob, el, toast } from './dom.js'
import { evidenceRecordSection, runbookSection, similarSection } from './evidence.js'
import { compactJson, fmtDateTime, fmtDuration, fmtParams, titleCase } from './format.js'
import { LIFECYCLE } from './lifecycle.js'
import { renderMarkdown } from './markdown.js'
import { timelineList } from './timeline.js'
import { describeAction, statusLabel, statusTone } from './rules.js'

const FIELDS = ['from', 'to', 'node', 'resource', 'type', 'severity', 'status', 'action', 'analyser', 'q', 'limit']
/** The most rows an export asks for (the server's own cap for CSV). */
const EXPORT_LIMIT = 50_000

/** The list's paging: the cursor of every page seen so far (page 0 has none), and where we are. */
const hist = { cursors: [null], page: 0, nextCursor: null, loaded: false, gen: 0, detailGen: 0 }

export const historyHash = (id) => `#history/${encodeURIComponent(id)}`

export function initHistory() {
  $('hf-status').append(
    el('option', { value: '' }, 'any'),
    LIFECYCLE.statuses.map((s) => el('option', { value: s.id }, s.label)),
  )
  $('history-form').addEventListener('submit', (e) => {
    e.preventDefault()
    firstPage()
  })
  $('history-reset').addEventListener('click', () => {
    $('history-form').reset()
    firstPage()
  })
  $('history-next').addEventListener('click', () => {
    if (!hist.nextCursor) return
    hist.cursors[hist.page + 1] = hist.nextCursor
    hist.page++
    loadHistory()
  })
  $('history-prev').addEventListener('click', () => {
    if (hist.page === 0) return
    hist.page--
    loadHistory()
  })
  $('history-export').addEventListener('click', (e) => exportCsv(e.currentTarget))
}

/** Forgets what was loaded (sign-out): the next visit loads again with the new key. */
export function resetHistory() {
  hist.cursors = [null]
  hist.page = 0
  hist.nextCursor = null
  hist.loaded = false
  hist.gen++
  hist.detailGen++
  clear($('history-body'))
  clear($('history-incident'))
}

/** The filter form as query parameters; times from the local pickers as ISO instants. */
function filterParams() {
  const p = new URLSearchParams()
  for (const f of FIELDS) {
    const input = $(`hf-${f}`)
    let v = input ? String(input.value).trim() : ''
    if (!v) continue
    if (f === 'from' || f === 'to') {
      const t = new Date(v)
      if (!Number.isFinite(t.getTime())) continue
      v = t.toISOString()
    }
    p.set(f, v)
  }
  if ($('hf-includeTest').checked) p.set('includeTest', 'true')
  return p
}

function firstPage() {
  hist.cursors = [null]
  hist.page = 0
  return loadHistory()
}

/** Shows the list (the view's default page), loading it the first time. */
export function showHistoryList() {
  hist.detailGen++
  $('history-incident').hidden = true
  $('history-list').hidden = false
  if (!hist.loaded) firstPage()
}

export async function loadHistory() {
  const gen = ++hist.gen
  const params = filterParams()
  const cursor = hist.cursors[hist.page]
  if (cursor) params.set('cursor', cursor)
  const tbody = $('history-body')
  $('history-list').setAttribute('aria-busy', 'true')
  let body
  try {
    body = await api(`/api/history?${params}`)
  } catch (err) {
    if (gen !== hist.gen) return
    $('history-list').removeAttribute('aria-busy')
    clear(tbody)
    tbody.append(
      el(
        'tr',
        null,
        el(
          'td',
          { colspan: 8, class: 'muted', 'data-testid': 'history-error' },
          err.status === 404
            ? 'This Sentinel keeps no incident history (GET /api/history is not there).'
            : `Could not load the history: ${err.message}`,
        ),
      ),
    )
    return
  }
  if (gen !== hist.gen) return
  $('history-list').removeAttribute('aria-busy')
  hist.loaded = true
  hist.nextCursor = (body && body.nextCursor) || null
  renderRows(Array.isArray(body && body.incidents) ? body.incidents : [], body && body.total)
}

const flag = (on, text, cls) => (on ? el('span', { class: `flag ${cls}` }, text) : null)

function renderRows(rows, total) {
  const tbody = $('history-body')
  clear(tbody)
  if (!rows.length)
    tbody.append(el('tr', null, el('td', { colspan: 8, class: 'muted' }, 'No incidents match these filters.')))
  for (const r of rows) {
    const resource = r.resource || {}
    const open = () => {
      location.hash = historyHash(r.id)
    }
    tbody.append(
      el(
        'tr',
        {
          class: 'hrow',
          tabindex: '0',
          role: 'link',
          'data-testid': 'history-row',
          'data-incident-id': r.id,
          'data-status': r.status,
          onclick: open,
          onkeydown: (e) => {
            if (e.key === 'Enter' || e.key === ' ') {
              e.preventDefault()
              open()
            }
          },
        },
        el('td', { class: 'mono nowrap', title: r.openedAt }, fmtDateTime(r.openedAt)),
        el(
          'td',
          { class: 'hcell-title' },
          el('div', { class: 'htitle' }, r.title || r.id),
          el(
            'div',
            { class: 'muted small' },
            `${titleCase(r.type)} · ${r.severity || '?'}`,
            flag(r.autoFixed, 'auto-fixed', 'flag-ok'),
            flag(r.escalated, 'escalated', 'flag-bad'),
            flag(r.rolledBack, 'rolled back', 'flag-warn'),
          ),
        ),
        el('td', null, statusBadge(r.status)),
        el('td', null, resource.name || resource.id || '—', el('div', { class: 'muted small' }, resource.kind || '')),
        el('td', { class: 'mono' }, r.node || '—'),
        el('td', { class: 'hcause', title: r.rootCause || '' }, r.cause || r.rootCause || '—'),
        el(
          'td',
          null,
          r.actionId ? el('span', { class: 'mono' }, r.actionId) : '—',
          r.lastActionStatus ? el('div', { class: 'muted small' }, r.lastActionStatus) : null,
        ),
        el(
          'td',
          { class: 'mono nowrap' },
          Number.isFinite(Number(r.timeToResolveSeconds)) && r.timeToResolveSeconds !== null
            ? fmtDuration(Number(r.timeToResolveSeconds) * 1000)
            : '—',
        ),
      ),
    )
  }
  const shown = Number.isFinite(Number(total)) && total !== null ? `${total} incident(s)` : `${rows.length} shown`
  $('history-count').textContent = shown
  $('history-page').textContent = `page ${hist.page + 1}`
  $('history-prev').disabled = hist.page === 0
  $('history-next').disabled = !hist.nextCursor
}

const statusBadge = (status) =>
  el(
    'span',
    { class: `status status-${status} tone-${statusTone(status)}`, 'data-testid': 'history-status-badge' },
    statusLabel(status),
  )

async function exportCsv(button) {
  const params = filterParams()
  // The whole filtered set, not the page on screen (the server pages through it up to its cap).
  params.set('limit', String(EXPORT_LIMIT))
  params.set('format', 'csv')
  button.disabled = true
  try {
    const { blob, filename } = await apiBlob(`/api/history?${params}`, 'text/csv')
    downloadBlob(blob, filename || `sentinel-history-${new Date().toISOString().slice(0, 10)}.csv`)
  } catch (err) {
    if (err.status !== 401) toast(`Could not export: ${err.message}`, 'error')
  } finally {
    button.disabled = false
  }
}

// ---------- one incident's page ----------

const section = (title, attrs, ...children) =>
  el('section', { class: 'detail-section', ...attrs }, el('h3', null, title), ...children)
const kv = (pairs) =>
  el(
    'dl',
    { class: 'kv' },
    pairs
      .filter((p) => p[1] !== undefined && p[1] !== null && p[1] !== '')
      .flatMap(([k, v]) => [el('dt', null, k), el('dd', null, v)]),
  )

const backLink = () =>
  el('a', { href: '#history', class: 'btn btn-ghost btn-sm back-link', 'data-testid': 'history-back' }, '← History')

export async function showHistoryIncident(id) {
  const gen = ++hist.detailGen
  $('history-list').hidden = true
  const page = $('history-incident')
  page.hidden = false
  page.dataset.incidentId = id
  clear(page)
  page.append(backLink(), el('p', { class: 'muted' }, 'Loading…'))
  let body
  try {
    body = await api(`/api/history/${encodeURIComponent(id)}`)
  } catch (err) {
    if (gen !== hist.detailGen) return
    if (err.status === 404) {
      // Not archived yet (or no archive here): what the live store has, without its audit trail.
      try {
        const live = await api(`/api/incidents/${encodeURIComponent(id)}`)
        body = { incident: live && live.incident ? live.incident : live, audit: [], postmortem: null, live: true }
      } catch {
        body = null
      }
    }
    if (!body) {
      if (gen !== hist.detailGen) return
      clear(page)
      page.append(
        backLink(),
        el(
          'p',
          { class: 'form-error', 'data-testid': 'history-incident-error' },
          err.status === 404 ? `No incident ${id} in the history.` : `Could not load ${id}: ${err.message}`,
        ),
      )
      return
    }
  }
  if (gen !== hist.detailGen) return
  renderIncidentPage(page, body)
  const pm = body && body.postmortem
  if (pm && typeof pm.markdown === 'string') showPostmortem(id, pm)
  else loadPostmortem(id, gen)
}

function renderIncidentPage(page, body) {
  const inc = (body && body.incident) || {}
  const resource = inc.resource || {}
  clear(page)
  page.append(
    el('div', { class: 'hpage-nav' }, backLink()),
    el(
      'div',
      { class: 'detail-kicker' },
      statusBadge(inc.status),
      el('span', null, `${inc.severity || '?'} · ${titleCase(inc.type)}`),
      el('span', { class: 'mono' }, inc.id),
      body.live ? el('span', { class: 'muted' }, '(not archived yet: from the live store)') : null,
    ),
    el('h2', { class: 'hpage-title', 'data-testid': 'history-incident-title' }, inc.title || inc.id),
  )
  const opened = Date.parse(inc.openedAt)
  const resolved = Date.parse(inc.resolvedAt)
  const labels = (inc.alert && inc.alert.labels) || {}
  page.append(
    section(
      'Summary',
      null,
      kv([
        ['Resource', `${resource.name || resource.id || '—'} (${resource.kind || '?'})`],
        ['Node', labels.node || labels.instance || null],
        ['Detected', inc.alert && inc.alert.at ? fmtDateTime(inc.alert.at) : null],
        ['Opened', fmtDateTime(inc.openedAt)],
        [
          'Resolved',
          inc.resolvedAt
            ? `${fmtDateTime(inc.resolvedAt)}${Number.isFinite(resolved - opened) ? ` (after ${fmtDuration(resolved - opened)})` : ''}`
            : null,
        ],
        [
          'Alert',
          inc.alert ? `${inc.alert.metric || ''} = ${inc.alert.value ?? '?'} (${inc.alert.source || '?'})` : null,
        ],
        [
          'Acknowledged',
          inc.acknowledgement ? `${inc.acknowledgement.by || '?'} at ${fmtDateTime(inc.acknowledgement.at)}` : null,
        ],
      ]),
    ),
  )

  const a = inc.analysis
  if (a && typeof a === 'object') {
    const conf = Number(a.confidence)
    page.append(
      section(
        'Root cause',
        { 'data-testid': 'history-root-cause' },
        el('p', { class: 'analysis-cause' }, String(a.root_cause ?? a.rootCause ?? 'No root cause given')),
        kv([
          ['Cause', a.cause ? String(a.cause) : null],
          ['Analyser', a.analyser ? String(a.analyser) : null],
          ['Confidence', Number.isFinite(conf) ? `${Math.round(conf * 100)}%` : null],
        ]),
        Array.isArray(a.evidence) && a.evidence.length
          ? el(
              'ul',
              { class: 'evidence' },
              a.evidence.map((ev) => el('li', null, typeof ev === 'string' ? ev : compactJson(ev))),
            )
          : null,
        ...runbookSection(a.runbook),
        ...similarSection(a.similar, (other) => {
          location.hash = historyHash(other)
        }),
        ...evidenceRecordSection(a.evidenceRecord),
      ),
    )
  }

  const d = inc.decision
  const approval = inc.approval
  if (d || approval) {
    page.append(
      section(
        'Decision',
        null,
        kv([
          ['Route', d && d.route],
          ['Risk', d && d.risk ? el('span', { class: `risk risk-${d.risk}` }, d.risk) : null],
          ['Action', d && d.actionId ? describeAction(d.actionId, d.params) : null],
          ['Rule', d && d.rule],
          [
            'Approval',
            approval
              ? `${approval.status}${approval.decidedBy ? ` by ${approval.decidedBy}` : ''}${approval.decidedAt ? ` at ${fmtDateTime(approval.decidedAt)}` : ''}${approval.reason ? `: ${approval.reason}` : ''}`
              : null,
          ],
        ]),
      ),
    )
  }

  const actions = Array.isArray(inc.actions) ? inc.actions : []
  page.append(
    section(
      'Actions',
      { 'data-testid': 'history-actions' },
      actions.length
        ? el(
            'ul',
            { class: 'actions-list' },
            actions.map((act) =>
              el(
                'li',
                { 'data-testid': 'history-action', 'data-action': act.actionId, 'data-status': act.status },
                el(
                  'span',
                  null,
                  el('strong', null, act.actionId),
                  ' ',
                  el('span', { class: 'mono muted' }, fmtParams(act.params)),
                ),
                el(
                  'span',
                  {
                    class:
                      act.status === 'succeeded' ? 'outcome-ok' : act.status === 'failed' ? 'outcome-bad' : 'muted',
                  },
                  `${act.status} · ${fmtDateTime(act.startedAt)}${act.error ? ` · ${act.error}` : ''}`,
                ),
              ),
            ),
          )
        : el('p', { class: 'muted' }, 'No action ran.'),
    ),
  )

  page.append(section('Timeline', null, timelineList(inc.timeline, 'history-timeline')))

  const audit = Array.isArray(body.audit) ? body.audit : []
  if (audit.length)
    page.append(
      section(
        'Audit',
        null,
        el(
          'div',
          { class: 'table-scroll' },
          el(
            'table',
            { class: 'htable', 'data-testid': 'history-audit' },
            el(
              'thead',
              null,
              el(
                'tr',
                null,
                el('th', null, 'Time'),
                el('th', null, 'Event'),
                el('th', null, 'Actor'),
                el('th', null, 'Outcome'),
              ),
            ),
            el(
              'tbody',
              null,
              audit.map((ev) =>
                el(
                  'tr',
                  null,
                  el('td', { class: 'mono nowrap', title: ev.at }, fmtDateTime(ev.at)),
                  el('td', null, titleCase(ev.kind)),
                  el('td', { class: 'mono' }, ev.actor || ''),
                  el('td', null, ev.outcome === undefined || ev.outcome === null ? '' : String(ev.outcome)),
                ),
              ),
            ),
          ),
        ),
      ),
    )

  page.append(
    section(
      'Postmortem',
      { id: 'history-postmortem', 'data-testid': 'history-postmortem' },
      el('p', { class: 'muted' }, 'Loading the postmortem…'),
    ),
  )
}

async function loadPostmortem(id, gen) {
  let pm
  try {
    // With Accept: application/json the route answers { markdown, draftedBy, stored }.
    pm = await api(`/api/incidents/${encodeURIComponent(id)}/postmortem`)
  } catch (err) {
    if (gen !== hist.detailGen) return
    const box = $('history-postmortem')
    if (!box) return
    clear(box)
    box.append(
      el('h3', null, 'Postmortem'),
      el(
        'p',
        { class: 'muted', 'data-testid': 'postmortem-missing' },
        err.status === 404 ? 'No postmortem for this incident.' : `Could not load the postmortem: ${err.message}`,
      ),
    )
    return
  }
  if (gen !== hist.detailGen || !pm || typeof pm.markdown !== 'string') return
  showPostmortem(id, pm)
}

function showPostmortem(id, pm) {
  const box = $('history-postmortem')
  if (!box) return
  clear(box)
  const who =
    pm.draftedBy === 'llm' ? 'drafted by the LLM' : pm.draftedBy === 'template' ? 'drafted from the template' : ''
  const when = pm.createdAt ? `, ${fmtDateTime(pm.createdAt)}` : ''
  const kept = pm.stored === false ? ' · a draft, not stored yet' : ''
  box.append(
    el(
      'div',
      { class: 'pm-head' },
      el('h3', null, 'Postmortem'),
      el('span', { class: 'muted small', 'data-testid': 'postmortem-meta' }, `${who}${when}${kept}`),
      el(
        'button',
        {
          class: 'btn btn-ghost btn-sm',
          type: 'button',
          'data-testid': 'postmortem-download',
          onclick: () =>
            downloadBlob(
              new Blob([pm.markdown], { type: 'text/markdown;charset=utf-8' }),
              `postmortem-${String(id).replace(/[^\w.-]+/g, '_')}.md`,
            ),
        },
        'Download .md',
      ),
    ),
    el('div', { class: 'postmortem', 'data-testid': 'postmortem-body' }, renderMarkdown(pm.markdown)),
  )
}
