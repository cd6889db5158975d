/**
 * The dashboard in a real browser (Debian's chromium driven by playwright-core) against a small
 * local server: the page's own files served by the real static handler (src/platform/http/static.ts,
 * with its CSP), stand-in API answers, real stream tokens (src/platform/auth) and a real SSE stream
 * from the hub. Screenshots go to test-artifacts/.
 */
import assert from 'node:assert/strict'
import { mkdirSync, readdirSync } from 'node:fs'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import path from 'node:path'
import { after, before, describe, test } from 'node:test'
import { fileURLToPath, pathToFileURL } from 'node:url'
import type { Router } from 'express'
import type { Browser, Page } from 'playwright-core'
import { ACTIONS } from '../../actions/catalog'
import { issueStreamToken, verifyStreamToken } from '../auth/stream-token'
import { DASHBOARD_CSP, mountPublic } from '../http/static'
import type { Incident } from '../store/model'
import { createStreamHub, type StreamHub } from './hub'
import { openPage } from '../../../tests/helpers/browser'
import { startRedis } from '../../../tests/helpers/redis'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..')
const artifacts = path.join(root, 'test-artifacts')
const KEYS: Record<string, 'viewer' | 'operator' | 'admin'> = {
  'key-admin-0123456789abcdef0123456789': 'admin',
  'key-operator-0123456789abcdef012345': 'operator',
  'key-viewer-0123456789abcdef01234567': 'viewer',
}
const ADMIN = 'key-admin-0123456789abcdef0123456789'
const OPERATOR = 'key-operator-0123456789abcdef012345'
const VIEWER = 'key-viewer-0123456789abcdef01234567'

const GREEN = 'rgb(47, 191, 113)'
const RED = 'rgb(239, 77, 86)'
const AMBER = 'rgb(240, 180, 41)'

const iso = (msAgo: number) => new Date(Date.now() - msAgo).toISOString()

function incident(over: Partial<Incident> & { id: string }): Incident {
  const resource = over.resource ?? { kind: 'container' as const, id: 'c0ffee', name: 'web-1' }
  return {
    fingerprint: `fp-${over.id}`,
    type: 'container_down',
    severity: 'critical',
    status: 'open',
    title: 'Container web-1 is down',
    resource,
    alert: {
      fingerprint: `fp-${over.id}`,
      type: 'container_down',
      severity: 'critical',
      metric: 'container_running',
      value: 0,
      threshold: 1,
      resource,
      labels: {},
      source: 'docker-events',
      at: iso(60_000),
    },
    actions: [],
    timeline: [
      {
        stage: 'detected',
        at: iso(60_000),
        actor: 'sentinel:docker-watcher',
        summary: 'container exited with code 137',
      },
    ],
    openedAt: iso(60_000),
    updatedAt: iso(60_000),
    version: 1,
    ...over,
  }
}

function fixtures() {
  const resolved = incident({
    id: 'inc_resolved_1',
    status: 'resolved',
    title: 'Container api-2 is down',
    resource: { kind: 'container', id: 'a11ce', name: 'api-2' },
    openedAt: iso(3_600_000),
    updatedAt: iso(3_500_000),
    resolvedAt: iso(3_500_000),
    analysis: {
      analyser: 'llm:openrouter',
      root_cause: 'The process was killed by the OOM killer',
      evidence: ['exit code 137', 'memory at 99% of the limit before exit'],
      proposed_fix: 'restart the container',
      risk_level: 'low',
      confidence: 0.86,
      reasoning: 'Exit 137 means SIGKILL; the memory curve reached the cgroup limit just before.',
      cause: 'oom',
      runbook: {
        id: 'container-oom',
        title: 'A container was killed for running out of memory',
        path: 'runbooks/container-oom.md',
        action: 'update_memory_limit',
        body: 'Raise the limit; <img src=x onerror="globalThis.__xss=1">',
      },
      similar: [
        {
          id: 'inc_resolved_0',
          openedAt: iso(86_400_000),
          type: 'container_down',
          status: 'resolved',
          cause: 'oom',
          fix: { action: 'update_memory_limit', status: 'succeeded' },
        },
      ],
      evidenceRecord: {
        container: { name: 'api-2', exitCode: 137, oomKilled: true },
        logs: { lines: ['allocating 64 MiB', 'Killed'], errorLines: ['Killed'], linesRead: 2 },
      },
    },
    decision: {
      route: 'auto',
      risk: 'low',
      actionId: 'restart_container',
      params: { container: 'api-2' },
      reasons: ['low risk', 'policy allows auto'],
      rule: 'auto-low',
      decidedAt: iso(3_590_000),
    },
    actions: [
      {
        actionId: 'restart_container',
        params: { container: 'api-2' },
        status: 'succeeded',
        startedAt: iso(3_580_000),
        finishedAt: iso(3_570_000),
      },
    ],
    timeline: [
      {
        stage: 'detected',
        at: iso(3_600_000),
        actor: 'sentinel:docker-watcher',
        summary: 'container exited with code 137',
      },
      { stage: 'analyzed', at: iso(3_595_000), actor: 'step:AnalyzeIncident', summary: 'OOM kill' },
      { stage: 'acted', at: iso(3_580_000), actor: 'step:Remediate', summary: 'restarted api-2' },
      { stage: 'resolved', at: iso(3_500_000), actor: 'step:VerifyRemediation', summary: 'running and healthy' },
    ],
    version: 6,
  })
  const awaiting = incident({
    id: 'inc_awaiting_1',
    type: 'memory',
    severity: 'warning',
    status: 'awaiting_approval',
    title: 'Memory of cache-1 at 97%',
    resource: { kind: 'container', id: 'cac4e', name: 'cache-1' },
    approval: {
      status: 'pending',
      approverRole: 'operator',
      risk: 'medium',
      actionId: 'update_memory_limit',
      params: { container: 'cache-1', memoryBytes: 536870912 },
      requestedAt: iso(30_000),
      expiresAt: new Date(Date.now() + 600_000).toISOString(),
    },
    version: 3,
  })
  // Sentinel gave up on it: a person must act. Its restart failed, so there is nothing to roll back.
  const escalated = incident({
    id: 'inc_escalated_1',
    type: 'memory',
    status: 'escalated',
    title: 'Memory of node-1 at 97%',
    resource: { kind: 'host', id: 'node-1', name: 'node-1' },
    alert: {
      fingerprint: 'fp-esc',
      type: 'memory',
      severity: 'critical',
      metric: 'memory_used_percent',
      value: 97.01234,
      threshold: 60,
      resource: { kind: 'host', id: 'node-1', name: 'node-1' },
      labels: {},
      source: 'collector:/proc/meminfo',
      at: iso(120_000),
    },
    actions: [
      {
        actionId: 'restart_container',
        params: { containerId: 'db' },
        status: 'failed',
        startedAt: iso(100_000),
        error: 'no such container',
      },
    ],
    openedAt: iso(120_000),
    version: 5,
  })
  // A fix that can be undone: rollback is offered.
  const memfix = incident({
    id: 'inc_memfix_1',
    type: 'memory',
    severity: 'warning',
    status: 'resolved',
    title: 'Memory of cache-2 at 95%',
    resource: { kind: 'container', id: 'cac42', name: 'cache-2' },
    actions: [
      {
        actionId: 'update_memory_limit',
        params: { containerId: 'cac42', memoryBytes: 1073741824 },
        status: 'succeeded',
        startedAt: iso(200_000),
        finishedAt: iso(199_000),
        result: { previous: { memoryBytes: 536870912 } },
      },
    ],
    openedAt: iso(240_000),
    resolvedAt: iso(150_000),
    version: 7,
  })
  // clean_sandbox whose quarantine was deleted to free the disk: its undo is gone.
  const purged = incident({
    id: 'inc_purged_1',
    type: 'disk',
    severity: 'warning',
    status: 'resolved',
    title: 'Disk / at 97%',
    resource: { kind: 'filesystem', id: '/', name: '/' },
    actions: [
      {
        actionId: 'clean_sandbox',
        params: {},
        status: 'succeeded',
        startedAt: iso(300_000),
        result: { reversible: false, notReversibleWhy: 'its quarantine was deleted to free the disk' },
      },
    ],
    openedAt: iso(320_000),
    resolvedAt: iso(250_000),
    version: 8,
  })
  // Rolled back already.
  const rolledBack = incident({
    id: 'inc_rolledback_1',
    type: 'memory',
    severity: 'warning',
    status: 'resolved',
    title: 'Memory of cache-3 at 91%',
    resource: { kind: 'container', id: 'cac43', name: 'cache-3' },
    actions: [
      {
        actionId: 'update_memory_limit',
        params: { containerId: 'cac43', memoryBytes: 1073741824 },
        status: 'rolled_back',
        startedAt: iso(400_000),
      },
    ],
    openedAt: iso(420_000),
    resolvedAt: iso(350_000),
    version: 9,
  })
  // kill_process: the approver must see what the process runs, not just its pid.
  const kill = incident({
    id: 'inc_kill_1',
    type: 'cpu',
    severity: 'warning',
    status: 'awaiting_approval',
    title: 'CPU of node-1 at 99%',
    resource: { kind: 'host', id: 'node-1', name: 'node-1' },
    decision: {
      route: 'approval',
      risk: 'high',
      actionId: 'kill_process',
      params: { pid: 4242 },
      approverRole: 'admin',
      reasons: ['high risk needs an admin'],
      rule: 'risk:high',
      decidedAt: iso(20_000),
    },
    approval: {
      status: 'pending',
      approverRole: 'admin',
      risk: 'high',
      actionId: 'kill_process',
      params: { pid: 4242 },
      command: 'python3 /opt/burn.py --forever',
      requestedAt: iso(20_000),
      expiresAt: new Date(Date.now() + 900_000).toISOString(),
    },
    version: 2,
  })
  return { resolved, awaiting, escalated, memfix, purged, rolledBack, kill }
}

/** An hour of readings at the default schedule (one every 2 minutes), as GET /api/readings/recent answers. */
function recentHour(now: number) {
  const points = (f: (i: number) => number) =>
    Array.from({ length: 31 }, (_, i) => [now - (30 - i) * 120_000, f(i)] as [number, number])
  const host = { kind: 'host', id: 'node-1', name: 'node-1' }
  return {
    from: new Date(now - 3_600_000).toISOString(),
    to: new Date(now).toISOString(),
    series: [
      {
        series: 'cpu_busy_percent|host|node-1',
        metric: 'cpu_busy_percent',
        unit: 'percent',
        resource: host,
        points: points((i) => (i === 30 ? 37.4567 : 30 + 12 * Math.sin(i / 3) + 0.123456)),
      },
      {
        series: 'container_cpu_percent|container|web-1',
        metric: 'container_cpu_percent',
        unit: 'percent',
        resource: { kind: 'container', id: 'c0ffee', name: 'web-1' },
        points: points((i) => 15 + 8 * Math.cos(i / 4)),
      },
      {
        series: 'memory_used_percent|host|node-1',
        metric: 'memory_used_percent',
        unit: 'percent',
        resource: host,
        points: points((i) => (i === 30 ? 61.04 : 58 + (i % 5))),
      },
      {
        series: 'disk_used_percent|filesystem|host:/',
        metric: 'disk_used_percent',
        unit: 'percent',
        resource: { kind: 'filesystem', id: 'host:/', name: '/' },
        points: points((i) => 47 + i * 0.05),
      },
      {
        series: 'latency_ms|endpoint|http://web-1/health',
        metric: 'latency_ms',
        unit: 'ms',
        resource: { kind: 'endpoint', id: 'http://web-1/health', name: 'web-1 /health' },
        points: points((i) => (i === 30 ? 141.77 : 120 + 30 * Math.sin(i / 2))),
      },
    ],
  }
}

interface Harness {
  base: string
  hub: StreamHub
  posts: { path: string; body: unknown; role: string }[]
  incidents: Map<string, Incident>
  /** Query strings of the GET /api/readings/recent calls. */
  recentCalls: string[]
  streamDown: boolean
  tokenRequests: number
  /** The key id of the latest stream token issued (each token gets its own, see below). */
  lastTokenKeyId: string
  /** Key ids whose streams no longer hold: the hub ends them with `reauth`. */
  revokedGrants: Set<string>
  /** API keys refused from now on. */
  revokedKeys: Set<string>
  dropStreams(): void
  stop(): Promise<void>
}

async function startHarness(): Promise<Harness> {
  // The hub delivers from its log in Redis, as in Sentinel.
  const redis = await startRedis()
  const hub = createStreamHub({
    heartbeatMs: 1000,
    verifyToken: (token) => {
      const t = verifyStreamToken(token)
      return t.ok ? { ok: true, role: t.role, keyId: t.keyId } : null
    },
    recheckGrant: (grant) => (h.revokedGrants.has(grant.keyId!) ? { ok: false, reason: 'key_revoked' } : { ok: true }),
    recheckMs: 200,
  })
  await hub.attachLog(redis.client)
  const streamSockets = new Set<import('node:net').Socket>()
  const h: Harness = {
    base: '',
    hub,
    posts: [],
    incidents: new Map(Object.values(fixtures()).map((i) => [i.id, i])),
    recentCalls: [],
    streamDown: false,
    tokenRequests: 0,
    lastTokenKeyId: '',
    revokedGrants: new Set(),
    revokedKeys: new Set(),
    dropStreams() {
      for (const s of streamSockets) s.destroy()
    },
    async stop() {},
  }
  // The page's files through Sentinel's own static handler: its content types and CSP apply.
  const files = new Map<string, (req: unknown, res: http.ServerResponse) => void>()
  mountPublic(
    { get: (p: string, fn: (req: unknown, res: http.ServerResponse) => void) => files.set(p, fn) } as unknown as Router,
    path.join(root, 'public'),
  )
  const json = (res: http.ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'Content-Type': 'application/json' })
    res.end(JSON.stringify(body))
  }
  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x')
    const file = req.method === 'GET' ? files.get(url.pathname) : undefined
    if (file) return file(req, res)
    if (url.pathname === '/api/stream') {
      if (h.streamDown) return json(res, 503, { error: 'unavailable' })
      streamSockets.add(req.socket)
      req.socket.once('close', () => streamSockets.delete(req.socket))
      return void hub.handler(req, res)
    }
    if (url.pathname === '/favicon.ico') return void res.writeHead(404).end()
    const auth = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')
    const role = auth && !h.revokedKeys.has(auth[1]) ? KEYS[auth[1]] : undefined
    if (!role) return json(res, 401, { error: 'invalid_key' })
    let body: unknown = undefined
    if (req.method === 'POST') {
      let text = ''
      for await (const chunk of req) text += chunk
      body = text ? JSON.parse(text) : undefined
    }
    if (url.pathname === '/api/whoami') return json(res, 200, { role, keyId: `k-${role}` })
    if (url.pathname === '/api/stream/token' && req.method === 'POST') {
      h.tokenRequests++
      if (h.streamDown) return json(res, 503, { error: 'unavailable' })
      // A key id per token, so that a test can end one page's stream without refusing its key.
      h.lastTokenKeyId = `k-${role}-${h.tokenRequests}`
      return json(res, 200, issueStreamToken(role, h.lastTokenKeyId, 60))
    }
    if (url.pathname === '/api/incidents')
      return json(res, 200, {
        incidents: [...h.incidents.values()].sort((a, b) => b.openedAt.localeCompare(a.openedAt)),
        nextCursor: null,
      })
    const one = /^\/api\/incidents\/([a-z0-9_]+)$/.exec(url.pathname)
    if (one)
      return h.incidents.has(one[1]) ? json(res, 200, h.incidents.get(one[1])) : json(res, 404, { error: 'not_found' })
    const act = /^\/api\/incidents\/([a-z0-9_]+)\/(approve|reject|rollback)$/.exec(url.pathname)
    if (act && req.method === 'POST') {
      h.posts.push({ path: url.pathname, body, role })
      return json(res, 202, { ok: true })
    }
    if (url.pathname === '/api/approvals/pending') {
      const approvals = [...h.incidents.values()]
        .filter((i) => i.status === 'awaiting_approval' && i.approval?.status === 'pending')
        .map((i) => ({
          incidentId: i.id,
          title: i.title,
          risk: i.approval!.risk,
          approverRole: i.approval!.approverRole,
          proposedAction: i.approval!.actionId,
          params: i.approval!.params,
          ...(i.approval!.command ? { command: i.approval!.command } : {}),
          requestedAt: i.approval!.requestedAt,
          expiresAt: i.approval!.expiresAt,
        }))
      return json(res, 200, { approvals })
    }
    if (url.pathname === '/api/readings/recent') {
      h.recentCalls.push(url.search)
      return json(res, 200, recentHour(Date.now()))
    }
    // No latest readings here: what the charts show on load comes from /api/readings/recent only.
    if (url.pathname === '/api/infrastructure-status')
      return json(res, 200, {
        source: null,
        checkedAt: null,
        checks: [],
        metrics: [],
        health: { system: { score: 0.87 }, containers: [] },
      })
    if (url.pathname === '/api/containers') return json(res, 200, { containers: [] })
    if (url.pathname === '/api/silences') return json(res, 200, { silences: [] })
    if (url.pathname === '/api/audit') {
      if (role !== 'admin') return json(res, 403, { error: 'forbidden' })
      return json(res, 200, {
        events: [
          {
            at: iso(3_580_000),
            kind: 'action_executed',
            actor: 'step:Remediate',
            incidentId: 'inc_resolved_1',
            resource: { kind: 'container', id: 'a11ce', name: 'api-2' },
            outcome: 'succeeded',
          },
        ],
      })
    }
    json(res, 404, { error: 'not_found' })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  h.base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  h.stop = async () => {
    await hub.close()
    server.closeAllConnections()
    await new Promise((r) => server.close(r))
    await redis.stop()
  }
  return h
}

async function signIn(page: Page, base: string, key: string) {
  // What the page loaded and any error, to say why when the sign-in form never shows.
  const log: string[] = []
  page.on('console', (m) => m.type() === 'error' && log.push(`console: ${m.text()}`))
  page.on('pageerror', (e) => log.push(`error: ${e.message}`))
  page.on('requestfailed', (r) => log.push(`failed: ${r.url()} ${r.failure()?.errorText}`))
  page.on('response', (r) => log.push(`${r.status()} ${r.url().slice(0, 100)}`))
  await openPage(page, `${base}/`)
  await page
    .getByTestId('key-input')
    .fill(key)
    .catch((err) => {
      throw new Error(`${(err as Error).message.split('\n')[0]}\n${log.join('\n')}`)
    })
  await page.getByTestId('key-submit').click()
  await page.locator('#conn-status[data-state="live"]').waitFor({ timeout: 15_000 })
}

/** Page errors and Content-Security-Policy refusals, which a test asserts are none. */
function watchErrors(page: Page): string[] {
  const errors: string[] = []
  page.on('pageerror', (e) => errors.push(e.message))
  page.on('console', (m) => {
    if (m.type() === 'error' && /Content Security Policy|Refused to|Failed to load module/i.test(m.text()))
      errors.push(m.text())
  })
  return errors
}

function readings(at: number, step: number) {
  const wave = (base: number, amp: number) => base + amp * Math.sin(step / 4)
  return [
    {
      series: 'host:cpu',
      metric: 'cpu',
      value: wave(38, 15),
      unit: 'percent',
      resource: { kind: 'host', id: 'node-1', name: 'node-1' },
      at: new Date(at).toISOString(),
    },
    {
      series: 'web-1:cpu',
      metric: 'cpu',
      value: wave(22, 10),
      unit: 'percent',
      resource: { kind: 'container', id: 'c0ffee', name: 'web-1' },
      at: new Date(at).toISOString(),
    },
    {
      series: 'host:mem',
      metric: 'memory',
      value: wave(61, 4),
      unit: 'percent',
      resource: { kind: 'host', id: 'node-1', name: 'node-1' },
      at: new Date(at).toISOString(),
    },
    {
      series: 'host:disk',
      metric: 'disk',
      value: 47 + step * 0.05,
      unit: 'percent',
      resource: { kind: 'filesystem', id: '/', name: '/' },
      at: new Date(at).toISOString(),
    },
    {
      series: 'web-1:latency',
      metric: 'latency',
      value: wave(120, 40),
      unit: 'ms',
      resource: { kind: 'endpoint', id: 'http://web-1/health', name: 'web-1 /health' },
      at: new Date(at).toISOString(),
    },
  ]
}

/** What a chart drew: its counters, and the share of the plot's pixel columns a coloured line crosses. */
async function chartDrawing(
  page: Page,
  metric: string,
): Promise<{ lines: number; dots: number; points: number; coverage: number }> {
  return page.evaluate((m) => {
    const fig = (globalThis as any).document.querySelector(`[data-testid="chart-${m}"]`)
    const canvas = fig.querySelector('canvas')
    const ctx = canvas.getContext('2d')
    const { width, height } = canvas
    const data = ctx.getImageData(0, 0, width, height).data
    const dpr = width / canvas.clientWidth
    // The plot area (see charts.js: 54 px on the left for the axis, 8 on the right).
    const x0 = Math.ceil(54 * dpr)
    const x1 = Math.floor(width - 8 * dpr)
    let covered = 0
    for (let x = x0; x < x1; x++) {
      for (let y = 0; y < height; y++) {
        const i = (y * width + x) * 4
        const r = data[i]
        const g = data[i + 1]
        const b = data[i + 2]
        // A series colour is saturated; the grid and the text are greys.
        if (data[i + 3] > 128 && Math.max(r, g, b) - Math.min(r, g, b) > 80) {
          covered++
          break
        }
      }
    }
    return {
      lines: Number(fig.dataset.lines),
      dots: Number(fig.dataset.dots),
      points: Number(fig.dataset.points),
      coverage: covered / (x1 - x0),
    }
  }, metric)
}

/** Waits for an element's computed colour to settle on `colour` (cards ease their colours in). */
async function waitColour(page: Page, selector: string, property: string, colour: string) {
  await page
    .waitForFunction(
      ([sel, prop, want]) => {
        const n = (globalThis as any).document.querySelector(sel)
        return !!n && (globalThis as any).getComputedStyle(n)[prop] === want
      },
      [selector, property, colour] as const,
      { timeout: 5000 },
    )
    .catch(async () => {
      const got = await page.evaluate(
        ([sel, prop]) => {
          const n = (globalThis as any).document.querySelector(sel)
          return n ? (globalThis as any).getComputedStyle(n)[prop] : 'no such element'
        },
        [selector, property] as const,
      )
      assert.fail(`${selector} ${property}: ${got}, expected ${colour}`)
    })
}

const dotColour = (page: Page, id: string) =>
  page
    .locator(`[data-testid="incident-row"][data-incident-id="${id}"] [data-testid="status-dot"]`)
    .evaluate((n) => (globalThis as any).getComputedStyle(n).backgroundColor)

describe('dashboard in a real browser', { timeout: 120_000 }, () => {
  let browser: Browser
  let h: Harness

  before(async () => {
    mkdirSync(artifacts, { recursive: true })
    const { chromium } = await import('playwright-core')
    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    })
    h = await startHarness()
  })
  after(async () => {
    await browser?.close()
    await h?.stop()
  })

  test('the static handler serves the page and its ES modules with the right types and the CSP', async () => {
    const page = await fetch(`${h.base}/`)
    assert.equal(page.headers.get('content-type'), 'text/html; charset=utf-8')
    assert.equal(page.headers.get('content-security-policy'), DASHBOARD_CSP)
    const html = await page.text()
    assert.match(html, /<script type="module" src="\/js\/main\.js"><\/script>/)
    assert.doesNotMatch(html, /dashboard\.js/)
    const modules = readdirSync(path.join(root, 'public', 'js')).filter((f) => f.endsWith('.js'))
    assert.ok(modules.length >= 8, `the page is split into modules: ${modules}`)
    for (const m of modules) {
      const res = await fetch(`${h.base}/js/${m}`)
      assert.equal(res.status, 200, m)
      assert.equal(res.headers.get('content-type'), 'text/javascript; charset=utf-8', m)
      const text = await res.text()
      assert.match(text, /^\/\*\n \* \S/, `${m} starts with a header comment saying why it exists`)
      assert.doesNotMatch(
        text,
        /\.(innerHTML|outerHTML)\s*=|insertAdjacentHTML|document\.write/,
        `${m} never builds markup from strings`,
      )
    }
    assert.equal((await fetch(`${h.base}/js/nope.js`)).status, 401, 'an unknown file is not served')
  })

  test('the rules the page applies match the server: open statuses, status colours, when rollback can work', async () => {
    const rules = await import(pathToFileURL(path.join(root, 'public/js/rules.js')).href)
    const charts = await import(pathToFileURL(path.join(root, 'public/js/charts.js')).href)
    // The actions that have a rollback() in the catalog are exactly the ones the page offers to roll back.
    const reversible = Object.values(ACTIONS)
      .filter((a) => typeof a.rollback === 'function')
      .map((a) => a.id)
      .sort()
    assert.deepEqual([...rules.REVERSIBLE_ACTIONS].sort(), reversible)
    assert.equal(rules.isOpen('escalated'), true, 'escalated needs a person: open')
    assert.equal(rules.isOpen('resolved'), false)
    assert.equal(rules.isOpen('suppressed'), false)
    assert.equal(rules.statusTone('resolved'), 'ok')
    assert.equal(rules.statusTone('escalated'), 'bad')
    assert.equal(rules.statusTone('awaiting_approval'), 'warn')
    const f = fixtures()
    assert.equal(rules.rollbackBlocker(f.memfix), null)
    assert.match(rules.rollbackBlocker(f.resolved), /restart_container cannot be undone/)
    assert.match(rules.rollbackBlocker(f.purged), /cannot be undone any more: its quarantine was deleted/)
    assert.match(rules.rollbackBlocker(f.rolledBack), /rolled back already/)
    assert.match(rules.rollbackBlocker(f.escalated), /no action has been executed/)
    assert.match(rules.rollbackBlocker({ ...f.memfix, actions: undefined }), /not loaded/)
    // A newer failed retry does not hide the succeeded action the server would roll back.
    assert.equal(
      rules.rollbackBlocker({
        ...f.memfix,
        actions: [...f.memfix.actions, { actionId: 'scale_out', params: {}, status: 'failed', startedAt: iso(1000) }],
      }),
      null,
    )
    assert.equal(rules.containerTone({ state: 'running' }), 'ok')
    assert.equal(rules.containerTone({ state: 'running', health: 'unhealthy' }), 'bad')
    assert.equal(rules.containerTone({ state: 'down' }), 'bad')
    assert.equal(rules.containerTone({ state: 'restarting' }), 'warn')
    assert.equal(
      rules.describeAction('kill_process', { pid: 4242 }, 'python3 /opt/burn.py'),
      'kill_process: end pid 4242: python3 /opt/burn.py',
    )
    // Two-minute readings are one line; twenty minutes without any break it.
    const pts = [0, 2, 4, 6, 26, 28].map((m) => ({ t: m * 60_000, v: 1 }))
    assert.deepEqual(
      charts.segments(pts, 10 * 60_000).map((s: unknown[]) => s.length),
      [4, 2],
    )
  })

  test('a wrong key is refused and the login stays', async () => {
    const page = await browser.newPage()
    try {
      await openPage(page, `${h.base}/dashboard.html`)
      await page.getByTestId('key-input').fill('not-a-key')
      await page.getByTestId('key-submit').click()
      await page.getByTestId('login-error').waitFor()
      assert.match(await page.getByTestId('login-error').innerText(), /not accepted/)
      assert.equal(await page.evaluate(() => (globalThis as any).sessionStorage.getItem('sentinel.apiKey')), null)
      assert.equal(await page.locator('#app').isHidden(), true)
    } finally {
      await page.close()
    }
  })

  test('right after load: the last hour is drawn as lines, escalated counts as open, dots follow the status, values are rounded, a kill shows its command', async () => {
    const page = await browser.newPage({ viewport: { width: 1440, height: 1100 } })
    const errors = watchErrors(page)
    const callsBefore = h.recentCalls.length
    try {
      const t0 = Date.now()
      await signIn(page, h.base, ADMIN)
      // Charts: drawn from GET /api/readings/recent alone (nothing is published on the stream here).
      await page.waitForFunction(
        () => Number((globalThis as any).document.querySelector('[data-testid="chart-cpu"]').dataset.lines) > 0,
        null,
        { timeout: 5000 },
      )
      const drawnAfterMs = Date.now() - t0
      assert.equal(h.recentCalls.length, callsBefore + 1, 'the recent readings were fetched once')
      assert.match(h.recentCalls.at(-1)!, /minutes=60/)
      for (const metric of ['cpu', 'memory', 'disk', 'latency']) {
        const d = await chartDrawing(page, metric)
        assert.equal(
          await page.locator(`[data-testid="chart-${metric}"] .chart-empty`).isHidden(),
          true,
          `${metric}: not empty`,
        )
        assert.ok(d.lines >= 1, `${metric}: drawn as lines (${JSON.stringify(d)})`)
        assert.equal(d.dots, 0, `${metric}: no lone dots at a reading every 2 minutes`)
        assert.ok(d.points >= 31, `${metric}: the whole hour (${d.points} points)`)
        assert.ok(
          d.coverage > 0.85,
          `${metric}: the line spans the hour (${Math.round(d.coverage * 100)}% of the plot's width)`,
        )
      }
      // Rounded: 37.4567 % -> 37.5%, 141.77 ms -> 142 ms, 61.04 % -> 61.0%.
      assert.equal(
        await page
          .locator('[data-testid="chart-cpu"] .legend li[data-series="cpu_busy_percent|host|node-1"] .lval')
          .innerText(),
        '37.5%',
      )
      assert.equal(await page.locator('[data-testid="chart-latency"] .legend .lval').first().innerText(), '142 ms')
      assert.equal(await page.locator('[data-testid="chart-memory"] .legend .lval').first().innerText(), '61.0%')

      // Escalated incidents are open: they need a person.
      await page.locator('[data-testid="incident-row"][data-incident-id="inc_escalated_1"]').waitFor()
      const open = [...h.incidents.values()].filter((i) =>
        ['open', 'analyzing', 'awaiting_approval', 'remediating', 'verifying', 'escalated'].includes(i.status),
      ).length
      assert.equal(open, 3, 'fixtures: two awaiting approval, one escalated')
      assert.equal(await page.getByTestId('sum-active').innerText(), '3')
      assert.match(await page.getByTestId('sum-active-sub').innerText(), /1 escalated/)
      await page.locator('[data-ifilter="active"]').click()
      assert.equal(
        await page.locator('[data-testid="incident-row"][data-incident-id="inc_escalated_1"]').count(),
        1,
        'escalated is listed as open',
      )
      assert.equal(await page.locator('[data-testid="incident-row"][data-status="resolved"]').count(), 0)
      await page.locator('[data-ifilter="closed"]').click()
      assert.equal(
        await page.locator('[data-testid="incident-row"][data-incident-id="inc_escalated_1"]').count(),
        0,
        'escalated is not closed',
      )
      assert.ok((await page.locator('[data-testid="incident-row"][data-status="resolved"]').count()) >= 4)
      await page.locator('[data-ifilter="all"]').click()

      // The dot's colour follows the status: resolved green (even when critical), escalated red, waiting amber.
      assert.equal(await dotColour(page, 'inc_resolved_1'), GREEN, 'a resolved incident has a green dot')
      assert.equal(await dotColour(page, 'inc_escalated_1'), RED)
      assert.equal(await dotColour(page, 'inc_awaiting_1'), AMBER)

      // kill_process: the command line, not only the pid.
      const killCard = page.locator('[data-testid="approval"][data-incident-id="inc_kill_1"]')
      assert.match(
        await killCard.getByTestId('approval-action').innerText(),
        /pid 4242: python3 \/opt\/burn\.py --forever/,
      )
      // The memory limit in MiB, not bytes.
      assert.match(
        await page
          .locator('[data-testid="approval"][data-incident-id="inc_awaiting_1"] [data-testid="approval-action"]')
          .innerText(),
        /memoryBytes 512 MiB/,
      )
      // What a red card means is said on the page.
      assert.match(await page.getByTestId('card-legend').innerText(), /Red: down/)
      await page.screenshot({ path: path.join(artifacts, 'dashboard-after-load.png'), fullPage: true })

      // The escalated incident's reading, rounded.
      await page.locator('[data-testid="incident-row"][data-incident-id="inc_escalated_1"]').click()
      const detail = page.getByTestId('incident-detail')
      await detail.getByTestId('timeline').waitFor()
      assert.match(await detail.innerText(), /memory_used_percent = 97\.0% \(threshold 60\.0%\)/)
      assert.equal(
        await detail
          .getByTestId('detail-status-dot')
          .evaluate((n) => (globalThis as any).getComputedStyle(n).backgroundColor),
        RED,
      )
      await page.getByTestId('detail-close').click()
      await page.locator('[data-testid="incident-row"][data-incident-id="inc_kill_1"]').click()
      await detail.getByTestId('timeline').waitFor()
      assert.match(
        await detail.getByTestId('decision-action').innerText(),
        /pid 4242: python3 \/opt\/burn\.py --forever/,
      )
      await page.getByTestId('detail-close').click()
      assert.deepEqual(errors, [])
      assert.ok(drawnAfterMs < 10_000)
    } finally {
      await page.close()
    }
  })

  test('rollback is offered only where it can work', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } })
    const errors = watchErrors(page)
    try {
      await signIn(page, h.base, ADMIN)
      const detail = page.getByTestId('incident-detail')
      const open = async (id: string) => {
        await page.locator(`[data-testid="incident-row"][data-incident-id="${id}"]`).click()
        await detail.getByTestId('timeline').waitFor()
        // The drawer fetches the whole incident (the list has summaries): wait for its actions.
        await detail.getByTestId('action-row').first().waitFor()
      }
      const cases: [string, RegExp][] = [
        ['inc_resolved_1', /restart_container cannot be undone/],
        ['inc_purged_1', /clean_sandbox cannot be undone any more: its quarantine was deleted/],
        ['inc_rolledback_1', /rolled back already/],
        ['inc_escalated_1', /no action has been executed/],
      ]
      for (const [id, why] of cases) {
        await open(id)
        assert.equal(await detail.getByTestId('rollback-button').count(), 0, `${id}: no rollback button`)
        assert.match(await detail.getByTestId('rollback-unavailable').innerText(), why)
        await page.getByTestId('detail-close').click()
      }
      await open('inc_memfix_1')
      assert.equal(await detail.getByTestId('rollback-unavailable').count(), 0)
      await detail.getByTestId('rollback-button').click()
      await waitUntil(() => h.posts.some((p) => p.path === '/api/incidents/inc_memfix_1/rollback'), 'the rollback POST')
      assert.equal(
        h.posts.filter((p) => /\/rollback$/.test(p.path) && p.path !== '/api/incidents/inc_memfix_1/rollback').length,
        0,
        'no rollback was posted for the others',
      )
      await page.screenshot({ path: path.join(artifacts, 'dashboard-rollback.png') })
      assert.deepEqual(errors, [])
    } finally {
      await page.close()
    }
  })

  test("a card's colour follows the container's live state, not its incident", async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } })
    const errors = watchErrors(page)
    try {
      await signIn(page, h.base, OPERATOR)
      const card = page.locator('[data-testid="container-card"][data-name="live-1"]')
      h.hub.publish('container', { id: 'f00d', name: 'live-1', state: 'running', health: 'healthy', restarts: 0 })
      await card.and(page.locator('[data-tone="ok"]')).waitFor()

      h.hub.publish('container', { id: 'f00d', name: 'live-1', state: 'down', exitCode: 137, restarts: 0 })
      await card.and(page.locator('[data-tone="bad"][data-state="down"]')).waitFor()
      await waitColour(page, '[data-testid="container-card"][data-name="live-1"]', 'borderLeftColor', RED)
      assert.match((await card.getAttribute('title'))!, /Red: live-1 is down \(exit code 137\)/)
      const opened = incident({
        id: 'inc_live_card_1',
        title: 'Container live-1 is down',
        resource: { kind: 'container', id: 'f00d', name: 'live-1' },
        openedAt: iso(0),
        updatedAt: iso(0),
        version: 1,
      })
      h.incidents.set(opened.id, opened)
      h.hub.publish('incident.opened', opened)
      h.hub.publish('incident.updated', { ...opened, status: 'remediating', updatedAt: iso(0), version: 2 })
      await page
        .locator('[data-testid="incident-row"][data-incident-id="inc_live_card_1"][data-status="remediating"]')
        .waitFor()

      // Docker says it runs again: green at once, while the incident is still being verified.
      h.hub.publish('container', { id: 'f00d', name: 'live-1', state: 'running', restarts: 1 })
      await card.and(page.locator('[data-tone="ok"][data-state="running"]')).waitFor({ timeout: 3000 })
      // Incident updates after that (verifying) do not turn it red again.
      h.hub.publish('incident.updated', {
        ...opened,
        status: 'verifying',
        updatedAt: new Date(Date.now() + 1000).toISOString(),
        version: 3,
      })
      await page
        .locator('[data-testid="incident-row"][data-incident-id="inc_live_card_1"][data-status="verifying"]')
        .waitFor()
      assert.equal(await card.getAttribute('data-tone'), 'ok')
      await waitColour(page, '[data-testid="container-card"][data-name="live-1"]', 'borderLeftColor', GREEN)
      assert.match(await card.getByTestId('card-incident').innerText(), /incident verifying/)
      await page.screenshot({ path: path.join(artifacts, 'dashboard-card-live-state.png') })

      // A failing health check is red too, while the container runs.
      h.hub.publish('container', { id: 'f00d', name: 'live-1', state: 'running', health: 'unhealthy', restarts: 1 })
      await card.and(page.locator('[data-tone="bad"][data-state="running"]')).waitFor()
      h.hub.publish('container', { id: 'f00d', name: 'live-1', state: 'running', health: 'healthy', restarts: 1 })
      await card.and(page.locator('[data-tone="ok"]')).waitFor()
      const resolved = { ...opened, status: 'resolved' as const, resolvedAt: iso(0), updatedAt: iso(0), version: 4 }
      h.incidents.set(resolved.id, resolved)
      h.hub.publish('incident.resolved', resolved)
      await page
        .locator('[data-testid="incident-row"][data-incident-id="inc_live_card_1"][data-status="resolved"]')
        .waitFor()
      assert.equal(await card.getAttribute('data-tone'), 'ok')
      assert.deepEqual(errors, [])
    } finally {
      await page.close()
    }
  })

  test('relative times keep ageing: "requested just now" becomes "requested 20s ago"', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } })
    const errors = watchErrors(page)
    try {
      await page.clock.install()
      await signIn(page, h.base, ADMIN)
      const fresh = incident({
        ...fixtures().awaiting,
        id: 'inc_fresh_1',
        title: 'Memory of cache-9 at 93%',
        openedAt: iso(0),
        approval: {
          ...fixtures().awaiting.approval!,
          requestedAt: iso(0),
          expiresAt: new Date(Date.now() + 600_000).toISOString(),
        },
        version: 1,
      })
      h.incidents.set(fresh.id, fresh)
      h.hub.publish('incident.updated', fresh)
      const requested = page.locator(
        '[data-testid="approval"][data-incident-id="inc_fresh_1"] [data-testid="approval-requested"]',
      )
      await requested.waitFor()
      assert.equal(await requested.innerText(), 'requested just now')
      await page.clock.fastForward(20_000)
      await page.waitForFunction(
        () =>
          /^requested (19|20|21|22)s ago$/.test(
            (globalThis as any).document.querySelector(
              '[data-incident-id="inc_fresh_1"] [data-testid="approval-requested"]',
            )?.textContent ?? '',
          ),
        null,
        { timeout: 5000 },
      )
      assert.match(
        await page.locator('[data-testid="incident-row"][data-incident-id="inc_fresh_1"] .incident-sub').innerText(),
        /opened (19|20|21|22)s ago/,
      )
      h.incidents.delete(fresh.id)
      assert.deepEqual(errors, [])
    } finally {
      await page.close()
    }
  })

  test('live: cards turn red and green, incidents appear without reload, approve sends the POST, audit is live', async () => {
    const page = await browser.newPage({ viewport: { width: 1440, height: 1000 } })
    const errors: string[] = []
    page.on('pageerror', (e) => errors.push(e.message))
    try {
      await signIn(page, h.base, ADMIN)
      // The key is kept for the tab, never put in a URL.
      assert.equal(await page.evaluate(() => (globalThis as any).sessionStorage.getItem('sentinel.apiKey')), ADMIN)
      assert.equal(await page.getByTestId('role-badge').textContent(), 'admin')
      await page
        .locator('[data-testid="incident-row"][data-incident-id="inc_resolved_1"][data-status="resolved"]')
        .waitFor()
      await page.getByTestId('audit-panel').waitFor({ state: 'visible' })

      // Metrics: a few minutes of readings from the stream, added to the charts.
      const now = Date.now()
      for (let i = 0; i < 40; i++) h.hub.publish('metrics', { readings: readings(now - (40 - i) * 10_000, i) })
      await page.locator('[data-testid="chart-cpu"] .legend li[data-series="host:cpu"]').waitFor()
      assert.equal(await page.locator('[data-testid="chart-cpu"] .chart-empty').isHidden(), true)

      // Containers: running → down (red) → running again (healed, green).
      h.hub.publish('container', {
        id: 'c0ffee',
        name: 'web-1',
        state: 'running',
        health: 'healthy',
        cpuPercent: 12.5,
        memoryBytes: 73_400_320,
        restarts: 0,
      })
      h.hub.publish('container', {
        id: 'b0b',
        name: 'worker-1',
        state: 'running',
        cpuPercent: 3.2,
        memoryBytes: 20_000_000,
        restarts: 1,
      })
      const web = page.locator('[data-testid="container-card"][data-name="web-1"]')
      await web.and(page.locator('[data-state="running"]')).waitFor()
      assert.equal(await web.getAttribute('data-healed'), 'false')

      h.hub.publish('container', { id: 'c0ffee', name: 'web-1', state: 'down', restarts: 0 })
      await web.and(page.locator('[data-state="down"]')).waitFor()
      await waitColour(page, '[data-testid="container-card"][data-name="web-1"]', 'borderTopColor', RED)
      assert.doesNotMatch(await web.innerText(), /healthy|12\.5%/, 'a down card shows no stale usage or health')

      // An incident appears without reload.
      const opened = incident({
        id: 'inc_live_1',
        title: 'Container web-1 is down <img src=x onerror="window.__xss=1">',
      })
      h.incidents.set(opened.id, opened)
      h.hub.publish('incident.opened', opened)
      const row = page.locator('[data-testid="incident-row"][data-incident-id="inc_live_1"]')
      await row.and(page.locator('[data-status="open"]')).waitFor()
      // Text stays text.
      assert.match(await row.innerText(), /<img src=x/)
      assert.equal(await page.locator('#incident-list img').count(), 0)
      assert.equal(await page.evaluate(() => (globalThis as any).__xss), undefined)
      await page.screenshot({ path: path.join(artifacts, 'dashboard-down.png'), fullPage: true })

      h.hub.publish('container', {
        id: 'c0ffee',
        name: 'web-1',
        state: 'running',
        health: 'healthy',
        cpuPercent: 9.1,
        memoryBytes: 70_000_000,
        restarts: 1,
      })
      await web.and(page.locator('[data-state="running"][data-healed="true"]')).waitFor()
      const fixed = {
        ...opened,
        status: 'resolved' as const,
        resolvedAt: new Date().toISOString(),
        updatedAt: new Date().toISOString(),
        version: 4,
      }
      h.incidents.set(fixed.id, fixed)
      h.hub.publish('incident.resolved', fixed)
      await waitColour(page, '[data-testid="container-card"][data-name="web-1"]', 'borderTopColor', GREEN)
      await row.and(page.locator('[data-status="resolved"]')).waitFor()

      // An older version arriving late does not undo the newer one.
      h.hub.publish('incident.updated', { ...opened, status: 'analyzing', version: 2 })
      h.hub.publish('audit', {
        at: new Date().toISOString(),
        kind: 'approval_decided',
        actor: 'user:test',
        incidentId: 'inc_awaiting_1',
        outcome: 'approved',
      })
      await page.locator('[data-testid="audit-row"][data-kind="approval_decided"]').waitFor()
      assert.equal(await row.getAttribute('data-status'), 'resolved')

      // Approve sends the POST with an empty body.
      const approve = page.locator(
        '[data-testid="approval"][data-incident-id="inc_awaiting_1"] [data-testid="approve-button"]',
      )
      await approve.waitFor()
      await page.screenshot({ path: path.join(artifacts, 'dashboard-desktop.png'), fullPage: true })
      await approve.click()
      await waitUntil(() => h.posts.some((p) => p.path === '/api/incidents/inc_awaiting_1/approve'), 'the approve POST')
      const post = h.posts.find((p) => p.path === '/api/incidents/inc_awaiting_1/approve')!
      assert.deepEqual(post.body, {})
      assert.equal(post.role, 'admin')

      // The incident timeline and analysis.
      await page.locator('[data-testid="incident-row"][data-incident-id="inc_resolved_1"]').click()
      const detail = page.getByTestId('incident-detail')
      await detail.waitFor()
      await detail.getByTestId('timeline-entry').nth(3).waitFor()
      assert.equal(await detail.getByTestId('timeline-entry').count(), 4)
      assert.match(await detail.getByTestId('timeline').innerText(), /step:VerifyRemediation/)
      assert.match(await detail.getByTestId('analysis-root-cause').innerText(), /OOM killer/)
      assert.match(await detail.getByTestId('analysis-evidence').innerText(), /exit code 137/)
      assert.match(await detail.getByTestId('analysis-reasoning').innerText(), /SIGKILL/)
      // Issue #25: the cause, the runbook (as text, never markup), the past incident, the record.
      assert.equal(await detail.getByTestId('analysis-cause').innerText(), 'oom')
      assert.match(
        await detail.getByTestId('analysis-runbook').innerText(),
        /running out of memory[\s\S]*Prefers: update_memory_limit[\s\S]*onerror/,
      )
      assert.match(
        await detail.getByTestId('analysis-similar').innerText(),
        /inc_resolved_0 .*container_down \(oom\), resolved, after update_memory_limit \(succeeded\)/,
      )
      await detail.locator('[data-source="logs"] summary').click()
      assert.match(await detail.locator('[data-source="logs"] pre').innerText(), /allocating 64 MiB\nKilled/)
      assert.equal(await page.evaluate(() => (globalThis as any).__xss), undefined)
      await page.screenshot({ path: path.join(artifacts, 'dashboard-detail.png') })
      await page.getByTestId('detail-close').click()

      // Reject asks for a reason and sends it.
      const awaiting2 = incident({
        ...fixtures().awaiting,
        id: 'inc_awaiting_2',
        title: 'Disk of node-1 at 93%',
        version: 1,
      })
      h.incidents.set(awaiting2.id, awaiting2)
      h.hub.publish('incident.updated', awaiting2)
      const card = page.locator('[data-testid="approval"][data-incident-id="inc_awaiting_2"]')
      await card.getByTestId('reject-button').click()
      await card.getByTestId('reject-reason').fill('not during business hours')
      await card.getByTestId('reject-confirm').click()
      await waitUntil(() => h.posts.some((p) => p.path === '/api/incidents/inc_awaiting_2/reject'), 'the reject POST')
      assert.deepEqual(h.posts.find((p) => p.path === '/api/incidents/inc_awaiting_2/reject')!.body, {
        reason: 'not during business hours',
      })
      assert.deepEqual(errors, [])
    } finally {
      await page.close()
    }
  })

  test('offline banner on disconnect; it reconnects with a fresh token and catches up on missed events', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } })
    try {
      await signIn(page, h.base, OPERATOR)
      const banner = page.getByTestId('offline-banner')
      assert.equal(await banner.isHidden(), true)
      const tokensBefore = h.tokenRequests

      h.streamDown = true
      h.dropStreams()
      await banner.waitFor({ state: 'visible' })
      assert.equal(await page.getByTestId('conn-status').getAttribute('data-state'), 'offline')
      await page.screenshot({ path: path.join(artifacts, 'dashboard-offline.png') })

      // Published while the page is away: must arrive after the reconnect, from the replay buffer.
      h.hub.publish('container', { id: 'dead', name: 'missed-1', state: 'down' })
      h.streamDown = false
      await banner.waitFor({ state: 'hidden', timeout: 20_000 })
      await page.locator('[data-testid="container-card"][data-name="missed-1"][data-state="down"]').waitFor()
      assert.ok(h.tokenRequests > tokensBefore, 'a new stream token was fetched')
    } finally {
      await page.close()
    }
  })

  test('a stream ended with reauth reconnects at once with a new token, without the offline banner, missing nothing', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } })
    try {
      await signIn(page, h.base, OPERATOR)
      // A stream asked to re-authenticate right after it opened goes through the backoff: wait that out.
      await new Promise((r) => setTimeout(r, 10_500))
      await page.evaluate(() => {
        const w = globalThis as any
        w.__bannerSeen = false
        new w.MutationObserver(() => {
          if (!w.document.getElementById('offline-banner').hidden) w.__bannerSeen = true
        }).observe(w.document.getElementById('offline-banner'), { attributes: true })
      })
      const grant = h.lastTokenKeyId
      const tokensBefore = h.tokenRequests
      h.revokedGrants.add(grant)
      h.hub.publish('container', { id: 'gone-1', name: 'reauth-missed-1', state: 'down' })
      await waitUntil(() => h.tokenRequests > tokensBefore && h.lastTokenKeyId !== grant, 'a new stream token')
      await page.locator('#conn-status[data-state="live"]').waitFor({ timeout: 10_000 })
      h.hub.publish('container', { id: 'gone-2', name: 'reauth-missed-2', state: 'down' })
      await page.locator('[data-testid="container-card"][data-name="reauth-missed-1"]').waitFor()
      await page.locator('[data-testid="container-card"][data-name="reauth-missed-2"]').waitFor()
      assert.equal(await page.evaluate(() => (globalThis as any).__bannerSeen), false, 'no offline banner')
      assert.ok(h.hub.stats().endedForReauth >= 1)
    } finally {
      await page.close()
    }
  })

  test('a key revoked while its page is open: the stream ends, no new token is given, the page signs out', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } })
    try {
      await signIn(page, h.base, VIEWER)
      h.revokedKeys.add(VIEWER)
      h.revokedGrants.add(h.lastTokenKeyId)
      await page.getByTestId('login-error').waitFor({ timeout: 15_000 })
      assert.match(await page.getByTestId('login-error').innerText(), /refused/)
      assert.equal(await page.locator('#app').isHidden(), true)
    } finally {
      h.revokedKeys.delete(VIEWER)
      await page.close()
    }
  })

  test('roles: a viewer sees no decision buttons, no rollback and no audit log; an operator cannot approve high risk', async () => {
    const page = await browser.newPage()
    try {
      await signIn(page, h.base, VIEWER)
      await page.locator('[data-testid="approval"]').first().waitFor()
      assert.equal(await page.getByTestId('approve-button').count(), 0)
      assert.equal(await page.getByTestId('audit-panel').isHidden(), true)
      await page.locator('[data-testid="incident-row"][data-incident-id="inc_memfix_1"]').click()
      await page.getByTestId('action-row').first().waitFor()
      assert.equal(await page.getByTestId('rollback-button').count(), 0)
      // The hub itself keeps audit events from non-admins; the page would not show them anyway.
    } finally {
      await page.close()
    }
    const op = await browser.newPage()
    try {
      const high = incident({
        ...fixtures().awaiting,
        id: 'inc_high_1',
        title: 'High risk fix',
        approval: { ...fixtures().awaiting.approval!, risk: 'high', approverRole: 'admin' },
      })
      h.incidents.set(high.id, high)
      await signIn(op, h.base, OPERATOR)
      await op.locator('[data-testid="approval"][data-incident-id="inc_high_1"]').waitFor()
      assert.equal(
        await op
          .locator('[data-testid="approval"][data-incident-id="inc_high_1"] [data-testid="approve-button"]')
          .count(),
        0,
      )
      assert.equal(
        await op
          .locator('[data-testid="approval"][data-incident-id="inc_awaiting_1"] [data-testid="approve-button"]')
          .count(),
        1,
      )
      h.incidents.delete(high.id)
    } finally {
      await op.close()
    }
  })

  test('phone width: one column, nothing wider than the screen', async () => {
    const page = await browser.newPage({
      viewport: { width: 390, height: 844 },
      deviceScaleFactor: 2,
      isMobile: true,
      hasTouch: true,
    })
    try {
      await signIn(page, h.base, ADMIN)
      const now = Date.now()
      for (let i = 0; i < 30; i++) h.hub.publish('metrics', { readings: readings(now - (30 - i) * 10_000, i) })
      h.hub.publish('container', { id: 'c0ffee', name: 'web-1', state: 'down', restarts: 2 })
      h.hub.publish('container', {
        id: 'b0b',
        name: 'worker-1',
        state: 'running',
        cpuPercent: 3.2,
        memoryBytes: 20_000_000,
        restarts: 1,
      })
      await page.locator('[data-testid="container-card"][data-name="web-1"][data-state="down"]').waitFor()
      await page.locator('[data-testid="chart-cpu"] .legend li').first().waitFor()
      const overflow = await page.evaluate(
        () => (globalThis as any).document.documentElement.scrollWidth - (globalThis as any).innerWidth,
      )
      assert.ok(overflow <= 0, `page is ${overflow}px wider than the phone`)
      const widths = await page.evaluate(() =>
        // Panels a role or this Sentinel does not have (hidden: the stand-in has no notifications) take no room.
        [...(globalThis as any).document.querySelectorAll('.panel:not([hidden])')].map((p: any) =>
          Math.round(p.getBoundingClientRect().width),
        ),
      )
      assert.ok(
        widths.every((w) => w >= 360),
        `panels stack full width: ${widths}`,
      )
      await page.screenshot({ path: path.join(artifacts, 'dashboard-phone.png'), fullPage: true })
    } finally {
      await page.close()
    }
  })
})

async function waitUntil(fn: () => boolean, what: string, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs
  while (!fn()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}
