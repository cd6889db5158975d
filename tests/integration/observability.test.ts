/**
 * Observability of a real Sentinel: the spans its main process and step processes export over
 * OTLP/HTTP (decoded by a local receiver standing in for Jaeger's OTLP port) form one trace per
 * incident, with child spans for the Docker, LLM and Prometheus calls; /metrics counts the
 * incident and the action, and a real Prometheus scraping /metrics answers PromQL about it.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, describe, it } from 'node:test'
import { reply, startFakeOpenRouter, type FakeOpenRouter } from '../helpers/llm-standin'
import { type ManagedProcess, startNodeExporter, startPrometheus } from '../helpers/prometheus'
import { killMainProcess, removeContainers, runContainer, uniqueName } from '../helpers/docker'
import { waitFor } from '../helpers/ports'
import { startRedis, type TestRedis } from '../helpers/redis'
import { type SentinelInstance, startSentinel } from '../helpers/sentinel'

interface Span {
  traceId: string
  spanId: string
  parentSpanId?: string
  name: string
  startTimeUnixNano: string
  attributes?: { key: string; value: Record<string, unknown> }[]
}

const STEPS = [
  'AnalyzeIncident',
  'DecideRemediation',
  'RequestApproval',
  'ExecuteRemediation',
  'VerifyRemediation',
  'ResolveIncident',
  'RollbackAndEscalate',
]
// The analysis proposes no fix: the container incident is already fixed by the fast path, and the
// memory incident is then verified instead of acted on.
const ANALYSIS = JSON.stringify({
  root_cause: 'the process was killed',
  evidence: ['exit code 137'],
  proposed_fix: null,
  risk_level: 'low',
  confidence: 0.9,
})

// Other test Sentinels on this Docker engine watch `sentinel.watch=true`: this one watches its own
// value, so no other Sentinel restarts its container first.
const WATCH_VALUE = `otel-${randomBytes(4).toString('hex')}`

const attr = (s: Span, k: string) => Object.values(s.attributes?.find((a) => a.key === k)?.value ?? {})[0]

describe('observability', () => {
  let redis: TestRedis
  let sentinel: SentinelInstance
  let receiver: http.Server
  let llm: FakeOpenRouter
  let nodeExporter: ManagedProcess
  let prometheus: ManagedProcess
  let scraper: ManagedProcess | undefined
  const spans: Span[] = []
  const containers: string[] = []

  const spansOf = (incidentId: string) => spans.filter((s) => attr(s, 'incident.id') === incidentId)

  before(async () => {
    receiver = http.createServer((req, res) => {
      let body = ''
      req.on('data', (c) => (body += c))
      req.on('end', () => {
        if (req.url === '/v1/traces' && req.headers['content-type']?.includes('json')) {
          const msg = JSON.parse(body) as { resourceSpans: { scopeSpans: { spans: Span[] }[] }[] }
          for (const rs of msg.resourceSpans ?? [])
            for (const ss of rs.scopeSpans ?? []) spans.push(...(ss.spans ?? []))
        }
        res.writeHead(200, { 'content-type': 'application/json' })
        res.end('{}')
      })
    })
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r))
    const port = (receiver.address() as AddressInfo).port
    llm = await startFakeOpenRouter()
    llm.script(reply(ANALYSIS, { usage: { prompt_tokens: 800, completion_tokens: 200 } }))
    nodeExporter = await startNodeExporter()
    prometheus = await startPrometheus({ scrapeTargets: [`127.0.0.1:${nodeExporter.port}`] })
    redis = await startRedis()
    sentinel = await startSentinel({
      redisPort: redis.port,
      env: {
        OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}`,
        WATCH_LABEL: `sentinel.watch=${WATCH_VALUE}`,
        VERIFY_STABLE_SECONDS: '0.5',
        OPENROUTER_API_KEY: 'sk-or-' + 'v1-test-not-a-real-key-000000000000',
        OPENROUTER_BASE_URL: llm.baseURL,
        LLM_DEADLINE_SECONDS: '8',
        PROMETHEUS_URL: prometheus.url,
        // The monitor reads Prometheus; only the memory check can fire (any host uses 0.5 %).
        MONITOR_CRON: '*/3 * * * * *',
        THRESHOLD_MEMORY_PERCENT: '0.5',
        THRESHOLD_CPU_PERCENT: '100',
        THRESHOLD_DISK_PERCENT: '100',
        THRESHOLD_LATENCY_MS: '1000000',
        THRESHOLD_CONTAINER_MEMORY_PERCENT: '100',
        THRESHOLD_CONTAINER_CPU_PERCENT: '100000',
        ALERT_FOR_SECONDS: '2',
      },
    })
  })
  after(async () => {
    await removeContainers(...containers)
    await sentinel?.cleanup()
    await redis?.stop()
    await scraper?.stop()
    await prometheus?.stop()
    await nodeExporter?.stop()
    await llm?.close()
    receiver?.closeAllConnections()
    await new Promise((r) => receiver?.close(r))
  })

  it('traces a container incident: detection and restart in the main process, Docker and LLM calls, the steps', async () => {
    const name = uniqueName('otel')
    containers.push(name)
    await runContainer(name, { labels: { 'sentinel.watch': WATCH_VALUE } })
    await killMainProcess(name)
    const incident = await waitFor(
      async () => {
        const [i] = (await sentinel.get(`/api/incidents?view=full&resource=${name}`)).body.incidents
        return i?.status === 'resolved' && i.analysis ? i : null
      },
      { timeoutMs: 60_000, what: 'the incident to resolve and be analysed' },
    )
    assert.equal(incident.analysis.analyser, 'llm')
    const expected = [
      'incident',
      'container.detected',
      'ContainerFastPath',
      'action.execute',
      'docker.start',
      'AnalyzeIncident',
      'llm.chat',
      'VerifyRemediation',
      'ResolveIncident',
    ]
    const mine = await waitFor(
      () => {
        const names = new Set(spansOf(incident.id).map((s) => s.name))
        return expected.every((n) => names.has(n)) ? spansOf(incident.id) : null
      },
      { timeoutMs: 20_000, what: "the incident's spans" },
    ).catch((err: Error) => {
      throw new Error(`${err.message}; the incident has ${JSON.stringify(spansOf(incident.id).map((s) => s.name))}`)
    })
    assert.equal(new Set(mine.map((s) => s.traceId)).size, 1, 'one trace for the incident')
    const byId = new Map(mine.map((s) => [s.spanId, s]))
    const one = (n: string) => {
      const found = mine.filter((s) => s.name === n)
      assert.equal(found.length, 1, `one ${n} span, got ${found.length}`)
      return found[0]
    }
    // A step may run more than once (its queue retries); the first run is enough here.
    const first = (n: string) =>
      mine
        .filter((s) => s.name === n)
        .sort((a, b) => (BigInt(a.startTimeUnixNano) < BigInt(b.startTimeUnixNano) ? -1 : 1))[0]
    const root = one('incident')
    assert.ok(!root.parentSpanId, 'the incident span is the root')
    assert.equal(attr(root, 'outcome'), 'resolved')
    assert.equal(attr(root, 'alert.type'), 'container_down')
    // Every other span hangs off a span of the same trace: the trace is one tree.
    for (const s of mine.filter((x) => x !== root))
      assert.ok(s.parentSpanId && byId.has(s.parentSpanId), `${s.name}'s parent is in the trace`)

    // The main process: detection, then the fast path with the restart under it.
    const detected = one('container.detected')
    const fastPath = one('ContainerFastPath')
    for (const s of [detected, fastPath]) assert.equal(s.parentSpanId, root.spanId, `${s.name} hangs off the incident`)
    assert.equal(attr(detected, 'alert.type'), 'container_down')
    assert.equal(attr(detected, 'container.exit_code'), 137)
    assert.equal(attr(fastPath, 'action'), 'restart_container')
    assert.equal(attr(fastPath, 'risk'), 'low')
    assert.equal(attr(fastPath, 'outcome'), 'executed')
    const action = one('action.execute')
    assert.equal(action.parentSpanId, fastPath.spanId)
    assert.equal(attr(action, 'action'), 'restart_container')
    assert.equal(attr(action, 'outcome'), 'succeeded')
    assert.equal(attr(action, 'action.performed'), 'start')
    const start = one('docker.start')
    assert.equal(start.parentSpanId, action.spanId, 'the Docker call is a child of the restart')
    assert.equal(attr(start, 'docker.container'), incident.resource.id)
    assert.equal(attr(start, 'incident.id'), incident.id)

    // The steps hang off the incident and start after the restart that triggered them.
    const stepSpans = mine.filter((s) => STEPS.includes(s.name))
    assert.deepEqual([...new Set(stepSpans.map((s) => s.name))].sort(), [
      'AnalyzeIncident',
      'ResolveIncident',
      'VerifyRemediation',
    ])
    for (const s of stepSpans) assert.equal(s.parentSpanId, root.spanId, `${s.name} hangs off the incident`)
    assert.ok(
      BigInt(first('VerifyRemediation').startTimeUnixNano) > BigInt(start.startTimeUnixNano),
      'verification follows the restart',
    )
    const analyze = first('AnalyzeIncident')
    const chat = mine.find((s) => s.name === 'llm.chat' && s.parentSpanId === analyze.spanId)!
    assert.ok(chat, 'the LLM call is a child of the analysis')
    assert.equal(attr(chat, 'llm.attempt'), 1)
    assert.equal(attr(chat, 'outcome'), 'ok')
    assert.equal(attr(chat, 'gen_ai.usage.input_tokens'), 800)
    assert.ok(
      mine.some((s) => s.name === 'docker.inspect' && s.parentSpanId === first('VerifyRemediation').spanId),
      'verification inspects the container',
    )

    const metrics = await fetch(`${sentinel.url}/metrics`)
    assert.equal(metrics.status, 200)
    const text = await metrics.text()
    assert.match(text, /sentinel_incidents_opened_total\{[^}]*type="container_down"[^}]*\} 1/)
    assert.match(text, /sentinel_incidents_resolved_total\{[^}]*type="container_down"[^}]*\} 1/)
    assert.match(text, /sentinel_actions_total\{[^}]*action="restart_container"[^}]*result="succeeded"[^}]*\} 1/)
    assert.match(text, /sentinel_llm_calls_total\{[^}]*outcome="ok"[^}]*\} [1-9]/)
    for (const line of text.split('\n').filter((l) => l && !l.startsWith('#'))) assert.match(line, /^sentinel_/)
  })

  it('traces the Prometheus range query and the LLM call of an incident the monitor opened from Prometheus', async () => {
    const incident = await waitFor(
      async () => {
        const [i] = (await sentinel.get('/api/incidents?view=full&type=memory')).body.incidents
        return i?.analysis ? i : null
      },
      { timeoutMs: 60_000, what: 'a memory incident from Prometheus, analysed' },
    )
    assert.equal(incident.alert.details.readingSource, 'prometheus')
    assert.equal(incident.analysis.analyser, 'llm')
    const [analyze, query, chat] = await waitFor(
      () => {
        const mine = spansOf(incident.id)
        const found = ['AnalyzeIncident', 'prometheus.query_range', 'llm.chat'].map((n) =>
          mine.find((s) => s.name === n),
        )
        return found.every(Boolean) ? (found as Span[]) : null
      },
      { timeoutMs: 20_000, what: 'the analysis spans of the memory incident' },
    ).catch((err: Error) => {
      throw new Error(`${err.message}; the incident has ${JSON.stringify(spansOf(incident.id).map((s) => s.name))}`)
    })
    for (const s of [analyze, query, chat]) assert.equal(s.traceId, analyze.traceId)
    assert.equal(query.parentSpanId, analyze.spanId)
    assert.equal(chat.parentSpanId, analyze.spanId)
    assert.equal(attr(query, 'db.query.text'), incident.alert.source)
    assert.equal(attr(query, 'outcome'), 'ok')
    assert.equal(attr(query, 'incident.id'), incident.id)
  })

  it('a real Prometheus scraping /metrics answers PromQL with the incident counters', async () => {
    const trig = await sentinel.post('/api/trigger-alert', { type: 'disk', resource: uniqueName('fs'), value: 99 })
    assert.equal(trig.status, 202, JSON.stringify(trig.body))
    scraper = await startPrometheus({
      scrapeTargets: [],
      jobs: [{ name: 'sentinel', targets: [`127.0.0.1:${sentinel.port}`] }],
    })
    const promql = 'sentinel_incidents_opened_total{job="sentinel",type="disk"}'
    const sample = await waitFor(
      async () => {
        const res = await fetch(`${scraper!.url}/api/v1/query?query=${encodeURIComponent(promql)}`)
        const body = (await res.json()) as {
          status: string
          data: { result: { metric: Record<string, string>; value: [number, string] }[] }
        }
        return body.status === 'success' && body.data.result[0]?.value[1] === '1' ? body.data.result : null
      },
      { timeoutMs: 30_000, intervalMs: 500, what: `${promql} to return 1` },
    )
    assert.equal(sample.length, 1)
    assert.equal(sample[0].metric.severity, 'warning')
    assert.equal(sample[0].metric.instance, `127.0.0.1:${sentinel.port}`)
  })
})
