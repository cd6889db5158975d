import assert from 'node:assert/strict'
import { test } from 'node:test'
import { judgeCpuHog } from './cpu-hog'
import { container, logs, record } from './fixture'
import { judgeSlowDownstream } from './slow-downstream'

const latency = { type: 'latency' as const, metric: 'probe_latency_ms', value: 2400, threshold: 1000 }
const idle = (cpuPercent?: number) =>
  container({
    running: true,
    status: 'running',
    usage: {
      memoryBytes: 1,
      memoryLimitBytes: 2,
      memoryPercent: 10,
      ...(cpuPercent !== undefined ? { cpuPercent } : {}),
    },
  })

test('slow answers, CPU normal: a slow downstream, no fix', () => {
  const e = record({ alert: latency, container: idle(4), probes: [{ target: 'http://web/', status: 200, ms: 2400 }] })
  const v = judgeSlowDownstream(e)!
  assert.equal(v.cause, 'slow_downstream')
  assert.equal(v.proposed_fix, null)
  assert.equal(judgeCpuHog(e), null)
})

test('a log naming the slow upstream raises the confidence', () => {
  const plain = judgeSlowDownstream(record({ alert: latency, container: idle(4) }))!
  const told = judgeSlowDownstream(
    record({ alert: latency, container: idle(4), logs: logs('WARN upstream timed out after 2000ms (db)') }),
  )!
  assert.ok(told.confidence > plain.confidence)
})

test('CPU unknown or high, or every probe failing: not a slow downstream', () => {
  assert.equal(judgeSlowDownstream(record({ alert: latency, container: idle() })), null)
  assert.equal(judgeSlowDownstream(record({ alert: latency, container: idle(95) })), null)
  assert.equal(
    judgeSlowDownstream(
      record({ alert: latency, container: idle(3), probes: [{ target: 'http://web/', error: 'ECONNREFUSED' }] }),
    ),
    null,
  )
})
