/**
 * bench/sse: many concurrent SSE clients on one stream hub over real HTTP on 127.0.0.1.
 * Measures the delay from publish to arrival at every client and the hub process's RSS before
 * and after the clients connect. The hub runs in a child process (bench/sse/server.ts) so its
 * memory is its own; the clients run here, parsing the wire format themselves.
 *
 *   npx tsx bench/sse/run.ts [--clients 1000] [--events 50] [--interval 100]
 *
 * Each client holds one socket here and one in the hub process, so both need about `clients`
 * file descriptors: raise `ulimit -n` first if it is lower than clients + 100.
 * Bounded: gives up after --deadline seconds (default 180) and always stops the hub process.
 */
import { fork, type ChildProcess } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import http from 'node:http'
import path from 'node:path'
import { startRedis } from '../../tests/helpers/redis'
import { fileURLToPath } from 'node:url'
import { connectSse, type SseConnection } from '../../src/platform/stream/sse-client'
import { arg, machine, mib, ms, nowMs, quantile, sleep } from './common'

const here = path.dirname(fileURLToPath(import.meta.url))
const CLIENTS = arg('clients', 1000)
const EVENTS = arg('events', 50)
const INTERVAL_MS = arg('interval', 100)
const DEADLINE_S = arg('deadline', 180)
const BATCH = 100
const TOKEN = `bench-${Math.random().toString(36).slice(2)}`

function request<T>(child: ChildProcess, msg: object, reply: string): Promise<T> {
  return new Promise((resolve) => {
    const on = (m: { type: string }) => {
      if (m.type === reply) {
        child.off('message', on)
        resolve(m as T)
      }
    }
    child.on('message', on)
    child.send(msg)
  })
}

interface Memory {
  rss: number
  heapUsed: number
  clients: number
  stats: Record<string, number>
  publishMs: number[]
}

async function main() {
  // The hub delivers from its shared log in Redis (src/platform/stream/hub.ts): a Redis of its own.
  const redis = await startRedis()
  const child = fork(path.join(here, 'server.ts'), [], {
    execArgv: ['--import', 'tsx', '--expose-gc'],
    env: { ...process.env, BENCH_SSE_TOKEN: TOKEN, BENCH_REDIS_PORT: String(redis.port) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  })
  const deadline = setTimeout(() => {
    console.error(`bench/sse: gave up after ${DEADLINE_S} s`)
    child.kill('SIGKILL')
    process.exit(1)
  }, DEADLINE_S * 1000)
  deadline.unref()

  const clients: SseConnection[] = []
  try {
    const { port } = await new Promise<{ port: number }>((resolve, reject) => {
      child.once('message', (m: { type: string; port: number }) =>
        m.type === 'listening' ? resolve(m) : reject(new Error('unexpected message')),
      )
      child.once('exit', (code) => reject(new Error(`hub process exited with ${code}`)))
    })
    const url = `http://127.0.0.1:${port}/api/stream?token=${TOKEN}`
    await sleep(200)
    const before = await request<Memory>(child, { type: 'memory' }, 'memory')

    // seq → arrival times of that event at each client (wall clock of this process).
    const arrivals = new Map<number, number[]>()
    const publishedAt = new Map<number, number>()
    const requestedAt = new Map<number, number>()
    const agent = new http.Agent({ keepAlive: false, maxSockets: Infinity })
    const connectStarted = nowMs()
    for (let i = 0; i < CLIENTS; i += BATCH) {
      const batch = await Promise.all(
        Array.from({ length: Math.min(BATCH, CLIENTS - i) }, () => connectSse(url, {}, agent)),
      )
      for (const c of batch) {
        if (c.status !== 200) throw new Error(`a client got HTTP ${c.status}`)
        c.onEvent = (e) => {
          if (e.event !== 'metrics') return
          const data = JSON.parse(e.data) as { seq: number; publishedAt: number }
          publishedAt.set(data.seq, data.publishedAt)
          let list = arrivals.get(data.seq)
          if (!list) arrivals.set(data.seq, (list = []))
          list.push(e.receivedAt)
        }
        clients.push(c)
      }
    }
    // The hub counts a client once its response headers are out; wait until it sees them all.
    for (let i = 0; ; i++) {
      const m = await request<Memory>(child, { type: 'memory' }, 'memory')
      if (m.clients === CLIENTS) break
      if (i > 100) throw new Error(`the hub sees ${m.clients} of ${CLIENTS} clients`)
      await sleep(100)
    }
    const connectMs = nowMs() - connectStarted
    await sleep(500)
    const connected = await request<Memory>(child, { type: 'memory' }, 'memory')

    for (let seq = 1; seq <= EVENTS; seq++) {
      requestedAt.set(seq, nowMs())
      child.send({ type: 'publish', seq })
      const waitStart = Date.now()
      while ((arrivals.get(seq)?.length ?? 0) < CLIENTS) {
        if (Date.now() - waitStart > 15_000)
          throw new Error(`event ${seq} reached ${arrivals.get(seq)?.length ?? 0} of ${CLIENTS} clients in 15 s`)
        await sleep(1)
      }
      await sleep(INTERVAL_MS)
    }
    const after = await request<Memory>(child, { type: 'memory' }, 'memory')

    const delays: number[] = []
    const delaysFromRequest: number[] = []
    const lastClient: number[] = []
    for (let seq = 1; seq <= EVENTS; seq++) {
      const list = arrivals.get(seq)!
      const pub = publishedAt.get(seq)!
      for (const t of list) {
        delays.push(t - pub)
        delaysFromRequest.push(t - requestedAt.get(seq)!)
      }
      lastClient.push(Math.max(...list) - pub)
    }

    const result = {
      machine: machine(),
      clients: CLIENTS,
      events: EVENTS,
      deliveries: delays.length,
      connectAllMs: Math.round(connectMs),
      delayMs: { p50: quantile(delays, 0.5), p99: quantile(delays, 0.99), max: Math.max(...delays) },
      delayFromRequestMs: { p50: quantile(delaysFromRequest, 0.5), p99: quantile(delaysFromRequest, 0.99) },
      hubPublishCallMs: { p50: quantile(after.publishMs, 0.5), p99: quantile(after.publishMs, 0.99) },
      lastClientMs: { p50: quantile(lastClient, 0.5), p99: quantile(lastClient, 0.99) },
      hubRss: {
        before: before.rss,
        connected: connected.rss,
        afterEvents: after.rss,
        perClientBytes: Math.round((connected.rss - before.rss) / CLIENTS),
      },
      hubStats: after.stats,
    }

    console.log(`bench/sse — ${CLIENTS} SSE clients, ${EVENTS} events (~1 KB each), one hub over HTTP on 127.0.0.1`)
    console.log(
      `machine: ${result.machine.cpu}, ${result.machine.cores} cores, ${result.machine.memory}, node ${result.machine.node}, ${result.machine.os}, open files ${result.machine.fdLimit}`,
    )
    console.log(`connect all ${CLIENTS}: ${result.connectAllMs} ms`)
    console.log(
      `publish → arrival, every client × event (${delays.length}): p50 ${ms(result.delayMs.p50)}, p99 ${ms(result.delayMs.p99)}, max ${ms(result.delayMs.max)}`,
    )
    console.log(
      `publish → arrival at the last client of each event: p50 ${ms(result.lastClientMs.p50)}, p99 ${ms(result.lastClientMs.p99)}`,
    )
    console.log(
      `hub.publish() itself (serialise once, write to ${CLIENTS} sockets): p50 ${ms(result.hubPublishCallMs.p50)}, p99 ${ms(result.hubPublishCallMs.p99)}; the rest is the kernel and the ${CLIENTS} clients parsing in one process`,
    )
    console.log(
      `(request over IPC → arrival, same clock: p50 ${ms(result.delayFromRequestMs.p50)}, p99 ${ms(result.delayFromRequestMs.p99)})`,
    )
    console.log(
      `hub process RSS: before ${mib(before.rss)}, with ${CLIENTS} clients ${mib(connected.rss)} (+${mib(connected.rss - before.rss)}, ~${(result.hubRss.perClientBytes / 1024).toFixed(1)} KiB per client), after the events ${mib(after.rss)}`,
    )
    console.log(
      `hub: ${after.stats.published} published, ${after.stats.dropped} dropped, ${after.stats.clients} clients`,
    )
    const dir = path.join(here, 'results')
    mkdirSync(dir, { recursive: true })
    const file = path.join(dir, `sse-${new Date().toISOString().replace(/[:.]/g, '-')}.json`)
    writeFileSync(file, JSON.stringify(result, null, 2))
    console.log(`results: ${path.relative(process.cwd(), file)}`)
  } finally {
    for (const c of clients) c.close()
    child.send({ type: 'stop' })
    await new Promise((r) => {
      const t = setTimeout(() => {
        child.kill('SIGKILL')
        r(null)
      }, 5000)
      child.once('exit', () => {
        clearTimeout(t)
        r(null)
      })
    })
    clearTimeout(deadline)
    // Its server and data directory go with it.
    await redis.stop()
  }
}

main().catch((err) => {
  console.error(err)
  process.exit(1)
})
