/**
 * The dashboard's container cards grouped by node, in Chromium against a real controller and a real
 * node agent on one Redis. Both watch the system Docker engine, each under its own label value (so
 * they never see each other's containers): a container labelled for the controller is a live card
 * in the controller's group, one labelled for the agent a card in the agent's node group, with the
 * state, status and image the agent reported. A lone host shows one group and no heading; the
 * agent's group appears without a reload when it registers; when the agent stops beating its group
 * heading turns red and its cards are greyed as the last known state, while the controller's stay
 * live. The grouped panel fits a 390 px phone. Screenshots go to test-artifacts/.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { mkdirSync } from 'node:fs'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import type { Browser, Page } from 'playwright-core'
import { startAgent, type TestAgent } from '../helpers/agent'
import { openPage, retryOnNetworkChange } from '../helpers/browser'
import { waitFor } from '../helpers/ports'
import { createIdle, removeContainers, runContainer, TEST_IMAGE, uniqueName } from '../helpers/docker'
import { startRedis, type TestRedis } from '../helpers/redis'
import { PROJECT_ROOT, startSentinel, WATCHED, type SentinelInstance } from '../helpers/sentinel'

const RUN = randomBytes(3).toString('hex')
const HEARTBEAT_S = 1
const DOWN_AFTER_S = 3
/** The controller's node, and the agent's with its own watch label value on the same engine. */
const CONTROLLER_NODE = `ctl-${RUN}`
const AGENT_NODE = `edge-${RUN}`
const AGENT_LABEL = { key: 'sentinel.watch', value: `edge-${RUN}` }
const AGENT_LABEL_ARG = `${AGENT_LABEL.key}=${AGENT_LABEL.value}`
/** The system engine's socket: DOCKER_HOST when it names one, else Docker's default. */
const SOCKET = process.env.DOCKER_HOST?.startsWith('unix://')
  ? process.env.DOCKER_HOST.slice('unix://'.length)
  : '/var/run/docker.sock'
/** The bad tone's colour (--bad in dashboard.css). */
const RED = 'rgb(239, 77, 86)'

const artifacts = path.join(PROJECT_ROOT, 'test-artifacts')

const group = (node: string) => `[data-testid="node-group"][data-node="${node}"]`
const cardIn = (node: string, name: string) => `${group(node)} [data-testid="container-card"][data-name="${name}"]`

describe('dashboard: container cards grouped by node (Chromium)', { timeout: 240_000 }, () => {
  let redis: TestRedis
  let sentinel: SentinelInstance
  let agent: TestAgent | undefined
  let browser: Browser
  let page: Page
  const errors: string[] = []
  const local = uniqueName('dnodes-local')
  const remote = uniqueName('dnodes-edge')
  const remoteIdle = uniqueName('dnodes-edge-idle')

  before(async () => {
    mkdirSync(artifacts, { recursive: true })
    redis = await startRedis()
    sentinel = await startSentinel({
      redisPort: redis.port,
      env: {
        NODE_NAME: CONTROLLER_NODE,
        AGENT_HEARTBEAT_SECONDS: String(HEARTBEAT_S),
        NODE_DOWN_AFTER_SECONDS: String(DOWN_AFTER_S),
      },
    })
    await runContainer(local, { labels: WATCHED })
    await runContainer(remote, { labels: { [AGENT_LABEL.key]: AGENT_LABEL.value } })
    // Created, never started: the agent lists it as Docker's "created", a container that is down.
    await createIdle(remoteIdle, AGENT_LABEL_ARG)
    const { chromium } = await import('playwright-core')
    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    })
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } })
    page.on('pageerror', (e) => errors.push(e.message))
    page.on('console', (m) => {
      if (m.type() === 'error' && /Content Security Policy|Refused to|Failed to load module/i.test(m.text()))
        errors.push(m.text())
    })
  })

  after(async () => {
    await browser?.close()
    await agent?.cleanup()
    await removeContainers(local, remote, remoteIdle)
    await sentinel?.cleanup()
    await redis?.stop()
  })

  async function signIn(p: Page, key: string) {
    await retryOnNetworkChange(p, async () => {
      await openPage(p, `${sentinel.url}/`)
      await p.getByTestId('key-input').fill(key)
      await p.getByTestId('key-submit').click()
      await p.locator('#conn-status[data-state="live"]').waitFor({ timeout: 20_000 })
    })
  }

  /** The text of every `.card-stat .v` of one card. */
  const statValues = (selector: string) => page.locator(`${selector} .card-stat .v`).allInnerTexts()

  it('shows a lone host as one group without a heading, then a group per node once an agent registers', async () => {
    await signIn(page, sentinel.keys.viewer)
    // The controller's own node is listed by GET /api/nodes (polled by nodes.js): the live card
    // is in its group, named after it.
    await page.locator(cardIn(CONTROLLER_NODE, local)).waitFor({ timeout: 20_000 })
    assert.equal(await page.getByTestId('node-group').count(), 1, 'one group on a lone host')
    assert.equal(await page.getByTestId('node-group-head').count(), 0, 'and no heading: it looks as before')
    assert.equal(await page.locator(`${group(CONTROLLER_NODE)}[data-local="true"]`).count(), 1)
    assert.equal(
      await page.locator(`[data-testid="container-card"][data-name="${local}"]`).getAttribute('data-node'),
      CONTROLLER_NODE,
    )
    assert.equal(await page.locator('#card-legend-stale').isHidden(), true, 'no fleet legend without a fleet')

    agent = await startAgent({
      node: AGENT_NODE,
      redisPort: redis.port,
      socket: SOCKET,
      env: {
        WATCH_LABEL: AGENT_LABEL_ARG,
        AGENT_HEARTBEAT_SECONDS: String(HEARTBEAT_S),
        NODE_DOWN_AFTER_SECONDS: String(DOWN_AFTER_S),
      },
    })
    // Without a reload: the next poll of the node list brings the agent's group.
    const running = cardIn(AGENT_NODE, remote)
    await page
      .locator(`${group(AGENT_NODE)}[data-state="up"] [data-testid="container-card"][data-name="${remote}"]`)
      .waitFor({ timeout: 30_000 })
      .catch((err) => {
        throw new Error(`${(err as Error).message}\n--- agent output ---\n${agent?.output().slice(-3000)}`)
      })
    assert.equal(await page.getByTestId('node-group').count(), 2, 'one group per node')
    // The summary counts the fleet: the agent's never-started container is down, this host's runs.
    await waitFor(async () => (await page.locator('#sum-down').innerText()) === '1', {
      timeoutMs: 10_000,
      what: 'the summary to count the down container on the other node',
    })
    assert.match(await page.locator('#sum-containers').innerText(), /^of 3 containers/)
    const order = await page
      .getByTestId('node-group')
      .evaluateAll((gs) => gs.map((g) => (g as any).getAttribute('data-node')))
    assert.deepEqual(order, [CONTROLLER_NODE, AGENT_NODE], "the controller's own node first")
    // Each node's heading names it and its state.
    const heads = await page.getByTestId('node-group-head').allInnerTexts()
    assert.match(heads[0], new RegExp(`${CONTROLLER_NODE}[\\s\\S]*up · this host`, 'i'))
    assert.match(heads[1], new RegExp(`${AGENT_NODE}[\\s\\S]*up[\\s\\S]*2 watched`, 'i'))

    // What the agent reported: Docker's state, status and image, coloured as a live card would be.
    const card = page.locator(running)
    assert.equal(await card.getAttribute('data-node'), AGENT_NODE)
    assert.equal(await card.getAttribute('data-state'), 'running')
    assert.equal(await card.getAttribute('data-tone'), 'ok')
    assert.equal(await card.getAttribute('data-stale'), 'false')
    assert.equal(await card.getByTestId('card-reported').innerText(), `on ${AGENT_NODE}`)
    const [status, image] = await statValues(running)
    assert.match(status, /^Up /)
    assert.equal(image, TEST_IMAGE)
    const idle = page.locator(cardIn(AGENT_NODE, remoteIdle))
    assert.equal(await idle.getAttribute('data-state'), 'down', 'a created container is down')
    assert.equal(await idle.getAttribute('data-tone'), 'bad')
    assert.match(await idle.locator('.state').innerText(), /created/i)
    assert.match((await statValues(cardIn(AGENT_NODE, remoteIdle)))[0], /^Created/)

    // Each container only in its own node's group: the two watch labels keep them apart.
    assert.equal(await page.locator(cardIn(AGENT_NODE, local)).count(), 0)
    assert.equal(await page.locator(cardIn(CONTROLLER_NODE, remote)).count(), 0)
    assert.equal(await page.locator(cardIn(CONTROLLER_NODE, local)).getAttribute('data-source'), 'live')
    assert.equal(await page.locator('#card-legend-stale').isVisible(), true)
    assert.match(await page.locator('#containers-count').innerText(), /on 2 nodes/)
    // The node cards of the Nodes panel are still there, from the same poll.
    await page.locator(`[data-testid="node-card"][data-name="${AGENT_NODE}"][data-state="up"]`).waitFor()
    await page.screenshot({ path: path.join(artifacts, 'dashboard-nodes-up.png'), fullPage: true })
  })

  it("turns a node's group red and greys its cards as last known when its agent stops beating", async () => {
    assert.ok(agent, 'the agent runs (previous test)')
    await agent.stop()
    // The controller marks the node down after NODE_DOWN_AFTER_SECONDS without a beat; the page
    // sees it at its next poll (every 5 s).
    const down = page.locator(`${group(AGENT_NODE)}[data-state="down"][data-tone="bad"]`)
    await down.waitFor({ timeout: (DOWN_AFTER_S + 5 + 10) * 1000 })
    const headColor = await page
      .locator(`${group(AGENT_NODE)} .node-group-name`)
      .evaluate((e) => (globalThis as any).getComputedStyle(e).color)
    assert.equal(headColor, RED, 'the heading is red')
    assert.match(await page.locator(`${group(AGENT_NODE)} [data-testid="node-group-head"]`).innerText(), /down/i)

    // Its containers keep their last reported state, greyed.
    for (const name of [remote, remoteIdle]) {
      const card = page.locator(cardIn(AGENT_NODE, name))
      assert.equal(await card.getAttribute('data-stale'), 'true', `${name} is stale`)
      assert.equal(await card.getAttribute('data-tone'), 'muted')
      assert.equal(await card.getByTestId('card-reported').innerText(), 'last known state')
      const filter = await card.evaluate((e) => (globalThis as any).getComputedStyle(e).filter)
      assert.match(filter, /grayscale/, 'greyed')
    }
    assert.match((await statValues(cardIn(AGENT_NODE, remote)))[0], /^Up /, 'the last reported status stays')

    // The controller's own group is untouched: up, live and running.
    assert.equal(await page.locator(group(CONTROLLER_NODE)).getAttribute('data-state'), 'up')
    const live = page.locator(cardIn(CONTROLLER_NODE, local))
    assert.equal(await live.getAttribute('data-state'), 'running')
    assert.equal(await live.getAttribute('data-stale'), null)
    await page.screenshot({ path: path.join(artifacts, 'dashboard-nodes-down.png'), fullPage: true })
    assert.deepEqual(errors, [])
  })

  it('fits the grouped panel on a 390 px phone', async () => {
    const phone = await browser.newPage({ viewport: { width: 390, height: 844 }, isMobile: true })
    const phoneErrors: string[] = []
    phone.on('pageerror', (e) => phoneErrors.push(e.message))
    try {
      await signIn(phone, sentinel.keys.viewer)
      await phone.locator(`${group(AGENT_NODE)}[data-state="down"]`).waitFor({ timeout: 20_000 })
      await phone.locator(cardIn(CONTROLLER_NODE, local)).waitFor()
      const overflow = await phone.evaluate(() => {
        const doc = (globalThis as any).document
        const width = doc.documentElement.clientWidth
        const wide = [...doc.querySelectorAll('[data-testid="node-group"], [data-testid="node-group"] *')]
          .filter((e: any) => e.getBoundingClientRect().right > width + 0.5)
          .map((e: any) => `${e.tagName.toLowerCase()}.${e.className}`)
        return { width, scrollWidth: doc.documentElement.scrollWidth, wide }
      })
      assert.equal(overflow.width, 390)
      assert.ok(
        overflow.scrollWidth <= overflow.width,
        `the page does not scroll sideways: ${JSON.stringify(overflow)}`,
      )
      assert.deepEqual(overflow.wide, [], 'nothing in the groups reaches past the screen')
      await phone.screenshot({ path: path.join(artifacts, 'dashboard-nodes-phone.png'), fullPage: true })
      assert.deepEqual(phoneErrors, [])
    } finally {
      await phone.close()
    }
  })
})
