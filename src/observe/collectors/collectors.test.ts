import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, describe, it } from 'node:test'
import { removeContainers, runContainer, uniqueName } from '../../../tests/helpers/docker'
import { startRedis, type TestRedis } from '../../../tests/helpers/redis'
import { Monitor } from '../monitor'
import { computedLatencyMs } from '../prometheus-queries'
import {
  collectContainers,
  collectHost,
  cpuBusyPercent,
  HttpProber,
  memoryUsedPercent,
  parseMeminfo,
  parseMounts,
  parseNetDev,
  parseProcStat,
  percentile,
  RedisProbeWindow,
  RedisReadingHistory,
  ReadingHistory,
  RingBuffer,
} from './index'

describe('parsers', () => {
  it('reads /proc/stat, /proc/meminfo, /proc/mounts and /proc/net/dev formats', () => {
    const a = parseProcStat('cpu  100 0 100 700 100 0 0 0 0 0\ncpu0 1 2 3 4\n')
    const b = parseProcStat('cpu  250 0 150 750 100 0 0 0 0 0\ncpu0 1 2 3 4\n')
    assert.deepEqual(a, { idle: 800, total: 1000 })
    // 250 jiffies passed, 50 of them idle: 80 % busy.
    assert.equal(cpuBusyPercent(a, b), 80)
    const mem = parseMeminfo(
      'MemTotal:       1000 kB\nMemFree:         100 kB\nMemAvailable:    250 kB\nHugePages_Total:       0\n',
    )
    assert.equal(mem.MemTotal, 1024_000)
    assert.equal(mem.HugePages_Total, 0)
    assert.equal(memoryUsedPercent(mem), 75)
    const mounts = parseMounts('/dev/vda / ext4 rw 0 0\ntmpfs /mnt/with\\040space tmpfs rw 0 0\n')
    assert.deepEqual(mounts[1], { device: 'tmpfs', mountpoint: '/mnt/with space', fstype: 'tmpfs' })
    const netdev = [
      'Inter-|   Receive                                                |  Transmit',
      ' face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed',
      '    lo: 5000 10 0 0 0 0 0 0 5000 10 0 0 0 0 0 0',
      '  eth0: 1000 10 3 0 0 0 0 0 2000 20 4 0 0 0 0 0',
      'veth12: 7000 10 9 0 0 0 0 0 7000 20 9 0 0 0 0 0',
    ].join('\n')
    assert.deepEqual(parseNetDev(netdev, /^(?:lo|veth.*)$/), { bytes: 3000, errors: 7 })
  })

  it('computes the latency formula: 25 ms + 2 ms per MB/s + 100 ms per error/s', () => {
    assert.equal(computedLatencyMs(0, 0), 25)
    assert.equal(computedLatencyMs(10e6, 0), 45)
    assert.equal(computedLatencyMs(0, 1.5), 175)
    assert.equal(computedLatencyMs(50e6, 1), 225)
  })

  it('percentile is nearest-rank', () => {
    assert.equal(percentile([5], 95), 5)
    assert.equal(
      percentile(
        Array.from({ length: 20 }, (_, i) => i + 1),
        95,
      ),
      19,
    )
    assert.equal(
      percentile(
        Array.from({ length: 100 }, (_, i) => 100 - i),
        95,
      ),
      95,
    )
  })
})

describe('ring buffer and history', () => {
  it('keeps the last N items in order', () => {
    const r = new RingBuffer<number>(3)
    for (let i = 1; i <= 5; i++) r.push(i)
    assert.deepEqual(r.toArray(), [3, 4, 5])
    assert.equal(r.last(), 5)
    assert.equal(r.size, 3)
    assert.throws(() => new RingBuffer(0))
  })
})

describe('collectors (this machine)', () => {
  let redis: TestRedis
  const containers: string[] = []
  const servers: http.Server[] = []
  const label = `sentinel.unit-${randomBytes(4).toString('hex')}`

  before(async () => {
    redis = await startRedis()
  })
  after(async () => {
    await removeContainers(...containers)
    for (const s of servers) {
      s.closeAllConnections()
      await new Promise((r) => s.close(r))
    }
    await redis.stop()
  })

  it('reads memory, CPU, disks and network from /proc and statfs', async () => {
    const readings = await collectHost({ instance: 'test-host', sampleMs: 200 })
    const by = (m: string) => readings.filter((r) => r.metric === m)
    const mem = by('memory_used_percent')[0]
    // The same formula over the same file, read again: within a few percent.
    const direct = memoryUsedPercent(parseMeminfo(readFileSync('/proc/meminfo', 'utf8')))
    assert.ok(Math.abs(mem.value - direct) < 5, `${mem.value} vs ${direct}`)
    assert.equal(mem.source, 'collector')
    assert.equal(mem.resource.id, 'test-host')
    const cpu = by('cpu_busy_percent')[0]
    assert.ok(cpu.value >= 0 && cpu.value <= 100)
    const root = by('disk_used_percent').find((r) => r.resource.name === '/')
    assert.ok(root, 'the root filesystem is checked')
    assert.equal(root.resource.id, 'test-host:/')
    assert.ok(root.value > 0 && root.value < 100)
    assert.ok(!by('disk_used_percent').some((r) => r.labels.fstype === 'tmpfs'), 'tmpfs left out by default')
    const bytes = by('network_bytes_per_second')[0].value
    const errors = by('network_errors_per_second')[0].value
    assert.equal(by('latency_ms')[0].value, computedLatencyMs(bytes, errors))
    // The history keeps the last points per series.
    const history = new ReadingHistory(2)
    await history.record(readings)
    await history.record(readings)
    await history.record(readings)
    assert.equal((await history.get(mem.series)).length, 2)
    const rh = new RedisReadingHistory(redis.client, 2, `sentinel:test:${randomBytes(3).toString('hex')}:`)
    for (let i = 0; i < 3; i++) await rh.record([{ ...mem, value: i }])
    assert.deepEqual(
      (await rh.get(mem.series)).map((p) => p.value),
      [1, 2],
    )
  })

  it('reads container memory and CPU from the Docker Engine API, and the Monitor alerts on them', async () => {
    const name = uniqueName('obs-busy')
    containers.push(name)
    // 25 MB in /dev/shm (charged to the container's memory) under a 32 MB limit, and a busy loop.
    await runContainer(name, {
      labels: { [label]: 'true' },
      args: ['--memory', '32m', '--memory-swap', '32m', '--shm-size', '40m'],
      cmd: ['sh', '-c', 'head -c 25000000 /dev/zero > /dev/shm/fill; while :; do :; done'],
    })
    const docker = { label: `${label}=true`, sampleMs: 400 }
    let readings = await collectContainers(docker)
    // A busy loop gets a whole core on a quiet host, but only a share of one while other test files
    // load the same cores: 10 % of a core is far above an idle container (about 0) and always met.
    const cpuThreshold = 10
    const seen = (metric: string, over: number) => readings.some((r) => r.metric === metric && r.value > over)
    for (
      let i = 0;
      i < 40 && !(seen('container_memory_percent', 60) && seen('container_cpu_percent', cpuThreshold));
      i++
    ) {
      await new Promise((r) => setTimeout(r, 250))
      readings = await collectContainers(docker)
    }
    const mine = readings.filter((r) => r.resource.name === name)
    assert.equal(new Set(readings.map((r) => r.resource.name)).size, 1, 'only the labelled container')
    const memPct = mine.find((r) => r.metric === 'container_memory_percent')
    const cpu = mine.find((r) => r.metric === 'container_cpu_percent')
    assert.ok(memPct && memPct.value > 60 && memPct.value <= 100, `memory % ${memPct?.value}`)
    assert.ok(cpu && cpu.value > cpuThreshold, `cpu % ${cpu?.value}`)
    assert.match(mine[0].resource.id, /^[0-9a-f]{64}$/)

    const monitor = new Monitor({
      host: { sampleMs: 100 },
      docker,
      checks: { container_cpu: { threshold: cpuThreshold } },
      history: false,
    })
    const { alerts } = monitor.evaluate(readings)
    const types = alerts
      .filter((a) => a.resource.kind === 'container')
      .map((a) => `${a.type}:${a.labels.check}`)
      .sort()
    assert.deepEqual(types, ['cpu:container_cpu', 'memory:container_memory'])
    assert.equal(alerts.find((a) => a.type === 'memory')?.resource.name, name)
  })

  it('probes HTTP targets and uses the p95 of the window as the latency reading', async () => {
    let delay = 250
    const server = http.createServer((req, res) => {
      const wait = req.url === '/fast' ? 0 : delay
      setTimeout(() => res.end('ok'), wait)
    })
    servers.push(server)
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    const window = new RedisProbeWindow(redis.client, {
      size: 10,
      prefix: `sentinel:test:${randomBytes(3).toString('hex')}:`,
    })
    const prober = new HttpProber({
      targets: [`${base}/slow`, `${base}/fast`, 'http://127.0.0.1:1/closed'],
      requestsPerTick: 2,
      timeoutMs: 1500,
      window,
    })
    const first = await prober.probe()
    const slow = first.find((r) => r.resource.id === `${base}/slow`)!
    const fast = first.find((r) => r.resource.id === `${base}/fast`)!
    const closed = first.find((r) => r.resource.id === 'http://127.0.0.1:1/closed')!
    assert.ok(slow.value >= 250, `slow p95 ${slow.value}`)
    assert.ok(fast.value < 200, `fast p95 ${fast.value}`)
    assert.equal(slow.source, 'probe')
    assert.equal(slow.labels.samples, '2')
    assert.equal(closed.value, 1500, 'a refused connection counts as the timeout')
    assert.equal(closed.labels.errors, '2')
    // The window is bounded and kept between probe rounds (in Redis: across processes).
    delay = 0
    for (let i = 0; i < 5; i++) await prober.probe()
    const later = await prober.probe()
    const slowLater = later.find((r) => r.resource.id === `${base}/slow`)!
    assert.equal(slowLater.labels.samples, '10')
    assert.ok(slowLater.value < 200, 'the slow samples left the window')
  })
})
