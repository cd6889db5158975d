import assert from 'node:assert/strict'
import { test } from 'node:test'
import { judgeCpuHog } from './cpu-hog'
import { container, record } from './fixture'
import { judgeSlowDownstream } from './slow-downstream'

const hostCpu = (over: object = {}) => ({
  type: 'cpu' as const,
  metric: 'cpu_busy_percent',
  value: 97,
  threshold: 90,
  resource: { kind: 'host' as const, id: 'me', name: 'me' },
  ...over,
})

test('a busy container: scale out', () => {
  const c = container({
    running: true,
    status: 'running',
    usage: { memoryBytes: 1, memoryLimitBytes: 2, memoryPercent: 50, cpuPercent: 99 },
  })
  const v = judgeCpuHog(
    record({ alert: { type: 'cpu', metric: 'container_cpu_percent', value: 99, threshold: 80 }, container: c }),
  )!
  assert.equal(v.cause, 'cpu_hog')
  assert.deepEqual(v.proposed_fix, { action: 'scale_out', params: { containerId: c.id } })
})

test('a host process at its core: kill_process (high) when killable, nothing when protected', () => {
  const p = { pid: 777, name: 'yes', command: 'yes', rssBytes: 1, cpuPercent: 99.5, killable: true }
  const v = judgeCpuHog(record({ alert: hostCpu(), processes: { byCpu: [p] } }))!
  assert.deepEqual(v.proposed_fix, { action: 'kill_process', params: { pid: 777 } })
  assert.equal(v.risk_level, 'high')
  const guarded = judgeCpuHog(record({ alert: hostCpu(), processes: { byCpu: [{ ...p, killable: false }] } }))!
  assert.equal(guarded.proposed_fix, null)
})

test('the busiest process in a watched container: restart it; in an unwatched one: nothing', () => {
  const p = {
    pid: 5,
    name: 'node',
    command: 'node x',
    rssBytes: 1,
    cpuPercent: 180,
    containerId: 'a'.repeat(64),
    killable: false,
  }
  const watched = judgeCpuHog(record({ alert: hostCpu(), processes: { byCpu: [{ ...p, containerWatched: true }] } }))!
  assert.deepEqual(watched.proposed_fix, { action: 'restart_container', params: { containerId: p.containerId } })
  const not = judgeCpuHog(record({ alert: hostCpu(), processes: { byCpu: [{ ...p, containerWatched: false }] } }))!
  assert.equal(not.proposed_fix, null)
})

test('a CPU alert about another host names no process of this one', () => {
  const p = { pid: 777, name: 'yes', command: 'yes', rssBytes: 1, cpuPercent: 99.5, killable: true }
  const e = record({ alert: hostCpu({ node: 'db-7:9100', thisHost: false }), processes: { byCpu: [p] } })
  assert.equal(judgeCpuHog(e), null)
})

test('slow responses from a saturated container are a CPU hog, not a slow downstream', () => {
  const c = container({
    running: true,
    status: 'running',
    usage: { memoryBytes: 1, memoryLimitBytes: 2, memoryPercent: 50, cpuPercent: 97 },
  })
  const e = record({
    alert: { type: 'latency', metric: 'probe_latency_ms', value: 2500, threshold: 1000 },
    container: c,
    probes: [{ target: 'http://web/', status: 200, ms: 2500 }],
  })
  assert.equal(judgeCpuHog(e)?.proposed_fix?.action, 'scale_out')
  assert.equal(judgeSlowDownstream(e), null)
})
