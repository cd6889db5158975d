/**
 * The dashboard's live samples, History view and Reports view against a real Sentinel, in Debian's
 * Chromium driven by playwright-core. The monitor never ticks here (the test Sentinel's default),
 * so only the live sampler (LIVE_SAMPLE_SECONDS=2) can move the charts: they must move at least
 * every 10 s, and a watched container's card gets its CPU figure from the samples. Then a watched
 * container is killed: its incident, once resolved and archived, is listed in the History view,
 * its page shows the timeline, the restart and the postmortem (downloadable as the same Markdown
 * the API serves), the CSV export holds it, and the Reports view draws its three charts with it.
 * Screenshots go to test-artifacts/.
 */
import assert from 'node:assert/strict'
import { mkdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import type { Browser, Page } from 'playwright-core'
import { openPage, retryOnNetworkChange } from '../helpers/browser'
import { killMainProcess, removeContainers, runContainer, uniqueName } from '../helpers/docker'
import { waitFor } from '../helpers/ports'
import { startRedis, type TestRedis } from '../helpers/redis'
import { PROJECT_ROOT, resolvedIncidentFor, type SentinelInstance, startSentinel, WATCHED } from '../helpers/sentinel'

const artifacts = path.join(PROJECT_ROOT, 'test-artifacts')

describe('dashboard: live samples, history and reports (Chromium)', () => {
  let redis: TestRedis
  let sentinel: SentinelInstance
  let browser: Browser
  const name = uniqueName('dash-hist')

  before(async () => {
    mkdirSync(artifacts, { recursive: true })
    redis = await startRedis()
    sentinel = await startSentinel({
      redisPort: redis.port,
      env: { LIVE_SAMPLE_SECONDS: '2', VERIFY_STABLE_SECONDS: '0.5' },
    })
    await runContainer(name, { labels: WATCHED })
    const { chromium } = await import('playwright-core')
    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    })
  })
  after(async () => {
    await browser?.close()
    await removeContainers(name)
    await sentinel?.cleanup()
    await redis?.stop()
  })

  // Loaded and signed in again when Chromium cut it off for a network change (tests/helpers/browser.ts).
  const signIn = (page: Page, key: string, hash = '') =>
    retryOnNetworkChange(page, async () => {
      await openPage(page, `${sentinel.url}/${hash}`)
      await page.getByTestId('key-input').fill(key)
      await page.getByTestId('key-submit').click()
      await page.locator('#conn-status[data-state="live"]').waitFor({ timeout: 20_000 })
    })

  const chartState = (page: Page, metric: string) =>
    page.evaluate((m) => {
      const fig = (globalThis as any).document.querySelector(`[data-testid="chart-${m}"]`)
      return { latest: Number(fig.dataset.latest || 0), points: Number(fig.dataset.points || 0) }
    }, metric)

  it('the live charts and cards move with the samples, at least every 10 s, with no monitor tick', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } })
    const errors: string[] = []
    page.on('pageerror', (e) => errors.push(e.message))
    try {
      await signIn(page, sentinel.keys.viewer)
      await page.getByTestId('sample-note').waitFor({ timeout: 15_000 })
      for (const metric of ['cpu', 'memory']) {
        let prev = await chartState(page, metric)
        for (let i = 0; i < 3; i++) {
          // The newest point drawn must be newer within 10 s: five samples' time at LIVE_SAMPLE_SECONDS=2.
          await page.waitForFunction(
            ({ m, t }) =>
              Number((globalThis as any).document.querySelector(`[data-testid="chart-${m}"]`).dataset.latest || 0) > t,
            { m: metric, t: prev.latest },
            { timeout: 10_000 },
          )
          const next = await chartState(page, metric)
          assert.ok(next.points > prev.points || prev.points === 0, `${metric}: more points drawn`)
          prev = next
        }
      }
      // The watched container is sampled too: its CPU line, and its card's CPU and memory figures.
      await page
        .locator(`[data-testid="chart-cpu"] .legend li[data-series="container_cpu_percent|container|${name}"]`)
        .waitFor({ timeout: 10_000 })
      const card = page.locator(`[data-testid="container-card"][data-name="${name}"]`)
      await page.waitForFunction(
        (n) =>
          /^\d+\.\d%$/.test(
            (globalThis as any).document
              .querySelector(`[data-testid="container-card"][data-name="${n}"] .card-stat .v`)
              ?.textContent?.trim() ?? '',
          ),
        name,
        { timeout: 10_000 },
      )
      assert.match(await card.innerText(), /\d+(\.\d)? (B|KiB|MiB)/, 'the memory figure is there')
      const samples = Number(await page.getByTestId('sample-note').getAttribute('data-samples'))
      assert.ok(samples >= 3, `samples received: ${samples}`)
      // Nothing but the sampler moved them: the monitor never ran (no readings recorded by it).
      const recent = await sentinel.get('/api/readings/recent?metric=cpu_busy_percent', 'viewer')
      assert.equal(recent.status, 200)
      assert.deepEqual(
        recent.body.series.filter((s: any) => s.points.length > 0),
        [],
        'the monitor recorded nothing: the charts moved from samples alone',
      )
      await page.screenshot({ path: path.join(artifacts, 'dashboard-live-samples.png') })
      assert.deepEqual(errors, [])
    } finally {
      await page.close()
    }
  })

  it('lists the incident a killed container caused in History; its page shows the timeline and the postmortem', async () => {
    await killMainProcess(name)
    const incident = await resolvedIncidentFor(sentinel, name, {
      timeoutMs: 60_000,
      what: 'the incident of the killed container to resolve',
    })
    // The archiver copies it from Redis every few seconds.
    await waitFor(
      async () => {
        const r = await sentinel.get(`/api/history?resource=${encodeURIComponent(name)}`, 'viewer')
        return r.status === 200 && r.body.incidents.some((i: any) => i.id === incident.id && i.status === 'resolved')
      },
      { timeoutMs: 60_000, what: 'the incident in GET /api/history' },
    )
    const served = await sentinel.get(`/api/incidents/${incident.id}/postmortem`, 'viewer', {
      accept: 'application/json',
    })
    assert.equal(served.status, 200, JSON.stringify(served.body))
    const markdown = served.body.markdown as string
    const heading = /^#+\s+(.+?)\s*$/m.exec(markdown)?.[1]
    assert.ok(heading, `the postmortem has a heading: ${markdown.slice(0, 200)}`)

    const page = await browser.newPage({ viewport: { width: 1280, height: 900 }, acceptDownloads: true })
    const errors: string[] = []
    page.on('pageerror', (e) => errors.push(e.message))
    try {
      await signIn(page, sentinel.keys.viewer)
      await page.getByTestId('view-history').click()
      assert.equal(await page.locator('#app').isHidden(), true, 'the live console gives way to the history')
      await page.getByTestId('history-resource').fill(name)
      await page.getByTestId('history-apply').click()
      const row = page.locator(`[data-testid="history-row"][data-incident-id="${incident.id}"]`)
      await row.waitFor({ timeout: 15_000 })
      assert.equal(await row.getAttribute('data-status'), 'resolved')
      assert.match(await row.innerText(), new RegExp(name))
      assert.match(await row.innerText(), /restart_container/)

      // Export CSV: the filtered list as a file, fetched with the key.
      const [csv] = await Promise.all([page.waitForEvent('download'), page.getByTestId('history-export').click()])
      assert.match(csv.suggestedFilename(), /\.csv$/)
      const csvText = readFileSync((await csv.path())!, 'utf8')
      assert.ok(csvText.includes(incident.id), `the CSV lists the incident: ${csvText.slice(0, 300)}`)

      await row.click()
      await page.getByTestId('history-incident').waitFor()
      assert.equal(new URL(page.url()).hash, `#history/${incident.id}`)
      assert.equal(await page.getByTestId('history-incident-title').innerText(), incident.title)
      assert.ok((await page.getByTestId('history-timeline-entry').count()) >= 4, 'the timeline shows the stages')
      await page
        .locator('[data-testid="history-action"][data-action="restart_container"][data-status="succeeded"]')
        .waitFor()
      const body = page.getByTestId('postmortem-body')
      await body.waitFor({ timeout: 15_000 })
      // Rendered, not shown as source: the heading is an element with the heading's text.
      assert.equal(await body.locator('h2, h3').first().innerText(), heading!.replace(/[*_`]/g, ''))
      assert.doesNotMatch(await body.innerText(), /^#/m, 'no Markdown syntax left in the rendered text')

      const [md] = await Promise.all([page.waitForEvent('download'), page.getByTestId('postmortem-download').click()])
      assert.equal(md.suggestedFilename(), `postmortem-${incident.id}.md`)
      // A postmortem not stored yet is drafted on each request, and its footer says when: the rest is the same.
      const unstamped = (text: string) => text.replace(/^_Written .*$/m, '')
      assert.equal(
        unstamped(readFileSync((await md.path())!, 'utf8')),
        unstamped(markdown),
        'the download is the postmortem as served',
      )
      await page.screenshot({ path: path.join(artifacts, 'dashboard-history-incident.png'), fullPage: true })

      // Back to the list with the browser's back button: the same filtered list.
      await page.goBack()
      await row.waitFor()
      assert.equal(await page.getByTestId('history-incident').isHidden(), true)

      // On a phone the incident's page fits the screen.
      await page.setViewportSize({ width: 390, height: 844 })
      await row.click()
      await page.getByTestId('postmortem-body').waitFor({ timeout: 15_000 })
      const overflow = await page.evaluate(
        () => (globalThis as any).document.documentElement.scrollWidth - (globalThis as any).innerWidth,
      )
      // Which elements stick out, to say where when it fails.
      const wide = await page.evaluate(() =>
        [...(globalThis as any).document.querySelectorAll('#history-incident *')]
          .filter((e: any) => e.getBoundingClientRect().right > (globalThis as any).innerWidth + 0.5)
          .slice(0, 5)
          .map((e: any) => `${e.tagName}.${e.className}`),
      )
      assert.ok(overflow <= 0, `the page is ${overflow}px wider than the phone: ${wide.join(', ')}`)
      assert.deepEqual(errors, [])
    } finally {
      await page.close()
    }
  })

  it('the Reports view draws its charts and totals with that incident', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } })
    const errors: string[] = []
    page.on('pageerror', (e) => errors.push(e.message))
    try {
      // A link to the view works as well as its tab.
      await signIn(page, sentinel.keys.viewer, '#reports')
      await page.getByTestId('reports-view').waitFor()
      const count = (fig: string, what: 'bars' | 'points') =>
        page.evaluate(
          ({ f, w }) => Number((globalThis as any).document.querySelector(`[data-testid="${f}"]`).dataset[w] || 0),
          {
            f: fig,
            w: what,
          },
        )
      await page.waitForFunction(
        () =>
          Number((globalThis as any).document.querySelector('[data-testid="report-incidents"]').dataset.bars || 0) >= 1,
        null,
        { timeout: 15_000 },
      )
      assert.ok(
        (await page.locator('[data-testid="report-incidents"] svg rect[data-type="container_down"]').count()) >= 1,
        'a container_down bar',
      )
      assert.ok((await count('report-mttr', 'points')) >= 1, 'a median time to resolve point')
      assert.ok((await count('report-autofix', 'bars')) >= 1, 'an auto-fix share bar')
      const total = Number(await page.locator('[data-testid="report-total-incidents"] .tile-value').innerText())
      assert.ok(total >= 1, `incidents counted: ${total}`)
      assert.match(await page.getByTestId('report-top-resources').innerText(), new RegExp(name))
      await page.screenshot({ path: path.join(artifacts, 'dashboard-reports.png'), fullPage: true })
      assert.deepEqual(errors, [])
    } finally {
      await page.close()
    }
  })
})
