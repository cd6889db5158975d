/**
 * The Monitor against the real things: Debian's node-exporter scraped every second by a real
 * Prometheus, real CPU and memory load from stress-ng, a real tmpfs filled past the disk
 * threshold, a slow HTTP endpoint for the probes, and Prometheus stopped and started again.
 */
import assert from 'node:assert/strict'
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import { after, before, describe, it } from 'node:test'
import { freePort, waitFor } from '../../tests/helpers/ports'
import { startRedis, type TestRedis } from '../../tests/helpers/redis'
import { collectHost } from './collectors/host'
import { PrometheusClient, PrometheusError } from '../platform/prometheus/client'
import { DEFAULT_EXCLUDED_FS_TYPES } from '../platform/config/observe'
import { buildQueries, computedLatencyMs } from './prometheus-queries'
import { startNodeExporter, startPrometheus, type ManagedProcess } from '../../tests/helpers/prometheus'
import { Monitor, type MonitorOptions, type TickResult } from './monitor'

const run = promisify(execFile)

let redis: TestRedis
let nodeExporter: ManagedProcess
let prometheus: ManagedProcess
let mountDir: string
let mounted = false
let slowServer: http.Server
let slowBase: string
const stressProcs: ChildProcess[] = []
const prefix = `sentinel:test:${randomBytes(4).toString('hex')}:observe:`

// The tmpfs the test fills must be checked: tmpfs is left out only by the default exclusions.
const fsTypes = DEFAULT_EXCLUDED_FS_TYPES.filter((t) => t !== 'tmpfs')

function options(extra: Partial<MonitorOptions> = {}): MonitorOptions {
  const instance = `127.0.0.1:${nodeExporter.port}`
  return {
    prometheusUrl: prometheus.url,
    prometheusTimeoutMs: 2000,
    // Short windows: the 1 s scrapes fill them quickly, so load shows within seconds.
    queries: { cpuWindow: '5s', rateWindow: '5s', excludeFsTypes: fsTypes },
    // The collector names this host as Prometheus does: the same fingerprints on either source.
    host: { instance, sampleMs: 300, excludeFsTypes: fsTypes },
    docker: false,
    redis: redis.client,
    tracker: { forMs: 0, holdDownMs: 0, prefix: `${prefix}alerts:` },
    keyPrefix: prefix,
    ...extra,
  }
}

function stress(args: string[]): ChildProcess {
  const p = spawn('stress-ng', args, { stdio: 'ignore' })
  stressProcs.push(p)
  return p
}

async function stopStress(p: ChildProcess) {
  if (p.exitCode !== null || p.signalCode !== null) return
  const exited = new Promise((r) => p.once('exit', r))
  p.kill('SIGTERM')
  await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))])
  if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL')
}

const find = (t: TickResult, metric: string, pred: (r: TickResult['readings'][number]) => boolean = () => true) =>
  t.readings.find((r) => r.metric === metric && pred(r))

before(async () => {
  ;[redis, nodeExporter] = await Promise.all([startRedis(), startNodeExporter()])
  prometheus = await startPrometheus({ scrapeTargets: [`127.0.0.1:${nodeExporter.port}`] })
  mountDir = mkdtempSync(path.join(os.tmpdir(), 'sentinel-test-tmpfs-'))
  try {
    await run('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'sentinel-test-tmpfs', mountDir])
    mounted = true
  } catch {
    mounted = false
  }
  slowServer = http.createServer((req, res) => setTimeout(() => res.end('slow'), req.url === '/fast' ? 0 : 1500))
  await new Promise<void>((r) => slowServer.listen(0, '127.0.0.1', r))
  slowBase = `http://127.0.0.1:${(slowServer.address() as AddressInfo).port}`
})

after(async () => {
  for (const p of stressProcs) await stopStress(p)
  if (mounted) await run('umount', [mountDir]).catch(() => run('umount', ['-l', mountDir]).catch(() => {}))
  rmSync(mountDir, { recursive: true, force: true })
  slowServer.closeAllConnections()
  await new Promise((r) => slowServer.close(r))
  await Promise.all([prometheus?.stop(), nodeExporter?.stop()])
  await redis?.stop()
})

describe('Monitor with a real Prometheus and node-exporter', () => {
  it('the client reports unreachable servers and bad queries clearly', async () => {
    const down = new PrometheusClient({ url: `http://127.0.0.1:${await freePort()}`, timeoutMs: 1000 })
    await assert.rejects(
      down.query('up'),
      (e: unknown) =>
        e instanceof PrometheusError && e.kind === 'unreachable' && e.code === 'ECONNREFUSED' && e.unavailable,
    )
    const client = new PrometheusClient({ url: prometheus.url })
    await assert.rejects(
      client.query('sum(('),
      (e: unknown) =>
        e instanceof PrometheusError && e.kind === 'query' && e.errorType === 'bad_data' && !e.unavailable,
    )
    await client.ready()
    // Every query of the checks is valid PromQL (the cAdvisor ones answer empty here: no cAdvisor).
    for (const [name, q] of Object.entries(
      buildQueries({ cpuWindow: '5s', containerSelector: 'container_label_x="y"' }),
    )) {
      await assert.doesNotReject(client.query(q), `query ${name}`)
    }
    const end = Date.now()
    const series = await waitFor(
      async () => {
        const s = await client.queryRange('up', { start: end - 10_000, end: Date.now(), stepSeconds: 1 })
        return s.length && s[0].points.length >= 2 ? s : undefined
      },
      { timeoutMs: 15_000, what: 'a range of up' },
    )
    assert.equal(series[0].labels.job, 'node')
    assert.equal(series[0].points.at(-1)![1], 1)
  })

  it('reads every check from Prometheus; the computed latency agrees with the network readings', async () => {
    const monitor = new Monitor(options())
    const t = await waitFor(
      async () => {
        const r = await monitor.tick()
        return r.source.source === 'prometheus' && find(r, 'cpu_busy_percent') && find(r, 'latency_ms') ? r : undefined
      },
      { timeoutMs: 20_000, intervalMs: 500, what: 'prometheus readings' },
    )
    assert.match(t.source.reason, /^prometheus reachable at /)
    const instance = `127.0.0.1:${nodeExporter.port}`
    for (const m of ['memory_used_percent', 'cpu_busy_percent']) {
      const r = find(t, m)!
      assert.equal(r.resource.id, instance)
      assert.equal(r.source, 'prometheus')
      assert.ok(r.value >= 0 && r.value <= 100, `${m} ${r.value}`)
      assert.match(r.query, /node_/)
    }
    const root = find(t, 'disk_used_percent', (r) => r.resource.name === '/')
    assert.ok(root, 'the root filesystem is read')
    assert.equal(root.resource.id, `${instance}:/`)
    const bytes = find(t, 'network_bytes_per_second')!.value
    const errors = find(t, 'network_errors_per_second')!.value
    const latency = find(t, 'latency_ms')!
    assert.ok(
      Math.abs(latency.value - computedLatencyMs(bytes, errors)) < 1e-6,
      `${latency.value} vs formula ${computedLatencyMs(bytes, errors)}`,
    )
    assert.equal(latency.source, 'prometheus')
  })

  it('sees a filled tmpfs cross the disk threshold, on Prometheus and on the collectors alike', async (t) => {
    if (!mounted) {
      t.skip('mount -t tmpfs is not permitted here: the disk crossing cannot be made without a loop device')
      return
    }
    const monitor = new Monitor(options())
    const isMine = (r: { resource: { name: string } }) => r.resource.name === mountDir
    const before = await waitFor(
      async () => {
        const r = await monitor.tick()
        return r.source.source === 'prometheus' && find(r, 'disk_used_percent', isMine) ? r : undefined
      },
      { timeoutMs: 15_000, intervalMs: 500, what: 'the tmpfs in prometheus' },
    )
    assert.ok(find(before, 'disk_used_percent', isMine)!.value < 95)
    assert.ok(!before.alerts.some((a) => a.type === 'disk' && isMine(a)))
    // 4.1 MB of the 4 MiB tmpfs: about 98 % used.
    writeFileSync(path.join(mountDir, 'fill'), Buffer.alloc(4_100_000))
    const tick = await waitFor(
      async () => {
        const r = await monitor.tick()
        return r.alerts.some((a) => a.type === 'disk' && isMine(a)) ? r : undefined
      },
      { timeoutMs: 15_000, intervalMs: 500, what: 'a disk alert for the tmpfs' },
    )
    const alert = tick.alerts.find((a) => a.type === 'disk' && isMine(a))!
    assert.equal(alert.labels.source, 'prometheus')
    assert.equal(alert.severity, 'critical')
    assert.equal(alert.threshold, 95)
    assert.ok(alert.value! > 95)
    assert.equal(alert.resource.kind, 'filesystem')
    assert.match(alert.source, /node_filesystem_avail_bytes/)
    assert.ok(
      tick.toOpen.some((a) => a.fingerprint === alert.fingerprint),
      'opened (for: 0)',
    )
    // The collector sees the same filesystem over statfs, with the same fingerprint.
    const local = (await collectHost(options().host)).find((r) => r.metric === 'disk_used_percent' && isMine(r))!
    assert.ok(local.value > 95)
    const localAlert = new Monitor(options()).evaluate([local]).alerts[0]
    assert.equal(localAlert.fingerprint, alert.fingerprint)
    const again = await monitor.tick()
    assert.ok(!again.toOpen.some((a) => a.fingerprint === alert.fingerprint), 'not opened twice')
  })

  it('sees stress-ng load cross the CPU and memory thresholds', async (t) => {
    const monitor = new Monitor(options())
    const base = await waitFor(
      async () => {
        const r = await monitor.tick()
        return r.source.source === 'prometheus' && find(r, 'cpu_busy_percent') && find(r, 'memory_used_percent')
          ? r
          : undefined
      },
      { timeoutMs: 15_000, what: 'baseline readings' },
    )
    const cpu0 = find(base, 'cpu_busy_percent')!.value
    const mem0 = find(base, 'memory_used_percent')!.value
    // On a busy shared machine the CPU may already be high: put the threshold between now and 100 %.
    const cpuThreshold = cpu0 < 65 ? 80 : Math.min(97, cpu0 + (100 - cpu0) / 2)
    // 3 GiB is ~12 % of this 24 GiB machine: the threshold just above the current reading.
    const memThreshold = mem0 + 4
    t.diagnostic(
      `cpu baseline ${cpu0.toFixed(1)} % → threshold ${cpuThreshold.toFixed(1)}; memory ${mem0.toFixed(1)} % → ${memThreshold.toFixed(1)}`,
    )
    const loaded = new Monitor(
      options({ checks: { cpu: { threshold: cpuThreshold }, memory: { threshold: memThreshold } } }),
    )
    const proc = stress([
      '--cpu',
      String(os.cpus().length),
      '--vm',
      '1',
      '--vm-bytes',
      '3G',
      '--vm-keep',
      '--timeout',
      '40s',
    ])
    try {
      const cpuTick = await waitFor(
        async () => {
          const r = await loaded.tick()
          return r.alerts.some((a) => a.type === 'cpu' && a.resource.kind === 'host') ? r : undefined
        },
        { timeoutMs: 30_000, intervalMs: 500, what: 'a CPU alert' },
      )
      const cpuAlert = cpuTick.alerts.find((a) => a.type === 'cpu')!
      assert.ok(cpuAlert.value! > cpuThreshold)
      assert.equal(cpuAlert.labels.source, 'prometheus')
      assert.match(cpuAlert.source, /node_cpu_seconds_total\{mode="idle"\}\[5s\]/)
      const memTick = await waitFor(
        async () => {
          const r = await loaded.tick()
          return r.alerts.some((a) => a.type === 'memory' && a.resource.kind === 'host') ? r : undefined
        },
        { timeoutMs: 30_000, intervalMs: 500, what: 'a memory alert' },
      )
      const memAlert = memTick.alerts.find((a) => a.type === 'memory')!
      assert.ok(memAlert.value! > memThreshold)
      // The collectors see the same load from /proc.
      const local = await collectHost({ sampleMs: 500 })
      assert.ok(local.find((r) => r.metric === 'memory_used_percent')!.value > memThreshold)
      assert.ok(local.find((r) => r.metric === 'cpu_busy_percent')!.value > Math.min(cpuThreshold, 60))
    } finally {
      await stopStress(proc)
    }
  })

  it('uses the probes p95 as latency when targets are set', async () => {
    const monitor = new Monitor(
      // 1.5 s against a 1 s threshold: a loaded host's stalls (a few hundred ms) cannot make the
      // fast endpoint cross it, nor the slow one fall under it.
      options({
        probes: { targets: [`${slowBase}/slow`, `${slowBase}/fast`], requestsPerTick: 2, timeoutMs: 5000 },
        checks: { latency: { threshold: 1000 } },
      }),
    )
    const t = await monitor.tick()
    const latency = t.readings.filter((r) => r.metric === 'latency_ms')
    assert.deepEqual(
      latency.map((r) => r.source),
      ['probe', 'probe'],
      'the formula reading is replaced',
    )
    const slow = latency.find((r) => r.resource.id === `${slowBase}/slow`)!
    assert.ok(slow.value >= 1500)
    const alert = t.alerts.find((a) => a.type === 'latency')!
    assert.equal(alert.resource.kind, 'endpoint')
    assert.equal(alert.resource.id, `${slowBase}/slow`)
    assert.equal(t.alerts.filter((a) => a.type === 'latency').length, 1, 'the fast endpoint is fine')
    assert.ok(t.toOpen.some((a) => a.fingerprint === alert.fingerprint))
  })

  it('falls back to the collectors when Prometheus stops, says why, and returns when it is back', async () => {
    const monitor = new Monitor(options())
    const first = await monitor.tick()
    assert.equal(first.source.source, 'prometheus')
    await prometheus.kill()
    const down = await monitor.tick()
    assert.equal(down.source.source, 'collector')
    assert.match(down.source.reason, /prometheus unreachable: ECONNREFUSED/)
    assert.equal(down.switched, true)
    assert.equal(down.previousSource, 'prometheus')
    assert.ok(down.readings.length > 0 && down.readings.every((r) => r.source === 'collector'))
    assert.ok(find(down, 'memory_used_percent'))
    if (mounted)
      assert.ok(
        down.alerts.some((a) => a.type === 'disk' && a.resource.name === mountDir),
        'the full tmpfs is still seen',
      )
    // Another process (the status API) sees the same.
    const status = await new Monitor(options()).latestStatus()
    assert.equal(status.source?.source, 'collector')
    assert.match(status.source!.reason, /ECONNREFUSED/)
    const mem = status.checks.find((c) => c.check === 'memory')!
    assert.equal(mem.source, 'collector')
    assert.ok(['ok', 'firing'].includes(mem.state))
    if (mounted)
      assert.equal(status.checks.find((c) => c.check === 'disk' && c.resource.name === mountDir)?.state, 'firing')
    assert.ok(status.metrics.some((r) => r.metric === 'network_bytes_per_second'))

    await prometheus.restart()
    const back = await waitFor(
      async () => {
        const r = await monitor.tick()
        return r.source.source === 'prometheus' ? r : undefined
      },
      { timeoutMs: 30_000, intervalMs: 500, what: 'prometheus to be used again' },
    )
    assert.equal(back.switched, true)
    assert.equal(back.previousSource, 'collector')
    assert.ok(find(back, 'memory_used_percent')?.source === 'prometheus')
  })
})
