/*
 * The live stream: a stream token for the key (EventSource cannot send headers, so the key never
 * goes in a URL), GET /api/stream, and reconnection by itself with Last-Event-ID and a fresh token,
 * with backoff and an offline banner. What each event does is given by main.js (setStreamHandlers).
 */
import { api } from './api.js'
import { $ } from './dom.js'
import { state } from './state.js'

let handlers = {}
let onFreshOpen = () => {}

/** `events`: event type -> function(data); `fresh`: called when a stream opens with no resume point. */
export function setStreamHandlers(events, fresh) {
  handlers = events
  onFreshOpen = fresh
}

export function setConn(kind, text) {
  const pill = $('conn-status')
  pill.dataset.state = kind
  pill.querySelector('.pill-text').textContent = text
}

export function disconnect() {
  if (state.es) {
    state.es.close()
    state.es = null
  }
  if (state.retryTimer) {
    clearTimeout(state.retryTimer)
    state.retryTimer = null
  }
  state.connected = false
}

async function streamToken() {
  // Tokens are only checked when a stream opens; reuse one with time to spare.
  if (state.token && state.tokenExpiresAt * 1000 - Date.now() > 10_000) return state.token
  const res = await api('/api/stream/token', { method: 'POST', body: {} })
  state.token = res.token
  // expiresAt may be unix seconds or an ISO string.
  const exp = typeof res.expiresAt === 'number' ? res.expiresAt : Date.parse(res.expiresAt) / 1000
  state.tokenExpiresAt = Number.isFinite(exp) ? exp : 0
  return state.token
}

export async function connect() {
  disconnect()
  const gen = state.generation
  setConn('connecting', 'Connecting…')
  let token
  try {
    token = await streamToken()
  } catch (err) {
    if (gen !== state.generation || !state.key) return
    scheduleReconnect(err.status === 0 ? 'Sentinel is unreachable' : `stream token refused (${err.message})`)
    return
  }
  if (gen !== state.generation) return
  const params = new URLSearchParams({ token })
  // A new EventSource does not carry the previous one's Last-Event-ID: pass it in the URL.
  if (state.lastEventId) params.set('lastEventId', state.lastEventId)
  const resuming = Boolean(state.lastEventId)
  const es = new EventSource(`/api/stream?${params}`)
  state.es = es
  let openedAt = 0
  es.onopen = () => {
    if (state.es !== es) return
    openedAt = Date.now()
    state.connected = true
    state.retryDelay = 1000
    $('offline-banner').hidden = true
    setConn('live', 'Live')
    // Without a resume point anything may have changed: load the current state.
    if (!resuming) onFreshOpen()
  }
  es.onerror = () => {
    if (state.es !== es) return
    // The browser would retry with the same (possibly expired) token: take over with a fresh one.
    es.close()
    state.es = null
    state.connected = false
    state.token = null
    scheduleReconnect('the live stream was interrupted')
  }
  const on = (type, fn) =>
    es.addEventListener(type, (e) => {
      if (e.lastEventId) state.lastEventId = e.lastEventId
      let data = null
      try {
        data = JSON.parse(e.data)
      } catch {
        return
      }
      try {
        fn(data)
      } catch (err) {
        console.error('event handler failed', type, err)
      }
    })
  for (const [type, fn] of Object.entries(handlers)) on(type, fn)
  // The server ends a stream whose key was revoked or whose token expired a while ago, after
  // this event (its id is where the stream stands, so the reconnect misses nothing). Reconnect
  // with a new token at once, without the offline banner; a revoked key is refused that token
  // and signs out. A stream that asks again right after opening goes through the backoff, so a
  // server that keeps asking cannot make the page loop.
  on('reauth', () => {
    if (state.es !== es) return
    es.close()
    state.es = null
    state.connected = false
    state.token = null
    if (Date.now() - openedAt < 10_000) scheduleReconnect('the live stream asked for a new sign-in')
    else connect()
  })
  // Only records the stream's position (done by on()), so a reconnect resumes from here.
  on('ready', () => {})
}

function scheduleReconnect(why) {
  if (!state.key) return
  state.connected = false
  const delay = state.retryDelay
  state.retryDelay = Math.min(state.retryDelay * 2, 30_000)
  state.retryAt = Date.now() + delay
  setConn('offline', 'Offline')
  $('offline-banner').hidden = false
  updateOfflineText(why)
  if (state.retryTimer) clearTimeout(state.retryTimer)
  state.retryTimer = setTimeout(() => {
    state.retryTimer = null
    connect()
  }, delay)
}

let offlineWhy = ''
export function updateOfflineText(why) {
  if (why) offlineWhy = why
  const left = Math.max(0, Math.ceil((state.retryAt - Date.now()) / 1000))
  $('offline-text').textContent =
    `Live updates are paused: ${offlineWhy}. ${left > 0 ? `Reconnecting in ${left}s…` : 'Reconnecting…'}`
}
