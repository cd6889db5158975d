/**
 * Which incident each chaos fault caused: the first incident of the kind the fault provokes, on
 * its container (or, for faults that are not on a container, anywhere), opened from the fault's
 * time until a while after it ended. Each incident is credited to one fault at most.
 */
import type { Incident } from '../platform/store/model'
import type { FaultRecord } from './types'

export interface FaultIncident {
  id: string
  type: Incident['type']
  status: Incident['status']
  openedAt: string
  resolvedAt?: string
  /** The incident was already open for an earlier fault when this one struck (one incident per problem). */
  shared?: boolean
}

/** How long after a fault ended its incident may still open (detection waits for `for` windows). */
export const MATCH_WINDOW_MS = 15 * 60_000
// Docker's event time and the engine's clock are read separately: allow a little skew.
const SKEW_MS = 2000

const onContainer = (f: FaultRecord, i: Incident) =>
  !!f.container &&
  i.resource.kind === 'container' &&
  (i.resource.id === f.container.id || i.resource.name === f.container.name)

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]', '::1'])

/**
 * Does a latency incident's probe URL point at the paused container? Yes when its host and port
 * are among the container's endpoints (a published port on every address also answers on
 * loopback and the host's addresses). Unknown (a fault recorded without endpoints, a resource
 * that is no URL) counts as yes: the type and the time decide, as before.
 */
export function probesContainer(f: FaultRecord, i: Incident): boolean {
  const endpoints = f.container?.endpoints
  if (!endpoints) return true
  let url: URL
  try {
    url = new URL(i.resource.name)
  } catch {
    return true
  }
  const port = url.port || (url.protocol === 'https:' ? '443' : '80')
  const host = url.hostname
  return endpoints.some((e) => {
    const at = e.lastIndexOf(':')
    const [h, p] = [e.slice(0, at), e.slice(at + 1)]
    if (p !== port) return false
    return h === '*' || h === host || (LOOPBACK.has(h) && LOOPBACK.has(host))
  })
}

export function provokes(f: FaultRecord, i: Incident): boolean {
  switch (f.kind) {
    case 'kill':
      return i.type === 'container_down' && onContainer(f, i)
    case 'cpu':
      return (
        (i.type === 'cpu' && (onContainer(f, i) || i.resource.kind === 'host')) ||
        (i.type === 'anomaly' && onContainer(f, i))
      )
    case 'slowProbe':
      // A paused target makes probes to it slow (an endpoint's latency), and may fail its health check.
      return (
        (i.type === 'latency' && probesContainer(f, i)) ||
        ((i.type === 'container_unhealthy' || i.type === 'container_down') && onContainer(f, i))
      )
    case 'fillTemp':
      return (
        (i.type === 'disk' || (i.type === 'anomaly' && i.resource.kind === 'filesystem')) &&
        (!f.filesystem || i.resource.name === f.filesystem)
      )
  }
}

/** faultId → its incident, for injected faults; incidents in any order. */
export function matchFaultsToIncidents(faults: FaultRecord[], incidents: Incident[]): Map<string, FaultIncident> {
  const out = new Map<string, FaultIncident>()
  const taken = new Set<string>()
  const byTime = [...incidents].sort((a, b) => Date.parse(a.openedAt) - Date.parse(b.openedAt))
  const injected = faults.filter((f) => f.outcome === 'injected').sort((a, b) => Date.parse(a.at) - Date.parse(b.at))
  for (const f of injected) {
    const from = Date.parse(f.at) - SKEW_MS
    const to = Date.parse(f.endedAt ?? f.at) + MATCH_WINDOW_MS
    const at = Date.parse(f.at)
    // Struck while an incident for the same problem was already open (opened before the fault,
    // beyond the clock skew, and not resolved by then): Sentinel notes it on that one. Checked
    // first, so that a later fault's own incident is not credited to this one.
    let hit = byTime.find(
      (i) =>
        // Opened before the fault: beyond the skew, or credited to an earlier fault already.
        (Date.parse(i.openedAt) < from || (taken.has(i.id) && Date.parse(i.openedAt) <= at)) &&
        (!i.resolvedAt || Date.parse(i.resolvedAt) >= at - SKEW_MS) &&
        provokes(f, i),
    )
    const shared = !!hit
    hit ??= byTime.find(
      (i) => !taken.has(i.id) && Date.parse(i.openedAt) >= from && Date.parse(i.openedAt) <= to && provokes(f, i),
    )
    if (!hit) continue
    if (!shared) taken.add(hit.id)
    out.set(f.faultId, {
      id: hit.id,
      type: hit.type,
      status: hit.status,
      openedAt: hit.openedAt,
      ...(hit.resolvedAt ? { resolvedAt: hit.resolvedAt } : {}),
      ...(shared ? { shared } : {}),
    })
  }
  return out
}
