/*
 * The approval queue: what waits for a person, the proposed fix in words (a kill_process shows the
 * process's command line, not just a pid), its risk and expiry, and Approve / Reject for a key
 * whose role may decide. GET /api/approvals/pending is the source of truth; incident events keep
 * it current between loads.
 */
import { api } from './api.js'
import { $, clear, el, toast } from './dom.js'
import { fmtAgo, relTime } from './format.js'
import { detailDirty, openDetail, renderDetail } from './incidents.js'
import { describeAction } from './rules.js'
import { canDecide, state } from './state.js'
import { renderSummary } from './summary.js'

/**
 * Approvals that incident events added or removed, with when: a pending list requested before such
 * an event (its answer crossing the event) must not undo it.
 */
const changedByEvents = new Map()

export async function loadApprovals() {
  const started = Date.now()
  const body = await api('/api/approvals/pending')
  let list = ((body && body.approvals) || []).filter((x) => x && typeof x.incidentId === 'string')
  for (const [id, change] of changedByEvents) {
    if (change.at < started - 60_000) changedByEvents.delete(id)
    if (change.at < started) continue
    list = list.filter((x) => x.incidentId !== id)
    if (change.entry) list.push(change.entry)
  }
  state.approvals = list
  renderApprovals()
  renderSummary()
}

let approvalsReload = null
export function onApprovalEvent(data, onIncident) {
  // Sentinel sends the whole incident with approval events: keep it current too.
  if (data && typeof data.id === 'string' && Array.isArray(data.timeline)) onIncident(data)
  if (data && typeof data.incidentId === 'string' && data.expiresAt && data.status === undefined && data.approverRole) {
    state.approvals = state.approvals.filter((x) => x.incidentId !== data.incidentId).concat([data])
    renderApprovals()
  }
  // The pending list is the source of truth (who may decide, expiry): refetch, coalesced.
  if (approvalsReload) return
  approvalsReload = setTimeout(() => {
    approvalsReload = null
    loadApprovals().catch(() => {})
  }, 150)
}

export function syncApprovalFromIncident(inc) {
  const ap = inc.approval
  const pending = inc.status === 'awaiting_approval' && ap && ap.status === 'pending'
  const idx = state.approvals.findIndex((x) => x.incidentId === inc.id)
  if (!pending && idx >= 0) {
    state.approvals.splice(idx, 1)
    changedByEvents.set(inc.id, { at: Date.now(), entry: null })
  } else if (pending && idx < 0) {
    const entry = {
      incidentId: inc.id,
      title: inc.title,
      risk: ap.risk,
      approverRole: ap.approverRole,
      proposedAction: ap.actionId,
      params: ap.params || {},
      command: ap.command,
      requestedAt: ap.requestedAt,
      expiresAt: ap.expiresAt,
    }
    state.approvals.push(entry)
    changedByEvents.set(inc.id, { at: Date.now(), entry })
  } else if (pending && ap.command && !state.approvals[idx].command) state.approvals[idx].command = ap.command
}

export function decisionButtons(incidentId) {
  const approve = el(
    'button',
    {
      class: 'btn btn-approve btn-sm',
      type: 'button',
      'data-testid': 'approve-button',
      'data-incident-id': incidentId,
    },
    'Approve',
  )
  const reject = el(
    'button',
    { class: 'btn btn-reject btn-sm', type: 'button', 'data-testid': 'reject-button', 'data-incident-id': incidentId },
    'Reject',
  )
  approve.addEventListener('click', () => decide(incidentId, 'approve', {}, [approve, reject]))
  reject.addEventListener('click', () => {
    const holder = reject.parentElement
    if (!holder || holder.querySelector('.reject-form')) return
    const input = el('input', {
      type: 'text',
      placeholder: 'Reason for rejecting',
      maxlength: 500,
      'data-testid': 'reject-reason',
      'aria-label': 'Reason for rejecting',
    })
    const confirmBtn = el(
      'button',
      { class: 'btn btn-reject btn-sm', type: 'submit', 'data-testid': 'reject-confirm' },
      'Reject',
    )
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
      if (!reason) {
        input.focus()
        return
      }
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

let approvalsDirty = false
export function renderApprovals(force) {
  const list = $('approvals')
  // Someone is typing a reason: do not wipe the form; render when it closes.
  if (!force && list.querySelector('.reject-form')) {
    approvalsDirty = true
    return
  }
  approvalsDirty = false
  clear(list)
  const items = [...state.approvals].sort((a, b) => Date.parse(a.expiresAt) - Date.parse(b.expiresAt))
  if (!items.length) list.append(el('li', { class: 'empty' }, 'Nothing waiting for a decision.'))
  for (const ap of items) {
    const buttons = el('div', { class: 'approval-buttons' })
    if (canDecide(ap.risk, ap.approverRole)) buttons.append(...decisionButtons(ap.incidentId))
    else buttons.append(el('span', { class: 'muted small' }, `Needs ${ap.approverRole || 'an approver'}`))
    list.append(
      el(
        'li',
        { class: 'approval', 'data-testid': 'approval', 'data-incident-id': ap.incidentId },
        el('div', { class: 'approval-title', onclick: () => openDetail(ap.incidentId) }, ap.title || ap.incidentId),
        el(
          'div',
          { class: 'approval-meta' },
          el('span', { class: `risk risk-${ap.risk}` }, `${ap.risk} risk`),
          el('span', null, `approver: ${ap.approverRole || '—'}`),
          el('span', null, relTime(ap.requestedAt, 'requested ', { 'data-testid': 'approval-requested' })),
          el('span', { class: 'expires', 'data-expires': ap.expiresAt }, `expires ${fmtAgo(ap.expiresAt)}`),
        ),
        el(
          'div',
          { class: 'approval-action', 'data-testid': 'approval-action' },
          describeAction(ap.proposedAction, ap.params, ap.command),
        ),
        buttons,
      ),
    )
  }
}
