/**
 * The live sampler against this machine and the real Docker engine: host CPU, memory and the data
 * directory's disk from /proc and statfs, watched containers' CPU and memory from their cgroup
 * files (and through Docker's one-shot stats when those files cannot be read), the same series keys
 * as the monitor's collectors, unwatched containers left alone; the timer publishes, skips a tick
 * while a sample runs, logs a failure once, and publishes nothing after stop(); and a viewer's
 * stream carries the `sample` events.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import os from 'node:os'
import { after, before, describe, it } from 'node:test'
import { removeContainers, runContainer, uniqueName } from '../../tests/helpers/docker'
import { createStreamHub } from '../platform/stream/hub'
import { isStreamEventType } from '../platform/stream/publish'
import { connectSse } from '../platform/stream/sse-client'
import { readingSeries } from './types'
import {
  liveSampleReader,
  mountPointOf,
  parseFlatKeyed,
  startLiveSampler,
  type LiveLog,
  type LiveSample,
} from './live-sampler'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** Polls `pred` until it holds; fails naming `what` after `timeoutMs`. */
async function until(pred: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(10)
  }
}

function deferred<T = void>() {
  let resolve!: (v: T) => void
  let reject!: (e: Error) => void
  const promise = new Promise<T>((res, rej) => {
    resolve = res
    reject = rej
  })
  return { promise, resolve, reject }
}

const value = (s: LiveSample, metric: string, name: string) =>
  s.readings.find((r) => r.metric === metric && r.resource.name === name)?.value

describe('live sampler: parsing', () => {
  it('reads cgroup key-value files and finds the mount point holding a path', () => {
    assert.deepEqual(parseFlatKeyed('usage_usec 1500\nuser_usec 1000\n\n'), { usage_usec: 1500, user_usec: 1000 })
    const mounts = ['/dev/vda / ext4 rw 0 0', '/dev/vdb /data ext4 rw 0 0', '/dev/vdc /data2 ext4 rw 0 0'].join('\n')
    assert.equal(mountPointOf('/data/sentinel/.data', mounts), '/data')
    assert.equal(mountPointOf('/data', mounts), '/data')
    // A mount whose name is only a prefix of the directory's name does not hold it.
    assert.equal(mountPointOf('/data2x/y', mounts), '/')
    assert.equal(mountPointOf('/data2/y', mounts), '/data2')
  })

  it('knows `sample` as a stream event type', () => {
    assert.equal(isStreamEventType('sample'), true)
  })
})

describe('live sampler: the timer', () => {
  it('publishes a sample at once and then every interval', async () => {
    const published: number[] = []
    let n = 0
    const sampler = startLiveSampler({
      intervalSeconds: 0.05,
      sample: async () => ++n,
      publish: (s) => published.push(s),
    })
    try {
      await until(() => published.length >= 4, 'four samples')
      assert.deepEqual(published.slice(0, 4), [1, 2, 3, 4])
      assert.equal(sampler.stats().skipped, 0)
    } finally {
      await sampler.stop()
    }
  })

  it('skips the ticks that come while a sample still runs, instead of piling them up', async () => {
    const gates = [deferred(), deferred()]
    let calls = 0
    const published: number[] = []
    const sampler = startLiveSampler({
      intervalSeconds: 0.02,
      sample: async () => {
        const i = calls++
        if (gates[i]) await gates[i].promise
        return i
      },
      publish: (s) => published.push(s),
    })
    try {
      await until(() => sampler.stats().skipped >= 3, 'three skipped ticks')
      assert.equal(calls, 1, 'one sample at a time')
      assert.deepEqual(published, [])
      gates[0].resolve()
      await until(() => calls === 2, 'the next sample to start')
      assert.deepEqual(published, [0])
      gates[1].resolve()
      await until(() => published.length >= 3, 'sampling to go on')
    } finally {
      await sampler.stop()
    }
  })

  it('logs a failing sample once per error, goes on, and says when it works again', async () => {
    const logged: Array<[string, string, Record<string, unknown> | undefined]> = []
    const log: LiveLog = (level, msg, data) => logged.push([level, msg, data])
    let calls = 0
    const published: number[] = []
    const sampler = startLiveSampler({
      intervalSeconds: 0.02,
      sample: async () => {
        calls++
        if (calls <= 5) throw new Error('docker is down')
        return calls
      },
      publish: (s) => published.push(s),
      log,
    })
    try {
      await until(() => published.length >= 1, 'a sample after the failures')
      assert.equal(sampler.stats().failed, 5)
      assert.deepEqual(
        logged.map(([level, msg]) => `${level} ${msg}`),
        ['warn live sample failed', 'info live sampling works again'],
      )
      assert.equal(logged[0][2]?.error, 'docker is down')
    } finally {
      await sampler.stop()
    }
  })

  it('stop() waits for the sample in flight and nothing is published after it', async () => {
    const gate = deferred()
    const published: number[] = []
    let calls = 0
    const sampler = startLiveSampler({
      intervalSeconds: 0.02,
      sample: async () => {
        calls++
        await gate.promise
        return calls
      },
      publish: (s) => published.push(s),
    })
    await until(() => calls === 1, 'the first sample to start')
    let stopped = false
    const stopping = sampler.stop().then(() => (stopped = true))
    await sleep(50)
    assert.equal(stopped, false, 'stop() waits for the sample in flight')
    gate.resolve()
    await stopping
    assert.deepEqual(published, [], 'the sample that finished after stop() is not published')
    await sleep(100)
    assert.equal(calls, 1, 'no tick after stop()')
  })
})

describe('live sampler: this machine and its Docker engine', () => {
  const label = `sentinel.live-test=${randomBytes(4).toString('hex')}`
  const busy = uniqueName('live-busy')
  const idle = uniqueName('live-idle')
  const other = uniqueName('live-unwatched')

  before(async () => {
    // A busy loop capped at 64 MiB, an idle one without a limit, and one without the label.
    await runContainer(busy, {
      labels: { [label.split('=')[0]]: label.split('=')[1] },
      args: ['--memory', '64m'],
      cmd: ['sh', '-c', 'trap "exit 0" TERM; while true; do :; done'],
    })
    await runContainer(idle, { labels: { [label.split('=')[0]]: label.split('=')[1] } })
    await runContainer(other, { labels: { [label.split('=')[0]]: 'someone-else' } })
  })
  after(async () => {
    await removeContainers(busy, idle, other)
  })

  it('reads the host and the watched containers, with the series keys of the collectors', async () => {
    const dataDir = `${os.tmpdir()}/sentinel-live-${randomBytes(4).toString('hex')}/not-made-yet`
    const read = liveSampleReader({ dataDir, label })
    const first = await read()
    // CPU % is a change between two samples: none on the first one, for the host or the containers.
    assert.equal(value(first, 'cpu_busy_percent', os.hostname()), undefined)
    assert.equal(value(first, 'container_cpu_percent', busy), undefined)
    await sleep(1500)
    const s = await read()

    const hostCpu = value(s, 'cpu_busy_percent', os.hostname())
    const hostMem = value(s, 'memory_used_percent', os.hostname())
    assert.ok(hostCpu !== undefined && hostCpu >= 0 && hostCpu <= 100, `host CPU ${hostCpu}`)
    assert.ok(hostMem !== undefined && hostMem > 0 && hostMem < 100, `host memory ${hostMem}`)
    // A data directory not made yet is on its parent's filesystem, the one holding the temp dir.
    const mountpoint = mountPointOf(os.tmpdir(), readFileSync('/proc/mounts', 'utf8'))
    const disk = s.readings.find((r) => r.metric === 'disk_used_percent')
    assert.deepEqual(disk?.resource, { kind: 'filesystem', id: `${os.hostname()}:${mountpoint}`, name: mountpoint })
    assert.ok(disk!.value >= 0 && disk!.value <= 100)

    assert.equal(s.containers.listed, 2, JSON.stringify(s.containers))
    assert.equal(s.containers.cgroup + s.containers.engine, 2)
    const busyCpu = value(s, 'container_cpu_percent', busy)
    const idleCpu = value(s, 'container_cpu_percent', idle)
    assert.ok(busyCpu !== undefined && idleCpu !== undefined, JSON.stringify(s.readings))
    // A shell spinning on one core of a shared, busy machine gets some share of it (an idle shell
    // well under 1 %), and at most one core and a bit.
    assert.ok(busyCpu > 5 && busyCpu < 130, `busy container CPU ${busyCpu}`)
    assert.ok(idleCpu < busyCpu, `idle ${idleCpu} < busy ${busyCpu}`)
    const busyMem = value(s, 'container_memory_bytes', busy)
    assert.ok(busyMem !== undefined && busyMem > 0 && busyMem < 64 * 1024 ** 2, `busy memory ${busyMem}`)
    const busyPct = value(s, 'container_memory_percent', busy)
    assert.ok(busyPct !== undefined && Math.abs(busyPct - (100 * busyMem) / (64 * 1024 ** 2)) < 1e-9)
    assert.equal(value(s, 'container_memory_percent', idle), undefined, 'no limit, no percentage')
    assert.ok(!s.readings.some((r) => r.resource.name === other), 'a container without the watch label is not read')

    for (const r of s.readings) {
      assert.equal(r.series, readingSeries(r.metric, r.resource))
      assert.equal(r.at, s.at)
    }
    assert.equal(
      s.readings.find((r) => r.resource.name === busy && r.metric === 'container_cpu_percent')?.series,
      `container_cpu_percent|container|${busy}`,
    )
  })

  it('reads a container through Docker when its cgroup files cannot be read, with the same figures', async () => {
    const viaCgroup = liveSampleReader({ dataDir: os.tmpdir(), label })
    const viaEngine = liveSampleReader({ dataDir: os.tmpdir(), label, cgroupRoot: '/nonexistent-cgroup-root' })
    await Promise.all([viaCgroup(), viaEngine()])
    await sleep(1000)
    const [a, b] = await Promise.all([viaCgroup(), viaEngine()])
    assert.equal(b.containers.engine, 2)
    assert.equal(b.containers.cgroup, 0)
    const engineCpu = value(b, 'container_cpu_percent', busy)
    assert.ok(engineCpu !== undefined && engineCpu > 5, `busy container CPU through Docker ${engineCpu}`)
    const engineMem = value(b, 'container_memory_bytes', idle)
    const cgroupMem = value(a, 'container_memory_bytes', idle)
    assert.ok(engineMem !== undefined && cgroupMem !== undefined)
    // Two reads of an idle shell's memory: the same order of size.
    assert.ok(engineMem / cgroupMem < 4 && cgroupMem / engineMem < 4, `${engineMem} vs ${cgroupMem}`)
  })

  it('publishes samples that move, and forgets a container that stopped', async () => {
    const samples: LiveSample[] = []
    const sampler = startLiveSampler({
      intervalSeconds: 0.6,
      sample: liveSampleReader({ dataDir: os.tmpdir(), label }),
      publish: (s) => samples.push(s),
    })
    try {
      await until(() => samples.length >= 3, 'three samples', 20_000)
      assert.ok(samples[2].readings.some((r) => r.metric === 'container_cpu_percent' && r.resource.name === busy))
      assert.ok(new Set(samples.map((s) => s.at)).size === samples.length, 'each sample has its own time')
      await removeContainers(idle)
      const n = samples.length
      await until(() => samples.length >= n + 2, 'two more samples', 20_000)
      const last = samples[samples.length - 1]
      assert.equal(last.containers.listed, 1)
      assert.ok(!last.readings.some((r) => r.resource.name === idle))
    } finally {
      await sampler.stop()
    }
  })
})

describe('live sampler: the stream', () => {
  it("a viewer's stream carries `sample` events", async () => {
    const hub = createStreamHub({ verifyToken: (t) => (t === 'viewer-token' ? { ok: true, role: 'viewer' } : null) })
    const server = http.createServer((req, res) => void hub.handler(req, res))
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/stream?token=viewer-token`
    const conn = await connectSse(url)
    try {
      assert.equal(conn.status, 200)
      await conn.waitFor((c) => c.events.some((e) => e.event === 'ready'), 5000, 'ready')
      const sample: LiveSample = {
        at: new Date().toISOString(),
        readings: [],
        containers: { listed: 0, cgroup: 0, engine: 0 },
        tookMs: 1,
      }
      hub.publish('sample', sample)
      await conn.waitFor((c) => c.events.some((e) => e.event === 'sample'), 5000, 'the sample event')
      assert.deepEqual(JSON.parse(conn.events.find((e) => e.event === 'sample')!.data), sample)
    } finally {
      conn.close()
      await hub.close()
      server.closeAllConnections()
      await new Promise((r) => server.close(r))
    }
  })
})
