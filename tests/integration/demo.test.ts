/**
 * `npm run demo` as a new user runs it (scripts/demo.sh, with --fast so faults come every few
 * seconds): Sentinel, three services under chaos, a dashboard in Chromium where cards go red and
 * back to green and incidents resolve, a medium-risk cleaning that waits for a click; then
 * `--stop` leaves nothing behind. A screenshot of the dashboard during the demo is saved.
 */
import assert from 'node:assert/strict'
import { execFile, spawn } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { promisify } from 'node:util'
/* eslint-disable @typescript-eslint/no-explicit-any -- code run in the page: this project's tsconfig has no DOM types */
import type { Browser } from 'playwright-core'
import { freePort, waitFor } from '../helpers/ports'
import { PROJECT_ROOT } from '../helpers/sentinel'

const run = promisify(execFile)
const artifacts = path.join(PROJECT_ROOT, 'test-artifacts')

function demo(args: string[], env: Record<string, string>): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    const child = spawn('bash', ['scripts/demo.sh', ...args], { cwd: PROJECT_ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    child.stdout.on('data', (d) => (out += d))
    child.stderr.on('data', (d) => (out += d))
    child.on('exit', (code) => resolve({ code: code ?? 1, out }))
  })
}

describe('npm run demo', () => {
  let dir: string
  let browser: Browser | undefined
  let stopped = false
  const env = () => ({ DEMO_DIR: dir })

  before(() => {
    mkdirSync(artifacts, { recursive: true })
    dir = mkdtempSync(path.join(os.tmpdir(), 'sentinel-demo-test-'))
  })
  after(async () => {
    await browser?.close()
    if (!stopped) await demo(['--stop'], env())
    rmSync(dir, { recursive: true, force: true })
  })

  it('starts everything, heals chaos on the dashboard, waits for a click on a medium-risk fix, and --stop removes it all', async () => {
    const port = await freePort()
    const started = await demo(['--fast', '--port', String(port)], env())
    assert.equal(started.code, 0, started.out)
    const key = /Admin key:\s+(\S+)/.exec(started.out)?.[1]
    const operatorKey = /Operator key:\s+(\S+)/.exec(started.out)?.[1]
    assert.ok(key && operatorKey, `the demo prints the keys:\n${started.out}`)
    assert.match(started.out, new RegExp(`Dashboard:\\s+http://127\\.0\\.0\\.1:${port}/`))
    const state = JSON.parse(readFileSync(path.join(dir, 'demo.json'), 'utf8'))
    assert.equal(state.containers.length, 3)
    const base = `http://127.0.0.1:${port}`
    const api = async (p: string, k = key!, init: RequestInit = {}) => {
      const r = await fetch(`${base}${p}`, { ...init, headers: { authorization: `Bearer ${k}`, 'content-type': 'application/json', ...(init.headers ?? {}) } })
      return { status: r.status, body: (await r.json()) as any }
    }

    const { chromium } = await import('playwright-core')
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] })
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } })
    await page.goto(`${base}/`)
    await page.getByTestId('key-input').fill(operatorKey!)
    await page.getByTestId('key-submit').click()
    await page.locator('#conn-status[data-state="live"]').waitFor({ timeout: 30_000 })
    await page.locator('[data-testid="container-card"]').nth(2).waitFor({ timeout: 15_000 })

    // Chaos kills services; each comes back and its incident resolves, seen without a reload.
    await page.locator('[data-testid="incident-row"][data-status="resolved"]').first().waitFor({ timeout: 90_000 })
    await page.locator('[data-testid="container-card"][data-healed="true"]').first().waitFor({ timeout: 60_000 })

    // temp/ filled past the disk threshold: cleaning is medium risk and waits for the operator.
    const approval = page.locator('[data-testid="approval"]').first()
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

    // Every fault so far is matched to its incident; nothing outside the demo was touched.
    const chaos = (await api('/api/chaos')).body
    assert.ok(chaos.summary.injected >= 2, JSON.stringify(chaos.summary))
    const audit = (await api('/api/audit?limit=1000')).body.events as any[]
    const acted = audit.filter((e) => e.kind === 'action.executed').map((e) => e.resource)
    const sandbox = path.join(dir, 'sandbox')
    assert.ok(acted.length >= 2, `actions were taken: ${acted.join(', ')}`)
    for (const r of acted) assert.ok(state.containers.includes(r) || r === sandbox, `an action only on the demo's own things: ${r}`)

    const stop = await demo(['--stop'], env())
    stopped = true
    assert.equal(stop.code, 0, stop.out)
    const left = (await run('docker', ['ps', '-a', '--format', '{{.Names}}', '--filter', `label=sentinel.demo=${state.id}`])).stdout.trim()
    assert.equal(left, '', 'no demo container is left')
    for (const pid of [state.pids.sentinel, state.pids.redis]) {
      assert.throws(() => process.kill(pid, 0), `process ${pid} is gone`)
    }
    assert.ok(!readFileSync('/proc/mounts', 'utf8').includes(path.join(dir, 'sandbox')), 'the tmpfs is unmounted')
    assert.ok(!existsSync(path.join(dir, 'demo.json')), 'the demo directory is removed')
  })
})
