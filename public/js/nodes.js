/*
 * The Nodes panel: one card per fleet node from GET /api/nodes, polled every 5 s while the live
 * console is shown (the stream carries no node events). A card is red when the node is down, amber
 * when the controller cannot believe what the node published (its `problem`), grey when it was
 * never seen. Heartbeat ages come from the controller's clock (lastBeatAgeSeconds), not the
 * browser's, plus the time since the answer arrived. Loaded by its own <script> tag; it reads the
 * session (key, generation) from the shared state, so it needs nothing from main.js.
 *
 * It is the page's one reader of GET /api/nodes: the containers panel groups its cards by node from
 * the list this module last received (currentNodes, onNodesChange), never polling on its own.
 */
import { $, clear, el } from './dom.js'
import { fmtDuration } from './format.js'
import { pollPanel } from './poll.js'

const POLL_MS = 5000

let nodes = []
let fetchedAt = 0
const listeners = new Set()

const TONE = { up: 'ok', down: 'bad', unknown: 'muted' }
/** A node's colour: red when down, amber when what it published cannot be believed, grey when never seen. */
export const nodeTone = (n) => (n.problem ? 'warn' : TONE[n.state] || 'muted')
const pct = (v) => (Number.isFinite(Number(v)) && v !== null ? `${Number(v).toFixed(1)}%` : '—')

/** "beat 3 s ago" by the controller's clock (plus the answer's own age), or why there is none. */
export function beatText(n, now = Date.now()) {
  if (!Number.isFinite(Number(n.lastBeatAgeSeconds)) || n.lastBeatAgeSeconds === null)
    return n.local && !n.agent ? 'this host: the controller' : 'never seen'
  const ms = Number(n.lastBeatAgeSeconds) * 1000 + Math.max(0, now - fetchedAt)
  return `beat ${fmtDuration(ms)} ago`
}

function engineText(n) {
  if (!n.engine) return 'engine —'
  if (!n.engine.reachable) return 'engine unreachable'
  return `engine ${n.engine.version || '?'}`
}

function card(n, now) {
  const tone = nodeTone(n)
  const incidents = Array.isArray(n.incidents) ? n.incidents : []
  const containers = Array.isArray(n.containers) ? n.containers : []
  const stat = (k, v) => el('div', { class: 'card-stat' }, el('span', { class: 'k' }, k), el('span', { class: 'v' }, v))
  return el(
    'article',
    {
      class: 'card',
      'data-testid': 'node-card',
      'data-name': n.name,
      'data-state': n.state,
      'data-tone': tone,
      title: n.problem ? `${n.name}: ${n.problem}` : `${n.name}: ${n.state}`,
    },
    el(
      'div',
      { class: 'card-top' },
      el('span', { class: 'card-name', title: n.local ? `${n.name}: the controller's own host` : n.name }, n.name),
      el('span', { class: `state state-${tone}` }, n.state),
    ),
    el('div', { class: 'card-stats' }, [
      stat('CPU', pct(n.host && n.host.cpuPercent)),
      stat('Memory', pct(n.host && n.host.memoryPercent)),
      stat('Disk', pct(n.host && n.host.diskPercent)),
    ]),
    el(
      'div',
      { class: 'card-foot' },
      el('span', { 'data-testid': 'node-beat' }, beatText(n, now)),
      el('span', null, engineText(n)),
    ),
    el(
      'div',
      { class: 'card-foot' },
      el('span', null, `${containers.length} watched`),
      incidents.length
        ? el(
            'span',
            {
              class: 'card-incident',
              'data-testid': 'node-incidents',
              title: incidents.map((i) => `${i.id}: ${i.type} ${i.severity} ${i.status} (${i.resource})`).join('\n'),
            },
            `${incidents.length} open incident${incidents.length === 1 ? '' : 's'}`,
          )
        : el('span', null, 'no open incidents'),
    ),
    n.problem ? el('div', { class: 'card-foot', 'data-testid': 'node-problem' }, n.problem) : null,
  )
}

/**
 * What an agent listed for a container (Docker's own state and status words), in the live cards'
 * terms so that containerTone colours it. The same reading as the controller's own listing
 * (stateOfListing and healthOfStatus in src/platform/stream/containers.ts).
 */
export function fromAgentListing(c) {
  const status = String(c.status || '')
  const health = status.includes('(unhealthy)')
    ? 'unhealthy'
    : status.includes('(health: starting)')
      ? 'starting'
      : status.includes('(healthy)')
        ? 'healthy'
        : undefined
  const live = ['running', 'restarting', 'paused'].includes(c.state) ? c.state : 'down'
  return { id: c.id, name: c.name, image: c.image, status, dockerState: c.state, state: live, health }
}

/** The node list of the last answer (sorted by name, as the API sorts it); empty before the first. */
export const currentNodes = () => nodes

/** Calls `fn` after every change of the list (a new answer, or a new session's empty list). */
export function onNodesChange(fn) {
  listeners.add(fn)
  return () => listeners.delete(fn)
}

function setNodes(list) {
  nodes = list
  renderNodes()
  for (const fn of listeners) {
    try {
      fn(nodes)
    } catch (err) {
      // One listener's bug must not keep the others (or this panel) from updating.
      console.error(err)
    }
  }
}

export function renderNodes() {
  const box = $('node-cards')
  if (!box) return
  clear(box)
  const now = Date.now()
  if (!nodes.length) box.append(el('p', { class: 'empty' }, 'No node reported yet.'))
  for (const n of nodes) box.append(card(n, now))
  const down = nodes.filter((n) => n.state === 'down').length
  $('nodes-count').textContent = nodes.length ? `${nodes.length} nodes · ${down} down` : ''
}

// A new session (render(null)) shows nothing of the previous one's list.
pollPanel({
  path: '/api/nodes',
  everyMs: POLL_MS,
  noteId: 'nodes-note',
  what: 'nodes',
  render: (body) => {
    if (body) fetchedAt = Date.now()
    setNodes((body && Array.isArray(body.nodes) ? body.nodes : []).filter((n) => n && typeof n.name === 'string'))
  },
})
