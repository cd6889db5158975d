/**
 * Re-measuring after a fix, against the real sources: this host's collectors (/proc, statfs),
 * Debian's Prometheus scraping a real node-exporter, a Prometheus that is gone, and a real tmpfs
 * filled past its threshold and emptied again. Then verifyIncident on real Redis with the real
 * clean_sandbox: a metric still over its threshold fails the verification and the rollback restores
 * every byte; a metric that cannot be read escalates and leaves the action in place.
 *
 * Thresholds are set relative to the reading taken just before (or at 0 and 100 %, which any
 * reading is above or at): the outcomes do not depend on how busy the machine is.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statfsSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { freePort, waitFor } from '../../tests/helpers/ports'
import { startRedis, type TestRedis } from '../../tests/helpers/redis'
import { getAction } from '../actions/catalog'
import { toSentinelAlert } from '../observe/alertmanager'
import { manualRollback } from './manual-rollback'
import { resetConfigCache } from '../platform/config/index'
import { Monitor } from '../observe/monitor'
import type { CheckOverrides } from '../observe/checks'
import { DEFAULT_EXCLUDED_FS_TYPES } from '../platform/config/observe'
import { startNodeExporter, startPrometheus, type ManagedProcess } from '../../tests/helpers/prometheus'
import { AuditLog } from '../platform/store/audit'
import { IncidentStore } from '../platform/store/incidents'
import type { Alert } from '../platform/store/model'
import { remeasure, remeasures, ruleExpression } from './remeasure'
import { escalationSummary, rollbackAndEscalate, verifyIncident } from './verify'
import { mountTmpfs, sha256File as sha, treeHashes, unmountTmpfs } from '../../tests/helpers/files'

// The tmpfs this test fills must be read: tmpfs is left out only by the default exclusions.
const fsTypes = DEFAULT_EXCLUDED_FS_TYPES.filter((t) => t !== 'tmpfs')

let redis: TestRedis
let nodeExporter: ManagedProcess
let prometheus: ManagedProcess
let tmp: string
let mountDir: string
let mounted = false

const instance = () => `127.0.0.1:${nodeExporter.port}`
const hostOpts = () => ({ instance: instance(), sampleMs: 200, excludeFsTypes: fsTypes })
const monitor = (checks: CheckOverrides, prometheusUrl?: string) =>
  new Monitor({
    prometheusUrl,
    prometheusTimeoutMs: 2000,
    queries: { cpuWindow: '5s', excludeFsTypes: fsTypes },
    host: hostOpts(),
    docker: false,
    history: false,
    checks,
  })

/** The alerts a Monitor raises now from the given source, with these thresholds. */
async function alertsNow(checks: CheckOverrides, prometheusUrl?: string): Promise<Alert[]> {
  const m = monitor(checks, prometheusUrl)
  const c = await waitFor(
    async () => {
      const r = await m.collect()
      return r.source.source === (prometheusUrl ? 'prometheus' : 'collector') ? r : undefined
    },
    { timeoutMs: 20_000, intervalMs: 500, what: `readings from ${prometheusUrl ?? 'the collectors'}` },
  )
  return m.evaluate(c.readings).alerts
}

/** The mount point holding `p`: the longest mount point that is a prefix of it. */
function mountOf(p: string): string {
  const mounts = readFileSync('/proc/mounts', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[1])
    .filter(Boolean)
  return mounts
    .filter((m) => p === m || p.startsWith(m.endsWith('/') ? m : `${m}/`))
    .sort((a, b) => b.length - a.length)[0]
}

const usedPercent = (p: string) => {
  const s = statfsSync(p)
  return 100 * (1 - s.bavail / s.blocks)
}

before(async () => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'sentinel-test-remeasure-'))
  mountDir = path.join(tmp, 'tmpfs')
  try {
    await mountTmpfs(mountDir, 4 * 1024 * 1024, 'sentinel-test-remeasure')
    mounted = true
  } catch {
    mounted = false
  }
  ;[redis, nodeExporter] = await Promise.all([startRedis(), startNodeExporter()])
  prometheus = await startPrometheus({ scrapeTargets: [instance()] })
})

after(async () => {
  if (mounted) await unmountTmpfs(mountDir)
  await Promise.all([prometheus?.stop(), nodeExporter?.stop()])
  await redis?.stop()
  rmSync(tmp, { recursive: true, force: true })
})

describe('remeasure: collectors', () => {
  it('reads a disk alert again with statfs, over or under relative to the real reading', async () => {
    const root = (await alertsNow({ disk: { threshold: 0 } })).find((a) => a.resource.name === '/')!
    assert.equal(root.details?.readingSource, 'collector')
    const now = usedPercent(root.resource.name)
    const over = await remeasure({ ...root, threshold: Math.max(0, now - 3) }, { host: hostOpts() })
    assert.equal(over.status, 'over', over.detail)
    assert.equal(over.source, 'collector')
    assert.equal(over.query, 'collector:statfs')
    assert.ok(Math.abs(over.value! - now) < 1, `${over.value} vs statfs ${now}`)
    const under = await remeasure({ ...root, threshold: now + 3 }, { host: hostOpts() })
    assert.equal(under.status, 'under', under.detail)
    assert.match(under.detail, /back under/)
  })

  it('reads memory and CPU again from /proc', async () => {
    const alerts = await alertsNow({ memory: { threshold: 0 }, cpu: { threshold: -1 } })
    const mem = alerts.find((a) => a.type === 'memory')!
    assert.ok(mem, 'any host uses some memory')
    const over = await remeasure(mem, { host: hostOpts() })
    assert.equal(over.status, 'over')
    assert.equal(over.query, 'collector:/proc/meminfo')
    assert.ok(over.value! > 0 && over.value! < 100)
    assert.equal((await remeasure({ ...mem, threshold: 100 }, { host: hostOpts() })).status, 'under')
    // An anomaly alert on the same series (the monitor's shape: no threshold, the expected range in
    // the details) is compared with that range.
    const anomaly = (low: number, high: number): Alert => ({
      ...mem,
      type: 'anomaly',
      threshold: null,
      details: { ...mem.details, expectedLow: low, expectedHigh: high },
    })
    const inside = await remeasure(anomaly(0, 100), { host: hostOpts() })
    assert.equal(inside.status, 'under', inside.detail)
    assert.deepEqual(inside.expected, [0, 100])
    assert.match(inside.detail, /back inside its expected range/)
    assert.equal((await remeasure(anomaly(100.5, 200), { host: hostOpts() })).status, 'over')
    assert.equal(
      (await remeasure({ ...anomaly(0, 1), details: mem.details }, { host: hostOpts() })).status,
      'unavailable',
      'no threshold and no range: nothing to compare with',
    )
    const cpu = alerts.find((a) => a.type === 'cpu')!
    const cpuAgain = await remeasure({ ...cpu, threshold: 100 }, { host: hostOpts() })
    assert.equal(cpuAgain.status, 'under')
    assert.equal(cpuAgain.query, 'collector:/proc/stat')
  })

  it('measures test alerts on this host, and says so when the resource cannot be measured', async () => {
    const test = (resource: string, type: Alert['type'] = 'disk', metric = 'disk_used_percent'): Alert => ({
      fingerprint: `test:${type}:x`,
      type,
      severity: 'warning',
      metric,
      value: 97,
      threshold: 95,
      resource: { kind: type === 'disk' ? 'filesystem' : 'host', id: resource, name: resource },
      labels: { test: 'true' },
      source: 'test alert by key:admin',
      at: new Date().toISOString(),
    })
    const now = usedPercent(tmp)
    const disk = await remeasure({ ...test(tmp), threshold: now + 3 })
    assert.equal(disk.status, 'under')
    assert.ok(Math.abs(disk.value! - now) < 1)
    const notAPath = await remeasure(test('web'))
    assert.equal(notAPath.status, 'unavailable')
    assert.match(notAPath.detail, /"web" is not a path/)
    const gone = await remeasure(test(path.join(tmp, 'no-such-dir')))
    assert.equal(gone.status, 'unavailable')
    assert.match(gone.detail, /ENOENT/)
    assert.equal(
      (await remeasure({ ...test('somewhere', 'memory', 'memory_used_percent'), threshold: 0 })).status,
      'over',
    )
    const unknown = await remeasure({
      ...test('x', 'memory', 'memory_used_percent'),
      labels: {},
      source: 'carrier pigeon',
    })
    assert.equal(unknown.status, 'unavailable')
    assert.ok(!remeasures({ ...test('x'), type: 'container_down' }), 'container deaths keep their own check')
  })

  it('sees a filled tmpfs over its threshold, and under once the file is gone', async (t) => {
    if (!mounted) return t.skip('mount -t tmpfs is not permitted here')
    writeFileSync(path.join(mountDir, 'fill'), Buffer.alloc(4_100_000))
    const alert = (await alertsNow({ disk: { threshold: 90 } })).find((a) => a.resource.name === mountDir)!
    assert.ok(alert, 'the monitor raises the tmpfs alert')
    assert.equal((await remeasure(alert, { host: hostOpts() })).status, 'over')
    rmSync(path.join(mountDir, 'fill'))
    const after = await remeasure(alert, { host: hostOpts() })
    assert.equal(after.status, 'under', after.detail)
    assert.ok(after.value! < 5)
  })
})

describe('remeasure: Prometheus', () => {
  it("runs the alert's own PromQL again and keeps the alert's series", async () => {
    const alerts = await alertsNow({ memory: { threshold: 0 }, disk: { threshold: 0 } }, prometheus.url)
    const mem = alerts.find((a) => a.type === 'memory')!
    assert.equal(mem.details?.readingSource, 'prometheus')
    assert.match(mem.source, /node_memory_MemAvailable_bytes/)
    const over = await remeasure(mem, { prometheusUrl: prometheus.url })
    assert.equal(over.status, 'over', over.detail)
    assert.equal(over.source, 'prometheus')
    assert.equal(over.query, mem.source)
    assert.ok(over.value! > 0 && over.value! < 100, String(over.value))
    assert.equal((await remeasure({ ...mem, threshold: 100 }, { prometheusUrl: prometheus.url })).status, 'under')
    // Of the many filesystems the disk query returns, the one of the alert is compared.
    const root = alerts.find((a) => a.type === 'disk' && a.resource.name === '/')!
    const now = usedPercent('/')
    const disk = await remeasure({ ...root, threshold: now + 3 }, { prometheusUrl: prometheus.url })
    assert.equal(disk.status, 'under', disk.detail)
    assert.ok(Math.abs(disk.value! - now) < 1, `${disk.value} vs statfs ${now}`)
    assert.equal(
      (await remeasure({ ...root, threshold: Math.max(0, now - 3) }, { prometheusUrl: prometheus.url })).status,
      'over',
    )
    // A series Prometheus no longer has is no reading, not a success.
    const gone = await remeasure(
      { ...root, labels: { ...root.labels, mountpoint: '/no/such/mount' } },
      { prometheusUrl: prometheus.url },
    )
    assert.equal(gone.status, 'unavailable')
    assert.match(gone.detail, /no sample of the series/)
  })

  it('sees the tmpfs under its threshold again on the next scrape', async (t) => {
    if (!mounted) return t.skip('mount -t tmpfs is not permitted here')
    writeFileSync(path.join(mountDir, 'fill'), Buffer.alloc(4_100_000))
    const alert = await waitFor(
      async () =>
        (await alertsNow({ disk: { threshold: 90 } }, prometheus.url)).find((a) => a.resource.name === mountDir),
      {
        timeoutMs: 15_000,
        intervalMs: 500,
        what: 'the tmpfs alert from prometheus',
      },
    )
    assert.equal((await remeasure(alert, { prometheusUrl: prometheus.url })).status, 'over')
    rmSync(path.join(mountDir, 'fill'))
    const after = await waitFor(
      async () => {
        const r = await remeasure(alert, { prometheusUrl: prometheus.url })
        return r.status === 'under' ? r : undefined
      },
      { timeoutMs: 15_000, intervalMs: 500, what: 'prometheus to see the tmpfs emptied' },
    )
    assert.equal(after.source, 'prometheus')
  })

  it("evaluates an Alertmanager rule's expression: still returned is over, gone is under", async () => {
    const amAlert = (expr: string) =>
      toSentinelAlert({
        status: 'firing',
        labels: { alertname: 'HostMemoryPresent', instance: instance(), job: 'node', severity: 'warning' },
        annotations: {},
        startsAt: new Date().toISOString(),
        endsAt: '0001-01-01T00:00:00Z',
        generatorURL: `${prometheus.url}/graph?g0.expr=${encodeURIComponent(expr)}&g0.tab=1`,
        fingerprint: 'abc123',
      })
    const firing = amAlert('node_memory_MemTotal_bytes > 0')
    assert.equal(ruleExpression(firing), 'node_memory_MemTotal_bytes > 0')
    const still = await waitFor(
      async () => {
        const r = await remeasure(firing, { prometheusUrl: prometheus.url })
        return r.status === 'over' ? r : undefined
      },
      { timeoutMs: 15_000, what: 'the rule to be evaluated' },
    )
    assert.ok(still.value! > 0)
    assert.equal(
      (await remeasure(amAlert('node_memory_MemTotal_bytes < 0'), { prometheusUrl: prometheus.url })).status,
      'under',
    )
    assert.equal((await remeasure(firing, {})).status, 'unavailable', 'no PROMETHEUS_URL: the rule cannot be evaluated')
    assert.equal((await remeasure({ ...firing, details: {} }, { prometheusUrl: prometheus.url })).status, 'unavailable')
  })

  it('reports a Prometheus that is not there as unavailable, without throwing', async () => {
    const [mem] = await alertsNow({ memory: { threshold: 0 } }, prometheus.url)
    const down = await remeasure(mem, {
      prometheusUrl: `http://127.0.0.1:${await freePort()}`,
      prometheusTimeoutMs: 1000,
    })
    assert.equal(down.status, 'unavailable')
    assert.match(down.detail, /ECONNREFUSED/)
    assert.equal(down.value, null)
    assert.equal((await remeasure(mem, {})).status, 'unavailable')
  })
})

describe('verifyIncident with the metric (real Redis, real clean_sandbox)', () => {
  let sandbox: string
  const tree = treeHashes
  const deps = (remeasureOpts: Parameters<typeof remeasure>[1]) => ({
    store: new IncidentStore(redis.client),
    audit: new AuditLog(redis.client, path.join(tmp, 'audit.jsonl')),
    actor: 'test',
    remeasure: remeasureOpts,
  })
  const useSandbox = (dir: string) => {
    sandbox = dir
    process.env.SANDBOX_DIR = dir
    resetConfigCache()
  }

  before(() => useSandbox(path.join(tmp, 'sandbox')))
  after(() => {
    delete process.env.SANDBOX_DIR
    resetConfigCache()
  })

  /** An incident for `alert` whose clean_sandbox has run (for real) on a freshly filled sandbox. */
  async function cleanedIncident(
    alert: Alert,
    d: ReturnType<typeof deps>,
    sizes = { log: 200_000, cache: 100_000, data: 10_000 },
  ) {
    rmSync(sandbox, { recursive: true, force: true })
    for (const dir of ['logs', 'temp', 'cache', 'data']) mkdirSync(path.join(sandbox, dir), { recursive: true })
    writeFileSync(path.join(sandbox, 'logs/app.log'), randomBytes(sizes.log))
    writeFileSync(path.join(sandbox, 'cache/c.bin'), randomBytes(sizes.cache))
    writeFileSync(path.join(sandbox, 'data/keep.db'), randomBytes(sizes.data))
    const before = tree(sandbox)
    const id = await cleanWithIncident(alert, d)
    assert.ok(!('logs/app.log' in tree(sandbox)), 'cleaned')
    return { id, before }
  }

  /** Opens an incident for `alert` and runs clean_sandbox on the sandbox as it is. */
  async function cleanWithIncident(alert: Alert, d: ReturnType<typeof deps>): Promise<string> {
    const { incident } = await d.store.open(
      { ...alert, fingerprint: `${alert.fingerprint}:${randomBytes(4).toString('hex')}` },
      { title: 'disk', actor: 'test' },
    )
    const action = getAction('clean_sandbox')!
    const result = await action.execute({}, { incidentId: incident.id, actor: 'test' })
    const now = new Date().toISOString()
    await d.store.update(incident.id, (i) => {
      i.status = 'verifying'
      i.decision = {
        route: 'approval',
        risk: 'medium',
        actionId: 'clean_sandbox',
        params: {},
        reasons: [],
        rule: 'test',
        decidedAt: now,
      }
      i.actions.push({
        actionId: 'clean_sandbox',
        params: {},
        status: 'succeeded',
        startedAt: now,
        finishedAt: now,
        result,
      })
    })
    return incident.id
  }

  async function diskAlert(mount = mountOf(tmp)): Promise<Alert> {
    const alert = (await alertsNow({ disk: { threshold: 0 } })).find((a) => a.resource.name === mount)
    assert.ok(alert, `a disk reading for ${mount}`)
    return alert
  }

  it('resolves when the metric is back under its threshold, recording the reading', async () => {
    const alert = await diskAlert()
    const threshold = usedPercent(tmp) + 3
    const d = deps({ host: hostOpts() })
    const { id } = await cleanedIncident({ ...alert, threshold }, d)
    const r = await verifyIncident(id, { timeoutMs: 5000, stableMs: 300 }, d)
    assert.equal(r.ok, true)
    const entry = r.incident.timeline.at(-1)!
    assert.equal(entry.stage, 'verified')
    const m = entry.data!.remeasure as any
    assert.equal(m.status, 'under')
    assert.equal(m.threshold, threshold)
    assert.equal(m.source, 'collector')
    assert.equal(m.query, 'collector:statfs')
    assert.ok(typeof m.value === 'number')
    assert.match(entry.summary, /are empty; disk_used_percent [\d.]+ back under/)
    assert.equal(entry.data!.lookbackMs, undefined, 'statfs reads the present: no window to wait for')
  })

  it('a disk still over whose filesystem the quarantine does not share: no purge, the rollback restores every byte', async (t) => {
    if (!mounted) return t.skip('mount -t tmpfs is not permitted here')
    // The alert is for the tmpfs, filled by something else; the sandbox and its quarantine are on
    // the filesystem of the temp directory: keeping the quarantine costs the tmpfs nothing.
    writeFileSync(path.join(mountDir, 'fill'), Buffer.alloc(2_500_000))
    t.after(() => rmSync(path.join(mountDir, 'fill'), { force: true }))
    const alert = await diskAlert(mountDir)
    const threshold = Math.max(0, usedPercent(mountDir) - 10)
    const d = deps({ host: hostOpts() })
    const { id, before } = await cleanedIncident({ ...alert, threshold }, d)
    const r = await verifyIncident(id, { timeoutMs: 1500, stableMs: 300 }, d)
    assert.equal(r.ok, false)
    const entry = r.incident.timeline.at(-1)!
    assert.equal((entry.data!.remeasure as any).status, 'over')
    assert.ok((entry.data!.metricReadings as number) > 0)
    assert.equal(entry.data!.rollback, undefined)
    assert.equal(entry.data!.quarantinePurged, undefined)
    assert.ok(!r.incident.timeline.some((e) => e.stage === 'note'), 'nothing purged')
    assert.match(entry.summary, /still over/)
    const escalated = await rollbackAndEscalate(id, d, 'the fix did not hold')
    assert.equal(escalated.status, 'escalated')
    assert.ok(escalated.timeline.some((t) => t.stage === 'rolled_back'))
    assert.match(
      escalationSummary(escalated)!,
      /the fix did not hold: .*disk_used_percent [\d.]+ still over .*; clean_sandbox rolled back/,
    )
    assert.deepEqual(tree(sandbox), before, 'every file back, byte for byte')
  })

  it("a disk still over that shares the quarantine's filesystem: this incident's quarantine is purged, the disk reads under, resolved", async (t) => {
    if (!mounted) return t.skip('mount -t tmpfs is not permitted here')
    useSandbox(path.join(mountDir, 'sandbox'))
    t.after(() => {
      rmSync(sandbox, { recursive: true, force: true })
      useSandbox(path.join(tmp, 'sandbox'))
    })
    const d = deps({ host: hostOpts() })
    // An earlier incident's small cleaning: its quarantine must survive this incident's purge.
    rmSync(sandbox, { recursive: true, force: true })
    for (const dir of ['logs', 'temp', 'cache', 'data']) mkdirSync(path.join(sandbox, dir), { recursive: true })
    writeFileSync(path.join(sandbox, 'logs/old.log'), randomBytes(20_000))
    const alert = await diskAlert(mountDir)
    const earlier = await cleanWithIncident({ ...alert, threshold: 99 }, d)
    writeFileSync(path.join(sandbox, 'logs/app.log'), randomBytes(1_500_000))
    writeFileSync(path.join(sandbox, 'temp/blob.bin'), randomBytes(1_500_000))
    writeFileSync(path.join(sandbox, 'data/keep.db'), randomBytes(100_000))
    const keep = sha(path.join(sandbox, 'data/keep.db'))
    const threshold = 50
    assert.ok(
      usedPercent(mountDir) > threshold + 10,
      `precondition: the tmpfs is ${usedPercent(mountDir).toFixed(1)} % used`,
    )
    const id = await cleanWithIncident({ ...alert, threshold }, d)
    assert.ok(usedPercent(mountDir) > threshold, 'moved within the tmpfs, the files still take its space')

    const r = await verifyIncident(id, { timeoutMs: 1500, stableMs: 300 }, d)
    const stages = r.incident.timeline.map((e) => `${e.stage}: ${e.summary}`)
    assert.equal(r.ok, true, stages.join('\n'))
    const note = r.incident.timeline.find((e) => e.stage === 'note')!
    assert.match(
      note.summary,
      /quarantine deleted \(2 entries, 3000000 bytes\) to free .*still over 50 .*same filesystem.*can no longer be undone/,
    )
    assert.equal(note.data!.rollbackPossible, false)
    const verified = r.incident.timeline.at(-1)!
    assert.equal(verified.stage, 'verified')
    assert.match(verified.summary, /^verified \(after deleting the quarantine\): .*back under 50/)
    assert.equal((verified.data!.remeasure as any).status, 'under')
    assert.equal((verified.data!.quarantinePurged as any).bytes, 3_000_000)
    assert.ok((verified.data!.quarantinePurged as any).filesystemFreedBytes >= 3_000_000)
    assert.ok(usedPercent(mountDir) < threshold)

    assert.equal(sha(path.join(sandbox, 'data/keep.db')), keep, 'data/ is never touched')
    const quarantine = path.join(sandbox, '.quarantine')
    assert.ok(!existsSync(path.join(quarantine, id, 'moved')), "this incident's files are gone")
    assert.equal(JSON.parse(readFileSync(path.join(quarantine, id, 'manifest.json'), 'utf8')).status, 'purged')
    assert.ok(existsSync(path.join(quarantine, earlier, 'moved/logs/old.log')), "another incident's quarantine is kept")

    const audit = (await d.audit.read(50, id)).find((e) => e.kind === 'action.quarantine_purged')!
    assert.equal(audit.outcome, 'succeeded')
    assert.equal(audit.data!.bytes, 3_000_000)
    assert.equal(audit.data!.mountpoint, mountDir)
    // The undo is gone: a manual rollback is refused with the reason, the action's stays refused too.
    await assert.rejects(
      manualRollback(id, 'user:admin', d),
      (err: any) => err.status === 409 && /deleted to free the disk/.test(err.message),
    )
    await assert.rejects(
      getAction('clean_sandbox')!.rollback!({}, { incidentId: id, actor: 'test' }, {}),
      /nothing can be restored/,
    )
  })

  it('a disk still over after the purge escalates, saying nothing is left to roll back', async (t) => {
    if (!mounted) return t.skip('mount -t tmpfs is not permitted here')
    useSandbox(path.join(mountDir, 'sandbox'))
    t.after(() => {
      rmSync(sandbox, { recursive: true, force: true })
      rmSync(path.join(mountDir, 'other'), { force: true })
      useSandbox(path.join(tmp, 'sandbox'))
    })
    // Most of the tmpfs is taken outside the sandbox: deleting the quarantine cannot bring it under.
    writeFileSync(path.join(mountDir, 'other'), Buffer.alloc(2_800_000))
    const alert = await diskAlert(mountDir)
    const d = deps({ host: hostOpts() })
    const { id } = await cleanedIncident({ ...alert, threshold: 50 }, d, { log: 300_000, cache: 100_000, data: 10_000 })
    const r = await verifyIncident(id, { timeoutMs: 1500, stableMs: 300 }, d)
    assert.equal(r.ok, false)
    const entry = r.incident.timeline.at(-1)!
    assert.match(entry.summary, /^verification failed \(after deleting the quarantine\): .*still over 50/)
    assert.equal(entry.data!.rollback, false)
    assert.equal((entry.data!.quarantinePurged as any).bytes, 400_000)
    const escalated = await rollbackAndEscalate(id, d, 'the fix did not hold')
    assert.equal(escalated.status, 'escalated')
    assert.ok(!escalated.timeline.some((e) => e.stage === 'rolled_back'), 'nothing to roll back')
    assert.match(
      escalationSummary(escalated)!,
      /deleted to free the disk: nothing is left to roll back: .*still over 50/,
    )
    assert.equal(escalated.timeline.at(-1)!.data!.actionLeftInPlace, true)
  })

  it('escalates without rolling back when the metric cannot be read at all', async () => {
    const [alert] = await alertsNow({ disk: { threshold: 0 } }, prometheus.url)
    const d = deps({ prometheusUrl: `http://127.0.0.1:${await freePort()}`, prometheusTimeoutMs: 500 })
    const { id } = await cleanedIncident(alert, d)
    const r = await verifyIncident(id, { timeoutMs: 1500, stableMs: 300 }, d)
    assert.equal(r.ok, false)
    const entry = r.incident.timeline.at(-1)!
    assert.equal((entry.data!.remeasure as any).status, 'unavailable')
    assert.equal(entry.data!.metricReadings, 0)
    assert.equal(entry.data!.rollback, false)
    const escalated = await rollbackAndEscalate(id, d, 'the fix did not hold')
    assert.equal(escalated.status, 'escalated')
    assert.ok(!escalated.timeline.some((t) => t.stage === 'rolled_back'), 'no rollback on no evidence')
    assert.match(escalated.timeline.at(-1)!.summary, /could not be re-measured.*ECONNREFUSED/)
    // What a notification says: the real reason, not "the fix did not hold".
    assert.doesNotMatch(escalationSummary(escalated)!, /did not hold/)
    assert.equal(escalated.timeline.at(-1)!.data!.actionLeftInPlace, true)
    assert.ok(!('logs/app.log' in tree(sandbox)), 'the cleaning stays')
  })
})
