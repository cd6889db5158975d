import assert from 'node:assert/strict'
import { test } from 'node:test'
import { judgeBadConfig } from './bad-config'
import { judgeDependencyUnreachable } from './dependency-unreachable'
import { container, logs, record } from './fixture'

test('a missing variable in the log of a crash loop: bad config, no restart', () => {
  const e = record({
    container: container({ exitCode: 1, restartCount: 4 }),
    logs: logs('starting api v2', 'FATAL: missing required environment variable DATABASE_URL'),
  })
  const v = judgeBadConfig(e)!
  assert.equal(v.cause, 'bad_config')
  assert.equal(v.proposed_fix, null)
  assert.ok(v.evidence.some((l) => l.includes('DATABASE_URL')))
  assert.ok(v.confidence >= 0.8)
  assert.equal(judgeDependencyUnreachable(e), null)
})

test('an invalid setting and a missing config file are bad config too', () => {
  for (const line of [
    'error: invalid configuration: listen_port must be a number',
    'open /etc/app/config.yaml: no such file or directory',
    'Error: PORT is not set',
  ]) {
    assert.equal(judgeBadConfig(record({ container: container(), logs: logs(line) }))?.cause, 'bad_config', line)
  }
})

test('command not found (127): bad config, no restart', () => {
  const v = judgeBadConfig(record({ container: container({ exitCode: 127 }) }))!
  assert.equal(v.cause, 'bad_config')
  assert.equal(v.proposed_fix, null)
})

test('a crash whose log says nothing about configuration: not this rule', () => {
  assert.equal(judgeBadConfig(record({ container: container(), logs: logs('panic: index out of range') })), null)
})

test('a connection refused after the config warning: the dependency is likelier', () => {
  const e = record({
    container: container(),
    logs: logs('warning: invalid value for LOG_LEVEL, using info', 'Error: connect ECONNREFUSED 10.0.0.5:5432'),
  })
  const cfg = judgeBadConfig(e)!
  const dep = judgeDependencyUnreachable(e)!
  assert.ok(dep.confidence > cfg.confidence, `${dep.confidence} > ${cfg.confidence}`)
})
