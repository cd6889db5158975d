/**
 * The dashboard against a real Sentinel, in Debian's Chromium driven by playwright-core: sign in
 * with a key, kill a watched container's main process and see its card go red and back to green
 * and the incident appear and resolve without a reload; approve a medium-risk fix by clicking.
 * Screenshots go to test-artifacts/.
 */
import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
/* eslint-disable @typescript-eslint/no-explicit-any -- code run in the page: this project's tsconfig has no DOM types */
import type { Browser, Page } from 'playwright-core'
import { docker, killMainProcess, removeContainers, runContainer, state, TEST_IMAGE, uniqueName } from '../helpers/docker'
import { waitFor } from '../helpers/ports'
import { startRedis, type TestRedis } from '../helpers/redis'
import { PROJECT_ROOT, type SentinelInstance, startSentinel, WATCH_ARG, WATCHED } from '../helpers/sentinel'

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
    sentinel = await startSentinel({ redisPort: redis.port, env: { CONFIDENCE_THRESHOLD: '1', VERIFY_STABLE_SECONDS: '0.5', SANDBOX_DIR: sandbox } })
    const { chromium } = await import('playwright-core')
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] })
  })
  after(async () => {
    await browser?.close()
    await removeContainers(...containers)
    await sentinel?.cleanup()
    await redis?.stop()
    if (sandbox) rmSync(sandbox, { recursive: true, force: true })
  })

  async function signIn(page: Page, key: string) {
    await page.goto(`${sentinel.url}/`)
    await page.getByTestId('key-input').fill(key)
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
      await page.waitForFunction(() => /^(0|1)\.\d\d$/.test((globalThis as any).document.getElementById('sum-health').textContent), null, { timeout: 15_000 })
      await page.waitForFunction((n) => /score (0|1)\.\d\d/.test((globalThis as any).document.querySelector(`[data-testid="container-card"][data-name="${n}"] [data-testid="card-health"]`)?.textContent ?? ''), name, { timeout: 15_000 })
      // The red phase lasts as long as the restart takes (a fraction of a second): record every
      // state the card shows rather than hope to sample it.
      await page.evaluate((n) => {
        const seen: string[] = ((globalThis as any).__cardStates = [])
        const box = (globalThis as any).document.getElementById('container-cards')
        new (globalThis as any).MutationObserver(() => {
          const el = box.querySelector(`[data-testid="container-card"][data-name="${n}"]`)
          const s = el && `${el.getAttribute('data-state')}/${el.getAttribute('data-healed')}`
          if (s && seen[seen.length - 1] !== s) seen.push(s)
        }).observe(box, { childList: true, subtree: true, attributes: true })
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
      assert.notEqual((await state(name)).Pid, before.Pid, 'the container really was restarted')
      // The border colour eases in (a CSS transition): wait for it to settle on green.
      const green = await page
        .waitForFunction((n) => (globalThis as any).getComputedStyle((globalThis as any).document.querySelector(`[data-testid="container-card"][data-name="${n}"]`)).borderTopColor === 'rgb(47, 191, 113)', name, { timeout: 5000 })
        .then(() => true, () => false)
      assert.ok(green, 'a healed card is green')

      const [incident] = (await sentinel.get(`/api/incidents?view=full&resource=${encodeURIComponent(name)}&limit=1`)).body.incidents
      assert.ok(incident, 'the incident exists')
      const row = page.locator(`[data-testid="incident-row"][data-incident-id="${incident.id}"]`)
      await row.and(page.locator('[data-status="resolved"]')).waitFor({ timeout: 30_000 })
      assert.deepEqual(navigations, [], 'no reload happened')
      await row.click()
      await page.getByTestId('timeline').waitFor()
      assert.ok((await page.getByTestId('timeline-entry').count()) >= 4, 'the timeline shows the stages')
      await page.screenshot({ path: path.join(artifacts, 'dashboard-live-healed.png'), fullPage: true })
      assert.deepEqual(errors, [])
    } finally {
      await page.close()
    }
  })

  it('approves a medium-risk fix with a click, and the fix runs', async () => {
    const name = uniqueName('dash-approve')
    containers.push(name)
    // Created, never started: down without a death event, so only the approved fix brings it up.
    await docker('create', '--name', name, '--label', WATCH_ARG, TEST_IMAGE, 'sh', '-c', 'trap "exit 0" TERM; while true; do sleep 0.2; done')
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
      await page.locator(`[data-testid="incident-row"][data-incident-id="${id}"][data-status="resolved"]`).waitFor({ timeout: 15_000 })
      assert.deepEqual(errors, [])
    } finally {
      await page.close()
    }
  })
})
