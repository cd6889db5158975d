/**
 * bench/steps: what tracing costs a step. Each run is a fresh node process (as Motia runs a step)
 * executing bench/steps/step.ts, a faithful stand-in for the ResolveIncident step (see there), on
 * a fresh open incident in a real Redis. Runs alternate between tracing off (no OTEL_* variable)
 * and tracing on (OTLP/HTTP to a local receiver started here, which checks the spans arrive).
 *
 *   npx tsx bench/steps/run.ts [--runs 30] [--json]
 *
 * Reports the medians (and p90) of the process's wall time (spawn to exit, as the parent sees it)
 * and of the handler's own time (including the span flush), the on/off ratios and the machine.
 */
import { execFile } from 'node:child_process'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { startRedis } from '../../tests/helpers/redis'

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`)
  return i > 0 ? Number(process.argv[i + 1]) : fallback
}
const RUNS = Math.max(1, arg('runs', 30))
const WARMUP = 2
const JSON_OUT = process.argv.includes('--json')
const ROOT = path.resolve(import.meta.dirname, '../..')
const STEP = path.join(import.meta.dirname, 'step.ts')

const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b)
  const pos = (s.length - 1) * q
  const lo = Math.floor(pos)
  return s[lo] + (s[Math.min(lo + 1, s.length - 1)] - s[lo]) * (pos - lo)
}

interface RunResult {
  wallMs: number
  handlerMs: number
}

function runStep(env: Record<string, string>): Promise<RunResult> {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('OTEL_')))
  const t0 = performance.now()
  return new Promise((resolve, reject) =>
    execFile(
      process.execPath,
      ['--import', 'tsx', STEP],
      { cwd: ROOT, env: { ...clean, ...env }, timeout: 60_000 },
      (err, stdout, stderr) => {
        const wallMs = performance.now() - t0
        if (err) return reject(new Error(`step failed: ${err.message}\n${stderr}`))
        const line = stdout.trim().split('\n').pop() ?? ''
        resolve({ wallMs, handlerMs: (JSON.parse(line) as { handlerMs: number }).handlerMs })
      },
    ),
  )
}

async function main() {
  // The step's modules read Sentinel's configuration; point it at the bench's Redis.
  const redis = await startRedis()
  process.env.REDIS_PORT = String(redis.port)
  process.env.REDIS_HOST = '127.0.0.1'
  const { IncidentStore } = await import('../../src/platform/store/incidents')
  const { incidentTraceparent } = await import('../../src/platform/telemetry/tracing')
  const store = new IncidentStore(redis.client)

  let spans = 0
  let exportRequests = 0
  const receiver = http.createServer((req, res) => {
    let body = ''
    req.on('data', (c) => (body += c))
    req.on('end', () => {
      if (req.method === 'POST' && req.url === '/v1/traces') {
        exportRequests++
        const payload = JSON.parse(body) as { resourceSpans: { scopeSpans: { spans: unknown[] }[] }[] }
        for (const rs of payload.resourceSpans) for (const ss of rs.scopeSpans) spans += ss.spans.length
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}')
    })
  })
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r))
  const endpoint = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`

  const off: RunResult[] = []
  const on: RunResult[] = []
  try {
    for (let i = 0; i < WARMUP + RUNS; i++) {
      for (const traced of i % 2 === 0 ? [false, true] : [true, false]) {
        const alert = {
          fingerprint: `bench-steps-${i}-${traced}-${Date.now()}`,
          type: 'container_down' as const,
          severity: 'critical' as const,
          metric: 'container_running',
          value: 0,
          threshold: 1,
          resource: { kind: 'container' as const, id: `bench${i}`, name: `sentinel-bench-${i}` },
          labels: {},
          source: 'bench',
          at: new Date().toISOString(),
        }
        const { incident } = await store.open(alert, { title: 'bench incident', actor: 'bench', test: true })
        const env: Record<string, string> = {
          INCIDENT_ID: incident.id,
          REDIS_PORT: String(redis.port),
          REDIS_HOST: '127.0.0.1',
          TRACEPARENT: incidentTraceparent(incident.id),
        }
        if (traced) env.OTEL_EXPORTER_OTLP_ENDPOINT = endpoint
        const r = await runStep(env)
        const resolved = await store.get(incident.id)
        if (resolved?.status !== 'resolved')
          throw new Error(`run ${i}: the incident was not resolved (${resolved?.status})`)
        if (i >= WARMUP) (traced ? on : off).push(r)
      }
    }
  } finally {
    receiver.closeAllConnections()
    await new Promise((r) => receiver.close(r))
    await redis.stop()
  }

  // Each traced run sends its step span and the incident's root span.
  const expectedSpans = (WARMUP + RUNS) * 2
  const med = (xs: RunResult[], k: keyof RunResult) =>
    quantile(
      xs.map((x) => x[k]),
      0.5,
    )
  const p90 = (xs: RunResult[], k: keyof RunResult) =>
    quantile(
      xs.map((x) => x[k]),
      0.9,
    )
  const cpus = os.cpus()
  const result = {
    runs: RUNS,
    machine: {
      cpu: cpus[0]?.model.trim() ?? 'unknown',
      cores: cpus.length,
      node: process.version,
      os: `${os.type()} ${os.release()} ${os.arch()}`,
      loadavg: os.loadavg().map((l) => Number(l.toFixed(2))),
    },
    off: {
      wallMedianMs: med(off, 'wallMs'),
      wallP90Ms: p90(off, 'wallMs'),
      handlerMedianMs: med(off, 'handlerMs'),
      handlerP90Ms: p90(off, 'handlerMs'),
    },
    on: {
      wallMedianMs: med(on, 'wallMs'),
      wallP90Ms: p90(on, 'wallMs'),
      handlerMedianMs: med(on, 'handlerMs'),
      handlerP90Ms: p90(on, 'handlerMs'),
    },
    ratio: { wall: med(on, 'wallMs') / med(off, 'wallMs'), handler: med(on, 'handlerMs') / med(off, 'handlerMs') },
    spans: { received: spans, expected: expectedSpans, exportRequests },
  }
  if (spans !== expectedSpans)
    throw new Error(`the receiver got ${spans} spans, expected ${expectedSpans}: tracing did not export as it should`)

  if (JSON_OUT) {
    console.log(JSON.stringify(result))
    return
  }
  const f = (n: number) => n.toFixed(1).padStart(8)
  console.log(
    `bench/steps: one fresh node process per run (node --import tsx), ${RUNS} runs each, interleaved, after ${WARMUP} warm-up runs each`,
  )
  console.log(
    `machine: ${result.machine.cpu}, ${result.machine.cores} cores, node ${result.machine.node}, ${result.machine.os}, load ${result.machine.loadavg.join(' ')}`,
  )
  console.log('')
  console.log('                      median ms   p90 ms')
  console.log(`process, tracing off  ${f(result.off.wallMedianMs)} ${f(result.off.wallP90Ms)}`)
  console.log(`process, tracing on   ${f(result.on.wallMedianMs)} ${f(result.on.wallP90Ms)}`)
  console.log(`handler, tracing off  ${f(result.off.handlerMedianMs)} ${f(result.off.handlerP90Ms)}`)
  console.log(`handler, tracing on   ${f(result.on.handlerMedianMs)} ${f(result.on.handlerP90Ms)}`)
  console.log('')
  console.log(
    `ratio on/off (medians): process ${result.ratio.wall.toFixed(2)}x, handler ${result.ratio.handler.toFixed(2)}x`,
  )
  console.log(`spans received: ${spans} of ${expectedSpans} in ${exportRequests} export requests`)
  console.log(
    'handler = resolveIncident + span work + the bounded flush (OpenTelemetry is loaded lazily inside it when on)',
  )
}

main().catch((err) => {
  console.error(err)
  process.exit(1)
})
