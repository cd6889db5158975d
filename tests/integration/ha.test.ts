/**
 * @exclusive: three whole controllers at once, and it kills and pauses them.
 *
 * Three Sentinel controllers on one Redis, watching this host's engine with the same label: every
 * duty has exactly one leader (GET /api/cluster); the monitor ticks once per schedule, not three
 * times (whichever controller reaches the slot first); the leader of the engine duty killed with SIGKILL while watched containers die, or paused
 * with SIGSTOP past its lease and continued: every death is healed exactly once (one incident, one
 * start), by whichever controller leads the duty then.
 */
import assert from 'node:assert/strict'
import os from 'node:os'
import { after, before, describe, it } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { killMainProcess, removeContainers, runContainer, state, uniqueName } from '../helpers/docker'
import { compareStreamIds } from '../../src/platform/stream/hub'
import { connectSse, type SseConnection, type SseEvent } from '../../src/platform/stream/sse-client'
import { openPage, retryOnNetworkChange } from '../helpers/browser'
import { waitFor } from '../helpers/ports'
import { startRedis, type TestRedis } from '../helpers/redis'
import { type SentinelInstance, startSentinel, WATCHED } from '../helpers/sentinel'

const LEASE_S = 2
const ENGINE_DUTY = `engine:${os.hostname()}`

describe('three controllers on one Redis', () => {
  let redis: TestRedis
  const controllers: SentinelInstance[] = []
  const names: string[] = []

  before(async () => {
    redis = await startRedis()
    for (let i = 0; i < 3; i++)
      controllers.push(
        await startSentinel({
          redisPort: redis.port,
          env: {
            LEADER_LEASE_SECONDS: String(LEASE_S),
            MONITOR_CRON: '*/2 * * * * *',
            VERIFY_STABLE_SECONDS: '0.5',
            RATE_LIMIT_MAX_ACTIONS: '100',
          },
        }),
      )
    for (let i = 0; i < 3; i++) {
      const name = uniqueName(`ha-${i}`)
      names.push(name)
      await runContainer(name, { labels: WATCHED })
    }
  })
  after(async () => {
    // A paused one must run again to be stopped.
    for (const c of controllers) {
      try {
        process.kill(-c.pid(), 'SIGCONT')
      } catch {
        // already gone
      }
    }
    for (const c of controllers) await c.cleanup().catch(() => {})
    await removeContainers(...names)
    await redis?.stop()
  })

  const alive = () => controllers.filter((c) => !stopped.has(c))
  const stopped = new Set<SentinelInstance>()

  /** The cluster as a live controller sees it. */
  const cluster = async () => (await alive()[0].get('/api/cluster', 'viewer')).body

  /** The controller (by its lease holder) leading a duty now. */
  async function leaderOf(duty: string): Promise<SentinelInstance> {
    let found: SentinelInstance | undefined
    await waitFor(
      async () => {
        const view = await cluster()
        const holder = view.duties?.find((d: { duty: string }) => d.duty === duty)?.holder
        const member = view.members?.find((m: { holder: string }) => m.holder === holder)
        found = member && alive().find((c) => c.port === member.port)
        return Boolean(found)
      },
      { timeoutMs: 30_000, what: `a live leader of ${duty}` },
    )
    return found!
  }

  /** A watched container killed; its incident, once healed, with its executed restarts. */
  async function killAndHeal(name: string, by: SentinelInstance) {
    const before = await state(name)
    await killMainProcess(name)
    await waitFor(
      async () => {
        const s = await state(name)
        return s.Running && s.StartedAt !== before.StartedAt
      },
      { timeoutMs: 60_000, what: `${name} to run again` },
    )
    let incidents: any[] = []
    await waitFor(
      async () => {
        incidents = (await by.get(`/api/incidents?view=full&resource=${name}`, 'viewer')).body.incidents ?? []
        return incidents.some((i) => Date.parse(i.alert.at) >= Date.parse(before.StartedAt) && i.status === 'resolved')
      },
      { timeoutMs: 60_000, what: `the incident of ${name} to resolve` },
    )
    return incidents.filter((i) => Date.parse(i.alert.at) >= Date.parse(before.StartedAt))
  }

  /** Exactly one incident, with exactly one restart that started the container. */
  async function healedOnce(name: string, incidents: any[], by: SentinelInstance) {
    assert.equal(incidents.length, 1, `${name}: one incident per death, got ${incidents.map((i) => i.id)}`)
    const full = (await by.get(`/api/incidents/${incidents[0].id}`, 'viewer')).body
    const starts = full.actions.filter(
      (a: any) => a.actionId === 'restart_container' && a.result?.performed === 'start',
    )
    assert.equal(starts.length, 1, `${name}: one start, got ${JSON.stringify(full.actions)}`)
  }

  it('gives every duty exactly one leader among the three, listed in /api/cluster and /healthz', async () => {
    const duties = ['fleet', 'chaos', 'quarantine-purge', ENGINE_DUTY]
    let view: any
    await waitFor(
      async () => {
        view = await cluster()
        return (
          view.members?.length === 3 &&
          duties.every((d) =>
            view.duties.some((x: { duty: string; holder: string | null }) => x.duty === d && x.holder),
          )
        )
      },
      { timeoutMs: 30_000, what: 'three members and a leader for every duty' },
    )
    const holders = new Set(view.members.map((m: { holder: string }) => m.holder))
    for (const d of duties) {
      const lease = view.duties.find((x: { duty: string }) => x.duty === d)
      assert.ok(holders.has(lease.holder), `${d} is led by a live member`)
      assert.ok(lease.token >= 1)
      // Its leader says so, and no other member does.
      const claiming = view.members.filter((m: { leading: Record<string, number> }) => d in m.leading)
      assert.ok(claiming.length <= 1, `${d}: claimed by ${claiming.map((m: { id: string }) => m.id)}`)
    }
    const health = await Promise.all(controllers.map(async (c) => (await fetch(`${c.url}/healthz`)).json()))
    const led = health.flatMap((h: any) => h.controller.leading)
    for (const d of duties) assert.equal(led.filter((x: string) => x === d).length, 1, `${d} in one /healthz`)
  })

  it("shows the controllers and each duty's leader on the dashboard (Chromium)", async () => {
    const { chromium } = await import('playwright-core')
    const browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    })
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 } })
      const errors: string[] = []
      page.on('pageerror', (e) => errors.push(e.message))
      const viewing = controllers[1]
      await retryOnNetworkChange(page, async () => {
        await openPage(page, `${viewing.url}/`)
        await page.getByTestId('key-input').fill(viewing.keys.viewer)
        await page.getByTestId('key-submit').click()
        await page.locator('#conn-status[data-state="live"]').waitFor({ timeout: 20_000 })
      })
      await waitFor(async () => (await page.getByTestId('controller-card').count()) === 3, {
        timeoutMs: 20_000,
        what: 'three controller cards',
      })
      const view = await cluster()
      const engine = view.duties.find((d: { duty: string }) => d.duty === ENGINE_DUTY)
      const leader = view.members.find((m: { holder: string }) => m.holder === engine.holder)
      const line = page.locator(`[data-testid="duty-line"][data-duty="${ENGINE_DUTY}"]`)
      await line.waitFor({ timeout: 10_000 })
      assert.match(
        await line.innerText(),
        new RegExp(`${leader.id.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\(token ${engine.token}\\)`),
      )
      // The card of the controller serving the page says so, and only that one.
      const self = page.locator('[data-testid="controller-card"][data-self="true"]')
      assert.equal(await self.count(), 1)
      assert.equal(
        await self.getAttribute('data-id'),
        view.members.find((m: { port: number }) => m.port === viewing.port).id,
      )
      assert.match(
        await page
          .locator(`[data-testid="controller-card"][data-id="${leader.id}"] [data-testid="controller-duties"]`)
          .innerText(),
        new RegExp(ENGINE_DUTY),
      )
      assert.deepEqual(errors, [])
    } finally {
      await browser.close()
    }
  })

  it('a dashboard moved to another controller with Last-Event-ID gets exactly the events it missed', async () => {
    const open: SseConnection[] = []
    const connect = async (c: SentinelInstance, headers: Record<string, string> = {}) => {
      const t = await c.post('/api/stream/token', {}, 'viewer')
      assert.equal(t.status, 200, JSON.stringify(t.body))
      const conn = await connectSse(`${c.url}/api/stream?token=${encodeURIComponent(t.body.token)}`, headers)
      open.push(conn)
      assert.equal(conn.status, 200)
      return conn
    }
    const openedFor = (resource: string) => (c: SseConnection) =>
      c.events.some((e) => e.event === 'incident.opened' && JSON.parse(e.data).resource?.name === resource)
    const trigger = async (c: SentinelInstance, resource: string) => {
      const r = await c.post('/api/trigger-alert', { type: 'cpu', resource, value: 97 }, 'admin')
      assert.equal(r.status, 202, JSON.stringify(r.body))
    }
    const [a, b, c] = controllers
    const run = uniqueName('ha-stream')
    try {
      // The reference stays on controller c the whole time; the client starts on a.
      const reference = await connect(c)
      const client = await connect(a)
      await trigger(b, `${run}-1`)
      await client.waitFor(openedFor(`${run}-1`), 30_000, 'the first incident on the client')
      const lastSeen = client.events.filter((e) => e.id !== null).at(-1)!.id!
      client.close()
      await client.ended$
      // Missed while away, written through another controller.
      await trigger(b, `${run}-2`)
      await trigger(a, `${run}-3`)
      await reference.waitFor(openedFor(`${run}-3`), 30_000, 'the third incident on the reference')
      // Back, on the third controller.
      const back = await connect(c, { 'Last-Event-ID': lastSeen })
      await trigger(b, `${run}-4`)
      await back.waitFor(openedFor(`${run}-4`), 30_000, 'the fourth incident after moving')
      await reference.waitFor(openedFor(`${run}-4`), 30_000, 'the fourth incident on the reference')
      const marker = back.events.find(
        (e) => e.event === 'incident.opened' && JSON.parse(e.data).resource?.name === `${run}-4`,
      )!.id!
      const upTo = (e: SseEvent) => e.id !== null && compareStreamIds(e.id, marker) <= 0
      const got = back.events.filter(upTo).map((e) => e.id)
      const want = reference.events
        .filter((e) => upTo(e) && e.event !== 'ready' && compareStreamIds(e.id!, lastSeen) > 0)
        .map((e) => e.id)
      assert.ok(want.length >= 3, `the reference saw the missed events (${want.length})`)
      assert.equal(back.events.filter((e) => e.event === 'reset' || e.event === 'ready').length, 0)
      assert.deepEqual(got, want, 'exactly the missed events, in order, on another controller')
    } finally {
      for (const conn of open) conn.close()
    }
  })

  it('ticks the monitor once per schedule, not once per controller', async () => {
    const ticks = () => controllers.reduce((n, c) => n + (c.output().match(/monitor tick/g) ?? []).length, 0)
    // Each slot run leaves its key (src/platform/lease/cron-slot.ts): the slots that ran.
    const slots = async () => new Set(await redis.client.keys('sentinel:cron:slot:MonitorInfrastructure:*'))
    const [ticks0, slots0] = [ticks(), await slots()]
    await sleep(10_000)
    const [ticks1, slots1] = [ticks(), await slots()]
    const ran = [...slots1].filter((k) => !slots0.has(k)).length
    const ticked = ticks1 - ticks0
    // As many ticks as slots run (one may be in flight at either end of the window); three
    // controllers each ticking would make three per slot. How many slots run depends on how long a
    // tick takes here (Motia skips a slot while the job's last run holds its lock), not on this.
    assert.ok(ran >= 1, 'the monitor ran')
    assert.ok(Math.abs(ticked - ran) <= 1, `${ticked} ticks for ${ran} slots`)
  })

  it('heals every death exactly once when the engine duty leader is killed with SIGKILL', async () => {
    const leader = await leaderOf(ENGINE_DUTY)
    await leader.kill9()
    stopped.add(leader)
    // Deaths right after: the lease runs out, another controller takes the duty and replays.
    for (const name of names.slice(0, 2)) {
      const incidents = await killAndHeal(name, alive()[0])
      await healedOnce(name, incidents, alive()[0])
    }
    const next = await leaderOf(ENGINE_DUTY)
    assert.notEqual(next.port, leader.port)
  })

  it('a leader paused past its lease does nothing for its old duties when it continues', async () => {
    const leader = await leaderOf(ENGINE_DUTY)
    const other = alive().find((c) => c !== leader)!
    process.kill(-leader.pid(), 'SIGSTOP')
    stopped.add(leader)
    try {
      const name = names[2]
      const incidents = await killAndHeal(name, other)
      // Continued: its term is over; it must not act on the death it had not seen.
      process.kill(-leader.pid(), 'SIGCONT')
      stopped.delete(leader)
      await waitFor(async () => /no longer leading a duty/.test(leader.output()), {
        timeoutMs: 10_000,
        what: 'the continued controller to notice its term is over',
      })
      await sleep(3000)
      await healedOnce(
        name,
        (await other.get(`/api/incidents?view=full&resource=${name}`, 'viewer')).body.incidents.filter(
          (i: any) =>
            incidents.some((x) => x.id === i.id) || Date.parse(i.alert.at) >= Date.parse(incidents[0].alert.at),
        ),
        other,
      )
      assert.equal((await state(name)).Running, true)
    } finally {
      try {
        process.kill(-leader.pid(), 'SIGCONT')
      } catch {
        // gone
      }
    }
  })
})
