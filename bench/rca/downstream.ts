/**
 * The HTTP endpoints Sentinel probes (PROBE_TARGETS) in the slow-downstream and transient cases:
 * one local server, each path with its own behaviour. Fast by default; `slow` answers every
 * request after a delay until it is set back; `spike` answers the next `requests` requests slowly,
 * then fast again (counted by request, not by time, so the spike covers a known number of probe
 * ticks whatever the tick's timing). The server does no work while it waits: CPU stays idle.
 */
import http from 'node:http'
import type { AddressInfo } from 'node:net'

export type PathBehaviour =
  { kind: 'fast' } | { kind: 'slow'; ms: number; jitterMs?: number } | { kind: 'spike'; ms: number; requests: number }

export interface Downstream {
  /** The full URL of a path (with its query string). */
  url(pathAndQuery: string): string
  set(pathAndQuery: string, behaviour: PathBehaviour): void
  /** Requests served per path, and how many of them slowly. */
  served(pathAndQuery: string): { total: number; slow: number }
  close(): Promise<void>
}

export async function startDownstream(): Promise<Downstream> {
  const behaviour = new Map<string, PathBehaviour>()
  const counts = new Map<string, { total: number; slow: number }>()
  const timers = new Set<NodeJS.Timeout>()
  const server = http.createServer((req, res) => {
    const key = req.url ?? '/'
    const b = behaviour.get(key) ?? { kind: 'fast' }
    const c = counts.get(key) ?? { total: 0, slow: 0 }
    counts.set(key, c)
    c.total++
    let delay = 0
    if (b.kind === 'slow') delay = b.ms + (b.jitterMs ? Math.round((Math.random() * 2 - 1) * b.jitterMs) : 0)
    if (b.kind === 'spike' && b.requests > 0) {
      delay = b.ms
      b.requests--
    }
    if (delay > 0) c.slow++
    const answer = () => {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ ok: true, path: key }))
    }
    if (delay <= 0) return answer()
    const t = setTimeout(() => {
      timers.delete(t)
      answer()
    }, delay)
    timers.add(t)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: (p) => `http://127.0.0.1:${port}${p}`,
    set: (p, b) => behaviour.set(p, { ...b }),
    served: (p) => ({ ...(counts.get(p) ?? { total: 0, slow: 0 }) }),
    close() {
      for (const t of timers) clearTimeout(t)
      server.closeAllConnections()
      return new Promise((resolve) => server.close(() => resolve()))
    },
  }
}
