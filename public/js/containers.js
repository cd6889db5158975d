/*
 * The container cards. A card's colour follows the container's own live state, from Docker's
 * events on the stream (`container`) and GET /api/containers: green the moment the container runs
 * again, not when its incident resolves seconds later. An incident only speaks for a container
 * nothing has reported yet (a card from the incident list, marked as such), and links the card to
 * its incident.
 *
 * The cards are grouped by node. The controller's own node holds the live cards above; every other
 * node of the fleet gets a group from the last GET /api/nodes answer nodes.js received (what its
 * agent reported at its last beat: state, status, image), greyed as "last known" and headed red
 * when the node stopped beating. With no other node there is a single group and no heading: a
 * single host looks as it did before the fleet.
 */
import { api } from './api.js'
import { $, clear, el } from './dom.js'
import { fmtBytes, fmtTime } from './format.js'
import { beatText, currentNodes, fromAgentListing, nodeTone, onNodesChange } from './nodes.js'
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
const byTone = (a, b) =>
  TONE_ORDER[containerTone(a)] - TONE_ORDER[containerTone(b)] || containerKey(a).localeCompare(containerKey(b))

const stat = (k, v, title) =>
  el('div', { class: 'card-stat' }, el('span', { class: 'k' }, k), el('span', { class: 'v', title }, v))

/** A card of the controller's own engine: the container's live state. */
function liveCard(c, node, now) {
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
  return el(
    'article',
    {
      class: 'card',
      'data-testid': 'container-card',
      'data-name': c.name || c.id,
      'data-node': node,
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
      stat('CPU', Number.isFinite(cpu) ? `${cpu.toFixed(1)}%` : '—'),
      stat('Memory', Number.isFinite(mem) ? fmtBytes(mem) : '—'),
      stat('Restarts', Number.isFinite(Number(c.restarts)) ? String(c.restarts) : '—'),
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
  )
}

/**
 * A card of another node: what its agent reported at its last beat. When the node is not up, that
 * is only the last known state: the card is greyed and says so.
 */
function reportedCard(c, node, stale) {
  const tone = stale ? 'muted' : containerTone(c)
  const word = c.state === 'running' && c.health && c.health !== 'healthy' ? c.health : c.dockerState || 'unknown'
  const name = c.name || c.id
  return el(
    'article',
    {
      class: `card${stale ? ' card-stale' : ''}`,
      'data-testid': 'container-card',
      'data-name': name,
      'data-node': node.name,
      'data-state': c.state,
      'data-tone': tone,
      'data-healed': 'false',
      'data-source': 'node',
      'data-stale': stale ? 'true' : 'false',
      title: stale
        ? `${name} on ${node.name}: last known ${word}; ${node.name} is ${node.state}, so this may be out of date.`
        : `${containerToneText(c)} Reported by ${node.name}'s agent at its last beat.`,
    },
    el(
      'div',
      { class: 'card-top' },
      el('span', { class: 'card-name', title: name }, name),
      el('span', { class: `state state-${tone}` }, word),
    ),
    el(
      'div',
      { class: 'card-stats card-stats-wide' },
      stat('Status', c.status || '—', c.status),
      stat('Image', c.image || '—', c.image),
    ),
    el(
      'div',
      { class: 'card-foot' },
      el('span', { 'data-testid': 'card-health' }, c.health ? `health: ${c.health}` : ''),
      el('span', { 'data-testid': 'card-reported' }, stale ? 'last known state' : `on ${node.name}`),
    ),
  )
}

/** One node's group: a heading (left out for a lone host) and its cards. */
function group({ node, local, heading, cards, empty }) {
  const tone = node ? nodeTone(node) : 'ok'
  return el(
    'div',
    {
      class: `node-group${heading ? '' : ' node-group-solo'}`,
      role: 'group',
      'aria-label': node ? `Containers on ${node.name}` : 'Containers',
      'data-testid': 'node-group',
      'data-node': node ? node.name : undefined,
      'data-state': node ? node.state : undefined,
      'data-tone': tone,
      'data-local': local ? 'true' : 'false',
    },
    heading
      ? el(
          'div',
          { class: 'node-group-head', 'data-testid': 'node-group-head' },
          el(
            'span',
            { class: 'node-group-name', title: node.problem ? `${node.name}: ${node.problem}` : node.name },
            node.name,
          ),
          el('span', { class: `state state-${tone}` }, local ? `${node.state} · this host` : node.state),
          el('span', { class: 'node-group-meta' }, heading),
        )
      : null,
    el('div', { class: 'cards' }, cards.length ? cards : el('p', { class: 'empty' }, empty)),
  )
}

export function renderContainers() {
  const box = $('container-cards')
  clear(box)
  const now = Date.now()
  const nodes = currentNodes()
  const local = nodes.find((n) => n.local)
  const remote = nodes.filter((n) => !n.local)
  const fleet = remote.length > 0
  const items = [...state.containers.values()].sort(byTone)
  box.append(
    group({
      node: local,
      local: true,
      heading: fleet && local ? `${items.length} watched` : null,
      cards: items.map((c) => liveCard(c, local && local.name, now)),
      empty: fleet ? 'No watched container on this host.' : 'No container status received yet.',
    }),
  )
  let total = items.length
  let down = items.filter((c) => containerTone(c) === 'bad').length
  for (const n of remote) {
    const stale = n.state !== 'up'
    const listed = (Array.isArray(n.containers) ? n.containers : [])
      .filter((c) => c && (typeof c.name === 'string' || typeof c.id === 'string'))
      .map(fromAgentListing)
      .sort(byTone)
    total += listed.length
    if (!stale) down += listed.filter((c) => containerTone(c) === 'bad').length
    box.append(
      group({
        node: n,
        local: false,
        heading: `${listed.length} watched · ${beatText(n, now)}${stale && listed.length ? ' · last known states' : ''}`,
        cards: listed.map((c) => reportedCard(c, n, stale)),
        empty: n.state === 'up' ? 'No watched container on this node.' : 'Nothing known about its containers.',
      }),
    )
  }
  const legend = $('card-legend-stale')
  if (legend) legend.hidden = !fleet
  $('containers-count').textContent = total
    ? `${total} watched${fleet ? ` on ${remote.length + 1} nodes` : ''} · ${down} down or unhealthy`
    : ''
}

// A new node list redraws the groups; the live cards' own changes call renderContainers directly.
onNodesChange(() => {
  renderContainers()
  // The summary's "containers down" counts the fleet's nodes too.
  renderSummary()
})
