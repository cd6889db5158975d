/**
 * bench/sse on a real Sentinel (`npm run bench:sse`): starts Redis and Sentinel, connects many
 * SSE clients to GET /api/stream with stream tokens, then publishes events the way a step
 * process does (Redis pub/sub → the hub in Sentinel's main process → every client). Prints the
 * delay from publish to arrival at every client (p50, p99) and Sentinel's main-process RSS
 * before and after the clients connect.
 *
 *   npm run bench:sse -- [--clients 1000] [--events 50] [--interval 100] [--deadline 300]
 *
 * Publisher and clients run in this process, so one clock measures both ends. Each client holds a
 * socket here and one in Sentinel: both need about `clients` file descriptors.
 * (bench/sse/run.ts measures the hub alone, without Sentinel around it.)
 */
import { readFileSync } from 'node:fs'
import http from 'node:http'
import { Redis } from 'ioredis'
import { connectSse, type SseConnection } from '../../src/platform/stream/sse-client'
import { publishToStream } from '../../src/platform/stream/publish'
import { startRedis, type TestRedis } from '../../tests/helpers/redis'
import { startSentinel, type SentinelInstance } from '../../tests/helpers/sentinel'
import { arg, machine, mib, ms, nowMs, quantile, sleep } from './common'

const CLIENTS = arg('clients', 1000)
const EVENTS = arg('events', 50)
const INTERVAL_MS = arg('interval', 100)
const DEADLINE_S = arg('deadline', 300)
const BATCH = 100

/** Resident memory of one process, from /proc (the main process only, not its step children). */
function rssOf(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return m ? Number(m[1]) * 1024 : NaN
}

async function main() {
  let redis: TestRedis | undefined
  let sentinel: SentinelInstance | undefined
  let publisher: Redis | undefined
  const clients: SseConnection[] = []
  const deadline = setTimeout(() => {
    console.error(`bench/sse: gave up after ${DEADLINE_S} s`)
    void cleanup().finally(() => process.exit(1))
  }, DEADLINE_S * 1000)
  deadline.unref()
  const cleanup = async () => {
    for (const c of clients) c.close()
    publisher?.disconnect()
    await sentinel?.cleanup()
    await redis?.stop()
  }
  try {
    redis = await startRedis()
    sentinel = await startSentinel({ redisPort: redis.port })
    publisher = new Redis({ host: '127.0.0.1', port: redis.port, lazyConnect: false })
    await sleep(2000)
    const pid = sentinel.pid()
    const before = rssOf(pid)

    const arrivals = new Map<number, number[]>()
    const publishedAt = new Map<number, number>()
    const agent = new http.Agent({ keepAlive: false, maxSockets: Infinity })
    const connectStarted = nowMs()
    for (let i = 0; i < CLIENTS; i += BATCH) {
      // Tokens live a minute: a fresh one per batch.
      const t = await sentinel.post('/api/stream/token', {}, 'viewer')
      if (t.status !== 200) throw new Error(`token: HTTP ${t.status}`)
      const url = `${sentinel.url}/api/stream?token=${encodeURIComponent(t.body.token)}`
      const batch = await Promise.all(
        Array.from({ length: Math.min(BATCH, CLIENTS - i) }, () => connectSse(url, {}, agent)),
      )
      for (const c of batch) {
        if (c.status !== 200) throw new Error(`a client got HTTP ${c.status}: ${c.body}`)
        c.onEvent = (e) => {
          if (e.event !== 'metrics') return
          const data = JSON.parse(e.data) as { seq?: number }
          if (typeof data.seq !== 'number' || !publishedAt.has(data.seq)) return
          let list = arrivals.get(data.seq)
          if (!list) arrivals.set(data.seq, (list = []))
          list.push(e.receivedAt)
        }
        clients.push(c)
      }
    }
    await Promise.all(clients.map((c) => c.waitFor((x) => x.events.some((e) => e.event === 'ready'), 30_000, 'ready')))
    const connectMs = nowMs() - connectStarted
    await sleep(1000)
    const connected = rssOf(pid)

    for (let seq = 1; seq <= EVENTS; seq++) {
      const at = nowMs()
      publishedAt.set(seq, at)
      const readings = Array.from({ length: 6 }, (_, i) => ({
        series: `bench:${i}`,
        metric: 'cpu',
        value: 40 + ((seq * 7 + i * 13) % 50),
        unit: 'percent',
        resource: { kind: 'host', id: `res-${i}`, name: `resource-${i}` },
        at: new Date().toISOString(),
      }))
      const hubs = await publishToStream(publisher, 'metrics', { seq, readings, bench: true })
      if (hubs !== 1) throw new Error(`${hubs} hubs are listening on Redis, expected Sentinel's one`)
      const waitStart = Date.now()
      while ((arrivals.get(seq)?.length ?? 0) < CLIENTS) {
        if (Date.now() - waitStart > 15_000)
          throw new Error(`event ${seq} reached ${arrivals.get(seq)?.length ?? 0} of ${CLIENTS} clients in 15 s`)
        await sleep(1)
      }
      await sleep(INTERVAL_MS)
    }
    const after = rssOf(pid)
    const dropped = clients.filter((c) => c.ended).length

    const delays: number[] = []
    const lastClient: number[] = []
    for (let seq = 1; seq <= EVENTS; seq++) {
      const list = arrivals.get(seq)!
      const pub = publishedAt.get(seq)!
      for (const t of list) delays.push(t - pub)
      lastClient.push(Math.max(...list) - pub)
    }
    const m = machine()
    console.log(
      `bench/sse on Sentinel — ${CLIENTS} SSE clients on GET /api/stream, ${EVENTS} events published through Redis as a step would`,
    )
    console.log(`machine: ${m.cpu}, ${m.cores} cores, ${m.memory}, node ${m.node}, ${m.os}, open files ${m.fdLimit}`)
    console.log(`connect all ${CLIENTS} (token per 100): ${Math.round(connectMs)} ms`)
    console.log(
      `publish → arrival, every client × event (${delays.length}): p50 ${ms(quantile(delays, 0.5))}, p99 ${ms(quantile(delays, 0.99))}, max ${ms(Math.max(...delays))}`,
    )
    console.log(
      `publish → arrival at the last client of each event: p50 ${ms(quantile(lastClient, 0.5))}, p99 ${ms(quantile(lastClient, 0.99))}`,
    )
    console.log(
      `Sentinel main-process RSS: before ${mib(before)}, with ${CLIENTS} clients ${mib(connected)} (+${mib(connected - before)}), after the events ${mib(after)}`,
    )
    console.log(`clients dropped: ${dropped}`)
  } finally {
    clearTimeout(deadline)
    await cleanup()
  }
}

main().catch((err) => {
  console.error(err)
  process.exit(1)
})
