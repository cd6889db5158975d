/**
 * Verification re-measures what raised the alert, through a real Sentinel whose monitor (every 2 s,
 * on the host's collectors, disk threshold 80 %) watches two real 8 MiB tmpfs mounts: one holds the
 * sandbox (logs/, temp/ and data/ filled to ~87 %), the other is filled by something else. An
 * operator approves clean_sandbox for each alert:
 * - the other filesystem's alert: the cleaning frees nothing there (the quarantine is on the
 *   sandbox's filesystem), the verification fails, the files come back byte for byte and an admin
 *   gets the incident;
 * - the sandbox filesystem's alert: the files moved into the quarantine still take its space, so
 *   verification deletes that incident's quarantine, reads the disk again under 80 % and resolves;
 *   data/ is intact and the cleaning can no longer be rolled back (409).
 * A disk under its threshold right after the cleaning resolves and keeps its quarantine.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, mkdtempSync, rmSync, statfsSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { DEFAULT_EXCLUDED_FS_TYPES } from '../../src/platform/config/observe'
import { waitFor } from '../helpers/ports'
import { startRedis, type TestRedis } from '../helpers/redis'
import { type SentinelInstance, startSentinel } from '../helpers/sentinel'
import { mountTmpfs, sha256File as sha, treeHashes, unmountTmpfs } from '../helpers/files'

const tree = treeHashes

const usedPercent = (p: string) => {
  const s = statfsSync(p)
  return 100 * (1 - s.bavail / s.blocks)
}

const THRESHOLD = 80

describe('verification re-measures the metric that raised the alert', () => {
  let redis: TestRedis
  let sentinel: SentinelInstance
  let root: string
  let sandboxFs: string
  let otherFs: string
  let sandbox: string
  const mounted: string[] = []

  before(async () => {
    root = mkdtempSync(path.join(os.tmpdir(), 'sentinel-test-remeasure-'))
    sandboxFs = path.join(root, 'sandbox-fs')
    otherFs = path.join(root, 'other-fs')
    for (const [dir, name] of [
      [sandboxFs, 'sentinel-test-sandbox-fs'],
      [otherFs, 'sentinel-test-other-fs'],
    ]) {
      await mountTmpfs(dir, 8 * 1024 * 1024, name)
      mounted.push(dir)
    }
    sandbox = path.join(sandboxFs, 'sandbox')
    for (const d of ['logs', 'temp/nested', 'cache', 'data']) mkdirSync(path.join(sandbox, d), { recursive: true })
    writeFileSync(path.join(sandbox, 'logs/app.log'), randomBytes(3_500_000))
    writeFileSync(path.join(sandbox, 'temp/nested/blob.bin'), randomBytes(3_500_000))
    writeFileSync(path.join(sandbox, 'data/keep.db'), randomBytes(300_000))
    writeFileSync(path.join(otherFs, 'fill.bin'), randomBytes(7_300_000))
    for (const fs of [sandboxFs, otherFs])
      assert.ok(usedPercent(fs) > THRESHOLD + 3, `precondition: ${fs} is ${usedPercent(fs).toFixed(1)} % used`)
    redis = await startRedis()
    sentinel = await startSentinel({
      redisPort: redis.port,
      env: {
        SANDBOX_DIR: sandbox,
        VERIFY_STABLE_SECONDS: '0.5',
        VERIFY_TIMEOUT_SECONDS: '4',
        MONITOR_CRON: '*/2 * * * * *',
        ALERT_FOR_SECONDS: '0',
        THRESHOLD_DISK_PERCENT: String(THRESHOLD),
        // The test's filesystems are tmpfs, which the disk check leaves out by default.
        DISK_EXCLUDE_FSTYPES: DEFAULT_EXCLUDED_FS_TYPES.filter((t) => t !== 'tmpfs').join(','),
        ANOMALY_ENABLED: 'false',
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
    for (const dir of mounted) await unmountTmpfs(dir)
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
    const pending = await waitFor(
      async () => (await sentinel.get('/api/approvals/pending')).body.approvals.find((a: any) => a.incidentId === id),
      {
        timeoutMs: 30_000,
        what: 'the clean_sandbox approval',
      },
    ).catch(async (err) => {
      throw new Error(`${(err as Error).message}: ${JSON.stringify((await incident(id)).timeline)}`)
    })
    assert.equal(pending.proposedAction, 'clean_sandbox')
    assert.equal(pending.risk, 'medium')
    assert.equal((await sentinel.post(`/api/incidents/${id}/approve`, {}, 'operator')).status, 200)
  }
  const diskIncident = (mount: string) =>
    waitFor(
      async () =>
        (await sentinel.get('/api/incidents?view=full&type=disk')).body.incidents.find(
          (i: any) => i.resource.name === mount && !i.test,
        ),
      {
        timeoutMs: 60_000,
        what: `the monitor's disk incident for ${mount}`,
      },
    )
  const summaries = (done: any) => done.timeline.map((t: any) => `${t.stage}: ${t.summary}`).join('\n')

  it('a disk still over whose filesystem the quarantine does not share: nothing purged, the files come back, an admin gets it', async () => {
    const before = tree(sandbox)
    const opened = await diskIncident(otherFs)
    assert.equal(opened.alert.threshold, THRESHOLD)
    assert.equal(opened.alert.source, 'collector:statfs')
    assert.ok(opened.alert.value > THRESHOLD)
    await approve(opened.id)
    const done = await finished(opened.id, 'the failed verification to escalate')
    assert.equal(done.status, 'escalated', summaries(done))

    const verified = done.timeline.find((t: any) => t.stage === 'verified')
    assert.equal(verified.data.ok, false)
    // The action's own check passed (the directories were empty); the metric did not come down.
    assert.match(verified.summary, /are empty; disk_used_percent [\d.]+ still over /)
    const m = verified.data.remeasure
    assert.equal(m.status, 'over')
    assert.equal(m.threshold, THRESHOLD)
    assert.equal(m.source, 'collector')
    assert.equal(m.query, 'collector:statfs')
    assert.equal(m.resource, otherFs)
    assert.ok(Math.abs(m.value - usedPercent(otherFs)) < 1, `read ${m.value}, statfs now ${usedPercent(otherFs)}`)
    assert.equal(verified.data.quarantinePurged, undefined)
    assert.ok(!done.timeline.some((t: any) => t.stage === 'note'), summaries(done))

    const stages = done.timeline.map((t: any) => t.stage)
    assert.ok(stages.indexOf('rolled_back') > stages.indexOf('verified'), stages.join(', '))
    assert.ok(stages.indexOf('escalated') > stages.indexOf('rolled_back'), stages.join(', '))
    assert.match(done.timeline.at(-1).summary, /the fix did not hold: .*still over .*; clean_sandbox rolled back/)
    assert.equal(done.actions.find((a: any) => a.actionId === 'clean_sandbox').status, 'rolled_back')
    assert.deepEqual(tree(sandbox), before, 'every file is back, byte for byte')

    const audit = (await sentinel.get(`/api/audit?incident=${opened.id}`)).body.events
    const verifiedEvent = audit.find((e: any) => e.kind === 'incident.verified')
    assert.equal(verifiedEvent.outcome, 'failed')
    assert.equal(verifiedEvent.data.remeasure.status, 'over')
    assert.ok(audit.some((e: any) => e.kind === 'action.rolled_back' && e.outcome === 'succeeded'))
    assert.ok(!audit.some((e: any) => e.kind === 'action.quarantine_purged'))
  })

  it("a disk still over on the quarantine's own filesystem: that incident's quarantine is deleted, the disk reads under, resolved", async () => {
    const keep = sha(path.join(sandbox, 'data/keep.db'))
    const opened = await diskIncident(sandboxFs)
    assert.ok(opened.alert.value > THRESHOLD)
    await approve(opened.id)
    const done = await finished(opened.id, 'the cleaning to be verified')
    assert.equal(done.status, 'resolved', summaries(done))

    const note = done.timeline.find((t: any) => t.stage === 'note')
    assert.ok(note, summaries(done))
    assert.match(
      note.summary,
      /quarantine deleted \(2 entries, 7000000 bytes\) to free .*still over 80 .*same filesystem.*can no longer be undone/,
    )
    const verified = done.timeline.find((t: any) => t.stage === 'verified')
    assert.ok(done.timeline.indexOf(verified) > done.timeline.indexOf(note))
    assert.equal(verified.data.ok, true)
    assert.match(verified.summary, /^verified \(after deleting the quarantine\): .*back under 80/)
    assert.equal(verified.data.remeasure.status, 'under')
    assert.equal(verified.data.remeasure.resource, sandboxFs)
    assert.equal(verified.data.quarantinePurged.bytes, 7_000_000)
    assert.ok(usedPercent(sandboxFs) < THRESHOLD)
    assert.ok(!done.timeline.some((t: any) => t.stage === 'rolled_back'))

    assert.equal(sha(path.join(sandbox, 'data/keep.db')), keep, 'data/ is intact')
    assert.deepEqual(Object.keys(tree(sandbox)), ['data/keep.db'])
    assert.ok(
      !existsSync(path.join(sandbox, '.quarantine', opened.id, 'moved')),
      "the incident's quarantined files are gone",
    )

    const audit = (await sentinel.get(`/api/audit?incident=${opened.id}`)).body.events
    const purged = audit.find((e: any) => e.kind === 'action.quarantine_purged')
    assert.equal(purged.outcome, 'succeeded')
    assert.equal(purged.data.bytes, 7_000_000)
    assert.equal(purged.data.mountpoint, sandboxFs)
    assert.equal(audit.find((e: any) => e.kind === 'incident.verified').outcome, 'ok')
    const rollback = await sentinel.post(`/api/incidents/${opened.id}/rollback`, {}, 'admin')
    assert.equal(rollback.status, 409, JSON.stringify(rollback.body))
    assert.match(JSON.stringify(rollback.body), /deleted to free the disk/)
  })

  it('a disk under its threshold after the cleaning resolves at once and keeps the quarantine for rollback', async () => {
    writeFileSync(path.join(sandbox, 'logs/app.log'), randomBytes(1_000_000))
    // A test alert carries the fixed test threshold (95 %); the filesystem reads far under it.
    const trig = await sentinel.post('/api/trigger-alert', { type: 'disk', resource: sandbox, value: 97 })
    assert.equal(trig.status, 202, JSON.stringify(trig.body))
    const id = trig.body.incidentId as string
    await approve(id)
    const done = await finished(id, 'the cleaning to be verified')
    assert.equal(done.status, 'resolved', summaries(done))
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
    assert.ok(!done.timeline.some((t: any) => t.stage === 'rolled_back' || t.stage === 'note'))
    assert.ok(
      existsSync(path.join(sandbox, '.quarantine', id, 'moved/logs/app.log')),
      'kept in quarantine for rollback',
    )
  })
})
