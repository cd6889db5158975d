/**
 * A real payload: Prometheus evaluates real alerting rules, sends them to Debian's Alertmanager,
 * which posts its webhook (version 4) to a receiver here. The schema and mapper must take it.
 */
import assert from 'node:assert/strict'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, describe, it } from 'node:test'
import { waitFor } from '../../tests/helpers/ports'
import { startAlertmanager, startPrometheus, type ManagedProcess } from '../../tests/helpers/prometheus'
import { AlertmanagerPayloadError, categorize, mapAlertmanagerWebhook, parseAlertmanagerWebhook } from './alertmanager'

const RULES = `groups:
  - name: sentinel-test
    rules:
      - alert: HighMemoryUsage
        expr: vector(1)
        for: 0s
        labels:
          severity: critical
          instance: "node-1:9100"
        annotations:
          summary: "memory is high"
          value: "{{ $value }}"
          threshold: "60"
      - alert: DiskAlmostFull
        expr: vector(97.5)
        for: 0s
        labels:
          instance: "node-1:9100"
          mountpoint: /data
        annotations:
          value: "{{ $value }}"
`

let receiver: http.Server
const bodies: string[] = []
let alertmanager: ManagedProcess
let prometheus: ManagedProcess

before(async () => {
  receiver = http.createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c) => chunks.push(c))
    req.on('end', () => {
      bodies.push(Buffer.concat(chunks).toString('utf8'))
      res.end()
    })
  })
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r))
  alertmanager = await startAlertmanager(`http://127.0.0.1:${(receiver.address() as AddressInfo).port}/alerts`)
  prometheus = await startPrometheus({
    scrapeTargets: [],
    rules: RULES,
    alertmanager: `127.0.0.1:${alertmanager.port}`,
  })
})

after(async () => {
  await Promise.all([prometheus?.stop(), alertmanager?.stop()])
  receiver.closeAllConnections()
  await new Promise((r) => receiver.close(r))
})

const parsedBodies = () => bodies.map((b) => JSON.parse(b) as { groupLabels: { alertname: string } })

describe('Alertmanager webhook', () => {
  let memoryBody = ''
  let diskBody = ''

  it('validates and maps a real payload from prometheus-alertmanager', async () => {
    await waitFor(
      () => {
        const names = parsedBodies().map((b) => b.groupLabels.alertname)
        return names.includes('HighMemoryUsage') && names.includes('DiskAlmostFull')
      },
      { timeoutMs: 45_000, intervalMs: 200, what: 'both webhooks from alertmanager' },
    )
    memoryBody = bodies[parsedBodies().findIndex((b) => b.groupLabels.alertname === 'HighMemoryUsage')]
    diskBody = bodies[parsedBodies().findIndex((b) => b.groupLabels.alertname === 'DiskAlmostFull')]

    const payload = parseAlertmanagerWebhook(memoryBody)
    assert.equal(payload.version, '4')
    assert.equal(payload.status, 'firing')
    assert.equal(payload.receiver, 'sentinel')
    assert.equal(payload.alerts.length, 1)
    const mapped = mapAlertmanagerWebhook(payload)
    assert.equal(mapped.resolved.length, 0)
    const [a] = mapped.firing
    assert.equal(a.fingerprint, `am:${payload.alerts[0].fingerprint}`)
    assert.match(a.fingerprint, /^am:[0-9a-f]{16}$/)
    assert.equal(a.type, 'memory')
    assert.equal(a.severity, 'critical')
    assert.deepEqual(a.resource, { kind: 'host', id: 'node-1:9100', name: 'node-1:9100' })
    assert.equal(a.value, 1)
    assert.equal(a.threshold, 60)
    assert.equal(a.metric, 'HighMemoryUsage')
    assert.match(a.source, /^alertmanager:http.*vector%281%29/)
    assert.equal(a.at, new Date(Date.parse(payload.alerts[0].startsAt)).toISOString())

    const disk = mapAlertmanagerWebhook(parseAlertmanagerWebhook(JSON.parse(diskBody))).firing[0]
    assert.equal(disk.type, 'disk')
    assert.equal(disk.severity, 'warning')
    assert.deepEqual(disk.resource, { kind: 'filesystem', id: 'node-1:9100:/data', name: '/data' })
    assert.equal(disk.value, 97.5)
    assert.equal(disk.threshold, null)
  })

  it('rejects malformed payloads naming the field and the reason', () => {
    const base = JSON.parse(memoryBody)
    const issues = (mutate: (p: any) => void) => {
      const p = structuredClone(base)
      mutate(p)
      try {
        parseAlertmanagerWebhook(JSON.stringify(p))
      } catch (err) {
        assert.ok(err instanceof AlertmanagerPayloadError)
        assert.equal(err.status, 400)
        return err.issues
      }
      assert.fail('expected a validation error')
    }
    assert.deepEqual(
      issues((p) => (p.version = '3')).map((i) => i.field),
      ['version'],
    )
    const time = issues((p) => (p.alerts[0].startsAt = 'yesterday'))
    assert.deepEqual(time, [{ field: 'alerts.0.startsAt', reason: 'expected an RFC 3339 time' }])
    assert.deepEqual(
      issues((p) => delete p.receiver).map((i) => i.field),
      ['receiver'],
    )
    assert.deepEqual(
      issues((p) => (p.alerts[0].labels.instance = 42)).map((i) => i.field),
      ['alerts.0.labels.instance'],
    )
    assert.deepEqual(
      issues((p) => (p.alerts[0].status = 'burning')).map((i) => i.field),
      ['alerts.0.status'],
    )
    assert.deepEqual(
      issues((p) => delete p.alerts[0].labels.alertname).map((i) => i.field),
      ['alerts.0.labels'],
    )
    assert.throws(
      () => parseAlertmanagerWebhook('{not json'),
      (e: any) =>
        e instanceof AlertmanagerPayloadError && e.issues[0].field === '(body)' && /not JSON/.test(e.issues[0].reason),
    )
    assert.throws(
      () => parseAlertmanagerWebhook('[]'),
      (e: any) => e.issues[0].reason === 'expected a JSON object',
    )
  })

  it('rejects oversized payloads before parsing them', () => {
    const base = JSON.parse(memoryBody)
    const big = JSON.stringify({ ...base, commonAnnotations: { blob: 'x'.repeat(2 * 1024 * 1024) } })
    assert.throws(
      () => parseAlertmanagerWebhook(big),
      (e: any) => e instanceof AlertmanagerPayloadError && e.status === 413 && e.issues[0].field === '(body)',
    )
    assert.throws(
      () => parseAlertmanagerWebhook(JSON.parse(big)),
      (e: any) => e.status === 413,
    )
    assert.throws(
      () => parseAlertmanagerWebhook(memoryBody, { maxBytes: 100 }),
      (e: any) => e.status === 413,
    )
    const many = { ...base, alerts: Array.from({ length: 5 }, () => base.alerts[0]) }
    assert.throws(
      () => parseAlertmanagerWebhook(many, { maxAlerts: 4 }),
      (e: any) => e.status === 413 && e.issues[0].field === 'alerts',
    )
    assert.equal(parseAlertmanagerWebhook(many, { maxAlerts: 5 }).alerts.length, 5)
  })

  it('maps alert names to Sentinel types', () => {
    const cases: Record<string, string> = {
      HighMemoryUsage: 'memory',
      ContainerOOMKilled: 'memory',
      NodeHighCPU: 'cpu',
      HostHighLoad: 'cpu',
      NodeFilesystemAlmostOutOfSpace: 'disk',
      DiskFull: 'disk',
      HighRequestLatency: 'latency',
      SlowResponses: 'latency',
      ContainerDown: 'container_down',
      ContainerExited: 'container_down',
      InstanceDown: 'container_down',
      Watchdog: 'other',
    }
    for (const [name, expected] of Object.entries(cases)) assert.equal(categorize({ alertname: name }), expected, name)
    assert.equal(categorize({ alertname: 'Whatever', sentinel_type: 'cpu' }), 'cpu')
  })
})
