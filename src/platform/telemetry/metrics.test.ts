/**
 * Metrics: step processes publish through a real Redis, the main process's registry renders them,
 * and a real Prometheus (Debian's binary) scrapes and answers PromQL about them.
 */
import assert from 'node:assert/strict'
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { Redis } from 'ioredis'
import { freePort, waitFor } from '../../../tests/helpers/ports'
import { startRedis, type TestRedis } from '../../../tests/helpers/redis'
import { FLEET_NODES_KEY, FLEET_SEEN_KEY } from '../fleet/keys'
import { getConfig } from '../config/index'
import { AuditLog } from '../store/audit'
import { IncidentStore } from '../store/incidents'
import { escalate, resolve } from '../store/lifecycle'
import type { Alert } from '../store/model'
import { listNodes } from '../../report/nodes'
import { createMetrics, METRICS_KEY_PREFIX, metricsRecorder, SHARED_METRICS, type Metrics } from './metrics'

const ROOT = path.resolve(import.meta.dirname, '../../..')
let redis: TestRedis
let dir: string

/** Parses the exposition text into `name{labels}` → value. */
function parseExposition(text: string): Map<string, number> {
  const out = new Map<string, number>()
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$/.exec(line)
    assert.ok(m, `unparseable exposition line: ${line}`)
    out.set(`${m[1]}${m[2] ?? ''}`, Number(m[3]))
  }
  return out
}

before(async () => {
  redis = await startRedis()
  dir = mkdtempSync(path.join(os.tmpdir(), 'sentinel-test-metrics-'))
})
after(async () => {
  await redis.stop()
  rmSync(dir, { recursive: true, force: true })
})

describe('metrics through Redis', () => {
  let metrics: Metrics
  before(async () => {
    await redis.client.flushall()
    metrics = await createMetrics({
      redis: redis.client,
      pendingApprovals: async () => 2,
      healthScores: async () => ({ system: 0.9, containers: { web: 0.25 } }),
    })
  })

  it('renders what a separate step process published, with cumulative histogram buckets', async () => {
    // A step process: only the recorder, as steps would use it.
    const script = path.join(dir, 'step.mts')
    writeFileSync(
      script,
      `
const { Redis } = await import(process.env.IOREDIS_URL)
const { metricsRecorder } = await import(process.env.METRICS_MODULE)
const redis = new Redis({ host: '127.0.0.1', port: Number(process.env.REDIS_PORT) })
const m = metricsRecorder(redis)
await m.incidentOpened({ type: 'container_down', severity: 'critical', node: 'ctl', detectSeconds: 0.8 })
await m.incidentResolved({ type: 'container_down', severity: 'critical', node: 'ctl', resolveSeconds: 12 })
await m.action({ action: 'restart_container', result: 'succeeded', node: 'edge-1' })
await m.llmCall({ model: 'deepseek/deepseek-r1', outcome: 'ok', seconds: 3.5, promptTokens: 1200, completionTokens: 340 })
await m.llmCall({ model: 'deepseek/deepseek-r1', outcome: 'error', seconds: 30.2, reason: 'timeout' })
await m.analyserFallback({ reason: 'llm_failed' })
redis.disconnect()
const loaded = Object.keys((await import('node:module')).createRequire(import.meta.url).cache).some((k) => k.includes('prom-client'))
console.log(JSON.stringify({ loaded }))
`,
    )
    const out = await new Promise<string>((resolve, reject) =>
      execFile(
        process.execPath,
        ['--import', 'tsx', script],
        {
          cwd: ROOT,
          timeout: 60_000,
          env: {
            ...process.env,
            METRICS_MODULE: path.join(import.meta.dirname, 'metrics.ts'),
            IOREDIS_URL: import.meta.resolve('ioredis'),
            REDIS_PORT: String(redis.port),
          },
        },
        (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout)),
      ),
    )
    assert.equal(JSON.parse(out.trim()).loaded, false, 'a step process does not load prom-client')

    // And this process records too (the main process's own fast path).
    await metrics.incidentOpened({ type: 'container_down', severity: 'critical', node: 'ctl', detectSeconds: 7 })
    await metrics.incidentResolved({ type: 'container_down', severity: 'critical', node: 'ctl', resolveSeconds: 4000 })
    await metrics.incidentEscalated({ type: 'memory', severity: 'warning', node: 'edge-1' })
    await metrics.rollback({ action: 'update_memory_limit', result: 'succeeded', node: 'edge-1' })
    metrics.sseClientConnected()
    metrics.sseClientConnected()
    metrics.sseClientDisconnected()

    const v = parseExposition(await metrics.render())
    assert.equal(v.get('sentinel_incidents_opened_total{type="container_down",severity="critical",node="ctl"}'), 2)
    assert.equal(v.get('sentinel_incidents_resolved_total{type="container_down",severity="critical",node="ctl"}'), 2)
    assert.equal(v.get('sentinel_incidents_escalated_total{type="memory",severity="warning",node="edge-1"}'), 1)
    assert.equal(v.get('sentinel_actions_total{action="restart_container",result="succeeded",node="edge-1"}'), 1)
    assert.equal(v.get('sentinel_rollbacks_total{action="update_memory_limit",result="succeeded",node="edge-1"}'), 1)
    assert.equal(v.get('sentinel_llm_calls_total{model="deepseek/deepseek-r1",outcome="ok"}'), 1)
    assert.equal(v.get('sentinel_llm_calls_total{model="deepseek/deepseek-r1",outcome="error"}'), 1)
    assert.equal(v.get('sentinel_llm_failures_total{model="deepseek/deepseek-r1",reason="timeout"}'), 1)
    assert.equal(v.get('sentinel_llm_tokens_total{model="deepseek/deepseek-r1",kind="prompt"}'), 1200)
    assert.equal(v.get('sentinel_llm_tokens_total{model="deepseek/deepseek-r1",kind="completion"}'), 340)
    assert.equal(v.get('sentinel_analyser_fallbacks_total{reason="llm_failed"}'), 1)

    // time to detect: 0.8 s and 7 s.
    const ctl = 'type="container_down",node="ctl"'
    assert.equal(v.get(`sentinel_time_to_detect_seconds_bucket{${ctl},le="0.5"}`), 0)
    assert.equal(v.get(`sentinel_time_to_detect_seconds_bucket{${ctl},le="1"}`), 1)
    assert.equal(v.get(`sentinel_time_to_detect_seconds_bucket{${ctl},le="5"}`), 1)
    assert.equal(v.get(`sentinel_time_to_detect_seconds_bucket{${ctl},le="10"}`), 2)
    assert.equal(v.get(`sentinel_time_to_detect_seconds_bucket{${ctl},le="+Inf"}`), 2)
    assert.equal(v.get(`sentinel_time_to_detect_seconds_count{${ctl}}`), 2)
    assert.ok(Math.abs(v.get(`sentinel_time_to_detect_seconds_sum{${ctl}}`)! - 7.8) < 1e-9)
    // time to resolve: 12 s and 4000 s (past the last finite bucket but under +Inf).
    assert.equal(v.get(`sentinel_time_to_resolve_seconds_bucket{${ctl},le="15"}`), 1)
    assert.equal(v.get(`sentinel_time_to_resolve_seconds_bucket{${ctl},le="3600"}`), 1)
    assert.equal(v.get(`sentinel_time_to_resolve_seconds_bucket{${ctl},le="14400"}`), 2)
    assert.equal(v.get(`sentinel_time_to_resolve_seconds_bucket{${ctl},le="+Inf"}`), 2)
    assert.equal(v.get('sentinel_llm_call_duration_seconds_bucket{model="deepseek/deepseek-r1",le="5"}'), 1)
    assert.equal(v.get('sentinel_llm_call_duration_seconds_bucket{model="deepseek/deepseek-r1",le="60"}'), 2)

    assert.equal(v.get('sentinel_approvals_pending'), 2)
    assert.equal(v.get('sentinel_sse_clients'), 1)
    assert.equal(v.get('sentinel_health_score{scope="container",container="web"}'), 0.25)
    assert.equal(v.get('sentinel_health_score{scope="system"}'), 0.9)
    assert.equal(v.get('sentinel_metrics_store_up'), 1)
  })

  it('says which duties this controller leads, and counts its terms begun and lost', async () => {
    let leading: Record<string, number> = { monitor: 4, 'engine:web-1': 2 }
    const m = await createMetrics({ redis: redis.client, defaultMetrics: false, leading: () => leading })
    m.leaseChanged('monitor', 'acquired')
    m.leaseChanged('fleet', 'acquired')
    m.leaseChanged('fleet', 'lost')
    let text = await m.render()
    assert.match(text, /^sentinel_leader\{duty="monitor"\} 1$/m)
    assert.match(text, /^sentinel_leader\{duty="engine:web-1"\} 1$/m)
    assert.match(text, /^sentinel_lease_changes_total\{duty="fleet",change="lost"\} 1$/m)
    assert.match(text, /^sentinel_lease_changes_total\{duty="monitor",change="acquired"\} 1$/m)
    // A duty no longer led is no longer said to be.
    leading = { 'engine:web-1': 2 }
    text = await m.render()
    assert.doesNotMatch(text, /sentinel_leader\{duty="monitor"\}/)
  })

  it('prefixes every metric name with sentinel_', async () => {
    const names = [...parseExposition(await metrics.render()).keys()].map((k) => k.replace(/\{.*$/, ''))
    assert.ok(
      names.some((n) => n.startsWith('sentinel_process_')),
      'process metrics are there',
    )
    assert.deepEqual(
      names.filter((n) => !n.startsWith('sentinel_')),
      [],
    )
  })

  it('serves GET /metrics with the Prometheus content type', async () => {
    const server = http.createServer((req, res) => void metrics.handler(req, res))
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    try {
      const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`)
      assert.equal(res.status, 200)
      assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/)
      assert.match(
        await res.text(),
        /^sentinel_incidents_opened_total\{type="container_down",severity="critical",node="ctl"\} 2$/m,
      )
    } finally {
      server.closeAllConnections()
      await new Promise((r) => server.close(r))
    }
  })

  it('still answers when Redis is down, saying the shared metrics are missing', async () => {
    const deadPort = await freePort()
    const dead = new Redis({
      host: '127.0.0.1',
      port: deadPort,
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    })
    dead.on('error', () => {})
    try {
      const m = await createMetrics({ redis: dead, defaultMetrics: false })
      await m.incidentOpened({ type: 'cpu', severity: 'warning', node: 'ctl' }) // must not throw
      m.setHealthScore('container', 0.5, 'web')
      const v = parseExposition(await m.render())
      assert.equal(v.get('sentinel_metrics_store_up'), 0)
      assert.equal(v.get('sentinel_health_score{scope="container",container="web"}'), 0.5)
      assert.equal([...v.keys()].filter((k) => k.startsWith('sentinel_incidents_')).length, 0)
    } finally {
      dead.disconnect()
    }
  })
})

describe('the node of incidents and actions', () => {
  let dir2: string
  before(async () => {
    await redis.client.flushall()
    dir2 = mkdtempSync(path.join(os.tmpdir(), 'sentinel-test-metrics-node-'))
  })
  after(() => rmSync(dir2, { recursive: true, force: true }))

  const alertOn = (fingerprint: string, node?: string): Alert => ({
    fingerprint,
    type: 'container_down',
    severity: 'critical',
    metric: 'container_running',
    value: 0,
    threshold: 1,
    resource: { kind: 'container', id: fingerprint, name: fingerprint },
    labels: node ? { node } : {},
    source: 'test',
    at: new Date().toISOString(),
  })

  it('labels what the incident store and the audit log count with the node, else this node', async () => {
    const store = new IncidentStore(redis.client)
    const audit = new AuditLog(redis.client, path.join(dir2, 'audit', 'audit.jsonl'))
    const here = getConfig().NODE_NAME
    const remote = `edge-${process.pid}`
    assert.notEqual(remote, here)

    const onRemote = (await store.open(alertOn('fp-remote', remote), { title: 'remote', actor: 'test' })).incident
    const onHere = (await store.open(alertOn('fp-here'), { title: 'here', actor: 'test' })).incident
    await store.update(onRemote.id, (i) => resolve(i, { actor: 'test', summary: 'cleared' }))
    await store.update(onHere.id, (i) => escalate(i, { actor: 'test', summary: 'left for a person' }))
    const executed = { kind: 'action.executed', actor: 'test', outcome: 'succeeded' }
    await audit.append({ ...executed, node: remote, data: { actionId: 'restart_container' } })
    await audit.append({ ...executed, data: { actionId: 'restart_container' } })
    await audit.append({
      kind: 'action.rolled_back',
      actor: 'test',
      outcome: 'succeeded',
      node: remote,
      data: { actionId: 'update_memory_limit' },
    })

    const metrics = await createMetrics({ redis: redis.client, defaultMetrics: false })
    const v = parseExposition(await metrics.render())
    const cd = 'type="container_down",severity="critical"'
    assert.equal(v.get(`sentinel_incidents_opened_total{${cd},node="${remote}"}`), 1)
    assert.equal(v.get(`sentinel_incidents_opened_total{${cd},node="${here}"}`), 1)
    assert.equal(v.get(`sentinel_incidents_resolved_total{${cd},node="${remote}"}`), 1)
    assert.equal(v.get(`sentinel_incidents_resolved_total{${cd},node="${here}"}`), undefined)
    assert.equal(v.get(`sentinel_incidents_escalated_total{${cd},node="${here}"}`), 1)
    assert.equal(v.get(`sentinel_time_to_detect_seconds_count{type="container_down",node="${remote}"}`), 1)
    assert.equal(v.get(`sentinel_time_to_resolve_seconds_count{type="container_down",node="${remote}"}`), 1)
    assert.equal(v.get(`sentinel_actions_total{action="restart_container",result="succeeded",node="${remote}"}`), 1)
    assert.equal(v.get(`sentinel_actions_total{action="restart_container",result="succeeded",node="${here}"}`), 1)
    assert.equal(v.get(`sentinel_rollbacks_total{action="update_memory_limit",result="succeeded",node="${remote}"}`), 1)
  })

  it('still renders the totals stored before the node label, as node="", merged with the same series', async () => {
    await redis.client.flushall()
    const key = (name: string) => `${METRICS_KEY_PREFIX}${name}`
    const old = (...values: string[]) => JSON.stringify(values)
    await redis.client.hset(key('sentinel_actions_total'), {
      [old('restart_container', 'succeeded')]: '6',
      [old('restart_container', 'succeeded', '')]: '1',
      [old('restart_container', 'failed', 'edge-2')]: '2',
      // Not this metric's: more values than it has labels.
      [old('restart_container', 'succeeded', 'edge-2', 'extra')]: '50',
    })
    await redis.client.hset(key('sentinel_time_to_detect_seconds'), {
      [`bucket|${old('cpu', '1')}`]: '2',
      [`bucket|${old('cpu', '10')}`]: '1',
      [`count|${old('cpu')}`]: '3',
      [`sum|${old('cpu')}`]: '9.5',
      [`bucket|${old('cpu', '', '10')}`]: '1',
      [`count|${old('cpu', '')}`]: '1',
      [`sum|${old('cpu', '')}`]: '4',
    })
    const metrics = await createMetrics({ redis: redis.client, defaultMetrics: false })
    const text = await metrics.render()
    const v = parseExposition(text)
    assert.equal(v.get('sentinel_actions_total{action="restart_container",result="succeeded",node=""}'), 7)
    assert.equal(v.get('sentinel_actions_total{action="restart_container",result="failed",node="edge-2"}'), 2)
    assert.equal([...v.keys()].filter((k) => k.startsWith('sentinel_actions_total')).length, 2)
    const cpu = 'type="cpu",node=""'
    assert.equal(v.get(`sentinel_time_to_detect_seconds_bucket{${cpu},le="1"}`), 2)
    assert.equal(v.get(`sentinel_time_to_detect_seconds_bucket{${cpu},le="10"}`), 4)
    assert.equal(v.get(`sentinel_time_to_detect_seconds_bucket{${cpu},le="+Inf"}`), 4)
    assert.equal(v.get(`sentinel_time_to_detect_seconds_count{${cpu}}`), 4)
    assert.equal(v.get(`sentinel_time_to_detect_seconds_sum{${cpu}}`), 13.5)
    // Every series once: a repeated one would make Prometheus refuse the scrape.
    const series = text
      .split('\n')
      .filter((l) => l && !l.startsWith('#'))
      .map((l) => l.replace(/ \S+$/, ''))
    assert.equal(new Set(series).size, series.length)
  })

  it('shows each node up or down, with the age of its last beat, from the node list', async () => {
    await redis.client.flushall()
    const now = Date.parse('2030-01-01T00:00:00Z')
    const seen = (state: 'up' | 'down', ageSeconds: number) =>
      JSON.stringify({
        state,
        lastBeatAt: new Date(now - ageSeconds * 1000).toISOString(),
        seq: 7,
        since: new Date(now - 3_600_000).toISOString(),
      })
    await redis.client.sadd(FLEET_NODES_KEY, 'edge-up', 'edge-down', 'edge-new')
    await redis.client.hset(FLEET_SEEN_KEY, { 'edge-up': seen('up', 3), 'edge-down': seen('down', 120) })
    const warnings: string[] = []
    let failing = false
    const metrics = await createMetrics({
      redis: redis.client,
      defaultMetrics: false,
      // As src/app/runtime.ts wires it.
      nodes: async () => {
        if (failing) throw new Error('node list unreadable')
        return (await listNodes(redis.client, { localNode: 'ctl', now })).map((n) => ({
          node: n.name,
          state: n.state,
          lastBeatAgeSeconds: n.lastBeatAgeSeconds,
        }))
      },
      log: (_level, msg) => warnings.push(msg),
    })
    let v = parseExposition(await metrics.render())
    assert.equal(v.get('sentinel_node_up{node="edge-up"}'), 1)
    assert.equal(v.get('sentinel_node_up{node="edge-down"}'), 0)
    assert.equal(v.get('sentinel_node_up{node="edge-new"}'), undefined, 'no beat seen yet: unknown, absent')
    assert.equal(v.get('sentinel_node_up{node="ctl"}'), 1, 'the controller with no agent of its own')
    assert.equal(v.get('sentinel_node_heartbeat_age_seconds{node="edge-up"}'), 3)
    assert.equal(v.get('sentinel_node_heartbeat_age_seconds{node="edge-down"}'), 120)
    assert.equal(v.get('sentinel_node_heartbeat_age_seconds{node="edge-new"}'), undefined)

    // The node comes back; another one's record turns unreadable: its earlier value goes.
    await redis.client.hset(FLEET_SEEN_KEY, { 'edge-down': seen('up', 1), 'edge-up': '{not json' })
    await new Promise((r) => setTimeout(r, 300)) // past the one-read-per-scrape window
    v = parseExposition(await metrics.render())
    assert.equal(v.get('sentinel_node_up{node="edge-down"}'), 1)
    assert.equal(v.get('sentinel_node_up{node="edge-up"}'), undefined)
    assert.equal(v.get('sentinel_node_heartbeat_age_seconds{node="edge-up"}'), undefined)

    // The list unreadable: no node gauge at all (rather than stale ones), and a warning.
    failing = true
    await new Promise((r) => setTimeout(r, 300))
    v = parseExposition(await metrics.render())
    assert.equal([...v.keys()].filter((k) => k.startsWith('sentinel_node_')).length, 0)
    assert.ok(warnings.some((w) => /node list unreadable/.test(w)))
  })
})

describe('scraped by a real Prometheus', () => {
  let prom: ChildProcess | undefined
  let server: http.Server | undefined
  let promUrl = ''

  after(async () => {
    if (prom && prom.exitCode === null) {
      const exited = new Promise((r) => prom!.once('exit', r))
      prom.kill('SIGTERM')
      await exited
    }
    if (server) {
      server.closeAllConnections()
      await new Promise((r) => server!.close(r))
    }
  })

  async function query(expr: string): Promise<{
    status: string
    data: { resultType: string; result: { metric: Record<string, string>; value: [number, string] }[] }
    error?: string
  }> {
    const res = await fetch(`${promUrl}/api/v1/query?query=${encodeURIComponent(expr)}`)
    return (await res.json()) as never
  }
  const scalarOf = async (expr: string) => {
    const r = await query(expr)
    return r.status === 'success' && r.data.result.length === 1 ? Number(r.data.result[0].value[1]) : undefined
  }

  it('answers PromQL queries about the incident counters', async () => {
    await redis.client.flushall()
    const metrics = await createMetrics({ redis: redis.client, defaultMetrics: false })
    const step = metricsRecorder(redis.client)
    for (let i = 0; i < 3; i++)
      await step.incidentOpened({ type: 'container_down', severity: 'critical', node: 'ctl', detectSeconds: 2 })
    await step.incidentOpened({ type: 'memory', severity: 'warning', node: 'edge-1' })
    await step.incidentResolved({ type: 'container_down', severity: 'critical', node: 'ctl', resolveSeconds: 12 })
    await step.incidentResolved({ type: 'container_down', severity: 'critical', node: 'ctl', resolveSeconds: 40 })
    await step.incidentEscalated({ type: 'memory', severity: 'warning', node: 'edge-1' })
    // Counted before the node label: its field holds two label values; and one counted since with node ''.
    const opened = `${METRICS_KEY_PREFIX}sentinel_incidents_opened_total`
    await redis.client.hincrby(opened, JSON.stringify(['disk', 'warning']), 4)
    await redis.client.hincrby(opened, JSON.stringify(['disk', 'warning', '']), 1)

    server = http.createServer((req, res) => {
      if (req.url === '/metrics') void metrics.handler(req, res)
      else res.writeHead(404).end()
    })
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r))
    const target = `127.0.0.1:${(server.address() as AddressInfo).port}`

    const promPort = await freePort()
    promUrl = `http://127.0.0.1:${promPort}`
    writeFileSync(
      path.join(dir, 'prometheus.yml'),
      `global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: sentinel\n    scrape_interval: 1s\n    static_configs:\n      - targets: ['${target}']\n`,
    )
    let log = ''
    prom = spawn(
      'prometheus',
      [
        `--config.file=${path.join(dir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${path.join(dir, 'tsdb')}`,
        `--web.listen-address=127.0.0.1:${promPort}`,
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    )
    prom.stderr!.on('data', (c) => (log = (log + c).slice(-4000)))
    await waitFor(async () => (await fetch(`${promUrl}/-/ready`)).ok, {
      timeoutMs: 30_000,
      what: `prometheus ready (${log})`,
    })

    await waitFor(
      async () => (await scalarOf('sentinel_incidents_opened_total{type="container_down",severity="critical"}')) === 3,
      {
        timeoutMs: 30_000,
        intervalMs: 250,
        what: 'the scraped incident counter',
      },
    )
    assert.equal(await scalarOf('sum(sentinel_incidents_opened_total)'), 9)
    assert.equal(await scalarOf('sentinel_incidents_opened_total{type="disk",node=""}'), 5)
    assert.equal(await scalarOf('sum(sentinel_incidents_opened_total{node="edge-1"})'), 1)
    assert.equal(await scalarOf('sum(sentinel_incidents_opened_total{node="ctl"})'), 3)
    assert.equal(await scalarOf('sum(sentinel_incidents_resolved_total)'), 2)
    assert.equal(await scalarOf('sentinel_incidents_escalated_total{type="memory"}'), 1)
    assert.equal(await scalarOf('sentinel_time_to_resolve_seconds_bucket{le="15"}'), 1)
    assert.equal(await scalarOf('sentinel_time_to_resolve_seconds_count'), 2)
    assert.equal(await scalarOf('sentinel_time_to_resolve_seconds_sum / sentinel_time_to_resolve_seconds_count'), 26)
    assert.equal(await scalarOf('sentinel_incidents_escalated_total{node="edge-1"}'), 1)
    const up = await query('up{job="sentinel"}')
    assert.equal(up.data.result[0]?.value[1], '1')

    // A later increment from another "process" shows up at the next scrapes.
    await metricsRecorder(redis.client).incidentOpened({ type: 'container_down', severity: 'critical', node: 'ctl' })
    await waitFor(
      async () => (await scalarOf('sentinel_incidents_opened_total{type="container_down",severity="critical"}')) === 4,
      {
        timeoutMs: 30_000,
        intervalMs: 250,
        what: 'the incremented counter',
      },
    )
  })

  it('evaluates every query of the Grafana dashboard, naming only metrics that exist', async () => {
    assert.ok(promUrl, 'Prometheus runs (previous test)')
    const dashboard = JSON.parse(
      readFileSync(path.join(ROOT, 'observability/grafana/dashboards/sentinel.json'), 'utf8'),
    ) as { panels: { title: string; targets?: { expr: string }[] }[] }
    const exprs = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, expr: t.expr })))
    assert.ok(exprs.length >= 15, `the dashboard has its queries (${exprs.length})`)

    const metrics = await createMetrics({ redis: redis.client })
    const known = new Set(
      [
        ...parseExposition(await metrics.render()).keys(),
        ...Object.values(SHARED_METRICS).map((d) => d.name),
        'sentinel_approvals_pending',
        'sentinel_health_score',
        'sentinel_sse_clients',
      ].map((k) => k.replace(/\{.*$/, '').replace(/_(bucket|sum|count)$/, '')),
    )
    for (const { panel, expr } of exprs) {
      const concrete = expr
        .replaceAll('$__rate_interval', '1m')
        .replaceAll('$__range', '5m')
        .replaceAll('$resource', '.*')
      const r = await query(concrete)
      assert.equal(r.status, 'success', `${panel}: ${expr}: ${r.error}`)
      for (const name of expr.match(/\bsentinel_[a-z0-9_]+/g) ?? []) {
        assert.ok(known.has(name.replace(/_(bucket|sum|count)$/, '')), `${panel}: unknown metric ${name}`)
      }
    }
  })
})
