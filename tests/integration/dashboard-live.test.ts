/**
 * The dashboard against a real Sentinel, in Debian's Chromium driven by playwright-core: sign in
 * with a key, kill a watched container's main process and see its card go red and back to green
 * and the incident appear and resolve without a reload (the card green as soon as the container
 * runs, before its incident resolves), no rollback offered where the API would refuse it; the
 * charts drawn at once from the last hour the monitor recorded (GET /api/readings/recent); approve
 * a medium-risk fix by clicking. Screenshots go to test-artifacts/.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import type { Browser, Page } from 'playwright-core'
import { RecentReadings } from '../../src/observe/recent-readings'
import type { Reading } from '../../src/observe/types'
import { killMainProcess, removeContainers, runContainer, state, uniqueName, createIdle } from '../helpers/docker'
import { waitFor } from '../helpers/ports'
import { startRedis, type TestRedis } from '../helpers/redis'
import { PROJECT_ROOT, type SentinelInstance, startSentinel, WATCH_ARG, WATCHED } from '../helpers/sentinel'
import { openPage, retryOnNetworkChange } from '../helpers/browser'

const artifacts = path.join(PROJECT_ROOT, 'test-artifacts')

describe('dashboard against a live Sentinel (Chromium)', () => {
  let redis: TestRedis
  let sentinel: SentinelInstance
  let browser: Browser
  let sandbox: string
  const containers: string[] = []

  before(async () => {
    mkdirSync(artifacts, { recursive: true })
    sandbox = mkdtempSync(path.join(os.tmpdir(), 'sentinel-dash-sandbox-'))
    redis = await startRedis()
    // Every analysis is less sure than 1.0, so a fix proposed by the analyser needs an operator;
    // the fast path for a dead container (no analysis on its way) still heals at once.
    // The monitor ticks every 2 s so the recent readings fill up; no threshold can be crossed.
    sentinel = await startSentinel({
      redisPort: redis.port,
      env: {
        CONFIDENCE_THRESHOLD: '1',
        VERIFY_STABLE_SECONDS: '0.5',
        SANDBOX_DIR: sandbox,
        MONITOR_CRON: '*/2 * * * * *',
        THRESHOLD_MEMORY_PERCENT: '100',
        THRESHOLD_CPU_PERCENT: '100',
        THRESHOLD_DISK_PERCENT: '100',
        THRESHOLD_LATENCY_MS: '3600000',
        THRESHOLD_CONTAINER_MEMORY_PERCENT: '100',
        THRESHOLD_CONTAINER_CPU_PERCENT: '100000',
      },
    })
    const { chromium } = await import('playwright-core')
    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    })
  })
  after(async () => {
    await browser?.close()
    await removeContainers(...containers)
    await sentinel?.cleanup()
    await redis?.stop()
    if (sandbox) rmSync(sandbox, { recursive: true, force: true })
  })

  // Loaded and signed in again when Chromium cut it off for a network change (tests/helpers/browser.ts).
  const signIn = (page: Page, key: string) => retryOnNetworkChange(page, () => signInOnce(page, key))

  async function signInOnce(page: Page, key: string) {
    // What the page loaded and any error, to say why when the sign-in form never shows.
    const log: string[] = []
    page.on('console', (m) => m.type() === 'error' && log.push(`console: ${m.text()}`))
    page.on('pageerror', (e) => log.push(`error: ${e.message}`))
    page.on('requestfailed', (r) => log.push(`failed: ${r.url()} ${r.failure()?.errorText}`))
    page.on('response', (r) => log.push(`${r.status()} ${r.url().slice(0, 100)}`))
    await openPage(page, `${sentinel.url}/`)
    await page
      .getByTestId('key-input')
      .fill(key)
      .catch((err) => {
        throw new Error(`${(err as Error).message.split('\n')[0]}\n${log.join('\n')}`)
      })
    await page.getByTestId('key-submit').click()
    await page.locator('#conn-status[data-state="live"]').waitFor({ timeout: 20_000 })
  }

  it('shows a killed container go red, then green, and its incident open and resolve without a reload', async () => {
    const name = uniqueName('dash-web')
    containers.push(name)
    await runContainer(name, { labels: WATCHED })
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } })
    const errors: string[] = []
    page.on('pageerror', (e) => errors.push(e.message))
    try {
      await signIn(page, sentinel.keys.admin)
      const card = page.locator(`[data-testid="container-card"][data-name="${name}"]`)
      // Listed from GET /api/containers when the page loads, with its health score.
      await card.and(page.locator('[data-state="running"]')).waitFor({ timeout: 15_000 })
      await page.waitForFunction(
        () => /^(0|1)\.\d\d$/.test((globalThis as any).document.getElementById('sum-health').textContent),
        null,
        { timeout: 15_000 },
      )
      await page.waitForFunction(
        (n) =>
          /score (0|1)\.\d\d/.test(
            (globalThis as any).document.querySelector(
              `[data-testid="container-card"][data-name="${n}"] [data-testid="card-health"]`,
            )?.textContent ?? '',
          ),
        name,
        { timeout: 15_000 },
      )
      // The red phase lasts as long as the restart takes (a fraction of a second): record every
      // state the card shows rather than hope to sample it.
      await page.evaluate((n) => {
        const doc = (globalThis as any).document
        const seen: string[] = ((globalThis as any).__cardStates = [])
        // One timeline of the card's colour and its incident's status, to see which changed first.
        const both: string[] = ((globalThis as any).__timeline = [])
        const box = doc.getElementById('container-cards')
        new (globalThis as any).MutationObserver(() => {
          const el = box.querySelector(`[data-testid="container-card"][data-name="${n}"]`)
          const s = el && `${el.getAttribute('data-state')}/${el.getAttribute('data-healed')}`
          if (s && seen[seen.length - 1] !== s) seen.push(s)
          const t = el && `card:${el.getAttribute('data-tone')}`
          if (
            t &&
            !both
              .filter((x) => x.startsWith('card:'))
              .slice(-1)
              .includes(t)
          )
            both.push(t)
        }).observe(box, { childList: true, subtree: true, attributes: true })
        const list = doc.getElementById('incident-list')
        new (globalThis as any).MutationObserver(() => {
          for (const row of list.querySelectorAll('[data-testid="incident-row"]')) {
            if (!row.querySelector('.incident-sub')?.textContent?.includes(n)) continue
            const t = `incident:${row.getAttribute('data-status')}`
            if (
              !both
                .filter((x) => x.startsWith('incident:'))
                .slice(-1)
                .includes(t)
            )
              both.push(t)
          }
        }).observe(list, { childList: true, subtree: true, attributes: true })
      }, name)
      const navigations: string[] = []
      page.on('framenavigated', (f) => navigations.push(f.url()))
      const before = await state(name)

      await killMainProcess(name)
      await card.and(page.locator('[data-state="running"][data-healed="true"]')).waitFor({ timeout: 20_000 })
      const seen: string[] = await page.evaluate(() => (globalThis as any).__cardStates)
      const down = seen.indexOf('down/false')
      assert.ok(down >= 0, `the card showed the container down; states seen: ${seen.join(' → ')}`)
      assert.ok(seen.indexOf('running/true', down) > down, `then healed; states seen: ${seen.join(' → ')}`)
      assert.deepEqual(
        seen.slice(seen.indexOf('running/true', down)),
        ['running/true'],
        `once running it stays green, whatever its incident does; states seen: ${seen.join(' → ')}`,
      )
      assert.notEqual((await state(name)).Pid, before.Pid, 'the container really was restarted')
      // The border colour eases in (a CSS transition): wait for it to settle on green.
      const green = await page
        .waitForFunction(
          (n) =>
            (globalThis as any).getComputedStyle(
              (globalThis as any).document.querySelector(`[data-testid="container-card"][data-name="${n}"]`),
            ).borderTopColor === 'rgb(47, 191, 113)',
          name,
          { timeout: 5000 },
        )
        .then(
          () => true,
          () => false,
        )
      assert.ok(green, 'a healed card is green')

      const [incident] = (await sentinel.get(`/api/incidents?view=full&resource=${encodeURIComponent(name)}&limit=1`))
        .body.incidents
      assert.ok(incident, 'the incident exists')
      const row = page.locator(`[data-testid="incident-row"][data-incident-id="${incident.id}"]`)
      await row.and(page.locator('[data-status="resolved"]')).waitFor({ timeout: 30_000 })
      assert.deepEqual(navigations, [], 'no reload happened')
      // The card turned green when the container ran again, before the incident resolved.
      const timeline: string[] = await page.evaluate(() => (globalThis as any).__timeline)
      const lastRed = timeline.lastIndexOf('card:bad')
      const greenAt = timeline.indexOf('card:ok', lastRed)
      assert.ok(lastRed >= 0 && greenAt > lastRed, `red, then green: ${timeline.join(' → ')}`)
      assert.ok(
        greenAt < timeline.indexOf('incident:resolved'),
        `green before the incident resolved: ${timeline.join(' → ')}`,
      )
      await row.click()
      await page.getByTestId('timeline').waitFor()
      assert.ok((await page.getByTestId('timeline-entry').count()) >= 4, 'the timeline shows the stages')
      // A restart cannot be undone: the API refuses a rollback (409), and the page does not offer one.
      await page.getByTestId('rollback-unavailable').waitFor()
      assert.match(await page.getByTestId('rollback-unavailable').innerText(), /restart_container cannot be undone/)
      assert.equal(await page.getByTestId('rollback-button').count(), 0)
      const refused = await sentinel.post(`/api/incidents/${incident.id}/rollback`, {}, 'admin')
      assert.equal(refused.status, 409, JSON.stringify(refused.body))
      await page.screenshot({ path: path.join(artifacts, 'dashboard-live-healed.png'), fullPage: true })
      assert.deepEqual(errors, [])
    } finally {
      await page.close()
    }
  })

  it('draws the last hour of readings the moment the page opens, from GET /api/readings/recent', async () => {
    // An hour at the default schedule (a reading every 2 minutes) for a host of this test's own,
    // recorded the way the monitor records: only GET /api/readings/recent can show it.
    const host = `dash-seeded-${randomBytes(4).toString('hex')}`
    const series = `cpu_busy_percent|host|${host}`
    const now = Date.now()
    const seeded: Reading[] = Array.from({ length: 30 }, (_, i) => ({
      series,
      metric: 'cpu_busy_percent',
      value: 40 + 10 * Math.sin(i / 3) + 0.0123,
      unit: 'percent',
      resource: { kind: 'host', id: host, name: host },
      labels: {},
      source: 'collector',
      query: 'collector:test',
      // From 59 minutes ago to a minute ago: all inside the hour when it is recorded.
      at: new Date(now - 60_000 - (29 - i) * 120_000).toISOString(),
    }))
    assert.equal(await new RecentReadings(redis.client).record(seeded), 30)

    // The monitor itself records every tick (every 2 s here): its own host series fills up.
    const recent = await waitFor(
      async () => {
        const r = await sentinel.get('/api/readings/recent?metric=cpu_busy_percent,memory_used_percent', 'viewer')
        assert.equal(r.status, 200, JSON.stringify(r.body))
        const own = r.body.series.find((s: any) => s.metric === 'cpu_busy_percent' && s.series !== series)
        return own && own.points.length >= 3 ? r.body : null
      },
      { timeoutMs: 30_000, what: 'the monitor to record three ticks' },
    )
    assert.ok(recent.series.some((s: any) => s.series === series && s.points.length === 30))
    assert.ok(recent.series.every((s: any) => ['cpu_busy_percent', 'memory_used_percent'].includes(s.metric)))
    const bad = await sentinel.get('/api/readings/recent?minutes=0', 'viewer')
    assert.equal(bad.status, 400)
    assert.match(bad.body.message, /query\.minutes/)
    assert.equal((await sentinel.get('/api/readings/recent', null)).status, 401)
    const routes = (await sentinel.get('/api/routes', 'admin')).body.routes
    assert.ok(
      routes.some((r: any) => r.method === 'GET' && r.path === '/api/readings/recent' && r.zone === 'api'),
      'listed in /api/routes',
    )
    assert.ok(
      (await sentinel.get('/api/openapi.json', 'viewer')).body.paths['/api/readings/recent']?.get,
      'in the OpenAPI document',
    )

    const page = await browser.newPage({ viewport: { width: 1440, height: 1000 } })
    const errors: string[] = []
    page.on('pageerror', (e) => errors.push(e.message))
    page.on('console', (m) => {
      if (m.type() === 'error' && /Content Security Policy|Refused to|Failed to load module/i.test(m.text()))
        errors.push(m.text())
    })
    try {
      await signIn(page, sentinel.keys.viewer)
      const legend = page.locator(`[data-testid="chart-cpu"] .legend li[data-series="${series}"]`)
      await legend.waitFor({ timeout: 5000 })
      const drawn = await page.evaluate(() => {
        const fig = (globalThis as any).document.querySelector('[data-testid="chart-cpu"]')
        return {
          lines: Number(fig.dataset.lines),
          dots: Number(fig.dataset.dots),
          singles: Number(fig.dataset.singles),
          points: Number(fig.dataset.points),
        }
      })
      assert.ok(drawn.lines >= 2, `the seeded hour and the monitor's own host are lines: ${JSON.stringify(drawn)}`)
      // A series read once so far (another series that appeared a tick ago) can only be a dot;
      // every series read more than once is drawn as lines, without lone dots.
      assert.equal(drawn.dots, drawn.singles, `no lone dots in a series read more than once: ${JSON.stringify(drawn)}`)
      assert.ok(drawn.points >= 30 + 3, `the whole hour is drawn: ${JSON.stringify(drawn)}`)
      assert.match(await legend.locator('.lval').innerText(), /^\d{1,3}\.\d%$/, 'rounded to one decimal')
      await page.screenshot({ path: path.join(artifacts, 'dashboard-live-after-load.png'), fullPage: true })
      assert.deepEqual(errors, [])
    } finally {
      await page.close()
    }
  })

  it('approves a medium-risk fix with a click, and the fix runs', async () => {
    const name = uniqueName('dash-approve')
    containers.push(name)
    // Created, never started: down without a death event, so only the approved fix brings it up.
    await createIdle(name, WATCH_ARG)
    const page = await browser.newPage({ viewport: { width: 390, height: 844 } })
    const errors: string[] = []
    page.on('pageerror', (e) => errors.push(e.message))
    try {
      await signIn(page, sentinel.keys.operator)
      const trig = await sentinel.post('/api/trigger-alert', { type: 'container_down', resource: name }, 'admin')
      assert.equal(trig.status, 202, JSON.stringify(trig.body))
      const id = trig.body.incidentId as string
      const approval = page.locator(`[data-testid="approval"][data-incident-id="${id}"]`)
      await approval.waitFor({ timeout: 45_000 })
      assert.match(await approval.innerText(), /medium risk/i)
      await page.screenshot({ path: path.join(artifacts, 'dashboard-live-approval-phone.png'), fullPage: true })
      await approval.getByTestId('approve-button').click()
      await approval.waitFor({ state: 'detached', timeout: 15_000 })

      const done = await waitFor(
        async () => {
          const inc = (await sentinel.get(`/api/incidents/${id}`)).body
          return inc.status === 'resolved' ? inc : null
        },
        { timeoutMs: 45_000, what: 'the approved fix to resolve the incident' },
      )
      assert.equal(done.approval.status, 'approved')
      assert.match(done.approval.decidedBy, /^key:/)
      assert.equal((await state(name)).Running, true, 'the approved restart ran')
      await page
        .locator(`[data-testid="incident-row"][data-incident-id="${id}"][data-status="resolved"]`)
        .waitFor({ timeout: 15_000 })
      assert.deepEqual(errors, [])
    } finally {
      await page.close()
    }
  })
  it('says so when a module file does not arrive, and loads the page again by itself', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } })
    try {
      // The first request for one of the modules main.js imports is cut off, as a dropped connection would.
      let cut = 0
      await page.route('**/js/format.js', (route) => (cut++ === 0 ? route.abort('connectionreset') : route.continue()))
      const booted: string[] = []
      page.on('framenavigated', (f) => f === page.mainFrame() && booted.push(f.url()))
      await page.goto(`${sentinel.url}/`, { waitUntil: 'load' })
      const banner = page.getByTestId('boot-error')
      await banner.waitFor({ timeout: 10_000 })
      // Named after the entry script whose graph failed (main.js, nodes.js, cluster.js...: each
      // <script type="module"> that imports format.js).
      assert.match(await banner.innerText(), /\/js\/[a-z-]+\.js/)
      assert.match(await banner.innerText(), /Reloading/)
      // Reloaded by the page itself: the file arrives, the sign-in form shows, no banner.
      await page.getByTestId('key-input').waitFor({ timeout: 15_000 })
      assert.equal(await banner.isHidden(), true)
      // Asked for again after the cut: by the reload, and by Chromium for another entry script that
      // imports it in the same load (a failed module fetch is not shared between module graphs).
      assert.ok(cut >= 2, `format.js asked for once more (${cut} requests)`)
      assert.ok(booted.length >= 2, `navigations: ${booted.length}`)
      // A page that started clears its count, so a later failure gets its reloads again.
      assert.equal(await page.evaluate(() => (globalThis as any).sessionStorage.getItem('sentinel.bootRetries')), null)
    } finally {
      await page.close()
    }
  })
})
