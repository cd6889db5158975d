import assert from 'node:assert/strict'
import { test } from 'node:test'
import { judgeBadConfig } from './bad-config'
import { judgeDependencyUnreachable } from './dependency-unreachable'
import { container, logs, record } from './fixture'

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
