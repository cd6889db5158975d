/**
 * The rule analyser against real things: busybox containers (a crash, an OOM kill, a failing
 * health check, a memory-filled and a CPU-busy container), real busy and memory-holding host
 * processes, and a real temporary sandbox tree; and a container without the watch label, which
 * the rules never look into.
 */
import { randomBytes } from 'node:crypto'
const LABEL_KEY = `sentinel.unit-${randomBytes(3).toString('hex')}`
process.env.WATCH_LABEL = `${LABEL_KEY}=true`

import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { after, describe, test } from 'node:test'
import type { Alert, AlertType } from '../../platform/store/model'
import { docker, removeContainers, runContainer, state, uniqueName } from '../../../tests/helpers/docker'
import { waitFor } from '../../../tests/helpers/ports'
import { analyseWithRules, anomalyKind, raisedMemoryLimit } from './index'
import { analyzeIncident } from '../index'

const MiB = 1024 * 1024
const names: string[] = []
const children: ChildProcess[] = []
const dirs: string[] = []

function alert(type: AlertType, over: Partial<Alert> = {}): Alert {
  return {
    fingerprint: `${type}:test`,
    type,
    severity: 'warning',
    metric: type,
    value: null,
    threshold: null,
    resource: { kind: 'host', id: os.hostname(), name: os.hostname() },
    labels: {},
    source: 'test',
    at: new Date().toISOString(),
    ...over,
  }
}

async function container(
  prefix: string,
  cmd: string[],
  args: string[] = [],
  watched = true,
): Promise<{ id: string; name: string }> {
  const name = uniqueName(prefix)
  names.push(name)
  const id = await runContainer(name, { cmd, args, ...(watched ? { labels: { [LABEL_KEY]: 'true' } } : {}) })
  return { id, name }
}

const containerResource = (c: { id: string; name: string }) => ({ kind: 'container' as const, id: c.id, name: c.name })

function rss(pid: number): number {
  try {
    const m = /^VmRSS:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return m ? Number(m[1]) * 1024 : 0
  } catch {
    return 0
  }
}

after(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL')
  await removeContainers(...names)
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
})

describe('container_down', () => {
  test('exit code 3 after logging an error: restart, with exit code and redacted log lines as evidence', async () => {
    const c = await container('exit3', [
      'sh',
      '-c',
      'echo "worker starting"; echo "ERROR: cannot reach db password=hunter2" >&2; echo "shutting down"; exit 3',
    ])
    await waitFor(async () => !(await state(c.name)).Running, { timeoutMs: 20_000, what: 'container to exit' })
    const r = await analyseWithRules(
      alert('container_down', { resource: containerResource(c), details: { exitCode: 3 } }),
    )
    assert.deepEqual(r.proposed_fix, { action: 'restart_container', params: { containerId: c.id } })
    assert.equal(r.risk_level, 'low')
    assert.equal(r.cause, 'crash')
    assert.match(r.root_cause, /exited with an error \(code 3\)/)
    assert.ok(
      r.evidence.some((e) => e.includes('exit code 3')),
      r.evidence.join('\n'),
    )
    assert.ok(
      r.evidence.some((e) => e.startsWith('log (error)') && e.includes('cannot reach db')),
      r.evidence.join('\n'),
    )
    assert.ok(!JSON.stringify(r.evidence).includes('hunter2'))
    assert.ok(r.confidence > 0 && r.confidence <= 1)
    assert.equal((r.facts.container as { exitCode: number }).exitCode, 3)
    // The log tail (stdout and stderr, demultiplexed) is kept for the LLM.
    // (Docker keeps no order between the two streams, so each line is checked on its own.)
    const lines = r.logs!.trim().split('\n').sort()
    assert.deepEqual(lines, ['ERROR: cannot reach db password=hunter2', 'shutting down', 'worker starting'])
  })

  test('OOM-killed under --memory 8m: raise the memory limit', async (t) => {
    const c = await container(
      'oom',
      ['sh', '-c', 'echo filling; x=$(head -c 20000000 /dev/zero | tr "\\0" a); echo survived'],
      ['--memory', '8m', '--memory-swap', '8m'],
    )
    const s = await waitFor(
      async () => {
        const st = await state(c.name)
        return st.Running ? undefined : st
      },
      { timeoutMs: 30_000, what: 'container to be killed' },
    )
    const oom = (await docker('inspect', '--format', '{{.State.OOMKilled}}', c.name)) === 'true'
    if (!oom) {
      t.skip(`the kernel did not OOM-kill the container here (exit ${s.ExitCode}), so there is no OOM to analyse`)
      return
    }
    const r = await analyseWithRules(
      alert('container_down', { resource: containerResource(c), details: { exitCode: s.ExitCode } }),
    )
    assert.equal(r.proposed_fix?.action, 'update_memory_limit')
    assert.equal(r.cause, 'oom')
    assert.equal(r.evidenceRecord.container?.oomKilled, true)
    assert.equal(r.proposed_fix?.params.containerId, c.id)
    assert.equal(r.proposed_fix?.params.memoryBytes, raisedMemoryLimit(8 * MiB))
    assert.ok((r.proposed_fix?.params.memoryBytes as number) > 8 * MiB)
    assert.equal(r.risk_level, 'medium')
    assert.match(r.root_cause, /OOM-killed/)
    assert.ok(r.evidence.some((e) => e.includes('OOMKilled=true')))
    assert.ok(r.evidence.some((e) => e.includes('memory limit 8.0 MiB')))
  })

  test('command not found (127): no restart proposed', async () => {
    const c = await container('exit127', ['sh', '-c', 'no-such-binary-here'])
    await waitFor(async () => !(await state(c.name)).Running, { timeoutMs: 20_000, what: 'container to exit' })
    const r = await analyseWithRules(
      alert('container_down', { resource: containerResource(c), details: { exitCode: 127 } }),
    )
    assert.equal(r.proposed_fix, null)
    assert.equal(r.cause, 'bad_config')
    assert.match(r.root_cause, /not found \(code 127\)/)
  })

  test('a removed container: nothing to restart', async () => {
    const r = await analyseWithRules(
      alert('container_down', {
        resource: { kind: 'container', id: 'sentinel-test-gone-' + Date.now(), name: 'gone' },
        details: { exitCode: 1 },
      }),
    )
    assert.equal(r.proposed_fix, null)
    assert.match(r.root_cause, /it was removed, or Sentinel does not watch it/)
  })
})

describe('a container without the watch label', () => {
  const LOG_LINE = `unwatched-log-line-${randomBytes(4).toString('hex')}`

  test('is never looked into: no facts, no logs, no fix, whatever the alert type', async () => {
    const c = await container(
      'unwatched',
      ['sh', '-c', `echo "${LOG_LINE}"; echo "ERROR: ${LOG_LINE}" >&2; exit 3`],
      [],
      false,
    )
    await waitFor(async () => !(await state(c.name)).Running, { timeoutMs: 20_000, what: 'container to exit' })
    const byResource = { resource: containerResource(c) }
    const byLabel = {
      resource: { kind: 'endpoint' as const, id: 'http://svc', name: 'svc' },
      labels: { container: c.name },
    }
    for (const [type, over] of [
      ['container_down', byResource],
      ['container_unhealthy', byResource],
      ['memory', byResource],
      ['cpu', byResource],
      ['latency', byLabel],
      ['anomaly', { ...byLabel, metric: 'queue_depth' }],
      ['anomaly', { ...byResource, metric: 'container_memory_rss' }],
    ] as Array<[AlertType, Partial<Alert>]>) {
      const r = await analyseWithRules(alert(type, over), { cpuSampleMs: 100 })
      const what = `${type} ${JSON.stringify(over)}`
      assert.equal(r.proposed_fix, null, what)
      assert.equal(r.logs, undefined, what)
      assert.ok(!JSON.stringify(r).includes(LOG_LINE), `${what}: no log line of the unwatched container`)
      assert.equal(r.facts.container, undefined, what)
      assert.ok(r.unwatchedContainer, what)
      assert.match(r.root_cause, /does not watch it/, what)
    }
  })

  test('is not described to the LLM either: the LLM is not asked', async () => {
    const c = await container('unwatched-llm', ['sh', '-c', 'exit 1'], [], false)
    await waitFor(async () => !(await state(c.name)).Running, { timeoutMs: 20_000, what: 'container to exit' })
    // The base URL is a closed port: asking it would fail and say so in the fallback reason.
    const r = await analyzeIncident(alert('container_down', { resource: containerResource(c) }), {
      catalog: [],
      llm: { apiKey: 'k', baseURL: 'http://127.0.0.1:9/api/v1' },
    })
    assert.equal(r.analyser, 'rules')
    assert.match(r.fallbackReason ?? '', /^the alert names a container Sentinel does not watch/)
    assert.deepEqual(r.attempts, [])
    assert.equal(r.proposed_fix, null)
  })
})

describe('container_unhealthy', () => {
  test('a failing health check: restart, with the health log as evidence', async () => {
    const c = await container(
      'unhealthy',
      ['sh', '-c', 'echo serving; while true; do sleep 1; done; true'],
      [
        '--health-cmd',
        'echo "probe: connection refused"; exit 1',
        '--health-interval',
        '1s',
        '--health-retries',
        '1',
        '--health-timeout',
        '2s',
      ],
    )
    await waitFor(
      async () => (await docker('inspect', '--format', '{{.State.Health.Status}}', c.name)) === 'unhealthy',
      { timeoutMs: 30_000, what: 'container to turn unhealthy' },
    )
    const r = await analyseWithRules(alert('container_unhealthy', { resource: containerResource(c) }))
    assert.deepEqual(r.proposed_fix, { action: 'restart_container', params: { containerId: c.id } })
    assert.ok(
      r.evidence.some((e) => /^health unhealthy, failing streak \d+/.test(e)),
      r.evidence.join('\n'),
    )
    assert.ok(
      r.evidence.some((e) => e.includes('health check exit 1: probe: connection refused')),
      r.evidence.join('\n'),
    )
    assert.match(r.root_cause, /fails its health check/)
  })
})

describe('memory', () => {
  test('a container near its memory limit: raise the limit', async () => {
    // Files in /dev/shm (tmpfs) are charged to the container's memory cgroup.
    const c = await container(
      'memfull',
      ['sh', '-c', 'head -c 14000000 /dev/zero > /dev/shm/fill; echo held; while true; do sleep 1; done; true'],
      ['--memory', '16m', '--memory-swap', '16m'],
    )
    await waitFor(async () => (await docker('logs', c.name)).includes('held'), {
      timeoutMs: 20_000,
      what: 'memory to be filled',
    })
    const r = await analyseWithRules(
      alert('memory', {
        resource: containerResource(c),
        metric: 'container_memory_usage_ratio',
        value: 0.86,
        threshold: 0.8,
      }),
    )
    assert.equal(r.proposed_fix?.action, 'update_memory_limit', r.root_cause)
    assert.deepEqual(r.proposed_fix?.params, { containerId: c.id, memoryBytes: raisedMemoryLimit(16 * MiB) })
    assert.ok(
      r.evidence.some((e) => /memory in use .* of 16\.0 MiB/.test(e)),
      r.evidence.join('\n'),
    )
    assert.ok(Array.isArray(r.facts.topByRss))
  })

  test('host memory: the process holding it is listed by RSS', async () => {
    const holder = spawn(
      process.execPath,
      ['-e', 'const b = Buffer.alloc(400 * 1024 * 1024, 1); setInterval(() => b[0]++, 1000)'],
      { stdio: 'ignore' },
    )
    children.push(holder)
    await waitFor(() => rss(holder.pid!) > 350 * MiB, { timeoutMs: 20_000, what: 'the holder to allocate' })
    const r = await analyseWithRules(
      alert('memory', { metric: 'node_memory_used_ratio', value: 0.93, threshold: 0.9 }),
      { topN: 15 },
    )
    const top = r.facts.topByRss as Array<{ pid: number; rssBytes: number; containerId?: string }>
    const mine = top.find((p) => p.pid === holder.pid)
    assert.ok(mine, `pid ${holder.pid} among the top processes by RSS: ${top.map((p) => p.pid).join(',')}`)
    assert.ok(mine.rssBytes > 350 * MiB)
    assert.ok(r.evidence.some((e) => e.startsWith(`pid ${holder.pid} node`)))
    // The proposal is about the biggest process.
    const biggest = top[0]
    // No container on this host carries this test's watch label but its own: a containerised hog is not acted on.
    if (biggest.containerId) assert.equal(r.proposed_fix, null)
    else if (biggest.pid === holder.pid)
      assert.deepEqual(r.proposed_fix, { action: 'kill_process', params: { pid: holder.pid } })
    holder.kill('SIGKILL')
  })
})

describe('cpu', () => {
  test('a busy host process is found as a top CPU consumer and proposed for kill_process', async () => {
    const busy = spawn('sh', ['-c', 'while :; do :; done'], { stdio: 'ignore' })
    children.push(busy)
    try {
      const r = await analyseWithRules(alert('cpu', { metric: 'node_cpu_busy_ratio', value: 0.97, threshold: 0.9 }), {
        cpuSampleMs: 800,
      })
      const top = r.facts.topByCpu as Array<{ pid: number; cpuPercent: number; command: string }>
      const mine = top.find((p) => p.pid === busy.pid)
      assert.ok(
        mine,
        `pid ${busy.pid} among the top CPU consumers: ${JSON.stringify(top.map((p) => [p.pid, p.cpuPercent]))}`,
      )
      assert.ok(mine.cpuPercent > 20, `busy loop at ${mine.cpuPercent}%`)
      assert.match(mine.command, /while :; do :; done/)
      if (top[0].pid === busy.pid) {
        assert.deepEqual(r.proposed_fix, { action: 'kill_process', params: { pid: busy.pid } })
        assert.equal(r.risk_level, 'high')
        assert.match(r.root_cause, new RegExp(`pid ${busy.pid}`))
      }
    } finally {
      busy.kill('SIGKILL')
    }
  })

  test('a CPU-bound container: scale out', async () => {
    const c = await container('cpubusy', ['sh', '-c', 'while :; do :; done'])
    const r = await analyseWithRules(
      alert('cpu', { resource: containerResource(c), metric: 'container_cpu_ratio', value: 1, threshold: 0.8 }),
      { cpuSampleMs: 600 },
    )
    assert.deepEqual(r.proposed_fix, { action: 'scale_out', params: { containerId: c.id } })
    assert.equal(r.risk_level, 'medium')
    assert.equal(r.cause, 'cpu_hog')
    const usage = (r.facts.container as { usage?: { cpuPercent?: number } }).usage
    assert.ok(usage?.cpuPercent !== undefined && usage.cpuPercent > 20, `container CPU ${usage?.cpuPercent}`)
    // Its process is seen in /proc and mapped to the container through its cgroup.
    const top = r.facts.topByCpu as Array<{ containerId?: string }>
    assert.ok(
      top.some((p) => p.containerId === c.id),
      'the busy process is attributed to its container',
    )
  })
})

describe('disk', () => {
  function sandboxTree(sizes: Record<string, number>): string {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'sentinel-test-sandbox-'))
    dirs.push(dir)
    for (const d of ['logs', 'temp', 'cache', 'data']) mkdirSync(path.join(dir, d))
    for (const [file, size] of Object.entries(sizes)) {
      mkdirSync(path.dirname(path.join(dir, file)), { recursive: true })
      writeFileSync(path.join(dir, file), Buffer.alloc(size, 1))
    }
    return dir
  }

  test('logs and temp fill it: clean_sandbox; symlinks are not followed', async () => {
    const dir = sandboxTree({
      'logs/app.log': 3 * MiB,
      'logs/old/app.1.log': 1 * MiB,
      'temp/upload.tmp': 512 * 1024,
      'data/db.sqlite': 100 * 1024,
    })
    // A link to a big tree outside the sandbox must count as the link only.
    const outside = mkdtempSync(path.join(os.tmpdir(), 'sentinel-test-outside-'))
    dirs.push(outside)
    writeFileSync(path.join(outside, 'huge.bin'), Buffer.alloc(8 * MiB))
    symlinkSync(outside, path.join(dir, 'cache', 'link-out'))
    symlinkSync(path.join(outside, 'huge.bin'), path.join(dir, 'cache', 'huge-link'))
    const r = await analyseWithRules(
      alert('disk', {
        metric: 'node_filesystem_used_ratio',
        value: 0.95,
        threshold: 0.9,
        resource: { kind: 'filesystem', id: '/', name: '/' },
      }),
      { sandboxDir: dir },
    )
    assert.deepEqual(r.proposed_fix, { action: 'clean_sandbox', params: {} })
    assert.equal(r.risk_level, 'medium')
    assert.equal(r.cause, 'disk_fill')
    assert.match(r.root_cause, /logs\/ is filling the disk/)
    const sandbox = r.facts.sandbox as {
      subdirs: Record<string, { bytes: number; files: number; largest: Array<{ path: string }> }>
      cleanableBytes: number
    }
    assert.equal(sandbox.subdirs.logs.bytes, 4 * MiB)
    assert.equal(sandbox.subdirs.logs.files, 2)
    assert.equal(sandbox.subdirs.logs.largest[0].path, 'app.log')
    assert.ok(sandbox.subdirs.cache.bytes < 4096, `cache counted ${sandbox.subdirs.cache.bytes} bytes`)
    assert.ok(
      r.evidence.some((e) => e.startsWith('logs/ holds 4.0 MiB in 2 files')),
      r.evidence.join('\n'),
    )
  })

  test('data/ holds nearly everything: no clean proposed', async () => {
    const dir = sandboxTree({ 'data/big.db': 5 * MiB, 'logs/a.log': 10 * 1024 })
    const r = await analyseWithRules(alert('disk', { value: 0.95, threshold: 0.9 }), { sandboxDir: dir })
    assert.equal(r.proposed_fix, null)
    assert.match(r.root_cause, /data\/ holds most/)
  })
})

describe('latency', () => {
  // Was "scale out": latency up while the container's CPU is normal is a slow downstream (issue
  // #25), which more replicas would wait on the same; no fix is proposed.
  test('slow probes of an idle running container: a slow downstream, no fix, probes as evidence', async () => {
    const c = await container('slow', ['sh', '-c', 'while true; do sleep 1; done; true'])
    const details = {
      probes: [
        { url: 'http://127.0.0.1:9/health', status: 200, ms: 2300 },
        { url: 'http://127.0.0.1:9/health', status: 200, ms: 2900 },
      ],
    }
    const r = await analyseWithRules(
      alert('latency', {
        resource: containerResource(c),
        metric: 'probe_latency_ms',
        value: 2900,
        threshold: 1000,
        details,
      }),
    )
    assert.equal(r.cause, 'slow_downstream', r.root_cause)
    assert.equal(r.proposed_fix, null)
    const cpu = r.evidenceRecord.container?.usage?.cpuPercent
    assert.ok(cpu !== undefined && cpu < 50, `container CPU ${cpu}`)
    assert.ok(r.evidence.includes('probe http://127.0.0.1:9/health: HTTP 200 in 2900 ms'), r.evidence.join('\n'))
    assert.equal(r.facts.maxMs, 2900)
  })

  test('every probe failing against a running container: restart', async () => {
    const c = await container('stuck', ['sh', '-c', 'while true; do sleep 1; done; true'])
    const details = {
      probes: [
        { url: 'http://svc/health', error: 'ECONNREFUSED', ms: 3 },
        { url: 'http://svc/health', ok: false, status: 503, ms: 10 },
      ],
    }
    const r = await analyseWithRules(alert('latency', { resource: containerResource(c), details }))
    assert.deepEqual(r.proposed_fix, { action: 'restart_container', params: { containerId: c.id } })
    assert.ok(r.evidence.some((e) => e.includes('failed (ECONNREFUSED)')))
  })

  test('no container known: nothing to propose', async () => {
    const r = await analyseWithRules(
      alert('latency', {
        resource: { kind: 'endpoint', id: 'https://x', name: 'x' },
        details: { probes: [{ url: 'https://x', status: 200, ms: 5000 }] },
      }),
    )
    assert.equal(r.proposed_fix, null)
  })
})

describe('anomaly', () => {
  test('metric names map to the analysis they resemble', () => {
    assert.equal(anomalyKind('container_memory_rss'), 'memory')
    assert.equal(anomalyKind('node_cpu_seconds_total'), 'cpu')
    assert.equal(anomalyKind('node_filesystem_avail_bytes'), 'disk')
    assert.equal(anomalyKind('http_request_duration_seconds'), 'latency')
    assert.equal(anomalyKind('queue_depth'), undefined)
  })

  test('a disk-like anomaly is analysed as disk, with less confidence', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'sentinel-test-sandbox-'))
    dirs.push(dir)
    mkdirSync(path.join(dir, 'logs'))
    writeFileSync(path.join(dir, 'logs', 'x.log'), Buffer.alloc(MiB))
    const plain = await analyseWithRules(alert('disk'), { sandboxDir: dir })
    const r = await analyseWithRules(
      alert('anomaly', { metric: 'node_filesystem_used_bytes', value: 1e9, details: { zScore: 6.1, baseline: 2e8 } }),
      { sandboxDir: dir },
    )
    assert.deepEqual(r.proposed_fix, { action: 'clean_sandbox', params: {} })
    assert.match(r.root_cause, /^Anomalous node_filesystem_used_bytes/)
    assert.ok(r.evidence[0].includes('zScore=6.1'))
    assert.ok(r.confidence < plain.confidence)
  })

  test('an anomaly the rules cannot read: no fix, low confidence', async () => {
    const r = await analyseWithRules(alert('anomaly', { metric: 'queue_depth', value: 900, details: { zScore: 5 } }))
    assert.equal(r.proposed_fix, null)
    assert.ok(r.confidence <= 0.3)
  })
})

test('analyzeIncident without a key answers with the rules and says why', async () => {
  const c = await container('nokey', ['sh', '-c', 'echo bye; exit 2'])
  await waitFor(async () => !(await state(c.name)).Running, { timeoutMs: 20_000, what: 'container to exit' })
  const r = await analyzeIncident(
    alert('container_down', { resource: containerResource(c), details: { exitCode: 2 } }),
    { catalog: [], llm: {} },
  )
  assert.equal(r.analyser, 'rules')
  assert.equal(r.fallbackReason, 'no OPENROUTER_API_KEY')
  assert.deepEqual(r.proposed_fix, { action: 'restart_container', params: { containerId: c.id } })
  assert.deepEqual(r.attempts, [])
})

describe('an alert on another node of the fleet', () => {
  test("reads nothing of this host: not its processes for a node's CPU, not its engine for a node's container", async () => {
    // A busy process here, which a CPU analysis of this host would name.
    const busy = spawn(process.execPath, ['-e', 'for(;;){}'], { stdio: 'ignore' })
    children.push(busy)
    const node = `elsewhere-${randomBytes(3).toString('hex')}`
    for (const [type, over] of [
      ['cpu', { resource: { kind: 'host', id: node, name: node }, labels: { node } }],
      ['disk', { resource: { kind: 'filesystem', id: `${node}:/`, name: '/' }, labels: { node } }],
      ['container_down', { resource: { kind: 'container', id: 'c0ffee', name: 'web' }, labels: { node } }],
    ] as Array<[AlertType, Partial<Alert>]>) {
      const r = await analyseWithRules(alert(type, over), { cpuSampleMs: 100 })
      const what = `${type} on ${node}`
      assert.equal(r.proposed_fix, null, what)
      assert.match(r.root_cause, new RegExp(`node ${node}`), what)
      assert.match(r.root_cause, /does not read/, what)
      assert.ok(!JSON.stringify(r).includes(String(busy.pid)), `${what}: no process of this host`)
    }
    busy.kill('SIGKILL')
  })
})
