import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { startRedis, type TestRedis } from '../../tests/helpers/redis'
import { waitFor } from '../../tests/helpers/ports'
import { RedisReadingHistory } from '../observe/collectors/ring-buffer'
import { startNodeExporter, startPrometheus, type ManagedProcess } from '../../tests/helpers/prometheus'
import type { Alert } from '../platform/store/model'
import { metricHistory } from './metric-history'

const alert = (over: Partial<Alert>): Alert => ({
  fingerprint: 'memory:x',
  type: 'memory',
  severity: 'warning',
  metric: 'memory_used_percent',
  value: 70,
  threshold: 60,
  resource: { kind: 'host', id: 'h', name: 'h' },
  labels: {},
  source: 'collector /proc/meminfo',
  at: new Date().toISOString(),
  ...over,
})

describe('metric history for the analysis', () => {
  let redis: TestRedis
  let exporter: ManagedProcess
  let prometheus: ManagedProcess
  before(async () => {
    redis = await startRedis()
    exporter = await startNodeExporter()
    prometheus = await startPrometheus({ scrapeTargets: [`127.0.0.1:${exporter.port}`] })
  })
  after(async () => {
    await prometheus?.stop()
    await exporter?.stop()
    await redis?.stop()
  })

  it("reads the collectors' ring buffer for a collector alert", async () => {
    const series = 'memory|host|h'
    const h = new RedisReadingHistory(redis.client, 120, 'sentinel:observe:history:')
    const t0 = Date.now() - 60_000
    for (let i = 0; i < 5; i++) {
      await h.record([
        {
          series,
          metric: 'memory',
          value: 50 + i,
          unit: 'percent',
          resource: { kind: 'host', id: 'h', name: 'h' },
          labels: {},
          source: 'collector',
          query: 'x',
          at: new Date(t0 + i * 1000).toISOString(),
        } as any,
      ])
    }
    const points = await metricHistory(
      alert({ details: { series, readingSource: 'collector' } }),
      { PROMETHEUS_URL: undefined },
      redis.client,
    )
    assert.deepEqual(
      points.map((p) => p[1]),
      [50, 51, 52, 53, 54],
    )
    assert.equal(points[0][0], t0)
  })

  it("runs the alert's own PromQL as a range query for a Prometheus alert", async () => {
    const promql = `node_memory_MemTotal_bytes{instance="127.0.0.1:${exporter.port}"}`
    const a = alert({ source: promql, details: { series: 'none', readingSource: 'prometheus' } })
    const points = await waitFor(
      async () => {
        const p = await metricHistory(a, { PROMETHEUS_URL: prometheus.url }, redis.client)
        return p.length ? p : null
      },
      { timeoutMs: 30_000, what: 'a range of samples from Prometheus' },
    )
    assert.ok(points[0][1] > 0, 'real MemTotal bytes')
  })
})
