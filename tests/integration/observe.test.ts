/**
 * Observe, wired into a real Sentinel: the monitor cron step (here every 2 s, on the host's own
 * collectors since no Prometheus is configured) opens one incident for a threshold crossed;
 * /api/infrastructure-status shows the readings and why the collectors are the source; the
 * Alertmanager webhook opens and resolves incidents and refuses bad payloads. With a real
 * Prometheus that is stopped and started again, /healthz says which source the monitor uses, why,
 * and switches back.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { startNodeExporter, startPrometheus, type ManagedProcess } from '../helpers/prometheus'
import { sleep, waitFor } from '../helpers/ports'
import { startRedis, type TestRedis } from '../helpers/redis'
import { type SentinelInstance, startSentinel } from '../helpers/sentinel'

describe('observe', () => {
  let redis: TestRedis
  let sentinel: SentinelInstance

  before(async () => {
    redis = await startRedis()
    sentinel = await startSentinel({
      redisPort: redis.port,
      env: {
        MONITOR_CRON: '*/2 * * * * *',
        // Any machine uses more than 0.5 % of its memory: the threshold is crossed at once.
        THRESHOLD_MEMORY_PERCENT: '0.5',
        THRESHOLD_CPU_PERCENT: '100',
        THRESHOLD_LATENCY_MS: '1000000',
        ALERT_FOR_SECONDS: '3',
      },
    })
  })
  after(async () => {
    await sentinel?.cleanup()
    await redis?.stop()
  })

  it('opens exactly one incident for a memory threshold that holds past its `for` time', async () => {
    const memory = await waitFor(
      async () => {
        const r = await sentinel.get('/api/incidents?view=full&type=memory')
        return r.body.incidents.length ? r.body.incidents : null
      },
      { timeoutMs: 60_000, what: 'a memory incident from the monitor' },
    )
    assert.equal(memory.length, 1)
    const inc = memory[0]
    assert.equal(inc.alert.threshold, 0.5)
    assert.ok(inc.alert.value > 0.5)
    assert.ok(inc.alert.fingerprint)
    assert.match(inc.alert.source, /collector|proc/i)
    const openedAt = Date.parse(inc.openedAt)
    const firstTick = Date.parse(inc.alert.at)
    assert.ok(openedAt - firstTick >= 0)
    // More ticks pass; the same fingerprint keeps feeding the one open incident.
    await sleep(5000)
    const again = (await sentinel.get('/api/incidents?view=full&type=memory')).body.incidents
    assert.equal(again.length, 1)

    const status = await sentinel.get('/api/infrastructure-status', 'viewer')
    assert.equal(status.status, 200)
    assert.equal(status.body.sourceStatus.source, 'collector')
    assert.match(status.body.sourceStatus.reason, /prometheus not configured/)
    const mem = status.body.checks.find((c: any) => c.check === 'memory')
    assert.equal(mem.state, 'firing')

    const health = await sentinel.get('/healthz', null)
    assert.equal(health.body.monitoring.source, 'collectors')
    assert.match(health.body.monitoring.reason, /prometheus not configured/)
    assert.equal(health.body.monitoring.since, status.body.sourceStatus.since)
  })

  it('takes Alertmanager webhooks: firing opens, resolved resolves, bad payloads change nothing', async () => {
    const alert = (status: 'firing' | 'resolved') => ({
      status,
      labels: {
        alertname: 'HighDiskUsage',
        instance: 'db-1:9100',
        mountpoint: '/var/lib/postgresql',
        severity: 'critical',
      },
      annotations: { summary: 'disk almost full' },
      startsAt: new Date(Date.now() - 60_000).toISOString(),
      endsAt: status === 'resolved' ? new Date().toISOString() : '0001-01-01T00:00:00Z',
      generatorURL: 'http://prometheus.local/graph',
      fingerprint: 'c0ffee1234567890',
    })
    const payload = (status: 'firing' | 'resolved') => ({
      version: '4',
      groupKey: '{}:{alertname="HighDiskUsage"}',
      truncatedAlerts: 0,
      status,
      receiver: 'sentinel',
      groupLabels: { alertname: 'HighDiskUsage' },
      commonLabels: { alertname: 'HighDiskUsage' },
      commonAnnotations: {},
      externalURL: 'http://alertmanager.local',
      alerts: [alert(status)],
    })
    assert.equal((await sentinel.post('/api/alerts/alertmanager', payload('firing'), 'viewer')).status, 403)
    const fired = await sentinel.post('/api/alerts/alertmanager', payload('firing'), 'operator')
    assert.equal(fired.status, 200, JSON.stringify(fired.body))
    assert.equal(fired.body.opened.length, 1)
    const again = await sentinel.post('/api/alerts/alertmanager', payload('firing'), 'operator')
    assert.deepEqual(again.body.opened, [])
    assert.deepEqual(again.body.updated, fired.body.opened)
    const id = fired.body.opened[0]
    const inc = (await sentinel.get(`/api/incidents/${id}`)).body
    assert.equal(inc.fingerprint, 'am:c0ffee1234567890')
    assert.equal(inc.type, 'disk')

    const before = (await sentinel.get('/api/incidents?view=full&limit=200')).body.incidents.length
    const malformed = await sentinel.post(
      '/api/alerts/alertmanager',
      { version: '4', alerts: [{ status: 'sometimes' }] },
      'operator',
    )
    assert.equal(malformed.status, 400)
    assert.ok(malformed.body.details.fields.length > 0)
    const huge = await sentinel.post(
      '/api/alerts/alertmanager',
      { ...payload('firing'), padding: 'x'.repeat(2 * 1024 * 1024) },
      'operator',
    )
    assert.equal(huge.status, 413)
    assert.equal((await sentinel.get('/api/incidents?view=full&limit=200')).body.incidents.length, before)

    const resolved = await sentinel.post('/api/alerts/alertmanager', payload('resolved'), 'operator')
    assert.deepEqual(resolved.body.resolved, [id])
    assert.equal((await sentinel.get(`/api/incidents/${id}`)).body.status, 'resolved')
  })
})

describe('observe: the monitoring source on /healthz', () => {
  let redis: TestRedis
  let sentinel: SentinelInstance
  let exporter: ManagedProcess
  let prometheus: ManagedProcess

  before(async () => {
    exporter = await startNodeExporter()
    prometheus = await startPrometheus({ scrapeTargets: [`127.0.0.1:${exporter.port}`] })
    redis = await startRedis()
    sentinel = await startSentinel({
      redisPort: redis.port,
      env: {
        PROMETHEUS_URL: prometheus.url,
        NODE_INSTANCE: `127.0.0.1:${exporter.port}`,
        MONITOR_CRON: '*/2 * * * * *',
        // Only the source matters here: no threshold is crossed.
        THRESHOLD_MEMORY_PERCENT: '100',
        THRESHOLD_CPU_PERCENT: '100',
        THRESHOLD_DISK_PERCENT: '100',
        THRESHOLD_LATENCY_MS: '3600000',
      },
    })
  })
  after(async () => {
    await sentinel?.cleanup()
    await redis?.stop()
    await prometheus?.stop()
    await exporter?.stop()
  })

  const monitoringOn = (source: string) =>
    waitFor(
      async () => {
        const h = await sentinel.get('/healthz', null)
        return h.body.monitoring?.source === source ? h.body.monitoring : null
      },
      { timeoutMs: 60_000, intervalMs: 500, what: `/healthz to report the ${source} as the monitoring source` },
    )

  it('says which source is in use and why, falls back when Prometheus stops and switches back when it returns', async () => {
    const up = await monitoringOn('prometheus')
    assert.match(up.reason, /^prometheus reachable at /)
    assert.ok(Date.parse(up.since) <= Date.parse(up.checkedAt))

    await prometheus.kill()
    const down = await monitoringOn('collectors')
    assert.match(down.reason, /prometheus unreachable: ECONNREFUSED/)
    assert.ok(Date.parse(down.since) > Date.parse(up.since), 'the fallback has its own start time')
    // The status API and /healthz read the same record.
    const status = (await sentinel.get('/api/infrastructure-status', 'viewer')).body.sourceStatus
    assert.equal(status.source, 'collector')
    assert.match(status.reason, /prometheus unreachable/)

    await prometheus.restart()
    const back = await monitoringOn('prometheus')
    assert.match(back.reason, /^prometheus reachable at /)
    assert.ok(Date.parse(back.since) > Date.parse(down.since), 'switched back, since the return')
  })
})
