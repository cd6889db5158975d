/**
 * Tracing across processes, as Motia runs steps: each "step" is a separate node process that gets
 * the traceparent of the previous one. The spans go to a local OTLP/HTTP receiver that decodes the
 * JSON ExportTraceServiceRequest the real exporter sends.
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { freePort } from '../../../tests/helpers/ports'
import { reply, startFakeOpenRouter, status, type FakeOpenRouter } from '../../../tests/helpers/llm-standin'
import {
  deployRootSpanId,
  deployTraceId,
  formatTraceparent,
  incidentRootSpanId,
  incidentTraceId,
  incidentTraceparent,
  parseTraceparent,
} from './tracing'

const TRACING_MODULE = path.join(import.meta.dirname, 'tracing.ts')
const SRC = path.resolve(import.meta.dirname, '..', '..')

interface OtlpSpan {
  traceId: string
  spanId: string
  parentSpanId?: string
  name: string
  startTimeUnixNano: string
  attributes: { key: string; value: Record<string, unknown> }[]
  events: { name: string }[]
  status?: { code?: number; message?: string }
  serviceName: string
}

class OtlpReceiver {
  spans: OtlpSpan[] = []
  requests = 0
  private server = http.createServer((req, res) => {
    let body = ''
    req.setEncoding('utf8')
    req.on('data', (c) => (body += c))
    req.on('end', () => {
      if (req.method !== 'POST' || req.url !== '/v1/traces') {
        res.writeHead(404).end()
        return
      }
      this.requests++
      assert.match(String(req.headers['content-type']), /application\/json/)
      const payload = JSON.parse(body) as {
        resourceSpans: { resource: { attributes: OtlpSpan['attributes'] }; scopeSpans: { spans: OtlpSpan[] }[] }[]
      }
      for (const rs of payload.resourceSpans) {
        const serviceName = String(rs.resource.attributes.find((a) => a.key === 'service.name')?.value.stringValue)
        for (const ss of rs.scopeSpans) for (const s of ss.spans) this.spans.push({ ...s, serviceName })
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}')
    })
  })
  url = ''
  async start() {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r))
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`
  }
  stop() {
    this.server.closeAllConnections()
    return new Promise((r) => this.server.close(r))
  }
  reset() {
    this.spans = []
    this.requests = 0
  }
  byName(name: string) {
    const found = this.spans.filter((s) => s.name === name)
    assert.equal(found.length, 1, `one span named ${name}, got ${found.length}`)
    return found[0]
  }
}

const attr = (s: OtlpSpan, key: string) => {
  const v = s.attributes.find((a) => a.key === key)?.value
  return v ? (v.stringValue ?? v.intValue ?? v.boolValue ?? v.doubleValue) : undefined
}

let dir: string
const receiver = new OtlpReceiver()

/** Runs a script in a fresh node process (with tsx, as Motia runs steps); resolves with its stdout. */
function runScript(
  name: string,
  source: string,
  env: Record<string, string>,
  args: string[] = [],
): Promise<{ code: number; stdout: string; stderr: string }> {
  const file = path.join(dir, `${name}.mts`)
  writeFileSync(file, source)
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('OTEL_')))
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', file, ...args],
      {
        env: { ...clean, TRACING_MODULE, SRC, ...env },
        timeout: 60_000,
        cwd: path.resolve(import.meta.dirname, '../../..'),
      },
      (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    )
  })
}

const DETECT_STEP = `
const t = await import(process.env.TRACING_MODULE)
const incidentId = process.argv[2]
const { traceparent } = await t.startIncidentTrace(incidentId, { 'alert.type': 'container_down' })
const next = await t.withStepSpan('DetectIncident', traceparent, { 'incident.id': incidentId, 'alert.type': 'container_down' }, async (span, child) => {
  await t.withChildSpan('docker.inspect', { container: 'web' }, async () => 'ok')
  span.setAttribute('outcome', 'detected')
  return child
})
const loaded = Object.keys((await import('node:module')).createRequire(import.meta.url).cache).some((k) => k.includes('@opentelemetry'))
console.log(JSON.stringify({ next, loaded }))
`

const RESOLVE_STEP = `
const t = await import(process.env.TRACING_MODULE)
const [incidentId, traceparent, openedAt] = process.argv.slice(2)
await t.withStepSpan('ResolveIncident', traceparent, { 'incident.id': incidentId, 'alert.type': 'container_down' }, async (span) => {
  await t.withChildSpan('slack.chat.postMessage', {}, async () => undefined)
  span.setAttributes({ action: 'restart_container', risk: 'low', outcome: 'resolved' })
})
await t.endIncidentTrace(incidentId, { startTime: openedAt, outcome: 'resolved', attrs: { 'alert.type': 'container_down', action: 'restart_container', risk: 'low' } })
`

const FAILING_STEP = `
const t = await import(process.env.TRACING_MODULE)
const [incidentId] = process.argv.slice(2)
await t.withStepSpan('ExecuteRemediation', undefined, { 'incident.id': incidentId, action: 'restart_container' }, async () => {
  await t.withChildSpan('docker.restart', {}, async () => { throw new Error('engine said no') })
})
`

// A step that calls Docker (dockerode and the light Engine API client), Prometheus and the LLM.
const CLIENTS_STEP = `
const src = process.env.SRC
const t = await import(process.env.TRACING_MODULE)
const { getDocker } = await import(src + '/platform/docker/client.ts')
const { engineGet } = await import(src + '/platform/docker/engine-api.ts')
const { PrometheusClient } = await import(src + '/platform/prometheus/client.ts')
const { analyseWithLlm } = await import(src + '/analyze/llm/analyser.ts')
await import(src + '/act/container-events.ts')
await import(src + '/approve/slack/messenger.ts')
const [incidentId, llmUrl, deadPort] = process.argv.slice(2)
const missing = 'sentinel-test-missing-' + incidentId
const alert = { fingerprint: 'memory:h', type: 'memory', severity: 'warning', metric: 'memory_used_percent', value: 70, threshold: 60, resource: { kind: 'host', id: 'h', name: 'h' }, labels: {}, source: 'test', at: new Date().toISOString() }
const out = await t.withStepSpan('AnalyzeIncident', undefined, { 'incident.id': incidentId, 'alert.type': 'memory' }, async () => {
  const errors = []
  const docker = await getDocker()
  await docker.getContainer(missing).inspect().catch((e) => errors.push(e.statusCode))
  await engineGet('/containers/' + missing + '/json').catch((e) => errors.push(e.statusCode))
  const listed = await docker.listContainers({ limit: 1 })
  await new PrometheusClient({ url: 'http://127.0.0.1:' + deadPort, timeoutMs: 1000 }).query('up').catch((e) => errors.push(e.kind))
  const llm = await analyseWithLlm({ incident: alert, catalog: [] }, { apiKey: 'test', baseURL: llmUrl, backoffBaseMs: 10, deadlineMs: 20000 })
  return { errors, listed: Array.isArray(listed), llm: llm.ok, attempts: llm.attempts.length }
})
const loaded = Object.keys((await import('node:module')).createRequire(import.meta.url).cache).some((k) => k.includes('@opentelemetry'))
console.log(JSON.stringify({ ...out, loaded }))
`

// The container fast path in the long-lived main process: spans in the incident's trace, no step span.
const MAIN_PROCESS = `
const t = await import(process.env.TRACING_MODULE)
const [incidentId, diedAt] = process.argv.slice(2)
await t.withIncidentSpan('container.detected', incidentId, { 'alert.type': 'container_down', outcome: 'opened' }, async () => undefined, { startTime: diedAt })
await t.withIncidentSpan('ContainerFastPath', incidentId, { 'alert.type': 'container_down' }, async (span) => {
  await t.withChildSpan('docker.start', { 'docker.container': 'web' }, async () => undefined)
  span.setAttributes({ action: 'restart_container', risk: 'low', outcome: 'executed' })
})
await t.shutdownTelemetry()
`

const GOOD_ANALYSIS = JSON.stringify({
  root_cause: 'memory leak',
  evidence: ['rss grows'],
  proposed_fix: null,
  risk_level: 'low',
  confidence: 0.8,
})

let llm: FakeOpenRouter

before(async () => {
  llm = await startFakeOpenRouter()
  dir = mkdtempSync(path.join(os.tmpdir(), 'sentinel-test-tracing-'))
  await receiver.start()
})
after(async () => {
  await llm.close()
  await receiver.stop()
  rmSync(dir, { recursive: true, force: true })
})

describe('trace context helpers', () => {
  it('derives the same ids from an incident id everywhere, distinct per incident', () => {
    assert.match(incidentTraceId('inc_a'), /^[0-9a-f]{32}$/)
    assert.match(incidentRootSpanId('inc_a'), /^[0-9a-f]{16}$/)
    assert.equal(incidentTraceId('inc_a'), incidentTraceId('inc_a'))
    assert.notEqual(incidentTraceId('inc_a'), incidentTraceId('inc_b'))
    assert.deepEqual(parseTraceparent(incidentTraceparent('inc_a')), {
      traceId: incidentTraceId('inc_a'),
      spanId: incidentRootSpanId('inc_a'),
      sampled: true,
    })
  })

  it('parses only valid W3C traceparents', () => {
    const tp = formatTraceparent('0af7651916cd43dd8448eb211c80319c', 'b7ad6b7169203331', false)
    assert.equal(tp, '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00')
    assert.equal(parseTraceparent(tp)?.sampled, false)
    for (const bad of [
      undefined,
      42,
      '',
      'garbage',
      `00-${'0'.repeat(32)}-b7ad6b7169203331-01`,
      `00-0af7651916cd43dd8448eb211c80319c-${'0'.repeat(16)}-01`,
      '00-0af7651916cd43dd8448eb211c80319c-b7ad6b71692033-01',
    ]) {
      assert.equal(parseTraceparent(bad), undefined, String(bad))
    }
  })
})

describe('one trace per incident across step processes', () => {
  it('links the step spans of two processes and the root incident span into one trace', async () => {
    receiver.reset()
    const incidentId = `inc_test_${Date.now().toString(36)}`
    const openedAt = new Date(Date.now() - 42_000).toISOString()
    const detect = await runScript('detect', DETECT_STEP, { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url }, [incidentId])
    assert.equal(detect.code, 0, detect.stderr)
    const { next, loaded } = JSON.parse(detect.stdout.trim()) as { next: string; loaded: boolean }
    assert.equal(loaded, true, 'the OpenTelemetry SDK is loaded when tracing is on')
    // The traces-specific variable is used as given (no /v1/traces appended).
    const resolve = await runScript(
      'resolve',
      RESOLVE_STEP,
      { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${receiver.url}/v1/traces`, OTEL_SERVICE_NAME: 'sentinel-steps' },
      [incidentId, next, openedAt],
    )
    assert.equal(resolve.code, 0, resolve.stderr)

    // Each process flushed before exiting: everything is here without waiting.
    const traceId = incidentTraceId(incidentId)
    assert.deepEqual([...new Set(receiver.spans.map((s) => s.traceId))], [traceId])
    assert.equal(receiver.spans.length, 6, receiver.spans.map((s) => s.name).join(', '))

    const root = receiver.byName('incident')
    const detected = receiver.byName('incident.detected')
    const detectStep = receiver.byName('DetectIncident')
    const inspect = receiver.byName('docker.inspect')
    const resolveStep = receiver.byName('ResolveIncident')
    const slack = receiver.byName('slack.chat.postMessage')

    assert.equal(root.spanId, incidentRootSpanId(incidentId))
    assert.ok(!root.parentSpanId, 'the incident span is the root')
    assert.equal(
      BigInt(root.startTimeUnixNano),
      BigInt(Date.parse(openedAt)) * 1_000_000n,
      'the root starts when the incident opened',
    )
    assert.equal(detected.parentSpanId, root.spanId)
    assert.equal(detectStep.parentSpanId, root.spanId)
    assert.equal(inspect.parentSpanId, detectStep.spanId)
    assert.equal(next, formatTraceparent(traceId, detectStep.spanId), 'the step hands on its own span')
    assert.equal(resolveStep.parentSpanId, detectStep.spanId, 'the second process continues the first one')
    assert.equal(slack.parentSpanId, resolveStep.spanId)

    assert.equal(attr(detectStep, 'incident.id'), incidentId)
    assert.equal(attr(detectStep, 'alert.type'), 'container_down')
    assert.equal(attr(detectStep, 'outcome'), 'detected')
    assert.equal(attr(detected, 'alert.type'), 'container_down')
    assert.equal(attr(inspect, 'container'), 'web')
    assert.equal(attr(resolveStep, 'action'), 'restart_container')
    assert.equal(attr(resolveStep, 'risk'), 'low')
    assert.equal(attr(resolveStep, 'outcome'), 'resolved')
    assert.equal(attr(root, 'incident.id'), incidentId)
    assert.equal(attr(root, 'outcome'), 'resolved')
    assert.equal(attr(root, 'action'), 'restart_container')

    assert.equal(detectStep.serviceName, 'sentinel')
    assert.equal(resolveStep.serviceName, 'sentinel-steps')
  })

  it('records a failing step as an error, hung off the incident root, and still exports it', async () => {
    receiver.reset()
    const incidentId = `inc_fail_${Date.now().toString(36)}`
    const run = await runScript('fail', FAILING_STEP, { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url }, [incidentId])
    assert.notEqual(run.code, 0, 'the error still reaches the caller')
    assert.match(run.stderr, /engine said no/)
    const step = receiver.byName('ExecuteRemediation')
    const call = receiver.byName('docker.restart')
    assert.equal(step.traceId, incidentTraceId(incidentId))
    assert.equal(
      step.parentSpanId,
      incidentRootSpanId(incidentId),
      'without a traceparent the incident root is the parent',
    )
    assert.equal(call.parentSpanId, step.spanId)
    for (const s of [step, call]) {
      assert.equal(s.status?.code, 2, `${s.name} has status ERROR`)
      assert.equal(attr(s, 'outcome'), 'error')
      assert.ok(s.events.some((e) => e.name === 'exception'))
    }
    assert.equal(attr(step, 'action'), 'restart_container')
  })
})

describe('child spans of the clients', () => {
  it('records Docker, Prometheus and LLM calls under the step span, with the incident id', async () => {
    receiver.reset()
    llm.script(status(500), reply(GOOD_ANALYSIS, { usage: { prompt_tokens: 900, completion_tokens: 100 } }))
    const incidentId = `inc_calls_${Date.now().toString(36)}`
    const run = await runScript('calls', CLIENTS_STEP, { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url }, [
      incidentId,
      llm.baseURL,
      String(await freePort()),
    ])
    assert.equal(run.code, 0, run.stderr)
    const out = JSON.parse(run.stdout.trim().split('\n').pop()!) as {
      errors: unknown[]
      listed: boolean
      llm: boolean
      attempts: number
    }
    // The callers still get the clients' answers and errors.
    assert.deepEqual(out.errors, [404, 404, 'unreachable'])
    assert.equal(out.listed, true)
    assert.equal(out.llm, true)
    assert.equal(out.attempts, 2)

    const step = receiver.byName('AnalyzeIncident')
    const children = receiver.spans.filter((s) => s.name !== 'AnalyzeIncident')
    assert.deepEqual(children.map((s) => s.name).sort(), [
      'docker.inspect',
      'docker.inspect',
      'docker.list',
      'llm.chat',
      'llm.chat',
      'prometheus.query',
    ])
    for (const s of children) {
      assert.equal(s.parentSpanId, step.spanId, `${s.name} is a child of the step`)
      assert.equal(s.traceId, incidentTraceId(incidentId))
      assert.equal(attr(s, 'incident.id'), incidentId, `${s.name} carries the incident id`)
      assert.equal(attr(s, 'alert.type'), 'memory')
    }
    for (const inspect of children.filter((s) => s.name === 'docker.inspect')) {
      assert.equal(attr(inspect, 'docker.container'), `sentinel-test-missing-${incidentId}`)
      assert.equal(attr(inspect, 'docker.status_code'), 404)
      assert.equal(inspect.status?.code, 2)
    }
    assert.equal(attr(receiver.byName('docker.list'), 'outcome'), 'ok')
    const prom = receiver.byName('prometheus.query')
    assert.equal(attr(prom, 'db.query.text'), 'up')
    assert.equal(attr(prom, 'outcome'), 'unreachable')
    const [first, second] = children
      .filter((s) => s.name === 'llm.chat')
      .sort((a, b) => Number(attr(a, 'llm.attempt')) - Number(attr(b, 'llm.attempt')))
    assert.equal(attr(first, 'llm.attempt'), 1)
    assert.equal(attr(first, 'outcome'), 'error')
    assert.equal(attr(first, 'http.response.status_code'), 500)
    assert.equal(attr(second, 'llm.attempt'), 2)
    assert.equal(attr(second, 'outcome'), 'ok')
    assert.equal(attr(second, 'gen_ai.request.model'), 'deepseek/deepseek-r1')
    assert.equal(attr(second, 'gen_ai.usage.input_tokens'), 900)
    assert.equal(attr(second, 'gen_ai.usage.output_tokens'), 100)
  })

  it('puts the main process spans in the incident trace, from the moment of the failure', async () => {
    receiver.reset()
    const incidentId = `inc_main_${Date.now().toString(36)}`
    const diedAt = new Date(Date.now() - 5000).toISOString()
    const run = await runScript('main', MAIN_PROCESS, { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url }, [
      incidentId,
      diedAt,
    ])
    assert.equal(run.code, 0, run.stderr)
    const detected = receiver.byName('container.detected')
    const fastPath = receiver.byName('ContainerFastPath')
    const start = receiver.byName('docker.start')
    for (const s of [detected, fastPath]) {
      assert.equal(s.traceId, incidentTraceId(incidentId))
      assert.equal(s.parentSpanId, incidentRootSpanId(incidentId), `${s.name} hangs off the incident root`)
      assert.equal(attr(s, 'incident.id'), incidentId)
    }
    assert.equal(
      BigInt(detected.startTimeUnixNano),
      BigInt(Date.parse(diedAt)) * 1_000_000n,
      'detection starts when the container died',
    )
    assert.equal(start.parentSpanId, fastPath.spanId)
    assert.equal(attr(start, 'incident.id'), incidentId)
    assert.equal(attr(fastPath, 'outcome'), 'executed')
  })
})

// A canary deploy's steps from the main process, one of them after a "restart" (a second process).
const DEPLOY_STEPS = `
const t = await import(process.env.TRACING_MODULE)
const [deployId, requestedAt, last] = process.argv.slice(2)
if (last === 'no') {
  await t.recordDeploySpan(deployId, 'canary_started', { service: 'web', image: 'web:2', phase: 'canary', step: 0 })
} else {
  await t.recordDeploySpan(deployId, 'rolled_back', { service: 'web', image: 'web:2', phase: 'rolled_back', step: 1, 'incident.id': 'inc_x' }, { startTime: requestedAt, outcome: 'rolled_back' })
}
await t.shutdownTelemetry()
`

describe('deploy traces', () => {
  it("puts a deploy's steps, from any process, under one root emitted when it finishes", async () => {
    receiver.reset()
    const deployId = `dep_${Date.now().toString(36)}_0a1b2c3d`
    const requestedAt = new Date(Date.now() - 20_000).toISOString()
    const env = { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url }
    for (const last of ['no', 'yes']) {
      const run = await runScript(`deploy-${last}`, DEPLOY_STEPS, env, [deployId, requestedAt, last])
      assert.equal(run.code, 0, run.stderr)
    }
    const started = receiver.byName('deploy.canary_started')
    const rolledBack = receiver.byName('deploy.rolled_back')
    const root = receiver.byName('deploy')
    for (const s of [started, rolledBack]) {
      assert.equal(s.traceId, deployTraceId(deployId))
      assert.equal(s.parentSpanId, deployRootSpanId(deployId))
      assert.equal(attr(s, 'deploy.id'), deployId)
    }
    assert.equal(root.traceId, deployTraceId(deployId))
    assert.equal(root.spanId, deployRootSpanId(deployId))
    assert.equal(root.parentSpanId ?? '', '')
    assert.equal(attr(root, 'outcome'), 'rolled_back')
    assert.equal(attr(rolledBack, 'incident.id'), 'inc_x')
    assert.equal(BigInt(root.startTimeUnixNano), BigInt(Date.parse(requestedAt)) * 1_000_000n)
    assert.equal(root.status?.code, 2, 'a deploy that did not succeed is an error')
  })
})

describe('log correlation', () => {
  it('stamps log lines written inside a span with its trace and span ids', async () => {
    receiver.reset()
    const run = await runScript(
      'log',
      `
const t = await import(process.env.TRACING_MODULE)
const { logTo } = await import(process.env.TRACING_MODULE.replace(/tracing\\.ts$/, 'log.ts'))
const log = logTo('test')
log('info', 'before')
await t.withStepSpan('LoggingStep', undefined, { 'incident.id': 'inc_log' }, async () => log('info', 'inside'))
`,
      { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url },
    )
    assert.equal(run.code, 0, run.stderr)
    const lines = run.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, string>)
    const before = lines.find((l) => l.msg === 'before')!
    const inside = lines.find((l) => l.msg === 'inside')!
    assert.equal(before.trace_id, undefined)
    assert.equal(inside.trace_id, incidentTraceId('inc_log'))
    assert.equal(inside.span_id, receiver.byName('LoggingStep').spanId)
  })
})

describe('tracing off', () => {
  it('the instrumented clients load no OpenTelemetry package and send nothing', async () => {
    receiver.reset()
    llm.script(reply(GOOD_ANALYSIS))
    const run = await runScript('calls-off', CLIENTS_STEP, {}, ['inc_calls_off', llm.baseURL, String(await freePort())])
    assert.equal(run.code, 0, run.stderr)
    const out = JSON.parse(run.stdout.trim().split('\n').pop()!) as { errors: unknown[]; llm: boolean; loaded: boolean }
    assert.deepEqual(out.errors, [404, 404, 'unreachable'])
    assert.equal(out.llm, true)
    assert.equal(out.loaded, false)
    assert.equal(receiver.requests, 0)
  })

  it('loads no OpenTelemetry package and sends nothing without an endpoint', async () => {
    receiver.reset()
    const run = await runScript('off', DETECT_STEP, {}, ['inc_off'])
    assert.equal(run.code, 0, run.stderr)
    const { next, loaded } = JSON.parse(run.stdout.trim()) as { next: string; loaded: boolean }
    assert.equal(loaded, false)
    // The flow still carries the incident's traceparent, so turning tracing on mid-incident works.
    assert.equal(next, formatTraceparent(incidentTraceId('inc_off'), incidentRootSpanId('inc_off')))
    assert.equal(receiver.requests, 0)
  })

  it('sends nothing when OTEL_SDK_DISABLED=true, even with an endpoint', async () => {
    receiver.reset()
    const run = await runScript(
      'disabled',
      DETECT_STEP,
      { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_SDK_DISABLED: 'true' },
      ['inc_disabled'],
    )
    assert.equal(run.code, 0, run.stderr)
    assert.equal(JSON.parse(run.stdout.trim()).loaded, false)
    assert.equal(receiver.requests, 0)
  })

  it('a collector that never answers does not fail or hang the step', async () => {
    const silent = http.createServer(() => {})
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r))
    try {
      const url = `http://127.0.0.1:${(silent.address() as AddressInfo).port}`
      const run = await runScript('silent', DETECT_STEP, { OTEL_EXPORTER_OTLP_ENDPOINT: url }, ['inc_silent'])
      assert.equal(run.code, 0, run.stderr)
      assert.equal(parseTraceparent(JSON.parse(run.stdout.trim()).next)?.traceId, incidentTraceId('inc_silent'))
    } finally {
      silent.closeAllConnections()
      await new Promise((r) => silent.close(r))
    }
  })
})
