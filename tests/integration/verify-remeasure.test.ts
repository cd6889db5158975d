/**
 * Verification re-measures what raised the alert, through a real Sentinel. The monitor (every 2 s,
 * on the host's collectors) raises a disk alert for the filesystem holding the sandbox, with its
 * threshold set 3 points under the real reading; clean_sandbox is approved by an operator, empties
 * logs/temp/cache (its own check passes) but moves them into a quarantine on the same filesystem,
 * so statfs still reads over the threshold: the verification fails with the reading on the
 * timeline, the files come back byte for byte and the incident goes to an admin. A disk alert whose
 * filesystem reads under its threshold after the same fix resolves, with its reading recorded.
 */
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statfsSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { waitFor } from '../helpers/ports'
import { startRedis, type TestRedis } from '../helpers/redis'
import { type SentinelInstance, startSentinel } from '../helpers/sentinel'

const sha = (p: string) => createHash('sha256').update(readFileSync(p)).digest('hex')

function tree(dir: string): Record<string, string> {
  const out: Record<string, string> = {}
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.name === '.quarantine') continue
      const p = path.join(d, e.name)
      if (e.isDirectory()) walk(p)
      else if (e.isFile()) out[path.relative(dir, p)] = sha(p)
    }
  }
  walk(dir)
  return out
}

const usedPercent = (p: string) => {
  const s = statfsSync(p)
  return 100 * (1 - s.bavail / s.blocks)
}

/** The mount point holding `p`: the longest mount point that is a prefix of it. */
function mountOf(p: string): string {
  const mounts = readFileSync('/proc/mounts', 'utf8').split('\n').map((l) => l.split(' ')[1]).filter(Boolean)
  return mounts.filter((m) => p === m || p.startsWith(m.endsWith('/') ? m : `${m}/`)).sort((a, b) => b.length - a.length)[0]
}

describe('verification re-measures the metric that raised the alert', () => {
  let redis: TestRedis
  let sentinel: SentinelInstance
  let root: string
  let sandbox: string
  let mount: string
  let threshold: number

  before(async () => {
    root = mkdtempSync(path.join(os.tmpdir(), 'sentinel-test-remeasure-'))
    sandbox = path.join(root, 'sandbox')
    for (const d of ['logs', 'temp/nested', 'cache', 'data']) mkdirSync(path.join(sandbox, d), { recursive: true })
    writeFileSync(path.join(sandbox, 'logs/app.log'), randomBytes(300_000))
    writeFileSync(path.join(sandbox, 'temp/nested/blob.bin'), randomBytes(500_000))
    writeFileSync(path.join(sandbox, 'cache/c.dat'), randomBytes(200_000))
    writeFileSync(path.join(sandbox, 'data/keep.db'), randomBytes(50_000))
    mount = mountOf(sandbox)
    // 3 points under the real reading: over it now, and still over after a cleaning that frees nothing.
    threshold = Math.max(0, Math.floor(usedPercent(sandbox) - 3))
    redis = await startRedis()
    sentinel = await startSentinel({
      redisPort: redis.port,
      env: {
        SANDBOX_DIR: sandbox,
        VERIFY_STABLE_SECONDS: '0.5',
        VERIFY_TIMEOUT_SECONDS: '4',
        MONITOR_CRON: '*/2 * * * * *',
        ALERT_FOR_SECONDS: '0',
        THRESHOLD_DISK_PERCENT: String(threshold),
        // Only the disk check may fire.
        THRESHOLD_MEMORY_PERCENT: '100',
        THRESHOLD_CPU_PERCENT: '100',
        THRESHOLD_LATENCY_MS: '3600000',
        THRESHOLD_CONTAINER_MEMORY_PERCENT: '100',
        THRESHOLD_CONTAINER_CPU_PERCENT: '100000',
      },
    })
  })
  after(async () => {
    await sentinel?.cleanup()
    await redis?.stop()
    rmSync(root, { recursive: true, force: true })
  })

  const incident = async (id: string) => (await sentinel.get(`/api/incidents/${id}`)).body
  const finished = (id: string, what: string) =>
    waitFor(
      async () => {
        const r = await incident(id)
        return ['resolved', 'escalated'].includes(r.status) ? r : null
      },
      { timeoutMs: 60_000, what },
    )
  const approve = async (id: string) => {
    const pending = await waitFor(async () => (await sentinel.get('/api/approvals/pending')).body.approvals.find((a: any) => a.incidentId === id), {
      timeoutMs: 30_000,
      what: 'the clean_sandbox approval',
    }).catch(async (err) => {
      throw new Error(`${(err as Error).message}: ${JSON.stringify((await incident(id)).timeline)}`)
    })
    assert.equal(pending.proposedAction, 'clean_sandbox')
    assert.equal(pending.risk, 'medium')
    assert.equal((await sentinel.post(`/api/incidents/${id}/approve`, {}, 'operator')).status, 200)
  }

  it('a disk still over its threshold after the cleaning: the reading is recorded, the files come back, an admin gets it', async () => {
    const before = tree(sandbox)
    const opened = await waitFor(
      async () => (await sentinel.get('/api/incidents?type=disk')).body.incidents.find((i: any) => i.resource.name === mount && !i.test),
      { timeoutMs: 60_000, what: `the monitor's disk incident for ${mount}` },
    )
    assert.equal(opened.alert.threshold, threshold)
    assert.equal(opened.alert.source, 'collector:statfs')
    assert.ok(opened.alert.value > threshold)
    await approve(opened.id)
    const done = await finished(opened.id, 'the failed verification to escalate')
    const summaries = done.timeline.map((t: any) => `${t.stage}: ${t.summary}`)
    assert.equal(done.status, 'escalated', summaries.join('\n'))

    const verified = done.timeline.find((t: any) => t.stage === 'verified')
    assert.equal(verified.data.ok, false)
    // The action's own check passed (the directories were empty); the metric did not come down.
    assert.match(verified.summary, /are empty; disk_used_percent [\d.]+ still over /)
    const m = verified.data.remeasure
    assert.equal(m.status, 'over')
    assert.equal(m.threshold, threshold)
    assert.equal(m.source, 'collector')
    assert.equal(m.query, 'collector:statfs')
    assert.equal(m.resource, mount)
    assert.ok(m.value > threshold && Math.abs(m.value - usedPercent(sandbox)) < 3, `read ${m.value}, statfs now ${usedPercent(sandbox)}`)

    const stages = done.timeline.map((t: any) => t.stage)
    assert.ok(stages.indexOf('rolled_back') > stages.indexOf('verified'), stages.join(', '))
    assert.ok(stages.indexOf('escalated') > stages.indexOf('rolled_back'), stages.join(', '))
    assert.equal(done.actions.find((a: any) => a.actionId === 'clean_sandbox').status, 'rolled_back')
    assert.deepEqual(tree(sandbox), before, 'every file is back, byte for byte')

    const audit = (await sentinel.get(`/api/audit?incident=${opened.id}`)).body.events
    const verifiedEvent = audit.find((e: any) => e.kind === 'incident.verified')
    assert.equal(verifiedEvent.outcome, 'failed')
    assert.equal(verifiedEvent.data.remeasure.status, 'over')
    assert.ok(audit.some((e: any) => e.kind === 'action.rolled_back' && e.outcome === 'succeeded'))
  })

  it('a disk under its threshold after the cleaning resolves, with the reading on the timeline', async () => {
    // A test alert carries the fixed test threshold (95 %); the filesystem must read under it.
    const now = usedPercent(sandbox)
    assert.ok(now < 92, `precondition: the filesystem of ${sandbox} is ${now.toFixed(1)} % used, too close to 95 % for this test`)
    const trig = await sentinel.post('/api/trigger-alert', { type: 'disk', resource: sandbox, value: 97 })
    assert.equal(trig.status, 202, JSON.stringify(trig.body))
    const id = trig.body.incidentId as string
    await approve(id)
    const done = await finished(id, 'the cleaning to be verified')
    const summaries = done.timeline.map((t: any) => `${t.stage}: ${t.summary}`)
    assert.equal(done.status, 'resolved', summaries.join('\n'))
    const verified = done.timeline.find((t: any) => t.stage === 'verified')
    assert.equal(verified.data.ok, true)
    const m = verified.data.remeasure
    assert.equal(m.status, 'under')
    assert.equal(m.threshold, 95)
    assert.equal(m.source, 'collector')
    assert.equal(m.query, 'collector:statfs')
    assert.equal(m.resource, sandbox)
    assert.ok(Math.abs(m.value - usedPercent(sandbox)) < 3, `read ${m.value}, statfs now ${usedPercent(sandbox)}`)
    assert.ok(verified.data.metricReadings >= 1)
    assert.ok(!('logs/app.log' in tree(sandbox)), 'the cleaning stays')
    assert.ok(!done.timeline.some((t: any) => t.stage === 'rolled_back'))
  })
})
