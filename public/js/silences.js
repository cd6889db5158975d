/*
 * The Silences panel: what is silenced (Alertmanager matchers over the incidents' labels), until
 * when, by whom and why, from GET /api/silences; an operator adds one (matchers, a duration, a
 * comment: POST /api/silences) and ends one early (DELETE /api/silences/:id). Silenced incidents
 * still open and are still fixed; they do not page. The server checks everything and its 400 names
 * the field, which the form shows as it is.
 */
import { api } from './api.js'
import { $, clear, el, toast } from './dom.js'
import { fmtDateTime, relTime } from './format.js'
import { isOperator, state } from './state.js'

/**
 * The matchers typed in the form, one per item: `severity="critical", node=~"db-.*"` (Alertmanager's
 * `{...}` braces optional), split on commas and new lines outside double quotes.
 */
export function splitMatchers(text) {
  let s = String(text || '').trim()
  if (s.startsWith('{') && s.endsWith('}')) s = s.slice(1, -1)
  const out = []
  let cur = ''
  let quoted = false
  for (let i = 0; i < s.length; i++) {
    const c = s[i]
    if (quoted && c === '\\' && i + 1 < s.length) {
      cur += c + s[++i]
      continue
    }
    if (c === '"') quoted = !quoted
    if (!quoted && (c === ',' || c === '\n')) {
      if (cur.trim()) out.push(cur.trim())
      cur = ''
      continue
    }
    cur += c
  }
  if (cur.trim()) out.push(cur.trim())
  return out
}

/** A matcher as Alertmanager writes it: name="value", name!~"re". */
export const matcherText = (m) =>
  m && typeof m === 'object'
    ? `${m.name}${m.isRegex ? (m.isEqual === false ? '!~' : '=~') : m.isEqual === false ? '!=' : '='}${JSON.stringify(String(m.value ?? ''))}`
    : String(m)

let routeMissing = false

export async function loadSilences() {
  let body
  try {
    body = await api('/api/silences')
  } catch (err) {
    // A Sentinel without silences (an older one): no panel rather than an error.
    if (err.status === 404) {
      routeMissing = true
      $('silences-panel').hidden = true
      return
    }
    throw err
  }
  routeMissing = false
  $('silences-panel').hidden = false
  state.silences = ((body && body.silences) || []).filter((s) => s && typeof s.id === 'string')
  renderSilences()
}

export function renderSilences() {
  if (routeMissing) return
  $('silence-form').hidden = !isOperator()
  $('silences-note').textContent = isOperator() ? '' : 'read-only: your role cannot silence'
  const list = $('silences')
  clear(list)
  if (!state.silences.length) list.append(el('li', { class: 'empty' }, 'Nothing is silenced.'))
  for (const s of state.silences) {
    const status = ['active', 'pending', 'expired'].includes(s.status) ? s.status : 'expired'
    const when =
      status === 'active'
        ? relTime(s.endsAt, 'ends ', { 'data-testid': 'silence-ends' })
        : status === 'pending'
          ? el('span', null, relTime(s.startsAt, 'starts '), ' · ', relTime(s.endsAt, 'ends '))
          : relTime(s.endsAt, 'ended ', { 'data-testid': 'silence-ends' })
    const expire =
      isOperator() && status !== 'expired'
        ? el(
            'button',
            {
              class: 'btn btn-ghost btn-sm',
              type: 'button',
              'data-testid': 'silence-expire',
              title: 'End this silence now: pages resume',
              onclick: (e) => expireSilence(s.id, e.currentTarget),
            },
            'Expire',
          )
        : null
    list.append(
      el(
        'li',
        {
          class: `silence silence-${status}`,
          'data-testid': 'silence',
          'data-silence-id': s.id,
          'data-status': status,
        },
        el(
          'div',
          { class: 'silence-matchers' },
          (Array.isArray(s.matchers) ? s.matchers : []).map((m) =>
            el('code', { class: 'matcher', 'data-testid': 'silence-matcher' }, matcherText(m)),
          ),
        ),
        el(
          'div',
          { class: 'silence-meta' },
          el('span', { class: `silence-status silence-status-${status}` }, status),
          when,
          el(
            'span',
            { title: `created ${fmtDateTime(s.createdAt)}` },
            'by ',
            el('span', { class: 'mono' }, s.createdBy || '?'),
          ),
          s.expiredBy ? el('span', null, 'ended by ', el('span', { class: 'mono' }, s.expiredBy)) : null,
          expire,
        ),
        s.comment ? el('div', { class: 'silence-comment', 'data-testid': 'silence-comment' }, s.comment) : null,
      ),
    )
  }
}

async function expireSilence(id, button) {
  button.disabled = true
  try {
    await api(`/api/silences/${encodeURIComponent(id)}`, { method: 'DELETE' })
    toast('Silence ended: pages for what it matched resume.', 'ok')
  } catch (err) {
    button.disabled = false
    if (err.status !== 401) toast(`Could not end the silence: ${err.message}`, 'error')
  }
  await loadSilences().catch(() => {})
}

async function submit(e) {
  e.preventDefault()
  const error = $('silence-error')
  const show = (msg) => {
    error.textContent = msg
    error.hidden = !msg
  }
  const matchers = splitMatchers($('silence-matchers').value)
  const duration = $('silence-duration').value.trim()
  const comment = $('silence-comment').value.trim()
  if (!matchers.length) return show('Give at least one matcher, such as severity="critical".')
  if (!comment) return show('Say why (the comment is shown with the silence).')
  const button = $('silence-submit')
  button.disabled = true
  try {
    const s = await api('/api/silences', { method: 'POST', body: { matchers, duration, comment } })
    show('')
    $('silence-matchers').value = ''
    $('silence-comment').value = ''
    toast(`Silenced until ${fmtDateTime(s && s.endsAt)}.`, 'ok')
    await loadSilences()
  } catch (err) {
    if (err.status !== 401) show(err.message)
  } finally {
    button.disabled = false
  }
}

/** Wires the form once, at start. */
export function initSilences() {
  $('silence-form').addEventListener('submit', submit)
}
