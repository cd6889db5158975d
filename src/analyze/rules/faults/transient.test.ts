import assert from 'node:assert/strict'
import { test } from 'node:test'
import { container, points, record } from './fixture'
import { judgeTransient } from './transient'

const cpu = { type: 'cpu' as const, metric: 'cpu_busy_percent', value: 96, threshold: 90 }

test('one reading over the threshold, back under since: transient, no fix', () => {
  const v = judgeTransient(record({ alert: cpu, metricHistory: { points: points([20, 25, 22, 96, 30, 24, 21]) } }))!
  assert.equal(v.cause, 'transient')
  assert.equal(v.proposed_fix, null)
  assert.match(v.root_cause, /peak 96/)
})

test('a rise that holds, or that is still over: not transient', () => {
  assert.equal(
    judgeTransient(record({ alert: cpu, metricHistory: { points: points([20, 92, 95, 96, 97, 94, 93]) } })),
    null,
  )
  assert.equal(
    judgeTransient(record({ alert: cpu, metricHistory: { points: points([20, 25, 22, 24, 30, 24, 96]) } })),
    null,
  )
  assert.equal(
    judgeTransient(record({ alert: cpu, metricHistory: { points: points([20, 25, 22, 93, 89, 95, 88, 92, 85]) } })),
    null,
  )
})

test('no history or no threshold: nothing to say', () => {
  assert.equal(judgeTransient(record({ alert: cpu })), null)
  assert.equal(
    judgeTransient(record({ alert: { ...cpu, threshold: null }, metricHistory: { points: points([1, 2, 99, 3, 4]) } })),
    null,
  )
})

test('an anomaly uses its expected range as the threshold', () => {
  const v = judgeTransient(
    record({
      alert: { type: 'anomaly', metric: 'latency_ms', value: 900, threshold: null, details: { expectedHigh: 300 } },
      metricHistory: { points: points([120, 130, 900, 140, 125]) },
    }),
  )
  assert.equal(v?.cause, 'transient')
})

test('a dead container is not transient whatever its series', () => {
  const e = record({
    alert: { type: 'latency', metric: 'probe_latency_ms', value: 2000, threshold: 1000 },
    container: container(),
    metricHistory: { points: points([100, 120, 2000, 110, 100]) },
  })
  assert.equal(judgeTransient(e), null)
})
