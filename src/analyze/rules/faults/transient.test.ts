import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { Evidence } from '../../evidence/types'
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

const endpoint = {
  type: 'latency' as const,
  metric: 'latency_ms',
  value: 2500,
  threshold: 1000,
  resource: { kind: 'endpoint' as const, id: 'http://127.0.0.1:8080/api', name: 'http://127.0.0.1:8080/api' },
}
const fresh = (ms: number, over: Partial<NonNullable<Evidence['recheck']>> = {}): NonNullable<Evidence['recheck']> => ({
  target: 'http://127.0.0.1:8080/api',
  at: '2025-01-01T00:00:05.000Z',
  ms,
  ok: true,
  status: 200,
  timeoutMs: 2000,
  threshold: 1000,
  verdict: ms > 1000 ? 'over' : 'under',
  ...over,
})
// The probe's windowed p95 is still over when the incident opens: the series ends over the threshold.
const spike = points([120, 140, 110, 130, 125, 2500, 2500, 2500, 2400])

test('a short excursion the series still shows, and a fresh probe back under: transient, no fix', () => {
  const v = judgeTransient(record({ alert: endpoint, metricHistory: { points: spike }, recheck: fresh(12) }))!
  assert.equal(v.cause, 'transient')
  assert.equal(v.proposed_fix, null)
  assert.ok(v.evidence.some((l) => l.includes('fresh probe') && l.includes('12 ms')))
})

test('the same series without a fresh probe, or with one still slow or timing out: not transient', () => {
  assert.equal(judgeTransient(record({ alert: endpoint, metricHistory: { points: spike } })), null)
  assert.equal(
    judgeTransient(record({ alert: endpoint, metricHistory: { points: spike }, recheck: fresh(1800) })),
    null,
  )
  assert.equal(
    judgeTransient(
      record({
        alert: endpoint,
        metricHistory: { points: spike },
        recheck: fresh(2000, { ok: false, status: undefined, error: 'timeout', verdict: 'over' }),
      }),
    ),
    null,
  )
})

test('a fresh probe still slow outweighs a series that looks transient', () => {
  const back = points([120, 140, 110, 130, 125, 2500, 130, 120, 110, 115, 120, 118, 121, 119, 117, 116])
  assert.equal(judgeTransient(record({ alert: endpoint, metricHistory: { points: back } }))?.cause, 'transient')
  assert.equal(judgeTransient(record({ alert: endpoint, metricHistory: { points: back }, recheck: fresh(2300) })), null)
})

test('a fresh probe back under after a long excursion, or with no normal stretch before it: not transient', () => {
  // Over for most of the series: an outage that has just ended, not a transient.
  const long = points([120, 130, 2500, 2600, 2400, 2500, 2550, 2450, 2500])
  assert.equal(judgeTransient(record({ alert: endpoint, metricHistory: { points: long }, recheck: fresh(12) })), null)
  // Over for 20 minutes (one reading a minute) in a longer series: longer than a probe window keeps a burst.
  const slowHour = points([...Array(40).fill(120), ...Array(20).fill(2500)])
  assert.equal(
    judgeTransient(record({ alert: endpoint, metricHistory: { points: slowHour }, recheck: fresh(12) })),
    null,
  )
  const fromStart = points([2500, 2500, 120, 130, 125, 118])
  assert.equal(
    judgeTransient(record({ alert: endpoint, metricHistory: { points: fromStart }, recheck: fresh(12) })),
    null,
  )
})
