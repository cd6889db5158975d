/*
 * Panels that poll one GET while the console is shown (Nodes, Controllers, Deploys): the live
 * stream carries no event for what they show. One loop per panel, looking every second: a new
 * session (another key) clears the panel at once and loads within a second, then every `everyMs`.
 * A failed answer keeps the last view and says why in the panel's note (a 401 signs out, in
 * api.js). The timer starts only in a page: modules are imported by Node in tests too, where a
 * timer would keep the process alive for ever.
 */
import { api } from './api.js'
import { $ } from './dom.js'
import { state } from './state.js'

const TICK_MS = 1000

/**
 * `path`: the GET; `render(body)`: draws an answer (null: a new session's empty panel); `noteId`:
 * the element that says why the view is old; `what`: the words after "Could not load".
 * Returns `load()`, to poll now (after an action changed what the panel shows).
 */
export function pollPanel({ path, everyMs, render, noteId, what }) {
  let lastAt = 0
  let lastGeneration = -1
  let inFlight = false

  async function load() {
    const gen = state.generation
    inFlight = true
    try {
      const body = await api(path)
      if (gen !== state.generation) return
      if ($(noteId)) $(noteId).hidden = true
      render(body)
    } catch (err) {
      if (gen === state.generation && err.status !== 401 && $(noteId)) {
        $(noteId).textContent = `Could not load ${what}: ${err.message}`
        $(noteId).hidden = false
      }
    } finally {
      inFlight = false
    }
  }

  function tick() {
    if (!state.key || $('app').hidden || inFlight) return
    const now = Date.now()
    if (state.generation !== lastGeneration) {
      lastGeneration = state.generation
      render(null)
    } else if (now - lastAt < everyMs) return
    lastAt = now
    load()
  }

  if (typeof document !== 'undefined') setInterval(tick, TICK_MS)
  return { load }
}
