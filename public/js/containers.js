/*
 * The container cards. A card's colour follows the container's own live state, from Docker's
 * events on the stream (`container`) and GET /api/containers: green the moment the container runs
 * again, not when its incident resolves seconds later. An incident only speaks for a container
 * nothing has reported yet (a card from the incident list, marked as such), and links the card to
 * its incident.
 */
import { api } from './api.js'
import { $, clear, el } from './dom.js'
import { fmtBytes, fmtTime } from './format.js'
import { containerTone, containerToneText, isOpen } from './rules.js'
import { state } from './state.js'
import { renderSummary } from './summary.js'

/** How long a container that came back shows "healed". */
const HEALED_SHOW_MS = 2 * 60 * 1000

export const containerKey = (c) => String(c.name || c.id)

/** A status report from Docker (the stream or the listing): it is the truth about the container. */
export function upsertContainer(c, source = 'live') {
  const k = containerKey(c)
  const prev = state.containers.get(k) || {}
  const base = { ...prev }
  // A container that went down has no current usage or health: do not show the last ones.
  if (c.state === 'down' && prev.state !== 'down')
    for (const f of ['cpuPercent', 'memoryBytes', 'health', 'healthScore']) delete base[f]
  // A start clears the health of the previous run (Docker's feed sends it without one).
  if (c.state === 'running' && prev.state !== 'running' && c.health === undefined) delete base.health
  const next = { ...base, ...Object.fromEntries(Object.entries(c).filter(([, v]) => v !== undefined)) }
  if ((prev.state === 'down' || prev.state === 'restarting') && next.state === 'running') next.healedAt = Date.now()
  if (next.state !== 'running') next.healedAt = undefined
  next.source = source
  next.updatedAt = Date.now()
  state.containers.set(k, next)
}

export function onContainer(c) {
  if (!c || (typeof c.id !== 'string' && typeof c.name !== 'string')) return
  // A removed container keeps a grey card until the next reload (the listing no longer has it).
  upsertContainer(c)
  renderContainers()
  renderSummary()
}

export async function loadContainers() {
  const body = await api('/api/containers')
  for (const c of (body && body.containers) || []) {
    const prev = state.containers.get(containerKey(c))
    // A live event newer than this listing wins.
    if (
      prev &&
      prev.source === 'live' &&
      prev.updatedAt &&
      Date.parse(c.since) < prev.updatedAt &&
      prev.state !== c.state
    )
      continue
    if (c.state === 'removed') continue
    upsertContainer(c)
  }
  renderContainers()
  renderSummary()
}

/**
 * What an incident says about its container. Only used while nothing live has been heard about
 * that container; otherwise it just links the card to the incident.
 */
export function containerFromIncident(inc) {
  if (inc.type !== 'container_down' || !inc.resource || inc.resource.kind !== 'container') return
  const k = String(inc.resource.name || inc.resource.id)
  const prev = state.containers.get(k)
  if (prev && prev.source === 'live') {
    if (isOpen(inc.status) || prev.incidentId === inc.id) prev.incidentId = inc.id
    return
  }
  if (isOpen(inc.status) && inc.status !== 'escalated')
    upsertContainer({ id: inc.resource.id, name: inc.resource.name, state: 'down', incidentId: inc.id }, 'incident')
  else if (inc.status === 'resolved' && prev)
    upsertContainer({ id: inc.resource.id, name: inc.resource.name, state: 'running', incidentId: inc.id }, 'incident')
}

let cardsPending = false
/** Re-renders the cards at most once a second (readings fill their CPU and memory figures). */
export function scheduleCards() {
  if (cardsPending) return
  cardsPending = true
  setTimeout(() => {
    cardsPending = false
    renderContainers()
  }, 1000)
}

const TONE_ORDER = { bad: 0, warn: 1, muted: 2, ok: 3 }

export function renderContainers() {
  const box = $('container-cards')
  clear(box)
  const items = [...state.containers.values()].sort(
    (a, b) =>
      TONE_ORDER[containerTone(a)] - TONE_ORDER[containerTone(b)] || containerKey(a).localeCompare(containerKey(b)),
  )
  if (!items.length) box.append(el('p', { class: 'empty' }, 'No container status received yet.'))
  const now = Date.now()
  for (const c of items) {
    const tone = containerTone(c)
    const healed = tone === 'ok' && c.healedAt && now - c.healedAt < HEALED_SHOW_MS
    const label = healed
      ? 'healed'
      : c.state === 'running' && c.health && c.health !== 'healthy'
        ? c.health
        : c.state || 'unknown'
    const cpu = Number(c.cpuPercent)
    const mem = Number(c.memoryBytes)
    const inc = c.incidentId ? state.incidents.get(c.incidentId) : null
    const explain = `${containerToneText(c)}${c.source === 'incident' ? ' (from its incident: no live report yet)' : ''}${inc && isOpen(inc.status) ? ` Incident: ${String(inc.status).replace(/_/g, ' ')}.` : ''}`
    box.append(
      el(
        'article',
        {
          class: 'card',
          'data-testid': 'container-card',
          'data-name': c.name || c.id,
          'data-state': c.state || 'unknown',
          'data-tone': tone,
          'data-healed': healed ? 'true' : 'false',
          'data-source': c.source || 'live',
          title: explain,
        },
        el(
          'div',
          { class: 'card-top' },
          el('span', { class: 'card-name', title: c.name || c.id }, c.name || c.id),
          el('span', { class: `state state-${tone}${healed ? ' state-healed' : ''}` }, label),
        ),
        el(
          'div',
          { class: 'card-stats' },
          el(
            'div',
            { class: 'card-stat' },
            el('span', { class: 'k' }, 'CPU'),
            el('span', { class: 'v' }, Number.isFinite(cpu) ? `${cpu.toFixed(1)}%` : '—'),
          ),
          el(
            'div',
            { class: 'card-stat' },
            el('span', { class: 'k' }, 'Memory'),
            el('span', { class: 'v' }, Number.isFinite(mem) ? fmtBytes(mem) : '—'),
          ),
          el(
            'div',
            { class: 'card-stat' },
            el('span', { class: 'k' }, 'Restarts'),
            el('span', { class: 'v' }, Number.isFinite(Number(c.restarts)) ? String(c.restarts) : '—'),
          ),
        ),
        Number.isFinite(cpu)
          ? el(
              'div',
              { class: 'bar', title: 'CPU' },
              el('span', { style: { width: `${Math.max(0, Math.min(100, cpu))}%` } }),
            )
          : null,
        el(
          'div',
          { class: 'card-foot' },
          el(
            'span',
            { 'data-testid': 'card-health' },
            [
              c.health ? `health: ${c.health}` : '',
              Number.isFinite(Number(c.healthScore)) ? `score ${Number(c.healthScore).toFixed(2)}` : '',
            ]
              .filter(Boolean)
              .join(' · '),
          ),
          el(
            'span',
            null,
            inc && isOpen(inc.status)
              ? el(
                  'span',
                  { class: 'card-incident', 'data-testid': 'card-incident' },
                  `incident ${String(inc.status).replace(/_/g, ' ')}`,
                )
              : c.updatedAt
                ? fmtTime(new Date(c.updatedAt).toISOString())
                : '',
          ),
        ),
      ),
    )
  }
  const down = items.filter((c) => containerTone(c) === 'bad').length
  $('containers-count').textContent = items.length ? `${items.length} watched · ${down} down or unhealthy` : ''
}
