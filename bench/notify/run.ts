/**
 * bench/notify (`npm run bench:notify`): how fast an incident reaches a person's pager.
 *
 * A real Redis, the real incident store (whose writes append the outbox entries in the same Lua
 * script), the notifier as the main process runs it, and the real webhook receiver (signed HTTP
 * POST) to a local receiver that verifies each signature. Per run:
 *
 *   latency     --incidents (default 1 000) incidents opened one after another at --rate per
 *               second (default 50, a storm): from the store's write to the webhook request
 *               received, p50 / p99 / max;
 *   throughput  the same number opened at once while the notifier is stopped, then the notifier
 *               started: outbox entries routed per second, and deliveries per second until the last
 *               webhook request arrives (the backlog after a restart).
 *
 * --runs (default 3) runs, each with a fresh Redis database; the table quotes the median of the
 * runs beside each run. The machine is shared: compare runs with each other, not with a constant.
 *
 *   npm run bench:notify -- [--incidents 1000] [--rate 50] [--runs 3] [--concurrency 8]
 */
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { randomBytes } from 'node:crypto'
import { IncidentStore } from '../../src/platform/store/incidents'
import type { Alert } from '../../src/platform/store/model'
import type { NotifyConfig } from '../../src/notify/config'
import { startNotifier } from '../../src/notify/notifier'
import { createReceiver } from '../../src/notify/receivers/index'
import { verifyWebhookSignature, WEBHOOK_HEADERS } from '../../src/notify/receivers/webhook'
import { secretReader } from '../../src/notify/secret'
import { startRedis } from '../../tests/helpers/redis'
import { arg, machine, nowMs, quantile, sleep } from '../sse/common'

const INCIDENTS = arg('incidents', 1000)
const RATE = arg('rate', 50)
const RUNS = arg('runs', 3)
const CONCURRENCY = arg('concurrency', 8)
const SECRET = randomBytes(24).toString('hex')

/** A local webhook receiver: verifies the signature, notes when each key first arrived. */
async function receiver() {
  const firstSeen = new Map<string, number>()
  let bad = 0
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c) => chunks.push(c))
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8')
      const ok = verifyWebhookSignature(
        SECRET,
        String(req.headers[WEBHOOK_HEADERS.timestamp.toLowerCase()] ?? ''),
        String(req.headers[WEBHOOK_HEADERS.signature.toLowerCase()] ?? ''),
        raw,
        Math.floor(Date.now() / 1000),
      )
      if (!ok) bad++
      const key = String(req.headers[WEBHOOK_HEADERS.idempotencyKey.toLowerCase()] ?? '')
      if (!firstSeen.has(key)) firstSeen.set(key, nowMs())
      res.writeHead(ok ? 200 : 401, { 'content-type': 'application/json' }).end('{"ok":true}')
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    firstSeen,
    bad: () => bad,
    close: () => new Promise<void>((r) => server.close(() => r())),
  }
}

const alert = (n: number, run: string): Alert => ({
  fingerprint: `bench-notify-${run}-${n}`,
  type: 'anomaly',
  severity: 'critical',
  metric: 'bench',
  value: 1,
  threshold: 0,
  resource: { kind: 'series', id: `bench-${run}-${n}`, name: `bench-${run}-${n}` },
  labels: {},
  source: 'bench',
  at: new Date().toISOString(),
})

async function oneRun(runNo: number) {
  const redis = await startRedis()
  const hook = await receiver()
  const run = `${runNo}-${randomBytes(3).toString('hex')}`
  const config: NotifyConfig = {
    source: 'bench',
    receivers: [],
    route: {
      receiver: 'hook',
      matchers: [],
      continue: false,
      groupWaitMs: 0,
      repeatIntervalMs: 3_600_000,
      events: ['opened'],
      quietHours: [],
      routes: [],
    },
    escalation: null,
    delivery: { maxAttempts: 5, backoffBaseMs: 200, backoffMaxMs: 2000, timeoutMs: 10_000, concurrency: CONCURRENCY },
  }
  const hookReceiver = createReceiver(
    { name: 'hook', webhook: { url: hook.url, secret: { env: 'BENCH_HOOK_SECRET' }, timeout_seconds: 10 } } as never,
    { redis: redis.client, secret: secretReader({ BENCH_HOOK_SECRET: SECRET }) },
  )
  const store = new IncidentStore(redis.client)
  const start = () =>
    startNotifier({
      redis: redis.client,
      config,
      receivers: new Map([['hook', hookReceiver]]),
      getIncident: (id) => store.get(id),
      silences: { mutedBy: async () => null },
      metrics: { notification: async () => {} },
      log: () => {},
      tickMs: 50,
    })
  try {
    // Latency: a steady stream of incidents.
    let notifier = start()
    const opened = new Map<string, number>()
    const gap = 1000 / RATE
    const t0 = nowMs()
    for (let n = 0; n < INCIDENTS; n++) {
      const due = t0 + n * gap
      const wait = due - nowMs()
      if (wait > 0) await sleep(wait)
      const at = nowMs()
      const { incident } = await store.open(alert(n, `${run}-l`), { title: 'bench', actor: 'bench' })
      opened.set(`${incident.id}:opened:hook`, at)
    }
    const deadline = nowMs() + 120_000
    while (hook.firstSeen.size < INCIDENTS && nowMs() < deadline) await sleep(50)
    const latencies = [...opened].flatMap(([key, at]) => {
      const seen = hook.firstSeen.get(key)
      return seen === undefined ? [] : [seen - at]
    })
    await notifier.stop()

    // Throughput: a backlog, as after a restart.
    hook.firstSeen.clear()
    for (let n = 0; n < INCIDENTS; n++) await store.open(alert(n, `${run}-t`), { title: 'bench', actor: 'bench' })
    const outboxBefore = await redis.client.xlen('sentinel:notify:outbox')
    const t1 = nowMs()
    notifier = start()
    let routedAt = 0
    while (hook.firstSeen.size < INCIDENTS && nowMs() < t1 + 120_000) {
      if (!routedAt && (await redis.client.xlen('sentinel:notify:outbox')) === 0) routedAt = nowMs()
      await sleep(20)
    }
    const t2 = nowMs()
    await notifier.stop()
    return {
      delivered: latencies.length,
      p50: quantile(latencies, 0.5),
      p99: quantile(latencies, 0.99),
      max: Math.max(...latencies),
      routedPerSecond: outboxBefore / (((routedAt || t2) - t1) / 1000),
      deliveredPerSecond: hook.firstSeen.size / ((t2 - t1) / 1000),
      backlogDelivered: hook.firstSeen.size,
      badSignatures: hook.bad(),
    }
  } finally {
    await hook.close()
    await redis.stop()
  }
}

async function main() {
  const m = machine()
  console.log(`machine: ${m.cpu}, ${m.cores} cores, ${m.memory}, node ${m.node}, ${m.os}`)
  console.log(
    `incidents per run: ${INCIDENTS} (latency phase at ${RATE}/s), runs: ${RUNS}, delivery concurrency: ${CONCURRENCY}`,
  )
  const results: Awaited<ReturnType<typeof oneRun>>[] = []
  for (let r = 1; r <= RUNS; r++) {
    const res = await oneRun(r)
    results.push(res)
    console.log(
      `run ${r}: opened→webhook p50 ${res.p50.toFixed(1)} ms, p99 ${res.p99.toFixed(1)} ms, max ${res.max.toFixed(1)} ms (${res.delivered}/${INCIDENTS}); ` +
        `backlog: routed ${res.routedPerSecond.toFixed(0)}/s, delivered ${res.deliveredPerSecond.toFixed(0)}/s (${res.backlogDelivered}/${INCIDENTS}); bad signatures ${res.badSignatures}`,
    )
  }
  const median = (pick: (r: (typeof results)[number]) => number) => quantile(results.map(pick), 0.5)
  console.log(
    `median of ${RUNS}: p50 ${median((r) => r.p50).toFixed(1)} ms, p99 ${median((r) => r.p99).toFixed(1)} ms, ` +
      `outbox routed ${median((r) => r.routedPerSecond).toFixed(0)}/s, delivered ${median((r) => r.deliveredPerSecond).toFixed(0)}/s`,
  )
  console.log(JSON.stringify({ machine: m, incidents: INCIDENTS, rate: RATE, results }))
}

main().catch((err) => {
  console.error(err)
  process.exit(1)
})
