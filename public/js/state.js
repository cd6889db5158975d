/*
 * The page's one shared state object and its constants. Every module reads and writes this object
 * rather than keeping copies, so an incident, a container or a series has one current version.
 */

export const KEY_STORAGE = 'sentinel.apiKey'

export const state = {
  key: null,
  role: null,
  token: null,
  tokenExpiresAt: 0,
  es: null,
  lastEventId: null,
  connected: false,
  retryTimer: null,
  retryDelay: 1000,
  retryAt: 0,
  /** Bumped on every sign-in and sign-out: answers to an older session are dropped. */
  generation: 0,
  incidents: new Map(),
  nextCursor: null,
  incidentFilter: 'all',
  selected: null,
  containers: new Map(),
  approvals: [],
  audit: [],
  /** GET /api/silences: active, pending, then recently ended. */
  silences: [],
  /** GET /api/notifications (admins), or null when there is none to show. */
  notifications: null,
  series: new Map(),
  seriesColors: new Map(),
  chartFilter: 'all',
  chartWindowMs: 60 * 60 * 1000,
  systemHealth: null,
  /** The live sampler's last `sample` event (ms) and how many came since the page loaded. */
  lastSampleAt: 0,
  samples: 0,
}

const RANK = { viewer: 0, operator: 1, admin: 2 }
export const rank = (r) => (r in RANK ? RANK[r] : -1)
export const isOperator = () => rank(state.role) >= RANK.operator

/** Mirrors the server's rule: operators decide low and medium risk, admins anything. */
export function canDecide(risk, approverRole) {
  if (rank(state.role) >= RANK.admin) return true
  if (rank(state.role) < RANK.operator) return false
  if (approverRole === 'admin') return false
  return risk === 'low' || risk === 'medium'
}
export const isAdmin = () => rank(state.role) >= RANK.admin
