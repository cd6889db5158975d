/*
 * The summary tiles at the top: open incidents (escalated ones included: they wait for a person),
 * approvals waiting, containers down (on every node that beats: this host's live, the others' as
 * their agents last reported), system health and the resolved ones with their median time to
 * resolve. Recomputed from the shared state whenever something changes.
 */
import { $ } from './dom.js'
import { fmtDuration } from './format.js'
import { currentNodes, fromAgentListing } from './nodes.js'
import { containerTone, isOpen } from './rules.js'
import { state } from './state.js'

export function renderSummary() {
  const incs = [...state.incidents.values()]
  const open = incs.filter((i) => isOpen(i.status))
  const escalated = open.filter((i) => i.status === 'escalated').length
  const resolved = incs.filter((i) => i.status === 'resolved' && i.resolvedAt)
  // This host's containers (live), and each other node's as its agent last reported them; a node
  // that stopped beating is left out of the count (its cards say "last known"), not counted down.
  const remote = currentNodes()
    .filter((n) => !n.local && n.state === 'up')
    .flatMap((n) => (Array.isArray(n.containers) ? n.containers : []))
    .filter((c) => c && (typeof c.name === 'string' || typeof c.id === 'string'))
    .map(fromAgentListing)
  const containers = [...state.containers.values(), ...remote]
  const down = containers.filter((c) => c.state === 'down').length
  const unhealthy = containers.filter((c) => c.state === 'running' && containerTone(c) === 'bad').length
  $('sum-active').textContent = String(open.length)
  $('sum-active-sub').textContent = escalated
    ? `${escalated} escalated: need a person`
    : open.length
      ? 'Sentinel is on them'
      : ''
  $('sum-approvals').textContent = String(state.approvals.length)
  $('sum-down').textContent = String(down)
  $('sum-containers').textContent = containers.length
    ? `of ${containers.length} containers${unhealthy ? ` · ${unhealthy} unhealthy` : ''}`
    : ''
  $('sum-health').textContent = Number.isFinite(state.systemHealth) ? state.systemHealth.toFixed(2) : '—'
  $('sum-health').parentElement.classList.toggle(
    'alert',
    Number.isFinite(state.systemHealth) && state.systemHealth < 0.5,
  )
  $('sum-resolved').textContent = String(resolved.length)
  const ttr = resolved
    .map((i) => Date.parse(i.resolvedAt) - Date.parse(i.openedAt))
    .filter((x) => Number.isFinite(x) && x >= 0)
    .sort((x, y) => x - y)
  $('sum-mttr').textContent = ttr.length
    ? `median time to resolve ${fmtDuration(ttr[Math.floor((ttr.length - 1) / 2)])}`
    : ''
  const tile = $('sum-active').parentElement
  tile.classList.toggle('alert', escalated > 0)
  tile.classList.toggle('attention', open.length > 0 && escalated === 0)
  $('sum-approvals').parentElement.classList.toggle('attention', state.approvals.length > 0)
  $('sum-down').parentElement.classList.toggle('alert', down > 0)
}
