/**
 * @long (two whole demos, over two minutes): scripts/test.sh starts it first, so it does not end the run alone.
 *
 * `npm run demo` as a new user runs it (scripts/demo.sh, with --fast so faults come every few
 * seconds): Sentinel, three services under chaos, a dashboard in Chromium where cards go red and
 * back to green and incidents resolve, a medium-risk cleaning that waits for a click; the demo says
 * what it shows as it goes (the rate limit it gives Sentinel, what a red card means, each fault and
 * what Sentinel did), no service is left waiting on the rate limit, Ctrl-C ends the commentary and
 * not the demo; then `--stop` leaves nothing behind. A screenshot of the dashboard is saved.
 * And with a rate limit chaos reaches (`--rate-limit 1/600`), the demo says so, names the service
 * and the policy's reason, and `--follow` says it again from the API's pending approvals.
 */
import assert from 'node:assert/strict'
import { type ChildProcess, execFile, spawn } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { promisify } from 'node:util'
import type { Browser } from 'playwright-core'
import { freePort, sleep, waitFor } from '../helpers/ports'
import { PROJECT_ROOT } from '../helpers/sentinel'
import { openPage } from '../helpers/browser'

const run = promisify(execFile)
const artifacts = path.join(PROJECT_ROOT, 'test-artifacts')

/** The demo in the foreground, as `npm run demo` runs it: its output so far, a wait for a line, Ctrl-C. */
interface RunningDemo {
  child: ChildProcess
  out(): string
  /** Waits until the output matches `re`; returns the match. */
  waitFor(re: RegExp, timeoutMs: number): Promise<RegExpExecArray>
  /** Ctrl-C, and its exit code. */
  interrupt(): Promise<number>
}

function startDemo(args: string[], env: Record<string, string>): RunningDemo {
  const child = spawn('bash', ['scripts/demo.sh', ...args], {
    cwd: PROJECT_ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  child.stdout!.on('data', (d) => (out += d))
  child.stderr!.on('data', (d) => (out += d))
  const exited = new Promise<number>((resolve) => child.on('exit', (code) => resolve(code ?? 1)))
  return {
    child,
    out: () => out,
    async waitFor(re, timeoutMs) {
      const deadline = Date.now() + timeoutMs
      for (;;) {
        const m = re.exec(out)
        if (m) return m
        if (child.exitCode !== null) throw new Error(`the demo exited (${child.exitCode}) before ${re}:\n${out}`)
        if (Date.now() > deadline)
          throw new Error(`timed out after ${timeoutMs} ms waiting for ${re} in the demo's output:\n${out}`)
        await sleep(200)
      }
    },
    async interrupt() {
      if (child.exitCode === null) child.kill('SIGINT')
      return exited
    },
  }
}

function demo(args: string[], env: Record<string, string>): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    const child = spawn('bash', ['scripts/demo.sh', ...args], {
      cwd: PROJECT_ROOT,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let out = ''
    child.stdout.on('data', (d) => (out += d))
    child.stderr.on('data', (d) => (out += d))
    child.on('exit', (code) => resolve({ code: code ?? 1, out }))
  })
}

describe('npm run demo', () => {
  let dir: string
  let browser: Browser | undefined
  let limited: string
  let stopped = false
  let limitedStopped = false
  const running: RunningDemo[] = []
  const env = () => ({ DEMO_DIR: dir })

  before(() => {
    mkdirSync(artifacts, { recursive: true })
    dir = mkdtempSync(path.join(os.tmpdir(), 'sentinel-demo-test-'))
    limited = mkdtempSync(path.join(os.tmpdir(), 'sentinel-demo-test-limited-'))
  })
  after(async () => {
    await browser?.close()
    for (const d of running) await d.interrupt()
    if (!stopped) await demo(['--stop'], env())
    if (!limitedStopped) await demo(['--stop'], { DEMO_DIR: limited })
    rmSync(dir, { recursive: true, force: true })
    rmSync(limited, { recursive: true, force: true })
  })

  it('starts everything, says what it shows, heals chaos on the dashboard, waits for a click on a medium-risk fix, and --stop removes it all', async () => {
    const port = await freePort()
    const running1 = startDemo(['--fast', '--port', String(port)], env())
    running.push(running1)
    // Everything is up and explained once the commentary begins.
    await running1.waitFor(/^Commentary \(Ctrl-C ends it; the demo keeps running/m, 240_000)
    const intro = running1.out()
    const key = /Admin key:\s+(\S+)/.exec(intro)?.[1]
    const operatorKey = /Operator key:\s+(\S+)/.exec(intro)?.[1]
    assert.ok(key && operatorKey, `the demo prints the keys:\n${intro}`)
    assert.match(intro, new RegExp(`Dashboard:\\s+http://127\\.0\\.0\\.1:${port}/`))
    // Its own restart rate limit, stated, beyond what chaos's kills (one every 5 s at most) can reach.
    assert.match(
      intro,
      /Restart rate limit: at most 14 restarts of one service per 60 s \(RATE_LIMIT_MAX_ACTIONS=14, RATE_LIMIT_WINDOW_SECONDS=60\)/,
    )
    assert.match(intro, /so it never reaches this limit/)
    // What a red card means, and what each fault should lead to.
    assert.match(intro, /^ {2}red +the service is down \(killed or exited\) or failing its health check/m)
    assert.match(intro, /A card that STAYS red means Sentinel will not restart it by/)
    assert.match(intro, /kills a service's main process\. Sentinel restarts it at once/)
    const state = JSON.parse(readFileSync(path.join(dir, 'demo.json'), 'utf8'))
    assert.equal(state.containers.length, 3)
    assert.deepEqual(state.rateLimit, { max: 14, windowSeconds: 60 })
    assert.ok(!readFileSync(path.join(dir, 'demo.json'), 'utf8').includes(key!), 'the admin key is not stored')
    const base = `http://127.0.0.1:${port}`
    const api = async (p: string, k = key!, init: RequestInit = {}) => {
      const r = await fetch(`${base}${p}`, {
        ...init,
        headers: { authorization: `Bearer ${k}`, 'content-type': 'application/json', ...(init.headers ?? {}) },
      })
      return { status: r.status, body: (await r.json()) as any }
    }

    const { chromium } = await import('playwright-core')
    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    })
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } })
    await openPage(page, `${base}/`)
    await page.getByTestId('key-input').fill(operatorKey!)
    await page.getByTestId('key-submit').click()
    await page.locator('#conn-status[data-state="live"]').waitFor({ timeout: 30_000 })
    await page.locator('[data-testid="container-card"]').nth(2).waitFor({ timeout: 15_000 })

    // Chaos kills services; each comes back and its incident resolves, seen without a reload.
    await page.locator('[data-testid="incident-row"][data-status="resolved"]').first().waitFor({ timeout: 90_000 })
    await page.locator('[data-testid="container-card"][data-healed="true"]').first().waitFor({ timeout: 60_000 })

    // temp/ filled past the disk threshold: cleaning is medium risk and waits for the operator.
    // (The host's own readings may ask for other approvals on a busy machine: the cleaning is the one.)
    const approval = page.locator('[data-testid="approval"]').filter({ hasText: 'clean_sandbox' }).first()
    await approval.waitFor({ timeout: 120_000 })
    assert.match(await approval.innerText(), /clean_sandbox/)
    await page.screenshot({ path: path.join(artifacts, 'demo-dashboard.png') })
    const id = await approval.getAttribute('data-incident-id')
    await approval.getByTestId('approve-button').click()
    const cleaned = await waitFor(
      async () => {
        const inc = (await api(`/api/incidents/${id}`)).body
        return inc.status === 'resolved' || inc.status === 'escalated' ? inc : null
      },
      { timeoutMs: 90_000, what: 'the approved cleaning to finish' },
    )
    assert.equal(cleaned.status, 'resolved', JSON.stringify(cleaned.timeline?.slice(-3)))
    assert.equal(cleaned.approval.status, 'approved')
    assert.ok(existsSync(path.join(dir, 'sandbox', 'data', 'orders.db')), 'data/ survives the cleaning')

    // The commentary told it as it went: faults, what Sentinel decided and did, the approval.
    const said = running1.out()
    assert.match(
      said,
      /chaos +killed sentinel-demo-\S+ \(SIGKILL to its main process\)\n +What Sentinel should do: see the container die/,
    )
    assert.match(
      said,
      /sentinel +restart_container on sentinel-demo-\S+ at once: low risk: fix automatically \(\d+\/14 in window\)/,
    )
    assert.match(said, /sentinel +resolved inc_\S+ \(sentinel-demo-\S+\) in [\d.]+ s/)
    assert.match(said, /chaos +filled the sandbox's temp\/ with \d+ MB/)
    assert.match(
      said,
      /sentinel +clean_sandbox on \S+ waits for an operator: medium risk needs an operator or an admin/,
    )
    await running1.waitFor(/person +key:\S+ approved the fix for /, 30_000)
    // Every service stayed healable: no restart waits on the rate limit.
    assert.doesNotMatch(running1.out(), /RATE LIMIT REACHED/)
    const pending = (await api('/api/approvals/pending')).body.approvals as any[]
    assert.deepEqual(
      pending.filter((a) => a.proposedAction === 'restart_container'),
      [],
      'no restart waits for a person',
    )

    // Ctrl-C ends the commentary, not the demo.
    assert.equal(await running1.interrupt(), 0, running1.out())
    assert.match(running1.out(), /Commentary stopped; the demo keeps running at http:\/\/127\.0\.0\.1:\d+\//)
    assert.equal((await fetch(`${base}/healthz`)).status, 200)

    // Every fault so far is matched to its incident; nothing outside the demo was touched.
    const chaos = (await api('/api/chaos')).body
    assert.ok(chaos.summary.injected >= 2, JSON.stringify(chaos.summary))
    const audit = (await api('/api/audit?limit=1000')).body.events as any[]
    const acted = audit.filter((e) => e.kind === 'action.executed').map((e) => e.resource)
    const sandbox = path.join(dir, 'sandbox')
    assert.ok(acted.length >= 2, `actions were taken: ${acted.join(', ')}`)
    for (const r of acted)
      assert.ok(state.containers.includes(r) || r === sandbox, `an action only on the demo's own things: ${r}`)

    const stop = await demo(['--stop'], env())
    stopped = true
    assert.equal(stop.code, 0, stop.out)
    const left = (
      await run('docker', ['ps', '-a', '--format', '{{.Names}}', '--filter', `label=sentinel.demo=${state.id}`])
    ).stdout.trim()
    assert.equal(left, '', 'no demo container is left')
    for (const pid of [state.pids.sentinel, state.pids.redis]) {
      assert.throws(() => process.kill(pid, 0), `process ${pid} is gone`)
    }
    assert.ok(!readFileSync('/proc/mounts', 'utf8').includes(path.join(dir, 'sandbox')), 'the tmpfs is unmounted')
    assert.ok(!existsSync(path.join(dir, 'demo.json')), 'the demo directory is removed')
  })

  it('says when the restart rate limit is reached: the service, the reason, the way out; --follow says it again', async () => {
    const port = await freePort()
    const env2 = { DEMO_DIR: limited }
    // One restart of a service per 10 minutes: the second death of a service (among three, by the
    // fourth kill at the latest) is refused. Kills 8-10 s apart, so that each death comes after the
    // previous incident of its service was resolved, and opens an incident of its own.
    const d = startDemo(
      ['--fast', '--kill-min', '8', '--kill-max', '10', '--rate-limit', '1/600', '--port', String(port)],
      env2,
    )
    running.push(d)
    await d.waitFor(/^Commentary \(Ctrl-C/m, 240_000)
    assert.match(
      d.out(),
      /Restart rate limit: at most 1 restart of one service per 600 s \(RATE_LIMIT_MAX_ACTIONS=1, RATE_LIMIT_WINDOW_SECONDS=600, from --rate-limit\)/,
    )
    assert.match(d.out(), /so it can reach this limit/)
    const key = /Admin key:\s+(\S+)/.exec(d.out())![1]
    const [, service] = await d.waitFor(
      /!! +RATE LIMIT REACHED for (sentinel-demo-\S+): rate limit: 1 restart_container on \1 in the last 600 s \(max 1\)/,
      120_000,
    )
    await d.waitFor(/Sentinel will not restart it again by itself[\s\S]*waits for an ADMIN[\s\S]*\/approve/, 5_000)

    // The API says the same: the restart waits for an admin, because of the rate limit.
    const base = `http://127.0.0.1:${port}`
    // (The approval is recorded by the RequestApproval step, a moment after the decision.)
    const waiting = await waitFor(
      async () => {
        const r = await fetch(`${base}/api/approvals/pending`, { headers: { authorization: `Bearer ${key}` } })
        const body = (await r.json()) as any
        return body.approvals.find((a: any) => a.resource === service && a.proposedAction === 'restart_container')
      },
      { timeoutMs: 30_000, what: `the restart of ${service} in /api/approvals/pending` },
    )
    assert.equal(waiting.approverRole, 'admin')
    assert.ok(
      waiting.reasons.some((r: string) => r.startsWith('rate limit:')),
      JSON.stringify(waiting.reasons),
    )
    assert.equal(await d.interrupt(), 0, d.out())

    // Attached again later, the commentary first says what is down and why it waits.
    const follow = startDemo(['--follow'], { ...env2, SENTINEL_KEY: key })
    running.push(follow)
    // Without the key, --follow says what it needs (run meanwhile: it only reads the demo's state file).
    const nokeyRun = demo(['--follow'], env2)
    await follow.waitFor(/^Commentary \(Ctrl-C/m, 60_000)
    assert.match(follow.out(), /restart rate limit: at most 1 restart of one service per 600 s/)
    assert.match(follow.out(), new RegExp(`not running: [^\\n]*${service}`))
    assert.match(follow.out(), new RegExp(`RATE LIMIT REACHED for ${service}: rate limit: 1 restart_container`))
    assert.equal(await follow.interrupt(), 0, follow.out())
    const nokey = await nokeyRun
    assert.notEqual(nokey.code, 0)
    assert.match(nokey.out, /SENTINEL_KEY=<admin key> npm run demo -- --follow/)

    const stop = await demo(['--stop'], env2)
    limitedStopped = stop.code === 0
    assert.equal(stop.code, 0, stop.out)
    assert.ok(!existsSync(path.join(limited, 'demo.json')), 'the demo directory is removed')
  })
})
