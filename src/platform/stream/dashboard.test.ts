/**
 * The dashboard in a real browser (Debian's chromium driven by playwright-core) against a small
 * local server: the page's own files, stand-in API answers, real stream tokens (src/platform/auth) and a
 * real SSE stream from the hub.
 */
import assert from 'node:assert/strict'
import { mkdirSync, readFileSync } from 'node:fs'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import path from 'node:path'
import { after, before, describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
/* eslint-disable @typescript-eslint/no-explicit-any -- code run in the page: this project's tsconfig has no DOM types */
import type { Browser, Page } from 'playwright-core'
import { issueStreamToken, verifyStreamToken } from '../auth/stream-token'
import type { Incident } from '../store/model'
import { createStreamHub, type StreamHub } from './hub'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
const artifacts = path.join(root, 'test-artifacts')
const KEYS: Record<string, 'viewer' | 'operator' | 'admin'> = {
  'key-admin-0123456789abcdef0123456789': 'admin',
  'key-operator-0123456789abcdef012345': 'operator',
  'key-viewer-0123456789abcdef01234567': 'viewer',
}
const ADMIN = 'key-admin-0123456789abcdef0123456789'
const OPERATOR = 'key-operator-0123456789abcdef012345'
const VIEWER = 'key-viewer-0123456789abcdef01234567'

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
    alert: { fingerprint: `fp-${over.id}`, type: 'container_down', severity: 'critical', metric: 'container_running', value: 0, threshold: 1, resource, labels: {}, source: 'docker-events', at: iso(60_000) },
    actions: [],
    timeline: [{ stage: 'detected', at: iso(60_000), actor: 'sentinel:docker-watcher', summary: 'container exited with code 137' }],
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
    },
    decision: { route: 'auto', risk: 'low', actionId: 'restart_container', params: { container: 'api-2' }, reasons: ['low risk', 'policy allows auto'], rule: 'auto-low', decidedAt: iso(3_590_000) },
    actions: [{ actionId: 'restart_container', params: { container: 'api-2' }, status: 'succeeded', startedAt: iso(3_580_000), finishedAt: iso(3_570_000) }],
    timeline: [
      { stage: 'detected', at: iso(3_600_000), actor: 'sentinel:docker-watcher', summary: 'container exited with code 137' },
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
    approval: { status: 'pending', approverRole: 'operator', risk: 'medium', actionId: 'update_memory_limit', params: { container: 'cache-1', memoryBytes: 536870912 }, requestedAt: iso(30_000), expiresAt: new Date(Date.now() + 600_000).toISOString() },
    version: 3,
  })
  return { resolved, awaiting }
}

interface Harness {
  base: string
  hub: StreamHub
  posts: { path: string; body: unknown; role: string }[]
  incidents: Map<string, Incident>
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
  const hub = createStreamHub({
    heartbeatMs: 1000,
    verifyToken: (token) => {
      const t = verifyStreamToken(token)
      return t.ok ? { ok: true, role: t.role, keyId: t.keyId } : null
    },
    recheckGrant: (grant) => (h.revokedGrants.has(grant.keyId!) ? { ok: false, reason: 'key_revoked' } : { ok: true }),
    recheckMs: 200,
  })
  const { resolved, awaiting } = fixtures()
  const streamSockets = new Set<import('node:net').Socket>()
  const h: Harness = {
    base: '',
    hub,
    posts: [],
    incidents: new Map([resolved, awaiting].map((i) => [i.id, i])),
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
  const files: Record<string, [string, string]> = {
    '/': ['dashboard.html', 'text/html; charset=utf-8'],
    '/dashboard.html': ['dashboard.html', 'text/html; charset=utf-8'],
    '/dashboard.css': ['dashboard.css', 'text/css; charset=utf-8'],
    '/dashboard.js': ['dashboard.js', 'text/javascript; charset=utf-8'],
  }
  const json = (res: http.ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'Content-Type': 'application/json' })
    res.end(JSON.stringify(body))
  }
  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x')
    const file = files[url.pathname]
    if (file && req.method === 'GET') {
      res.writeHead(200, { 'Content-Type': file[1], 'Cache-Control': 'no-store' })
      res.end(readFileSync(path.join(root, 'public', file[0])))
      return
    }
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
    if (url.pathname === '/api/incidents') return json(res, 200, { incidents: [...h.incidents.values()].sort((a, b) => b.openedAt.localeCompare(a.openedAt)), nextCursor: null })
    const one = /^\/api\/incidents\/([a-z0-9_]+)$/.exec(url.pathname)
    if (one) return h.incidents.has(one[1]) ? json(res, 200, h.incidents.get(one[1])) : json(res, 404, { error: 'not_found' })
    const act = /^\/api\/incidents\/([a-z0-9_]+)\/(approve|reject|rollback)$/.exec(url.pathname)
    if (act && req.method === 'POST') {
      h.posts.push({ path: url.pathname, body, role })
      return json(res, 202, { ok: true })
    }
    if (url.pathname === '/api/approvals/pending') {
      const approvals = [...h.incidents.values()]
        .filter((i) => i.status === 'awaiting_approval' && i.approval?.status === 'pending')
        .map((i) => ({ incidentId: i.id, title: i.title, risk: i.approval!.risk, approverRole: i.approval!.approverRole, proposedAction: i.approval!.actionId, params: i.approval!.params, requestedAt: i.approval!.requestedAt, expiresAt: i.approval!.expiresAt }))
      return json(res, 200, { approvals })
    }
    if (url.pathname === '/api/audit') {
      if (role !== 'admin') return json(res, 403, { error: 'forbidden' })
      return json(res, 200, { events: [{ at: iso(3_580_000), kind: 'action_executed', actor: 'step:Remediate', incidentId: 'inc_resolved_1', resource: { kind: 'container', id: 'a11ce', name: 'api-2' }, outcome: 'succeeded' }] })
    }
    json(res, 404, { error: 'not_found' })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  h.base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  h.stop = async () => {
    await hub.close()
    server.closeAllConnections()
    await new Promise((r) => server.close(r))
  }
  return h
}

async function signIn(page: Page, base: string, key: string) {
  await page.goto(`${base}/`)
  await page.getByTestId('key-input').fill(key)
  await page.getByTestId('key-submit').click()
  await page.locator('#conn-status[data-state="live"]').waitFor({ timeout: 15_000 })
}

function readings(at: number, step: number) {
  const wave = (base: number, amp: number) => base + amp * Math.sin(step / 4)
  return [
    { series: 'host:cpu', metric: 'cpu', value: wave(38, 15), unit: 'percent', resource: { kind: 'host', id: 'node-1', name: 'node-1' }, at: new Date(at).toISOString() },
    { series: 'web-1:cpu', metric: 'cpu', value: wave(22, 10), unit: 'percent', resource: { kind: 'container', id: 'c0ffee', name: 'web-1' }, at: new Date(at).toISOString() },
    { series: 'host:mem', metric: 'memory', value: wave(61, 4), unit: 'percent', resource: { kind: 'host', id: 'node-1', name: 'node-1' }, at: new Date(at).toISOString() },
    { series: 'host:disk', metric: 'disk', value: 47 + step * 0.05, unit: 'percent', resource: { kind: 'filesystem', id: '/', name: '/' }, at: new Date(at).toISOString() },
    { series: 'web-1:latency', metric: 'latency', value: wave(120, 40), unit: 'ms', resource: { kind: 'endpoint', id: 'http://web-1/health', name: 'web-1 /health' }, at: new Date(at).toISOString() },
  ]
}

describe('dashboard in a real browser', { timeout: 120_000 }, () => {
  let browser: Browser
  let h: Harness

  before(async () => {
    mkdirSync(artifacts, { recursive: true })
    const { chromium } = await import('playwright-core')
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] })
    h = await startHarness()
  })
  after(async () => {
    await browser?.close()
    await h?.stop()
  })

  test('a wrong key is refused and the login stays', async () => {
    const page = await browser.newPage()
    try {
      await page.goto(`${h.base}/dashboard.html`)
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

  test('live: cards turn red and green, incidents appear without reload, approve sends the POST, audit is live', async () => {
    const page = await browser.newPage({ viewport: { width: 1440, height: 1000 } })
    const errors: string[] = []
    page.on('pageerror', (e) => errors.push(e.message))
    try {
      await signIn(page, h.base, ADMIN)
      // The key is kept for the tab, never put in a URL.
      assert.equal(await page.evaluate(() => (globalThis as any).sessionStorage.getItem('sentinel.apiKey')), ADMIN)
      assert.equal(await page.getByTestId('role-badge').textContent(), 'admin')
      await page.locator('[data-testid="incident-row"][data-incident-id="inc_resolved_1"][data-status="resolved"]').waitFor()
      await page.getByTestId('audit-panel').waitFor({ state: 'visible' })

      // Metrics: a few minutes of readings, drawn on the charts.
      const now = Date.now()
      for (let i = 0; i < 40; i++) h.hub.publish('metrics', { readings: readings(now - (40 - i) * 10_000, i) })
      await page.locator('[data-testid="chart-cpu"] .legend li').nth(1).waitFor()
      assert.equal(await page.locator('[data-testid="chart-cpu"] .chart-empty').isHidden(), true)

      // Containers: running → down (red) → running again (healed, green).
      h.hub.publish('container', { id: 'c0ffee', name: 'web-1', state: 'running', health: 'healthy', cpuPercent: 12.5, memoryBytes: 73_400_320, restarts: 0 })
      h.hub.publish('container', { id: 'b0b', name: 'worker-1', state: 'running', cpuPercent: 3.2, memoryBytes: 20_000_000, restarts: 1 })
      const web = page.locator('[data-testid="container-card"][data-name="web-1"]')
      await web.and(page.locator('[data-state="running"]')).waitFor()
      assert.equal(await web.getAttribute('data-healed'), 'false')

      h.hub.publish('container', { id: 'c0ffee', name: 'web-1', state: 'down', restarts: 0 })
      await web.and(page.locator('[data-state="down"]')).waitFor()
      const red = await web.evaluate((n) => (globalThis as any).getComputedStyle(n).borderTopColor)
      assert.equal(red, 'rgb(239, 77, 86)', 'a down card has a red border')
      assert.doesNotMatch(await web.innerText(), /healthy|12\.5%/, 'a down card shows no stale usage or health')

      // An incident appears without reload.
      const opened = incident({ id: 'inc_live_1', title: 'Container web-1 is down <img src=x onerror="window.__xss=1">' })
      h.incidents.set(opened.id, opened)
      h.hub.publish('incident.opened', opened)
      const row = page.locator('[data-testid="incident-row"][data-incident-id="inc_live_1"]')
      await row.and(page.locator('[data-status="open"]')).waitFor()
      // Text stays text.
      assert.match(await row.innerText(), /<img src=x/)
      assert.equal(await page.locator('#incident-list img').count(), 0)
      assert.equal(await page.evaluate(() => (globalThis as any).__xss), undefined)
      await page.screenshot({ path: path.join(artifacts, 'dashboard-down.png'), fullPage: true })

      h.hub.publish('container', { id: 'c0ffee', name: 'web-1', state: 'running', health: 'healthy', cpuPercent: 9.1, memoryBytes: 70_000_000, restarts: 1 })
      const fixed = { ...opened, status: 'resolved' as const, resolvedAt: new Date().toISOString(), updatedAt: new Date().toISOString(), version: 4 }
      h.incidents.set(fixed.id, fixed)
      h.hub.publish('incident.resolved', fixed)
      await web.and(page.locator('[data-state="running"][data-healed="true"]')).waitFor()
      const green = await web.evaluate((n) => (globalThis as any).getComputedStyle(n).borderTopColor)
      assert.equal(green, 'rgb(47, 191, 113)', 'a healed card has a green border')
      await row.and(page.locator('[data-status="resolved"]')).waitFor()

      // An older version arriving late does not undo the newer one.
      h.hub.publish('incident.updated', { ...opened, status: 'analyzing', version: 2 })
      h.hub.publish('audit', { at: new Date().toISOString(), kind: 'approval_decided', actor: 'user:test', incidentId: 'inc_awaiting_1', outcome: 'approved' })
      await page.locator('[data-testid="audit-row"][data-kind="approval_decided"]').waitFor()
      assert.equal(await row.getAttribute('data-status'), 'resolved')

      // Approve sends the POST with an empty body.
      const approve = page.locator('[data-testid="approval"][data-incident-id="inc_awaiting_1"] [data-testid="approve-button"]')
      await approve.waitFor()
      await page.screenshot({ path: path.join(artifacts, 'dashboard-desktop.png'), fullPage: true })
      await approve.click()
      await waitUntil(() => h.posts.some((p) => p.path === '/api/incidents/inc_awaiting_1/approve'), 'the approve POST')
      const post = h.posts.find((p) => p.path === '/api/incidents/inc_awaiting_1/approve')!
      assert.deepEqual(post.body, {})
      assert.equal(post.role, 'admin')

      // The incident timeline and analysis, and rollback for an admin.
      await page.locator('[data-testid="incident-row"][data-incident-id="inc_resolved_1"]').click()
      const detail = page.getByTestId('incident-detail')
      await detail.waitFor()
      await detail.getByTestId('timeline-entry').nth(3).waitFor()
      assert.equal(await detail.getByTestId('timeline-entry').count(), 4)
      assert.match(await detail.getByTestId('timeline').innerText(), /step:VerifyRemediation/)
      assert.match(await detail.getByTestId('analysis-root-cause').innerText(), /OOM killer/)
      assert.match(await detail.getByTestId('analysis-evidence').innerText(), /exit code 137/)
      assert.match(await detail.getByTestId('analysis-reasoning').innerText(), /SIGKILL/)
      await page.screenshot({ path: path.join(artifacts, 'dashboard-detail.png') })
      await detail.getByTestId('rollback-button').click()
      await waitUntil(() => h.posts.some((p) => p.path === '/api/incidents/inc_resolved_1/rollback'), 'the rollback POST')
      await page.getByTestId('detail-close').click()

      // Reject asks for a reason and sends it.
      const awaiting2 = incident({ ...fixtures().awaiting, id: 'inc_awaiting_2', title: 'Disk of node-1 at 93%', version: 1 })
      h.incidents.set(awaiting2.id, awaiting2)
      h.hub.publish('incident.updated', awaiting2)
      const card = page.locator('[data-testid="approval"][data-incident-id="inc_awaiting_2"]')
      await card.getByTestId('reject-button').click()
      await card.getByTestId('reject-reason').fill('not during business hours')
      await card.getByTestId('reject-confirm').click()
      await waitUntil(() => h.posts.some((p) => p.path === '/api/incidents/inc_awaiting_2/reject'), 'the reject POST')
      assert.deepEqual(h.posts.find((p) => p.path === '/api/incidents/inc_awaiting_2/reject')!.body, { reason: 'not during business hours' })
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

  test('roles: a viewer sees no decision buttons and no audit log; an operator cannot approve high risk', async () => {
    const page = await browser.newPage()
    try {
      await signIn(page, h.base, VIEWER)
      await page.locator('[data-testid="approval"]').first().waitFor()
      assert.equal(await page.getByTestId('approve-button').count(), 0)
      assert.equal(await page.getByTestId('audit-panel').isHidden(), true)
      await page.locator('[data-testid="incident-row"][data-incident-id="inc_resolved_1"]').click()
      await page.getByTestId('timeline').waitFor()
      assert.equal(await page.getByTestId('rollback-button').count(), 0)
      // The hub itself keeps audit events from non-admins; the page would not show them anyway.
    } finally {
      await page.close()
    }
    const op = await browser.newPage()
    try {
      const high = incident({ ...fixtures().awaiting, id: 'inc_high_1', title: 'High risk fix', approval: { ...fixtures().awaiting.approval!, risk: 'high', approverRole: 'admin' } })
      h.incidents.set(high.id, high)
      await signIn(op, h.base, OPERATOR)
      await op.locator('[data-testid="approval"][data-incident-id="inc_high_1"]').waitFor()
      assert.equal(await op.locator('[data-testid="approval"][data-incident-id="inc_high_1"] [data-testid="approve-button"]').count(), 0)
      assert.equal(await op.locator('[data-testid="approval"][data-incident-id="inc_awaiting_1"] [data-testid="approve-button"]').count(), 1)
      h.incidents.delete(high.id)
    } finally {
      await op.close()
    }
  })

  test('phone width: one column, nothing wider than the screen', async () => {
    const page = await browser.newPage({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true })
    try {
      await signIn(page, h.base, ADMIN)
      const now = Date.now()
      for (let i = 0; i < 30; i++) h.hub.publish('metrics', { readings: readings(now - (30 - i) * 10_000, i) })
      h.hub.publish('container', { id: 'c0ffee', name: 'web-1', state: 'down', restarts: 2 })
      h.hub.publish('container', { id: 'b0b', name: 'worker-1', state: 'running', cpuPercent: 3.2, memoryBytes: 20_000_000, restarts: 1 })
      await page.locator('[data-testid="container-card"][data-name="web-1"][data-state="down"]').waitFor()
      await page.locator('[data-testid="chart-cpu"] .legend li').first().waitFor()
      const overflow = await page.evaluate(() => (globalThis as any).document.documentElement.scrollWidth - (globalThis as any).innerWidth)
      assert.ok(overflow <= 0, `page is ${overflow}px wider than the phone`)
      const widths = await page.evaluate(() => [...(globalThis as any).document.querySelectorAll('.panel')].map((p: any) => Math.round(p.getBoundingClientRect().width)))
      assert.ok(widths.every((w) => w >= 360), `panels stack full width: ${widths}`)
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
