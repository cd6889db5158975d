/**
 * The server side of bench/sse: one stream hub on 127.0.0.1 in its own process, so its RSS is the
 * hub's alone. Driven by its parent over IPC: it publishes on request and reports its memory.
 */
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { Redis } from 'ioredis'
import { createStreamHub } from '../../src/platform/stream/hub'

const TOKEN = process.env.BENCH_SSE_TOKEN ?? 'bench-token'
const hub = createStreamHub({
  verifyToken: (t) => (t === TOKEN ? { ok: true, role: 'viewer' } : null),
  heartbeatMs: 15_000,
  logMaxLen: 1000,
  maxClients: 100_000,
})
// Events reach the clients through the shared log, as in Sentinel (the parent's Redis).
const redis = new Redis({ host: '127.0.0.1', port: Number(process.env.BENCH_REDIS_PORT) })
await hub.attachLog(redis)
const server = http.createServer((req, res) => {
  if (req.url?.startsWith('/api/stream')) void hub.handler(req, res)
  else res.writeHead(404).end()
})
// The default backlog (511) is enough when the parent connects in batches; keep room anyway.
server.listen({ port: 0, host: '127.0.0.1', backlog: 4096 }, () => {
  process.send!({ type: 'listening', port: (server.address() as AddressInfo).port })
})

const nowMs = () => performance.timeOrigin + performance.now()
const publishMs: number[] = []
const gc = (globalThis as { gc?: () => void }).gc

// A realistic event: one metrics batch of a few readings (about 1 KB of JSON).
const readings = (seq: number) =>
  Array.from({ length: 6 }, (_, i) => ({
    series: `bench:${i}`,
    metric: (['cpu', 'memory', 'disk', 'latency'] as const)[i % 4],
    value: 40 + ((seq * 7 + i * 13) % 50),
    unit: i % 4 === 3 ? 'ms' : 'percent',
    resource: { kind: i < 3 ? 'host' : 'container', id: `res-${i}`, name: `resource-${i}` },
    at: new Date().toISOString(),
  }))

process.on('message', (msg: { type: string; seq?: number }) => {
  if (msg.type === 'publish') {
    const publishedAt = nowMs()
    hub.publish('metrics', { seq: msg.seq, publishedAt, readings: readings(msg.seq ?? 0) })
    // How long the hub's own work takes: serialise once, write to every socket.
    publishMs.push(nowMs() - publishedAt)
  } else if (msg.type === 'memory') {
    gc?.()
    process.send!({
      type: 'memory',
      rss: process.memoryUsage().rss,
      heapUsed: process.memoryUsage().heapUsed,
      clients: hub.clientCount(),
      stats: hub.stats(),
      publishMs,
    })
  } else if (msg.type === 'stop') {
    void hub.close().then(() => {
      server.closeAllConnections()
      server.close(() => process.exit(0))
    })
  }
})
process.on('disconnect', () => process.exit(0))
