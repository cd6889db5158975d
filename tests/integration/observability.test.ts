/**
 * Observability of a real healing: the spans Sentinel's step processes export over OTLP/HTTP form
 * one trace for the incident (decoded by a local receiver standing in for Jaeger's OTLP port), and
 * /metrics counts the incident and the action.
 */
import assert from 'node:assert/strict'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, describe, it } from 'node:test'
import { killMainProcess, removeContainers, runContainer, uniqueName } from '../helpers/docker'
import { waitFor } from '../helpers/ports'
import { startRedis, type TestRedis } from '../helpers/redis'
import { type SentinelInstance, startSentinel } from '../helpers/sentinel'

interface Span {
  traceId: string
  spanId: string
  parentSpanId?: string
  name: string
  attributes?: { key: string; value: Record<string, unknown> }[]
}

describe('observability', () => {
  let redis: TestRedis
  let sentinel: SentinelInstance
  let receiver: http.Server
  const spans: Span[] = []
  const containers: string[] = []

  before(async () => {
    receiver = http.createServer((req, res) => {
      let body = ''
      req.on('data', (c) => (body += c))
      req.on('end', () => {
        if (req.url === '/v1/traces' && req.headers['content-type']?.includes('json')) {
          const msg = JSON.parse(body) as { resourceSpans: { scopeSpans: { spans: Span[] }[] }[] }
          for (const rs of msg.resourceSpans ?? []) for (const ss of rs.scopeSpans ?? []) spans.push(...(ss.spans ?? []))
        }
        res.writeHead(200, { 'content-type': 'application/json' })
        res.end('{}')
      })
    })
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r))
    const port = (receiver.address() as AddressInfo).port
    redis = await startRedis()
    sentinel = await startSentinel({ redisPort: redis.port, env: { OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}`, VERIFY_STABLE_SECONDS: '0.5' } })
  })
  after(async () => {
    await removeContainers(...containers)
    await sentinel?.cleanup()
    await redis?.stop()
    await new Promise((r) => receiver?.close(r))
  })

  it('exports one trace per incident, steps as children of the incident, and counts it in /metrics', async () => {
    const name = uniqueName('otel')
    containers.push(name)
    await runContainer(name, { labels: { 'sentinel.watch': 'true' } })
    await killMainProcess(name)
    const incident = await waitFor(
      async () => {
        const [i] = (await sentinel.get(`/api/incidents?resource=${name}`)).body.incidents
        return i?.status === 'resolved' && i.analysis ? i : null
      },
      { timeoutMs: 45_000, what: 'the incident to resolve and be analysed' },
    )
    const attr = (s: Span, k: string) => Object.values(s.attributes?.find((a) => a.key === k)?.value ?? {})[0]
    const mine = await waitFor(
      () => {
        const ofIncident = spans.filter((s) => attr(s, 'incident.id') === incident.id)
        const names = new Set(ofIncident.map((s) => s.name))
        return ['incident', 'VerifyRemediation', 'ResolveIncident', 'AnalyzeIncident'].every((n) => names.has(n)) ? ofIncident : null
      },
      { timeoutMs: 20_000, what: `the incident's spans (got ${JSON.stringify(spans.map((s) => s.name))})` },
    )
    const traceIds = new Set(mine.map((s) => s.traceId))
    assert.equal(traceIds.size, 1, 'one trace for the incident')
    const root = mine.find((s) => s.name === 'incident')!
    assert.ok(!root.parentSpanId, 'the incident span is the root')
    assert.equal(attr(root, 'outcome'), 'resolved')
    assert.equal(attr(root, 'alert.type'), 'container_down')
    for (const step of mine.filter((s) => s.name !== 'incident')) assert.equal(step.parentSpanId, root.spanId, `${step.name} hangs off the incident`)

    const metrics = await fetch(`${sentinel.url}/metrics`)
    assert.equal(metrics.status, 200)
    const text = await metrics.text()
    assert.match(text, /sentinel_incidents_opened_total\{[^}]*type="container_down"[^}]*\} 1/)
    assert.match(text, /sentinel_incidents_resolved_total\{[^}]*type="container_down"[^}]*\} 1/)
    assert.match(text, /sentinel_actions_total\{[^}]*action="restart_container"[^}]*result="succeeded"[^}]*\} 1/)
    assert.match(text, /sentinel_analyser_fallbacks_total\{[^}]*\} 1/)
    for (const line of text.split('\n').filter((l) => l && !l.startsWith('#'))) assert.match(line, /^sentinel_/)
  })
})
