import assert from 'node:assert/strict'
import { test } from 'node:test'
import { judgeBadConfig } from './bad-config'
import { judgeDependencyUnreachable } from './dependency-unreachable'
import type { Evidence } from '../../evidence/types'
import { container, logs, record, T0 } from './fixture'

test('connection refused in the log: dependency unreachable, no restart', () => {
  const e = record({
    container: container({ exitCode: 1 }),
    logs: logs('connecting to db:5432', 'Error: connect ECONNREFUSED 172.18.0.4:5432'),
  })
  const v = judgeDependencyUnreachable(e)!
  assert.equal(v.cause, 'dependency_unreachable')
  assert.equal(v.proposed_fix, null)
  assert.ok(v.evidence.some((l) => l.includes('ECONNREFUSED')))
  assert.equal(judgeBadConfig(e), null)
})

test('DNS errors count', () => {
  for (const line of [
    'getaddrinfo ENOTFOUND redis',
    'dial tcp: lookup postgres on 127.0.0.11:53: no such host',
    'could not translate host name "db" to address: Temporary failure in name resolution',
  ]) {
    assert.equal(
      judgeDependencyUnreachable(record({ container: container(), logs: logs(line) }))?.cause,
      'dependency_unreachable',
      line,
    )
  }
})

test('a missing variable logged after a refused connection: bad config is likelier', () => {
  const e = record({
    container: container(),
    logs: logs('connection refused (retrying)', 'FATAL: environment variable REDIS_URL is not set'),
  })
  assert.ok(judgeBadConfig(e)!.confidence > judgeDependencyUnreachable(e)!.confidence)
})

test('an endpoint Sentinel does not run whose every probe fails to resolve: unreachable, nothing to do', () => {
  const v = judgeDependencyUnreachable(
    record({
      alert: {
        type: 'latency',
        metric: 'probe_latency_ms',
        resource: { kind: 'endpoint', id: 'http://x', name: 'http://x' },
      },
      probes: [
        { target: 'http://x', error: 'getaddrinfo ENOTFOUND x' },
        { target: 'http://x', error: 'getaddrinfo ENOTFOUND x' },
      ],
    }),
  )!
  assert.equal(v.cause, 'dependency_unreachable')
  assert.equal(v.proposed_fix, null)
})

test('an error log without a connection failure: not this rule', () => {
  assert.equal(
    judgeDependencyUnreachable(record({ container: container(), logs: logs('ERROR: cannot reach db') })),
    null,
  )
})

test('more DNS and connect failures: busybox "bad address", NXDOMAIN, connect timeouts', () => {
  for (const line of [
    "wget: bad address 'stock-db-1.invalid:8080'",
    "** server can't find db.internal: NXDOMAIN",
    'psql: error: could not translate host name "db" to address: Name or service not known',
    'curl: (6) Could not resolve host: api.internal',
    'curl: (7) Failed to connect to 10.0.0.5 port 443: No route to host',
    'curl: (28) Failed to connect to api port 443: Connection timed out',
    'dial tcp 10.0.0.5:5432: i/o timeout',
    'dial tcp 10.0.0.5:5432: connect: connection timed out',
    'Error: connect ETIMEDOUT 10.0.0.1:443',
  ]) {
    assert.equal(
      judgeDependencyUnreachable(record({ container: container(), logs: logs(line) }))?.cause,
      'dependency_unreachable',
      line,
    )
  }
})

test('a slow answer or a memory fault is not an unreachable dependency', () => {
  for (const line of [
    'read tcp 10.0.0.2:41234->10.0.0.5:5432: i/o timeout',
    'requests.exceptions.ReadTimeout: Read timed out. (read timeout=5)',
    'WARN upstream timed out after 2000ms (db)',
    'write: Bad address',
  ]) {
    assert.equal(judgeDependencyUnreachable(record({ container: container(), logs: logs(line) })), null, line)
  }
})

const endpoint = {
  type: 'latency' as const,
  metric: 'latency_ms',
  value: 5000,
  threshold: 1000,
  resource: { kind: 'endpoint' as const, id: 'http://x/', name: 'http://x/' },
}
const fresh = (over: Partial<NonNullable<Evidence['recheck']>>): NonNullable<Evidence['recheck']> => ({
  target: 'http://x/',
  at: new Date(T0).toISOString(),
  ms: 3,
  ok: false,
  timeoutMs: 2000,
  threshold: 1000,
  verdict: 'failed',
  ...over,
})

test('an endpoint whose fresh probe is refused: unreachable; one that answers now: not this rule', () => {
  const down = judgeDependencyUnreachable(
    record({ alert: endpoint, recheck: fresh({ error: 'ECONNREFUSED', verdict: 'failed' }) }),
  )!
  assert.equal(down.cause, 'dependency_unreachable')
  assert.ok(down.evidence.some((l) => l.includes('fresh probe') && l.includes('ECONNREFUSED')))
  // The alert's probes failed, but it answers when probed again.
  const answers = record({
    alert: endpoint,
    probes: [{ target: 'http://x/', error: 'getaddrinfo ENOTFOUND x' }],
    recheck: fresh({ ok: true, status: 200, ms: 40, verdict: 'under' }),
  })
  assert.equal(judgeDependencyUnreachable(answers), null)
})
