/*
 * The incident list and the incident drawer (timeline, analysis, decision, approval, actions).
 * A row's dot takes the colour of the incident's status (resolved green, escalated red, waiting
 * amber...), not of its severity; escalated incidents count as open. Rollback is offered to admins
 * only where POST /rollback can work (see rules.js); elsewhere the drawer says why there is none.
 * An open incident nobody has taken offers Acknowledge to operators; once taken, the drawer and the
 * row say by whom (acknowledge.js).
 */
import { ackBadge, ackButton, ackNote, canAcknowledge } from './acknowledge.js'
import { api } from './api.js'
import { decisionButtons, renderApprovals, syncApprovalFromIncident } from './approvals.js'
import { containerFromIncident, renderContainers } from './containers.js'
import { $, clear, el, toast } from './dom.js'
import { evidenceRecordSection, runbookSection, similarSection } from './evidence.js'
import {
  compactJson,
  fmtDateTime,
  fmtDuration,
  fmtParams,
  fmtTime,
  fmtValue,
  relTime,
  titleCase,
  unitOfMetric,
} from './format.js'
import { describeAction, isOpen, rollbackBlocker, statusLabel, statusTone } from './rules.js'
import { canDecide, isAdmin, state } from './state.js'
import { renderSummary } from './summary.js'
import { timelineList } from './timeline.js'

export function upsertIncident(inc) {
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

export async function loadIncidents(more) {
  const q = more && state.nextCursor ? `?limit=50&cursor=${encodeURIComponent(state.nextCursor)}` : '?limit=50'
  const body = await api(`/api/incidents${q}`)
  for (const inc of (body && body.incidents) || []) upsertIncident(inc)
  state.nextCursor = (body && body.nextCursor) || null
  for (const inc of state.incidents.values()) containerFromIncident(inc)
  renderIncidents()
  renderContainers()
  renderSummary()
}

export function onIncident(inc) {
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
  if (state.incidentFilter === 'active') return all.filter((i) => isOpen(i.status))
  if (state.incidentFilter === 'closed') return all.filter((i) => !isOpen(i.status))
  return all
}

/** The status dot: its colour follows the status; the title says the status and the severity. */
const statusDot = (inc, testid) =>
  el('span', {
    class: `status-dot tone-${statusTone(inc.status)}`,
    'data-tone': statusTone(inc.status),
    'data-testid': testid,
    title: `${statusLabel(inc.status)} · ${inc.severity || 'unknown'} severity`,
    role: 'img',
    'aria-label': statusLabel(inc.status),
  })

const statusBadge = (inc, attrs = {}) =>
  el('span', { class: `status status-${inc.status} tone-${statusTone(inc.status)}`, ...attrs }, statusLabel(inc.status))

export function renderIncidents(freshId) {
  const list = $('incident-list')
  clear(list)
  const rows = visibleIncidents()
  if (rows.length === 0)
    list.append(
      el(
        'li',
        { class: 'empty' },
        state.incidents.size ? 'No incidents match this filter.' : 'No incidents. All quiet.',
      ),
    )
  for (const inc of rows) {
    const resource = inc.resource || {}
    list.append(
      el(
        'li',
        {
          class: `incident-row${state.selected === inc.id ? ' selected' : ''}${freshId === inc.id ? ' fresh' : ''}`,
          tabindex: 0,
          role: 'button',
          'data-testid': 'incident-row',
          'data-incident-id': inc.id,
          'data-status': inc.status,
          onclick: () => openDetail(inc.id),
          onkeydown: (e) => {
            if (e.key === 'Enter' || e.key === ' ') {
              e.preventDefault()
              openDetail(inc.id)
            }
          },
        },
        statusDot(inc, 'status-dot'),
        el('span', { class: 'incident-title' }, inc.title || inc.id),
        statusBadge(inc),
        el(
          'span',
          { class: 'incident-sub' },
          ackBadge(inc),
          `${titleCase(inc.type)} · ${resource.name || resource.id || '—'} · ${inc.severity || '?'} · opened `,
          relTime(inc.openedAt),
          inc.test ? ' · test' : '',
        ),
      ),
    )
  }
  $('load-more').hidden = !state.nextCursor
}

// ---------- the drawer ----------

export async function openDetail(id) {
  state.selected = id
  renderIncidents()
  const cached = state.incidents.get(id)
  if (cached) renderDetail(cached, true)
  $('detail').hidden = false
  $('scrim').hidden = false
  await refreshDetail(id)
}

async function refreshDetail(id) {
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

export function closeDetail() {
  state.selected = null
  $('detail').hidden = true
  $('scrim').hidden = true
  renderIncidents()
}

const section = (title, ...children) => el('section', { class: 'detail-section' }, el('h3', null, title), ...children)
const kv = (pairs) =>
  el(
    'dl',
    { class: 'kv' },
    pairs
      .filter((p) => p[1] !== undefined && p[1] !== null && p[1] !== '')
      .flatMap(([k, v]) => [el('dt', null, k), el('dd', null, v)]),
  )

/** The alert's reading, rounded for its unit: "cpu_busy_percent = 97.3% (threshold 80.0%)". */
function alertLine(a) {
  if (!a) return null
  const unit = unitOfMetric(a.metric)
  const threshold =
    a.threshold !== null && a.threshold !== undefined ? ` (threshold ${fmtValue(a.threshold, unit)})` : ''
  return `${a.metric || ''} = ${fmtValue(a.value, unit)}${threshold}`
}

export let detailDirty = false

export function renderDetail(inc, force) {
  if (!inc) return
  if (!force && $('detail-body').querySelector('.reject-form')) {
    detailDirty = true
    return
  }
  detailDirty = false
  const resource = inc.resource || {}
  const kicker = $('detail-kicker')
  clear(kicker)
  kicker.append(
    statusBadge(inc, { 'data-testid': 'detail-status' }),
    statusDot(inc, 'detail-status-dot'),
    el('span', null, `${inc.severity} · ${titleCase(inc.type)}`),
    el('span', { class: 'mono' }, inc.id),
  )
  $('detail-title').textContent = inc.title || inc.id
  const body = $('detail-body')
  clear(body)

  const buttons = el('div', { class: 'detail-buttons' })
  if (canAcknowledge(inc)) buttons.append(ackButton(inc, (ack) => acknowledged(inc.id, ack)))
  const approval = inc.approval
  if (
    inc.status === 'awaiting_approval' &&
    approval &&
    approval.status === 'pending' &&
    canDecide(approval.risk, approval.approverRole)
  )
    buttons.append(...decisionButtons(inc.id))
  let noRollback = null
  if (isAdmin()) {
    const blocker = rollbackBlocker(inc)
    if (!blocker)
      buttons.append(
        el(
          'button',
          {
            class: 'btn btn-reject btn-sm',
            type: 'button',
            'data-testid': 'rollback-button',
            onclick: (e) => rollback(inc.id, e.currentTarget),
          },
          'Roll back',
        ),
      )
    else if (Array.isArray(inc.actions) && inc.actions.length)
      noRollback = el('p', { class: 'muted small', 'data-testid': 'rollback-unavailable' }, `No rollback: ${blocker}.`)
  }
  if (buttons.childElementCount) body.append(buttons)
  const taken = ackNote(inc)
  if (taken) body.append(taken)
  if (noRollback) body.append(noRollback)

  const opened = Date.parse(inc.openedAt)
  const resolved = Date.parse(inc.resolvedAt)
  body.append(
    section(
      'Summary',
      kv([
        ['Resource', `${resource.name || resource.id || '—'} (${resource.kind || '?'})`],
        ['Opened', el('span', null, `${fmtDateTime(inc.openedAt)} (`, relTime(inc.openedAt), ')')],
        [
          'Resolved',
          inc.resolvedAt ? `${fmtDateTime(inc.resolvedAt)} (after ${fmtDuration(resolved - opened)})` : null,
        ],
        ['Alert', alertLine(inc.alert)],
        ['Source', inc.alert && inc.alert.source],
      ]),
    ),
  )

  const a = inc.analysis
  if (a && typeof a === 'object') {
    const conf = Number(a.confidence)
    const parts = [
      el(
        'p',
        { class: 'analysis-cause', 'data-testid': 'analysis-root-cause' },
        String(a.root_cause ?? a.rootCause ?? 'No root cause given'),
      ),
      kv([
        ['Cause', a.cause ? el('span', { class: 'cause', 'data-testid': 'analysis-cause' }, String(a.cause)) : null],
        ['Analyser', a.analyser],
        ['Risk', a.risk_level ? el('span', { class: `risk risk-${a.risk_level}` }, a.risk_level) : null],
        [
          'Confidence',
          Number.isFinite(conf)
            ? el(
                'span',
                { class: 'confidence' },
                el(
                  'span',
                  { class: 'bar' },
                  el('span', { style: { width: `${Math.round(Math.max(0, Math.min(1, conf)) * 100)}%` } }),
                ),
                `${Math.round(conf * 100)}%`,
              )
            : null,
        ],
        [
          'Proposed fix',
          a.proposed_fix === undefined
            ? null
            : a.proposed_fix === null
              ? 'none needed'
              : typeof a.proposed_fix === 'string'
                ? a.proposed_fix
                : a.proposed_fix.action
                  ? describeAction(
                      a.proposed_fix.action,
                      a.proposed_fix.params,
                      approval && approval.actionId === a.proposed_fix.action ? approval.command : undefined,
                    )
                  : compactJson(a.proposed_fix),
        ],
      ]),
    ]
    if (Array.isArray(a.evidence) && a.evidence.length) {
      parts.push(
        el('h3', { style: { marginTop: '12px' } }, 'Evidence'),
        el(
          'ul',
          { class: 'evidence', 'data-testid': 'analysis-evidence' },
          a.evidence.map((ev) => el('li', null, typeof ev === 'string' ? ev : compactJson(ev))),
        ),
      )
    }
    parts.push(
      ...runbookSection(a.runbook),
      ...similarSection(a.similar, (id) => openDetail(id)),
      ...evidenceRecordSection(a.evidenceRecord),
    )
    if (a.reasoning)
      parts.push(
        el('h3', { style: { marginTop: '12px' } }, 'Reasoning'),
        el('pre', { class: 'reasoning', 'data-testid': 'analysis-reasoning' }, String(a.reasoning)),
      )
    if (a.fallbackReason) parts.push(el('p', { class: 'fallback' }, `Fallback analysis: ${String(a.fallbackReason)}`))
    body.append(section('Analysis', ...parts))
  }

  const d = inc.decision
  if (d) {
    body.append(
      section(
        'Decision',
        kv([
          ['Route', d.route],
          ['Risk', d.risk ? el('span', { class: `risk risk-${d.risk}` }, d.risk) : null],
          [
            'Action',
            el(
              'span',
              { 'data-testid': 'decision-action' },
              describeAction(
                d.actionId,
                d.params,
                approval && approval.actionId === d.actionId ? approval.command : undefined,
              ),
            ),
          ],
          ['Rule', d.rule],
          ['Approver', d.approverRole],
        ]),
        Array.isArray(d.reasons) && d.reasons.length
          ? el(
              'ul',
              { class: 'reasons' },
              d.reasons.map((r) => el('li', null, r)),
            )
          : null,
      ),
    )
  }

  if (approval) {
    body.append(
      section(
        'Approval',
        kv([
          ['Status', approval.status],
          ['Action', describeAction(approval.actionId, approval.params, approval.command)],
          ['Approver', approval.approverRole],
          ['Requested', el('span', null, relTime(approval.requestedAt))],
          [
            'Decided',
            approval.decidedBy
              ? `${approval.decidedBy}${approval.decidedAt ? ` at ${fmtDateTime(approval.decidedAt)}` : ''}${approval.reason ? `: ${approval.reason}` : ''}`
              : null,
          ],
        ]),
      ),
    )
  }

  if (Array.isArray(inc.actions) && inc.actions.length) {
    body.append(
      section(
        'Actions',
        el(
          'ul',
          { class: 'actions-list' },
          inc.actions.map((act) =>
            el(
              'li',
              { 'data-testid': 'action-row', 'data-action': act.actionId, 'data-status': act.status },
              el(
                'span',
                null,
                el('strong', null, act.actionId),
                ' ',
                el(
                  'span',
                  { class: 'mono muted' },
                  act.actionId === 'kill_process' && act.result && act.result.command
                    ? `pid ${act.result.pid}: ${act.result.command}`
                    : fmtParams(act.params),
                ),
              ),
              el(
                'span',
                {
                  class: act.status === 'succeeded' ? 'outcome-ok' : act.status === 'failed' ? 'outcome-bad' : 'muted',
                },
                `${act.status} · ${fmtTime(act.startedAt)}${act.error ? ` · ${act.error}` : ''}`,
              ),
            ),
          ),
        ),
      ),
    )
  }

  body.append(section('Timeline', timelineList(inc.timeline)))
}

/** After an Acknowledge: shown at once, then the incident read again (the stream brings it too). */
function acknowledged(id, ack) {
  const cur = state.incidents.get(id)
  if (ack && cur && !cur.acknowledgement) cur.acknowledgement = ack
  renderIncidents()
  if (state.selected === id && cur) renderDetail(cur, true)
  if (state.selected === id) refreshDetail(id)
}

async function rollback(incidentId, button) {
  button.disabled = true
  try {
    await api(`/api/incidents/${encodeURIComponent(incidentId)}/rollback`, { method: 'POST', body: {} })
    toast('Rolled back.', 'ok')
  } catch (err) {
    if (err.status !== 401) toast(`Could not roll back: ${err.message}`, 'error')
  } finally {
    button.disabled = false
  }
  // The incident changed (or the server knows why it cannot): show its current state.
  if (state.selected === incidentId) await refreshDetail(incidentId)
}
