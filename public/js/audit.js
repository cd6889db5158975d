/*
 * The audit log panel (admins only): the last events from GET /api/audit, then live ones from the
 * stream on top, newest first, at most 500 kept in the page.
 */
import { api } from './api.js'
import { $, clear, el } from './dom.js'
import { fmtTime, titleCase } from './format.js'
import { isAdmin, state } from './state.js'

const MAX_AUDIT = 500

export async function loadAudit() {
  const body = await api('/api/audit?limit=100')
  state.audit = ((body && body.events) || []).slice(0, MAX_AUDIT)
  renderAudit()
}

export function onAudit(ev) {
  if (!isAdmin() || !ev) return
  state.audit.unshift(ev)
  if (state.audit.length > MAX_AUDIT) state.audit.length = MAX_AUDIT
  renderAudit(true)
}

function renderAudit(freshTop) {
  const tbody = $('audit-body')
  clear(tbody)
  if (!state.audit.length)
    tbody.append(el('tr', null, el('td', { colspan: 5, class: 'muted' }, 'No audit events yet.')))
  state.audit.forEach((ev, i) => {
    const outcome = ev.outcome === undefined || ev.outcome === null ? '' : String(ev.outcome)
    const res = ev.resource && typeof ev.resource === 'object' ? ev.resource.name || ev.resource.id : ev.resource
    tbody.append(
      el(
        'tr',
        { class: freshTop && i === 0 ? 'fresh' : '', 'data-testid': 'audit-row', 'data-kind': ev.kind },
        el('td', { title: ev.at }, fmtTime(ev.at)),
        el('td', null, titleCase(ev.kind)),
        el('td', { class: 'mono' }, ev.actor || ''),
        el(
          'td',
          null,
          ev.incidentId ? el('span', { class: 'mono' }, ev.incidentId) : null,
          ev.incidentId && res ? el('br') : null,
          res || '',
        ),
        el(
          'td',
          {
            class: /^(ok|success|succeeded|approved|allowed)$/i.test(outcome)
              ? 'outcome-ok'
              : /^(fail|failed|error|denied|rejected)/i.test(outcome)
                ? 'outcome-bad'
                : '',
          },
          outcome,
        ),
      ),
    )
  })
}
