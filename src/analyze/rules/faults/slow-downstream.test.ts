import assert from 'node:assert/strict'
import { test } from 'node:test'
import { judgeCpuHog } from './cpu-hog'
import type { Evidence } from '../../evidence/types'
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

const endpoint = {
  type: 'latency' as const,
  metric: 'latency_ms',
  value: 2400,
  threshold: 1000,
  resource: { kind: 'endpoint' as const, id: 'http://127.0.0.1:8080/api', name: 'http://127.0.0.1:8080/api' },
}
const slowAgain: NonNullable<Evidence['recheck']> = {
  target: 'http://127.0.0.1:8080/api',
  at: '2025-01-01T00:00:05.000Z',
  ms: 1650,
  ok: true,
  status: 200,
  timeoutMs: 2000,
  threshold: 1000,
  verdict: 'over',
}
const hostAt = (cpu: number): Evidence['host'] => ({
  cores: 2,
  readings: [{ metric: 'cpu_busy_percent', value: cpu, at: '2025-01-01T00:00:00.000Z' }],
})

test('an endpoint without a container, still slow when probed again, host CPU normal: slow downstream, less sure', () => {
  const v = judgeSlowDownstream(record({ alert: endpoint, recheck: slowAgain, host: hostAt(22) }))!
  assert.equal(v.cause, 'slow_downstream')
  assert.equal(v.proposed_fix, null)
  assert.ok(v.evidence.some((l) => l.includes('host CPU 22%')))
  assert.ok(v.evidence.some((l) => l.includes('fresh probe') && l.includes('1650 ms')))
  const withContainer = judgeSlowDownstream(record({ alert: latency, container: idle(4) }))!
  assert.ok(v.confidence < withContainer.confidence, `${v.confidence} < ${withContainer.confidence}`)
  // A fresh probe that timed out is slow too.
  const timedOut = { ...slowAgain, ms: 2000, ok: false, status: undefined, error: 'timeout' }
  assert.equal(
    judgeSlowDownstream(record({ alert: endpoint, recheck: timedOut, host: hostAt(22) }))?.cause,
    'slow_downstream',
  )
})

test('host CPU saturated or unknown, the fresh probe fast or failing, or no fresh probe: not a slow downstream', () => {
  assert.equal(judgeSlowDownstream(record({ alert: endpoint, recheck: slowAgain, host: hostAt(92) })), null)
  assert.equal(judgeSlowDownstream(record({ alert: endpoint, recheck: slowAgain, host: { cores: 2 } })), null)
  assert.equal(
    judgeSlowDownstream(
      record({ alert: endpoint, recheck: { ...slowAgain, ms: 15, verdict: 'under' }, host: hostAt(22) }),
    ),
    null,
  )
  assert.equal(
    judgeSlowDownstream(
      record({
        alert: endpoint,
        recheck: { ...slowAgain, ms: 2, ok: false, status: undefined, error: 'ECONNREFUSED', verdict: 'failed' },
        host: hostAt(22),
      }),
    ),
    null,
  )
  assert.equal(judgeSlowDownstream(record({ alert: endpoint, host: hostAt(22) })), null)
})
