/**
 * The dashboard's on-call side against a real Sentinel, in Debian's Chromium driven by
 * playwright-core: an operator acknowledges an open incident with a click (the drawer then says who
 * took it and when, the row carries a badge, and the server has it), adds a silence from the
 * Silences panel and expires it; a viewer sees both read-only; an admin sees the Notifications panel
 * when the route answers. Screenshots go to test-artifacts/.
 */
import assert from 'node:assert/strict'
import { mkdirSync } from 'node:fs'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import type { Browser, Page } from 'playwright-core'
import { IncidentStore } from '../../src/platform/store/incidents'
import { startRedis, type TestRedis } from '../helpers/redis'
import { PROJECT_ROOT, type SentinelInstance, startSentinel } from '../helpers/sentinel'
import { openPage, retryOnNetworkChange } from '../helpers/browser'

const artifacts = path.join(PROJECT_ROOT, 'test-artifacts')

describe('dashboard: acknowledge, silences, notifications (Chromium)', () => {
  let redis: TestRedis
  let sentinel: SentinelInstance
  let browser: Browser
  let store: IncidentStore

  before(async () => {
    mkdirSync(artifacts, { recursive: true })
    redis = await startRedis()
    sentinel = await startSentinel({ redisPort: redis.port })
    store = new IncidentStore(redis.client)
    const { chromium } = await import('playwright-core')
    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    })
  })
  after(async () => {
    await browser?.close()
    await sentinel?.cleanup()
    await redis?.stop()
  })

  /** Page errors and Content-Security-Policy refusals, which each test asserts are none. */
  function watchErrors(page: Page): string[] {
    const errors: string[] = []
    page.on('pageerror', (e) => errors.push(e.message))
    page.on('console', (m) => {
      if (m.type() === 'error' && /Content Security Policy|Refused to|Failed to load module/i.test(m.text()))
        errors.push(m.text())
    })
    return errors
  }

  // Loaded and signed in again when Chromium cut it off for a network change (tests/helpers/browser.ts).
  const signIn = (page: Page, key: string) => retryOnNetworkChange(page, () => signInOnce(page, key))

  async function signInOnce(page: Page, key: string) {
    // What the page loaded and any error, to say why when the sign-in form never shows.
    const log: string[] = []
    page.on('console', (m) => m.type() === 'error' && log.push(`console: ${m.text()}`))
    page.on('pageerror', (e) => log.push(`error: ${e.message}`))
    page.on('response', (r) => log.push(`${r.status()} ${r.url().slice(0, 100)}`))
    await openPage(page, `${sentinel.url}/`)
    await page
      .getByTestId('key-input')
      .fill(key, { timeout: 15_000 })
      .catch((err) => {
        throw new Error(`${(err as Error).message.split('\n')[0]}\n${log.join('\n')}`)
      })
    await page.getByTestId('key-submit').click()
    await page.locator('#conn-status[data-state="live"]').waitFor({ timeout: 20_000 })
  }

  let n = 0
  async function openIncident(title: string): Promise<string> {
    n++
    const { incident } = await store.open(
      {
        fingerprint: `dash-oncall:${n}:${Date.now()}`,
        type: 'container_down',
        severity: 'critical',
        metric: 'container_running',
        value: 0,
        threshold: 1,
        resource: { kind: 'container', id: `oncall-${n}`, name: `oncall-web-${n}` },
        labels: {},
        source: 'test',
        at: new Date().toISOString(),
      },
      { title, actor: 'test' },
    )
    return incident.id
  }

  it('an operator acknowledges an open incident with a click: "taken by" in the drawer and the row', async () => {
    const page = await browser.newPage({ viewport: { width: 1366, height: 900 } })
    const errors = watchErrors(page)
    try {
      await signIn(page, sentinel.keys.operator)
      const operatorKey = `key:${(await sentinel.get('/api/whoami', 'operator')).body.keyId}`
      // Opened after the page loaded: it arrives on the live stream.
      const id = await openIncident('oncall-web is down <b>not bold</b>')
      const row = page.locator(`[data-testid="incident-row"][data-incident-id="${id}"]`)
      await row.waitFor({ timeout: 15_000 })
      assert.equal(await row.getByTestId('ack-badge').count(), 0)
      await row.click()
      const button = page.getByTestId('ack-button')
      await button.waitFor({ timeout: 10_000 })
      await page.screenshot({ path: path.join(artifacts, 'dashboard-oncall-ack-before.png') })
      await button.click()

      const note = page.getByTestId('ack-note')
      await note.waitFor({ timeout: 10_000 })
      assert.match(await note.innerText(), new RegExp(`^Taken by ${operatorKey} at `))
      await page.getByTestId('ack-button').waitFor({ state: 'detached', timeout: 5000 })
      await row.getByTestId('ack-badge').waitFor({ timeout: 10_000 })
      assert.match(await row.getByTestId('ack-badge').innerText(), new RegExp(`taken by ${operatorKey}`))
      // The timeline shows the acknowledgement once the stream brings the incident back.
      await page.locator('[data-testid="timeline-entry"][data-stage="acknowledged"]').waitFor({ timeout: 10_000 })
      assert.match(await page.locator('#detail-title').innerText(), /<b>not bold<\/b>/, 'titles are text, not markup')
      await page.screenshot({ path: path.join(artifacts, 'dashboard-oncall-ack-after.png') })

      const inc = (await sentinel.get(`/api/incidents/${id}`, 'viewer')).body
      assert.equal(inc.acknowledgement.by, operatorKey)
      assert.equal(inc.status, 'open')
      // Someone else acknowledging now is told who has it.
      assert.equal((await sentinel.post(`/api/incidents/${id}/ack`, {}, 'admin')).status, 409)

      // A page loaded afterwards shows the badge from the list, when the list's summaries carry the
      // acknowledgement (src/platform/store/summary.ts).
      const listed = (await sentinel.get('/api/incidents?limit=50', 'viewer')).body.incidents.find(
        (i: any) => i.id === id,
      )
      if (listed?.acknowledgement) {
        await page.reload()
        await page.locator('#conn-status[data-state="live"]').waitFor({ timeout: 20_000 })
        await row.getByTestId('ack-badge').waitFor({ timeout: 10_000 })
      }
      assert.deepEqual(errors, [])
    } finally {
      await page.close()
    }
  })

  it('an operator adds a silence from the panel, sees a refused one explained, and expires it', async () => {
    const page = await browser.newPage({ viewport: { width: 1366, height: 1000 } })
    const errors = watchErrors(page)
    try {
      await signIn(page, sentinel.keys.operator)
      const panel = page.getByTestId('silences-panel')
      await panel.getByTestId('silence-form').waitFor({ timeout: 10_000 })

      // Refused by the server: its reason, naming the field, shown as it is.
      await page.getByTestId('silence-matchers').fill('node!="db-1"')
      await page.getByTestId('silence-comment-input').fill('too broad')
      await page.getByTestId('silence-submit').click()
      const error = page.getByTestId('silence-error')
      await error.waitFor({ timeout: 10_000 })
      assert.match(await error.innerText(), /body\.matchers: at least one matcher must narrow the silence/)
      assert.equal((await sentinel.get('/api/silences', 'viewer')).body.silences.length, 0)

      await page.getByTestId('silence-matchers').fill('{severity="critical", node=~"db-1|db-2"}')
      await page.getByTestId('silence-duration').fill('90m')
      await page.getByTestId('silence-comment-input').fill('db migration <img src=x onerror=alert(1)>')
      await page.getByTestId('silence-submit').click()
      const item = page.locator('[data-testid="silence"][data-status="active"]')
      await item.waitFor({ timeout: 10_000 })
      await error.waitFor({ state: 'hidden', timeout: 5000 })
      assert.deepEqual(await item.getByTestId('silence-matcher').allInnerTexts(), [
        'severity="critical"',
        'node=~"db-1|db-2"',
      ])
      assert.equal(
        await item.getByTestId('silence-comment').innerText(),
        'db migration <img src=x onerror=alert(1)>',
        'comments are text, not markup',
      )
      assert.equal(await page.locator('.silence img').count(), 0)
      assert.match(await item.getByTestId('silence-ends').innerText(), /^ends in 1h (29|30)m/)
      assert.match(await item.innerText(), /by key:/)
      const [stored] = (await sentinel.get('/api/silences', 'viewer')).body.silences
      assert.equal(stored.status, 'active')
      assert.ok(Math.abs(Date.parse(stored.endsAt) - Date.now() - 90 * 60_000) < 30_000, stored.endsAt)
      assert.equal(await item.getAttribute('data-silence-id'), stored.id)
      await page.screenshot({ path: path.join(artifacts, 'dashboard-oncall-silence-active.png'), fullPage: true })

      await item.getByTestId('silence-expire').click()
      const ended = page.locator(`[data-testid="silence"][data-silence-id="${stored.id}"][data-status="expired"]`)
      await ended.waitFor({ timeout: 10_000 })
      assert.equal(await ended.getByTestId('silence-expire').count(), 0, 'an ended silence cannot be ended again')
      assert.match(await ended.getByTestId('silence-ends').innerText(), /^ended /)
      assert.equal((await sentinel.get('/api/silences', 'viewer')).body.silences[0].status, 'expired')
      await page.screenshot({ path: path.join(artifacts, 'dashboard-oncall-silence-expired.png'), fullPage: true })
      assert.deepEqual(errors, [])
    } finally {
      await page.close()
    }
  })

  it('a viewer sees incidents and silences read-only, at a phone width', async () => {
    const id = await openIncident('oncall-viewer incident')
    const made = await sentinel.post(
      '/api/silences',
      { matchers: ['container="oncall-web-1"'], duration: '2h', comment: 'redeploying' },
      'operator',
    )
    assert.equal(made.status, 201, JSON.stringify(made.body))
    const page = await browser.newPage({ viewport: { width: 390, height: 844 } })
    const errors = watchErrors(page)
    try {
      await signIn(page, sentinel.keys.viewer)
      await page.locator(`[data-testid="silence"][data-silence-id="${made.body.id}"]`).waitFor({ timeout: 10_000 })
      assert.equal(await page.getByTestId('silence-form').isVisible(), false, 'no form for a viewer')
      assert.equal(await page.getByTestId('silence-expire').count(), 0, 'no Expire for a viewer')
      await page.locator(`[data-testid="incident-row"][data-incident-id="${id}"]`).click()
      await page.getByTestId('timeline').waitFor({ timeout: 10_000 })
      assert.equal(await page.getByTestId('ack-button').count(), 0, 'no Acknowledge for a viewer')
      assert.equal(await page.getByTestId('notifications-panel').isVisible(), false, 'no notifications for a viewer')
      await page.getByTestId('detail-close').click()
      await page.getByTestId('silences-panel').scrollIntoViewIfNeeded()
      await page.screenshot({ path: path.join(artifacts, 'dashboard-oncall-viewer-phone.png'), fullPage: true })
      assert.deepEqual(errors, [])
    } finally {
      await page.close()
    }
  })

  it('an admin sees the Notifications panel when GET /api/notifications answers, and none when it does not', async () => {
    const answer = await sentinel.get('/api/notifications', 'admin')
    const page = await browser.newPage({ viewport: { width: 1440, height: 1000 } })
    const errors = watchErrors(page)
    try {
      await signIn(page, sentinel.keys.admin)
      await page.getByTestId('silences-panel').waitFor({ timeout: 10_000 })
      const panel = page.getByTestId('notifications-panel')
      if (answer.status === 200) {
        await panel.waitFor({ timeout: 10_000 })
        const stateText = await panel.getByTestId('notify-state').innerText()
        assert.equal(
          await panel.getByTestId('notify-state').getAttribute('data-enabled'),
          String(!!answer.body.enabled),
        )
        assert.match(stateText, answer.body.enabled ? /^Paging on/ : /^Paging off/)
        assert.equal(await panel.getByTestId('notify-pending').innerText(), `${answer.body.pending} waiting`)
        assert.equal(await panel.getByTestId('notify-receiver').count(), answer.body.receivers.length)
      } else {
        // No such route on this Sentinel (404): no panel, and no error shown.
        await page.waitForTimeout(1000)
        assert.equal(await panel.isVisible(), false, `GET /api/notifications answered ${answer.status}`)
      }
      await page.screenshot({ path: path.join(artifacts, 'dashboard-oncall-admin.png'), fullPage: true })
      assert.deepEqual(errors, [])
    } finally {
      await page.close()
    }
  })
})
