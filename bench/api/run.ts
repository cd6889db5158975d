/**
 * bench/api (`npm run bench:api`): latency, throughput and memory of two API routes on a real
 * Sentinel (`motia start`, as npm start runs it) with 10 000 incidents in its store:
 *
 *   GET  /api/incidents?limit=50    viewer key    an API step (Motia runs it in a process per request)
 *   POST /api/alerts/alertmanager   operator key  served by Sentinel's main process
 *
 * each at 1 and at 50 concurrent clients (fetch, keep-alive), every case --runs times (default 3),
 * interleaved; the table quotes the median over the runs. A case is 500 requests (c=1) or 5 000
 * (c=50), or --seconds (default 30), whichever comes first; requests in flight at the deadline are
 * awaited and counted, a request gives up after --timeout seconds (default 30). Each case starts
 * once Sentinel's process group is back to its idle size (a request abandoned at the timeout goes
 * on running in its step process). --quick: one run, 20 / 200 requests, 10 s.
 *
 *   npm run bench:api -- [--quick] [--runs 3] [--seconds 30] [--timeout 30] [--incidents 10000]
 *
 * Figures per case: p50, p99 and mean latency (every request, failed ones included), throughput
 * (2xx responses per second of the case), errors (non-2xx, a network error or the --timeout, or a
 * 2xx that is not the expected answer; the first one is printed), and RSS sampled from /proc while
 * the case runs: the Sentinel main process alone (max), and its whole process group (max; step
 * processes included) with the most processes seen in it. `conns` is the most established client
 * connections to Sentinel's port seen during the case (about the client count when keep-alive holds).
 *
 * Seeding: incidents are written with the real store (`IncidentStore.open`, then one
 * `IncidentStore.update` with what the flow adds: analysis, decision, action, verification,
 * resolution), before Sentinel starts, so the time index the list endpoint reads is the real one.
 * All are terminal (resolved, escalated, suppressed), so Sentinel's start-up recovery has nothing
 * to resume. The webhook posts one firing alert that Sentinel cannot fix (an `other` alertname on a
 * host: the policy escalates it to a person); the warm-up opens its incident, waits until it is
 * escalated, and from then on every call is Alertmanager's repeat notification of a held alert.
 *
 * Starts its own Redis and Sentinel (own data directories, free ports) and removes them at the
 * end, on failure and on Ctrl-C. The last line is every figure as JSON, to compare with a later run.
 */
import http from 'node:http'
import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { readdirSync, readFileSync, readlinkSync } from 'node:fs'
import os from 'node:os'
import type { Redis } from 'ioredis'
import { IncidentStore } from '../../src/platform/store/incidents'
import type { Alert, AlertType, Incident, Severity } from '../../src/platform/store/model'
import { stormPayload } from '../../tests/helpers/alertmanager'
import { startRedis, type TestRedis } from '../../tests/helpers/redis'
import { PROJECT_ROOT, startSentinel, type SentinelInstance } from '../../tests/helpers/sentinel'
import { arg, machine, mib, nowMs, quantile, sleep } from '../sse/common'

const QUICK = process.argv.includes('--quick')
const RUNS = arg('runs', QUICK ? 1 : 3)
const SECONDS = arg('seconds', QUICK ? 10 : 30)
const TIMEOUT_MS = arg('timeout', 30) * 1000
const INCIDENTS = arg('incidents', 10_000)
const DEADLINE_S = arg('deadline', 1800)
const SEED_CONCURRENCY = 64

type Kind = 'list' | 'listFull' | 'alert'
interface Case {
  kind: Kind
  label: string
  clients: number
  requests: number
}
const CASES: Case[] = [
  { kind: 'list', label: 'GET  /api/incidents?limit=50', clients: 1, requests: QUICK ? 20 : 500 },
  { kind: 'list', label: 'GET  /api/incidents?limit=50', clients: 50, requests: QUICK ? 200 : 5000 },
  // Whole incidents (~4 KB each, what the list returned before it returned summaries).
  { kind: 'listFull', label: 'GET  /api/incidents?limit=50&view=full', clients: 1, requests: QUICK ? 20 : 500 },
  { kind: 'listFull', label: 'GET  /api/incidents?limit=50&view=full', clients: 50, requests: QUICK ? 200 : 5000 },
  { kind: 'alert', label: 'POST /api/alerts/alertmanager', clients: 1, requests: QUICK ? 20 : 500 },
  { kind: 'alert', label: 'POST /api/alerts/alertmanager', clients: 50, requests: QUICK ? 200 : 5000 },
]

interface CaseRun {
  requests: number
  ok: number
  errors: number
  /** Requests abandoned at --timeout (counted in errors too). */
  timeouts: number
  firstError: string | null
  seconds: number
  /** Sentinel's main-process RSS when the case began. */
  mainRssStart: number
  p50: number
  p99: number
  mean: number
  rps: number
  mainRssMax: number
  groupRssMax: number
  groupProcsMax: number
  connsMax: number
  /** Webhook calls that opened an incident (0 expected: the alert is held). */
  opened: number
}

// --- /proc sampling -------------------------------------------------------------------------------

/** VmRSS of one process in bytes (NaN when it is gone). */
function rssOf(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return m ? Number(m[1]) * 1024 : NaN
  } catch {
    return NaN
  }
}

/** Total RSS and number of the processes in a process group (Sentinel runs in its own). */
function groupOf(pgid: number): { rss: number; procs: number } {
  let rss = 0
  let procs = 0
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8')
      // pid (comm) state ppid pgrp ...: comm may hold spaces, so count from its closing parenthesis.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      if (Number(fields[2]) !== pgid) continue
      const r = rssOf(Number(name))
      if (Number.isFinite(r)) {
        rss += r
        procs++
      }
    } catch {}
  }
  return { rss, procs }
}

/** Established TCP connections to 127.0.0.1:port (the client side of each, as this host sees it). */
function connectionsTo(port: number): number {
  const hex = port.toString(16).toUpperCase().padStart(4, '0')
  let n = 0
  for (const line of readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1)) {
    const f = line.trim().split(/\s+/)
    if (f.length > 3 && f[2] === `0100007F:${hex}` && f[3] === '01') n++
  }
  return n
}

function startSampler(pid: number, port: number) {
  const s = { mainRssMax: rssOf(pid), groupRssMax: 0, groupProcsMax: 0, connsMax: 0 }
  let tick = 0
  const sample = (full = false) => {
    s.mainRssMax = Math.max(s.mainRssMax, rssOf(pid) || 0)
    // The group scan reads every process's stat: every 5th tick (500 ms) is enough.
    if (tick++ % 5 === 0 || full) {
      const g = groupOf(pid)
      s.groupRssMax = Math.max(s.groupRssMax, g.rss)
      s.groupProcsMax = Math.max(s.groupProcsMax, g.procs)
      s.connsMax = Math.max(s.connsMax, connectionsTo(port))
    }
  }
  sample(true)
  const timer = setInterval(sample, 100)
  return {
    stop() {
      clearInterval(timer)
      sample(true)
      return s
    },
  }
}

// --- seeding ----------------------------------------------------------------------------------------

const iso = (ms: number) => new Date(ms).toISOString()

/** The alert of seeded incident k: six in ten container deaths, then memory, disk, cpu, anomaly. */
function seedAlert(k: number): { alert: Alert; title: string; actor: string } {
  const at = Date.now() - 2000
  const slot = k % 10
  const svc = `svc-${k % 40}`
  const mk = (
    type: AlertType,
    severity: Severity,
    metric: string,
    value: number | null,
    threshold: number | null,
    resource: Alert['resource'],
    source: string,
    details: Record<string, unknown>,
  ): Alert => ({
    fingerprint: `bench:${type}:${resource.id}:${k}`,
    type,
    severity,
    metric,
    value,
    threshold,
    resource,
    labels: { resource: resource.name },
    source,
    at: iso(at),
    details,
  })
  if (slot < 6) {
    const id = createHash('sha256')
      .update(`bench-container-${k % 40}`)
      .digest('hex')
    return {
      alert: mk(
        'container_down',
        'critical',
        'container_state',
        137,
        null,
        { kind: 'container', id, name: svc },
        'docker:events',
        { exitCode: 137, oomKilled: false, signal: 'SIGKILL', image: 'sentinel-busybox:test', action: 'die' },
      ),
      title: `container ${svc} is down`,
      actor: 'sentinel:docker-watcher',
    }
  }
  if (slot < 8) {
    const host = `node-${k % 7}`
    return {
      alert: mk(
        'memory',
        'warning',
        'memory_used_percent',
        91.4,
        90,
        { kind: 'host', id: host, name: host },
        'collector:meminfo',
        { availableBytes: 1_406_000_000, totalBytes: 16_700_000_000 },
      ),
      title: `memory_used_percent 91.4 over 90 on ${host}`,
      actor: 'step:Monitor',
    }
  }
  if (slot < 9) {
    return {
      alert: mk(
        'disk',
        'warning',
        'disk_used_percent',
        93.2,
        90,
        { kind: 'filesystem', id: `node-${k % 7}:/var`, name: '/var' },
        'collector:statfs',
        { freeBytes: 2_100_000_000, totalBytes: 31_000_000_000 },
      ),
      title: `disk_used_percent 93.2 over 90 on /var`,
      actor: 'step:Monitor',
    }
  }
  const series = `latency:https://svc-${k % 13}.internal/health`
  return {
    alert: mk(
      'anomaly',
      'warning',
      'probe_latency_ms',
      812,
      null,
      { kind: 'series', id: series, name: `svc-${k % 13}` },
      'anomaly-detector',
      { expectedLow: 40, expectedHigh: 180, score: 0.93 },
    ),
    title: `anomaly: probe_latency_ms 812 on svc-${k % 13}, expected 40..180 (score 0.93)`,
    actor: 'step:Monitor',
  }
}

/** What the flow adds to incident k after it opens (analysis → decision → action → verification → end). */
function seedHistory(k: number, i: Incident): void {
  const t0 = Date.parse(i.openedAt)
  const at = (s: number) => iso(t0 + s * 1000)
  const analysis = (
    root_cause: string,
    proposed_fix: { action: string; params: Record<string, unknown> } | null,
    risk_level: 'low' | 'medium',
    confidence: number,
    evidence: string[],
    facts: Record<string, unknown>,
  ) => ({
    analyser: 'rules',
    fallbackReason: 'no OPENROUTER_API_KEY',
    root_cause,
    evidence,
    proposed_fix,
    risk_level,
    confidence,
    facts,
  })
  const analysed = (a: ReturnType<typeof analysis>) => {
    i.analysis = a
    i.timeline.push({
      stage: 'analyzed',
      at: at(0.3),
      actor: 'step:AnalyzeIncident (rules)',
      summary: `rule analyser: ${a.root_cause}`,
      data: {
        analyser: 'rules',
        fallbackReason: a.fallbackReason,
        risk: a.risk_level,
        confidence: a.confidence,
        proposedFix: a.proposed_fix,
      },
    })
  }
  const decided = (d: NonNullable<Incident['decision']>) => {
    i.decision = d
    i.timeline.push({
      stage: 'decided',
      at: d.decidedAt,
      actor: 'step:DecideRemediation',
      summary: `${d.route} (${d.risk} risk, ${d.rule})`,
      data: { ...d },
    })
  }
  if (i.type === 'container_down') {
    const containerId = i.resource.id
    const logs = Array.from(
      { length: 12 },
      (_, n) => `2025-01-01T00:00:${String(n).padStart(2, '0')}Z ${i.resource.name} GET /health 200 ${3 + (n % 5)}ms`,
    )
    analysed(
      analysis(
        `Container ${i.resource.name} was killed by SIGKILL (exit code 137), not by its own error; a restart should bring it back.`,
        { action: 'restart_container', params: { containerId } },
        'low',
        0.9,
        [`state: exited, exit code 137, OOM killed: no`, `restart count 0, restart policy: no`, ...logs.slice(-5)],
        {
          container: {
            id: containerId,
            name: i.resource.name,
            image: 'sentinel-busybox:test',
            state: 'exited',
            exitCode: 137,
            oomKilled: false,
            restartCount: 0,
            restartPolicy: 'no',
            health: null,
          },
          logs,
        },
      ),
    )
    decided({
      route: 'auto',
      risk: 'low',
      actionId: 'restart_container',
      params: { containerId },
      reasons: [
        'action restart_container is low risk; analysis says low',
        'low risk: fix automatically (1/3 in window)',
      ],
      rule: 'risk:low',
      decidedAt: at(0.35),
    })
    const result = { performed: 'started', containerId, state: 'running', startedAt: at(0.6) }
    i.snapshots = [
      {
        actionId: 'restart_container',
        at: at(0.4),
        before: { containerId, state: 'exited', exitCode: 137, restartCount: 0 },
      },
    ]
    i.actions.push({
      actionId: 'restart_container',
      params: { containerId },
      status: 'succeeded',
      startedAt: at(0.4),
      finishedAt: at(0.7),
      result,
    })
    i.timeline.push({
      stage: 'acted',
      at: at(0.7),
      actor: 'sentinel:fast-path',
      summary: 'restart_container: started',
      data: { actionId: 'restart_container', params: { containerId }, result },
    })
    i.timeline.push({
      stage: 'verified',
      at: at(1.8),
      actor: 'step:VerifyRemediation',
      summary: 'verified: running for 1 s',
      data: { ok: true, detail: 'running for 1 s', checks: 6 },
    })
    i.status = 'resolved'
    i.resolvedAt = at(1.9)
    i.timeline.push({
      stage: 'resolved',
      at: at(1.9),
      actor: 'step:ResolveIncident',
      summary: 'container running again; verified',
    })
    return
  }
  if (i.type === 'anomaly') {
    analysed(
      analysis(
        `${i.alert.metric} on ${i.resource.name} departs from its usual behaviour; the metric does not point to a cause the rules know, so a person should look.`,
        null,
        'low',
        0.2,
        [`anomaly on ${i.alert.metric} = ${i.alert.value}`],
        {},
      ),
    )
    decided({
      route: 'escalate',
      risk: 'medium',
      actionId: null,
      params: {},
      approverRole: 'admin',
      reasons: ['anomaly with no known fix: left for a person; it resolves when the series is back to normal'],
      rule: 'anomaly-no-fix',
      decidedAt: at(0.35),
    })
    i.timeline.push({
      stage: 'escalated',
      at: at(0.36),
      actor: 'step:DecideRemediation',
      summary:
        'escalated to an admin: anomaly with no known fix: left for a person; it resolves when the series is back to normal',
      data: { approverRole: 'admin' },
    })
    // One in two was closed by a person since; the others still wait for one.
    if (k % 20 === 9) {
      i.status = 'escalated'
    } else {
      i.status = 'resolved'
      i.resolvedAt = at(900)
      i.timeline.push({
        stage: 'resolved',
        at: at(900),
        actor: 'user:admin',
        summary: 'closed by user:admin: series back to normal',
        data: { role: 'admin', manual: true },
      })
    }
    return
  }
  // memory and disk: nothing the rules can safely do; verified against the metric, cleared by the monitor.
  analysed(
    analysis(
      i.type === 'memory'
        ? 'Memory is high; the largest process is java (pid 4242, 5.1 GiB), not one Sentinel may act on.'
        : 'The disk is filling; most of it is /var/log (18.2 GiB), outside the sandbox.',
      null,
      'low',
      0.4,
      [`${i.alert.metric} = ${i.alert.value} (threshold ${i.alert.threshold})`],
      {
        top: [
          { pid: 4242, name: 'java', rssBytes: 5_476_083_712 },
          { pid: 911, name: 'postgres', rssBytes: 1_203_000_000 },
        ],
      },
    ),
  )
  decided({
    route: 'defer',
    risk: 'low',
    actionId: null,
    params: {},
    reasons: ['no fix was proposed: verify instead of acting; escalate if it is not fine'],
    rule: 'no-fix',
    decidedAt: at(0.35),
  })
  if (k % 30 === 8) {
    i.status = 'suppressed'
    i.timeline.push({
      stage: 'suppressed',
      at: at(2),
      actor: 'step:VerifyRemediation',
      summary: 'maintenance window: suppressed',
    })
    return
  }
  i.timeline.push({
    stage: 'verified',
    at: at(60),
    actor: 'step:VerifyRemediation',
    summary: `verified: ${i.alert.metric} back under ${i.alert.threshold}`,
    data: {
      ok: true,
      detail: `${i.alert.metric} ${Number(i.alert.value) - 6} under ${i.alert.threshold}`,
      remeasure: { status: 'ok', value: Number(i.alert.value) - 6 },
    },
  })
  i.status = 'resolved'
  i.resolvedAt = at(61)
  i.timeline.push({
    stage: 'resolved',
    at: at(61),
    actor: 'step:ResolveIncident',
    summary: 'the alert has been clear for the hold-down time',
  })
}

async function seed(client: Redis, n: number): Promise<{ ms: number; meanBytes: number }> {
  const store = new IncidentStore(client)
  const started = nowMs()
  let next = 0
  const worker = async () => {
    while (next < n) {
      const k = next++
      const { alert, title, actor } = seedAlert(k)
      const { incident, created } = await store.open(alert, { title, actor })
      if (!created) throw new Error(`seed ${k}: fingerprint ${alert.fingerprint} already held`)
      await store.update(incident.id, (i) => seedHistory(k, i))
    }
  }
  await Promise.all(Array.from({ length: SEED_CONCURRENCY }, worker))
  const ms = nowMs() - started
  const [count, open] = await Promise.all([
    client.zcard('sentinel:incidents:by_time'),
    client.scard('sentinel:incidents:open'),
  ])
  if (count !== n) throw new Error(`seeded ${n} incidents but the time index holds ${count}`)
  if (open !== 0) throw new Error(`${open} seeded incidents are still open`)
  const sample = await store.list({ limit: 200 })
  const meanBytes = sample.reduce((s, i) => s + JSON.stringify(i).length, 0) / sample.length
  return { ms, meanBytes }
}

// --- load -------------------------------------------------------------------------------------------

interface Target {
  url: string
  method: 'GET' | 'POST'
  headers: Record<string, string>
  body?: string
  /** Why a 2xx answer is not the expected one, or null. */
  check(body: any): string | null
}

/**
 * One request over a keep-alive agent (node:http). The load generator shares the machine's two
 * cores with Sentinel: fetch (undici) costs several times more CPU per request than node:http,
 * enough to be the bottleneck at 50 clients, so the lighter client measures the server better.
 */
function send(target: Target, agent: http.Agent): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(target.url, { method: target.method, headers: target.headers, agent }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (d: Buffer) => chunks.push(d))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }))
      res.on('error', reject)
    })
    req.setTimeout(TIMEOUT_MS, () =>
      req.destroy(Object.assign(new Error(`no answer within ${TIMEOUT_MS} ms`), { name: 'TimeoutError' })),
    )
    req.on('error', reject)
    req.end(target.body)
  })
}

async function runCase(c: Case, target: Target, sentinel: SentinelInstance): Promise<CaseRun> {
  const latencies: number[] = []
  let ok = 0
  let errors = 0
  let timeouts = 0
  let opened = 0
  let firstError: string | null = null
  let issued = 0
  const fail = (msg: string) => {
    errors++
    firstError ??= msg
  }
  const mainRssStart = rssOf(sentinel.pid())
  const sampler = startSampler(sentinel.pid(), sentinel.port)
  const started = nowMs()
  const stopAt = started + SECONDS * 1000
  const agent = new http.Agent({ keepAlive: true, maxSockets: c.clients })
  const client = async () => {
    while (issued < c.requests && nowMs() < stopAt) {
      issued++
      const t0 = nowMs()
      try {
        const res = await send(target, agent)
        const text = res.text
        latencies.push(nowMs() - t0)
        if (res.status < 200 || res.status > 299) {
          fail(`HTTP ${res.status}: ${text.slice(0, 300)}`)
          continue
        }
        let body: any
        try {
          body = JSON.parse(text)
        } catch {
          fail(`HTTP ${res.status} but not JSON: ${text.slice(0, 300)}`)
          continue
        }
        if (c.kind === 'alert' && Array.isArray(body.opened)) opened += body.opened.length
        const wrong = target.check(body)
        if (wrong) fail(`HTTP ${res.status} but ${wrong}`)
        else ok++
      } catch (err) {
        latencies.push(nowMs() - t0)
        const e = err as Error & { cause?: { code?: string; message?: string } }
        if (e.name === 'TimeoutError') timeouts++
        fail(`${e.name}: ${e.message}${e.cause ? ` (${e.cause.code ?? ''} ${e.cause.message ?? ''})` : ''}`)
      }
    }
  }
  await Promise.all(Array.from({ length: c.clients }, client))
  agent.destroy()
  const seconds = (nowMs() - started) / 1000
  const s = sampler.stop()
  return {
    requests: latencies.length,
    ok,
    errors,
    timeouts,
    firstError,
    seconds,
    mainRssStart,
    p50: quantile(latencies, 0.5),
    p99: quantile(latencies, 0.99),
    mean: latencies.reduce((a, b) => a + b, 0) / latencies.length,
    rps: ok / seconds,
    ...s,
    opened,
  }
}

// --- main -------------------------------------------------------------------------------------------

function git(args: string[]): string {
  try {
    return execFileSync('git', ['-C', PROJECT_ROOT, ...args], { encoding: 'utf8' }).trim()
  } catch {
    return '?'
  }
}

const median = (xs: number[]) =>
  quantile(
    xs.filter((x) => Number.isFinite(x)),
    0.5,
  )
const fmtMs = (x: number) => (Number.isFinite(x) ? (x >= 100 ? x.toFixed(0) : x.toFixed(1)) : '-')
const round = (x: number, d = 2) => (Number.isFinite(x) ? Math.round(x * 10 ** d) / 10 ** d : null)

async function main() {
  let redis: TestRedis | undefined
  let sentinel: SentinelInstance | undefined
  let redisStarting: Promise<TestRedis> | undefined
  let sentinelStarting: Promise<SentinelInstance> | undefined
  let cleaning: Promise<void> | undefined
  // Waits for a start under way (a Sentinel half started is a detached process group), then ends both.
  const cleanup = () =>
    (cleaning ??= (async () => {
      const within = <T>(p: Promise<T>, ms: number): Promise<T | undefined> =>
        Promise.race([p, sleep(ms).then(() => undefined)])
      sentinel ??= await within(sentinelStarting?.catch(() => undefined) ?? Promise.resolve(undefined), 90_000)
      await within(sentinel?.cleanup() ?? Promise.resolve(), 20_000).catch(() => {})
      redis ??= await within(redisStarting?.catch(() => undefined) ?? Promise.resolve(undefined), 15_000)
      await within(redis?.stop() ?? Promise.resolve(), 15_000).catch(() => {})
    })())
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      console.error(`\nbench/api: ${signal}, cleaning up`)
      void cleanup().finally(() => process.exit(130))
    })
  }
  const deadline = setTimeout(() => {
    console.error(`bench/api: gave up after ${DEADLINE_S} s`)
    void cleanup().finally(() => process.exit(1))
  }, DEADLINE_S * 1000)
  deadline.unref()

  const m = machine()
  const loadStart = os.loadavg()
  const commit = git(['rev-parse', '--short', 'HEAD'])
  const changed = git(['status', '--porcelain', '--untracked-files=no']).split('\n').filter(Boolean).length
  const results: Array<{ c: Case; runs: CaseRun[] }> = CASES.map((c) => ({ c, runs: [] }))
  let seeded: { ms: number; meanBytes: number }
  let realAlertBytes = NaN
  let mainPid = 0
  let sentinelCwd = '?'
  let idleRss = NaN
  try {
    redis = await (redisStarting = startRedis())
    process.stdout.write(`seeding ${INCIDENTS} incidents... `)
    seeded = await seed(redis.client, INCIDENTS)
    console.log(`${(seeded.ms / 1000).toFixed(1)} s`)
    sentinel = await (sentinelStarting = startSentinel({ redisPort: redis.port }))
    mainPid = sentinel.pid()
    sentinelCwd = readlinkSync(`/proc/${mainPid}/cwd`)
    const cmdline = readFileSync(`/proc/${mainPid}/cmdline`, 'utf8').split('\0').join(' ').trim()
    if (!cmdline.includes('scripts/motia-start.mjs'))
      throw new Error(`pid ${mainPid} is not Sentinel's main process: ${cmdline}`)

    const viewer = { authorization: `Bearer ${sentinel.keys.viewer}` }
    const operator = { authorization: `Bearer ${sentinel.keys.operator}`, 'content-type': 'application/json' }
    const payload = stormPayload({ batch: 0, startsAt: new Date(Date.now() - 60_000).toISOString(), count: 1 })
    payload.groupKey = '{}:{alertname="BenchApiQueueBacklog"}'
    payload.alerts[0].labels = {
      alertname: 'BenchApiQueueBacklog',
      instance: 'bench-api-queue:9100',
      severity: 'warning',
    }
    payload.alerts[0].annotations = { summary: 'queue backlog over 10 000 for 5 minutes', value: '12873' }
    payload.alerts[0].fingerprint = 'b3ac4a9e00000001'
    payload.commonLabels = { ...payload.alerts[0].labels }
    const targets: Record<Kind, Target> = {
      list: {
        url: `${sentinel.url}/api/incidents?limit=50`,
        method: 'GET',
        headers: viewer,
        check: (b) =>
          Array.isArray(b.incidents) && b.incidents.length === 50
            ? null
            : `${Array.isArray(b.incidents) ? b.incidents.length : 'no'} incidents, not 50`,
      },
      listFull: {
        url: `${sentinel.url}/api/incidents?limit=50&view=full`,
        method: 'GET',
        headers: viewer,
        check: (b) =>
          Array.isArray(b.incidents) && b.incidents.length === 50 && Array.isArray(b.incidents[0].timeline)
            ? null
            : 'not 50 whole incidents',
      },
      alert: {
        url: `${sentinel.url}/api/alerts/alertmanager`,
        method: 'POST',
        headers: operator,
        body: JSON.stringify(payload),
        check: (b) =>
          Array.isArray(b.updated) && b.updated.length === 1
            ? null
            : `not the held incident: ${JSON.stringify(b).slice(0, 200)}`,
      },
    }

    // Warm-up: the list step compiled and loaded once; the webhook's alert opened, analysed and
    // escalated (it then stays held: later calls are repeats).
    for (let i = 0; i < 3; i++) {
      const r = await sentinel.get('/api/incidents?limit=50', 'viewer')
      if (r.status !== 200 || r.body.incidents?.length !== 50)
        throw new Error(`warm-up list: HTTP ${r.status} ${JSON.stringify(r.body).slice(0, 300)}`)
    }
    const first = await sentinel.post('/api/alerts/alertmanager', payload, 'operator')
    if (first.status !== 200 || first.body.opened?.length !== 1)
      throw new Error(`warm-up webhook: HTTP ${first.status} ${JSON.stringify(first.body).slice(0, 300)}`)
    const heldId: string = first.body.opened[0]
    const store = new IncidentStore(redis.client)
    const deadlineEsc = Date.now() + 60_000
    let held: Incident | null = null
    while (Date.now() < deadlineEsc) {
      held = await store.get(heldId)
      if (held?.status === 'escalated') break
      await sleep(200)
    }
    if (held?.status !== 'escalated')
      throw new Error(`the webhook's incident ${heldId} is ${held?.status ?? 'missing'}, not escalated, after 60 s`)
    realAlertBytes = JSON.stringify(held).length
    for (let i = 0; i < 3; i++) {
      const r = await sentinel.post('/api/alerts/alertmanager', payload, 'operator')
      if (r.status !== 200 || r.body.updated?.[0] !== heldId)
        throw new Error(`warm-up webhook repeat: HTTP ${r.status} ${JSON.stringify(r.body).slice(0, 300)}`)
    }
    await sleep(2000)
    idleRss = rssOf(mainPid)
    const idleProcs = groupOf(mainPid).procs

    for (let run = 0; run < RUNS; run++) {
      for (const entry of results) {
        // A request abandoned at the timeout still runs in Sentinel: start each case on an idle one.
        const idleBy = Date.now() + 60_000
        while (groupOf(mainPid).procs > idleProcs && Date.now() < idleBy) await sleep(250)
        // And with no connection left from the case before (fetch keeps idle ones ~4 s), so that
        // every case opens its own and `conns` counts only those.
        const closedBy = Date.now() + 15_000
        while (connectionsTo(sentinel.port) > 0 && Date.now() < closedBy) await sleep(250)
        await sleep(1000)
        const r = await runCase(entry.c, targets[entry.c.kind], sentinel)
        entry.runs.push(r)
        console.log(
          `run ${run + 1}/${RUNS}  ${entry.c.label}  c=${String(entry.c.clients).padEnd(2)}  n=${r.requests}  ${r.seconds.toFixed(1)} s  p50 ${fmtMs(r.p50)} ms  p99 ${fmtMs(r.p99)} ms  ${r.rps.toFixed(1)} req/s  errors ${r.errors}  main RSS ${mib(r.mainRssStart)} → max ${mib(r.mainRssMax)}  conns ${r.connsMax}`,
        )
      }
    }
  } finally {
    clearTimeout(deadline)
    await cleanup()
  }
  const loadEnd = os.loadavg()

  // --- report -----------------------------------------------------------------------------------
  const la = (l: number[]) => l.map((x) => x.toFixed(2)).join(' ')
  console.log('')
  console.log(
    `bench/api — ${INCIDENTS} incidents; each case ${RUNS} run${RUNS > 1 ? 's' : ''} (interleaved), ≤ ${CASES[0].requests} requests at c=1 / ≤ ${CASES[1].requests} at c=50 or ≤ ${SECONDS} s; medians over the runs${QUICK ? ' (--quick)' : ''}`,
  )
  console.log(`machine: ${m.cpu}, ${m.cores} cores, ${m.memory}, node ${m.node}, ${m.os}`)
  console.log(`load average: at start ${la(loadStart)}, at end ${la(loadEnd)} (1/5/15 min)`)
  console.log(
    `code: ${PROJECT_ROOT} @ ${commit}${changed ? ` + ${changed} changed tracked file${changed > 1 ? 's' : ''}` : ' (clean)'}; Sentinel main pid ${mainPid}, cwd ${sentinelCwd}`,
  )
  console.log(
    `seeding: ${(seeded!.ms / 1000).toFixed(1)} s with IncidentStore; stored incident ~${(seeded!.meanBytes / 1024).toFixed(1)} KiB (the webhook's real escalated one: ${(realAlertBytes / 1024).toFixed(1)} KiB)`,
  )
  console.log(
    `Sentinel main RSS after warm-up, idle: ${mib(idleRss)}; request timeout ${TIMEOUT_MS / 1000} s; client: node:http (keep-alive agent, one socket per client)`,
  )
  console.log('')
  const head = [
    'case',
    'c',
    'n',
    'p50 ms',
    'p99 ms',
    'mean ms',
    'req/s',
    'errors',
    'main RSS max',
    'group RSS max',
    'procs',
    'conns',
  ]
  const rows = results.map(({ c, runs }) => {
    const md = (f: (r: CaseRun) => number) => median(runs.map(f))
    return [
      c.label,
      String(c.clients),
      md((r) => r.requests).toFixed(0),
      fmtMs(md((r) => r.p50)),
      fmtMs(md((r) => r.p99)),
      fmtMs(md((r) => r.mean)),
      md((r) => r.rps).toFixed(1),
      runs.map((r) => r.errors).join('/'),
      mib(md((r) => r.mainRssMax)),
      mib(md((r) => r.groupRssMax)),
      md((r) => r.groupProcsMax).toFixed(0),
      md((r) => r.connsMax).toFixed(0),
    ]
  })
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)))
  const line = (cells: string[]) =>
    cells.map((x, i) => (i === 0 ? x.padEnd(widths[i]) : x.padStart(widths[i]))).join('  ')
  console.log(line(head))
  console.log(widths.map((w) => '-'.repeat(w)).join('  '))
  for (const r of rows) console.log(line(r))
  console.log(
    `(errors: per run; n: requests completed; procs: most processes in Sentinel's group; conns: most client connections open)`,
  )
  for (const { c, runs } of results) {
    const firstErr = runs.find((r) => r.firstError)?.firstError
    if (firstErr)
      console.log(
        `first error, ${c.label} c=${c.clients}: ${firstErr} (timeouts per run: ${runs.map((r) => r.timeouts).join('/')})`,
      )
    const opened = runs.reduce((s, r) => s + r.opened, 0)
    if (opened)
      console.log(`warning: ${c.label} c=${c.clients} opened ${opened} incidents (the alert should have been held)`)
  }
  console.log(
    JSON.stringify({
      bench: 'api',
      at: new Date().toISOString(),
      code: { root: PROJECT_ROOT, commit, changedFiles: changed },
      machine: { ...m, loadStart: loadStart.map((x) => round(x)), loadEnd: loadEnd.map((x) => round(x)) },
      settings: { incidents: INCIDENTS, runs: RUNS, seconds: SECONDS, timeoutMs: TIMEOUT_MS, quick: QUICK },
      seeding: {
        ms: round(seeded!.ms, 0),
        meanIncidentBytes: round(seeded!.meanBytes, 0),
        webhookIncidentBytes: realAlertBytes,
      },
      idleMainRssBytes: idleRss,
      cases: results.map(({ c, runs }) => {
        const md = (f: (r: CaseRun) => number) => median(runs.map(f))
        return {
          case: `${c.label.replace(/\s+/, ' ')} c=${c.clients}`,
          kind: c.kind,
          clients: c.clients,
          maxRequests: c.requests,
          median: {
            requests: md((r) => r.requests),
            p50Ms: round(md((r) => r.p50)),
            p99Ms: round(md((r) => r.p99)),
            meanMs: round(md((r) => r.mean)),
            rps: round(md((r) => r.rps)),
            errors: md((r) => r.errors),
            timeouts: md((r) => r.timeouts),
            mainRssMaxBytes: md((r) => r.mainRssMax),
            groupRssMaxBytes: md((r) => r.groupRssMax),
            groupProcsMax: md((r) => r.groupProcsMax),
            connsMax: md((r) => r.connsMax),
          },
          runs: runs.map((r) => ({
            ...r,
            p50: round(r.p50),
            p99: round(r.p99),
            mean: round(r.mean),
            rps: round(r.rps),
            seconds: round(r.seconds),
          })),
        }
      }),
    }),
  )
}

main().catch((err) => {
  console.error(err)
  process.exit(1)
})
