import assert from 'node:assert/strict'
import { test } from 'node:test'
import { container, MiB, points, record } from './fixture'
import { judgeKilled } from './killed'
import { judgeOom } from './oom'
import { raisedMemoryLimit } from './types'

test('OOM-killed with a limit: raise the limit, medium risk', () => {
  const e = record({ container: container({ oomKilled: true, exitCode: 137, memoryLimitBytes: 64 * MiB }) })
  const v = judgeOom(e)!
  assert.equal(v.cause, 'oom')
  assert.deepEqual(v.proposed_fix, {
    action: 'update_memory_limit',
    params: { containerId: e.container!.id, memoryBytes: raisedMemoryLimit(64 * MiB) },
  })
  assert.equal(v.risk_level, 'medium')
  assert.ok(v.evidence.some((l) => l.includes('OOMKilled=true')))
  assert.ok(v.confidence >= 0.8)
  // The kill rule stands back for an OOM kill.
  assert.equal(judgeKilled(e), null)
})

test('OOM-killed without a limit: the host ran out; a restart, no limit to raise', () => {
  const v = judgeOom(record({ container: container({ oomKilled: true, exitCode: 137 }) }))!
  assert.equal(v.cause, 'oom')
  assert.equal(v.proposed_fix?.action, 'restart_container')
  assert.match(v.root_cause, /host ran out of memory/)
})

test('killed by SIGKILL with memory at its limit just before: OOM, more likely than a kill', () => {
  const finished = new Date(Date.parse('2025-01-01T00:00:00Z')).toISOString()
  const e = record({
    container: container({ exitCode: 137, memoryLimitBytes: 100 * MiB, finishedAt: finished }),
    memoryPercentHistory: { points: points([60, 75, 88, 97]) },
  })
  const oom = judgeOom(e)!
  const kill = judgeKilled(e)!
  assert.equal(oom.cause, 'oom')
  assert.equal(oom.proposed_fix?.action, 'update_memory_limit')
  assert.ok(oom.confidence > kill.confidence, `${oom.confidence} > ${kill.confidence}`)
})

test('killed by SIGKILL with memory far from its limit: no OOM', () => {
  const e = record({
    container: container({ exitCode: 137, memoryLimitBytes: 100 * MiB }),
    memoryPercentHistory: { points: points([30, 31, 30, 32]) },
  })
  assert.equal(judgeOom(e), null)
})

test('a memory alert at 85% of the limit: raise it; at 50%: nothing', () => {
  const at = (pct: number) =>
    record({
      alert: { type: 'memory', metric: 'container_memory_percent', value: pct, threshold: 80 },
      container: container({
        running: true,
        status: 'running',
        memoryLimitBytes: 100 * MiB,
        usage: { memoryBytes: pct * MiB, memoryLimitBytes: 100 * MiB, memoryPercent: pct },
      }),
    })
  assert.equal(judgeOom(at(85))?.proposed_fix?.action, 'update_memory_limit')
  assert.equal(judgeOom(at(50)), null)
})

test('no container: not this rule', () => {
  assert.equal(judgeOom(record({ alert: { type: 'memory', resource: { kind: 'host', id: 'h', name: 'h' } } })), null)
})

test('OOM-killed with a limit and restarted by the fast path: still raise the limit', () => {
  const e = record({
    container: container({
      running: true,
      status: 'running',
      oomKilled: false,
      exitCode: 0,
      memoryLimitBytes: 64 * MiB,
    }),
    eventExitCode: 137,
    alert: { details: { oomKilled: true } },
    decidedBefore: { actionId: 'restart_container', route: 'auto', at: '2025-01-01T00:00:01.000Z' },
  })
  const v = judgeOom(e)!
  assert.equal(v.proposed_fix?.action, 'update_memory_limit')
})

test('OOM-killed without a limit, restarted by the fast path: the restart it got, said so', () => {
  const v = judgeOom(
    record({
      container: container({ running: true, status: 'running', exitCode: 0 }),
      alert: { details: { oomKilled: true } },
      decidedBefore: { actionId: 'restart_container', route: 'auto', at: '2025-01-01T00:00:01.000Z' },
    }),
  )!
  assert.equal(v.proposed_fix?.action, 'restart_container')
  assert.match(v.root_cause, /Sentinel restarted it already/)
})
