/*
 * Node commands, live (admins only): the output of the diagnostic commands run with POST
 * /api/nodes/NODE/commands, as it arrives. The controller puts each piece on the live stream as an
 * `audit` event of kind node.command.output (the hub sends those to admins only), and the run's
 * `node.command` audit entry closes it with its exit code. Loaded by its own <script> tag: it
 * listens on the page's shared stream (state.es, replaced at every reconnect, hence the check each
 * second) and needs nothing from main.js. Output goes in through textContent, never markup.
 */
import { $, clear, el } from './dom.js'
import { isAdmin, state } from './state.js'

const MAX_RUNS = 5
const runs = new Map() // runId -> { node, container, command, pieces: Map(seq -> text), result }
let listening = null
let panel = null

function runOf(runId, ev) {
  let run = runs.get(runId)
  if (!run) {
    run = { node: ev.node || '', container: ev.resource || '', command: '', pieces: new Map(), result: null }
    runs.set(runId, run)
    // Newest last in the map: drop the oldest past the limit.
    while (runs.size > MAX_RUNS) runs.delete(runs.keys().next().value)
  }
  return run
}

function onAudit(e) {
  let ev
  try {
    ev = JSON.parse(e.data)
  } catch {
    return
  }
  const d = ev && ev.data
  if (!d || typeof d.runId !== 'string') return
  if (ev.kind === 'node.command.output') {
    const run = runOf(d.runId, ev)
    run.command = d.command || run.command
    // Pieces may arrive out of order (the controller handles its messages concurrently): by seq.
    run.pieces.set(Number(d.seq), String(d.text || ''))
  } else if (ev.kind === 'node.command') {
    const run = runOf(d.runId, ev)
    run.command = d.command || run.command
    run.result = { outcome: ev.outcome || '', durationMs: d.durationMs, actor: ev.actor || '' }
  } else return
  render()
}

function ensurePanel() {
  if (panel) return panel
  const after = document.querySelector('[data-testid="nodes-panel"]')
  if (!after) return null
  panel = el(
    'section',
    { class: 'panel panel-metrics', 'data-testid': 'commands-panel', 'aria-labelledby': 'commands-h' },
    el('div', { class: 'panel-head' }, el('h2', { id: 'commands-h' }, 'Node commands')),
    el('div', { id: 'command-runs' }),
  )
  after.after(panel)
  return panel
}

function render() {
  if (!ensurePanel()) return
  panel.hidden = !isAdmin() || runs.size === 0
  const box = $('command-runs')
  clear(box)
  for (const [runId, run] of [...runs.entries()].reverse()) {
    const text = [...run.pieces.entries()]
      .sort((a, b) => a[0] - b[0])
      .map(([, t]) => t)
      .join('')
    const status = run.result
      ? `${run.result.outcome}${Number.isFinite(run.result.durationMs) ? ` in ${run.result.durationMs} ms` : ''}`
      : 'running…'
    box.append(
      el(
        'div',
        { 'data-testid': 'command-run', 'data-run': runId },
        el(
          'p',
          { class: 'small' },
          el('span', { class: 'mono' }, `${run.node} / ${run.container}: ${run.command}`),
          ` — ${status}`,
        ),
        el('div', { class: 'md' }, el('pre', null, text || '(no output yet)')),
      ),
    )
  }
}

// Only in a page (Node imports the dashboard's modules in tests; a timer there never ends).
if (typeof document !== 'undefined')
  setInterval(() => {
    if (!state.es || state.es === listening || !isAdmin()) return
    listening = state.es
    listening.addEventListener('audit', onAudit)
  }, 1000)
