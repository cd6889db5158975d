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

test('a logfmt "config: missing NAME" and exit 78 (EX_CONFIG): bad config, more sure for the code', () => {
  const lines = logs(
    'level=info msg="notifier starting" version=1.1',
    'level=error msg="config: missing SMTP_RELAY_HOST" component=mailer',
    'exiting',
  )
  const v = judgeBadConfig(record({ container: container({ exitCode: 78 }), logs: lines }))!
  assert.equal(v.cause, 'bad_config')
  assert.equal(v.proposed_fix, null)
  assert.ok(v.evidence.some((l) => l.includes('SMTP_RELAY_HOST')))
  assert.ok(v.evidence.some((l) => l.includes('EX_CONFIG')))
  const exit1 = judgeBadConfig(record({ container: container({ exitCode: 1 }), logs: lines }))!
  assert.ok(v.confidence > exit1.confidence, `${v.confidence} > ${exit1.confidence}`)
})

test('other "missing NAME" wordings in a configuration or environment context', () => {
  for (const line of [
    'missing DATABASE_URL in environment',
    'env: missing required variable API_KEY',
    'error: SMTP_RELAY_HOST is missing',
  ]) {
    assert.equal(judgeBadConfig(record({ container: container(), logs: logs(line) }))?.cause, 'bad_config', line)
  }
})

test('"missing" without a configuration context, or a missing file count: not bad config', () => {
  for (const line of ['request missing ORDER_ID field', 'config loaded; missing files: 0']) {
    assert.equal(judgeBadConfig(record({ container: container(), logs: logs(line) })), null, line)
  }
})

test('exit 78 alone: bad config at a low confidence; with a dependency error logged: not this rule', () => {
  const alone = judgeBadConfig(record({ container: container({ exitCode: 78 }), logs: logs('shutting down') }))!
  assert.equal(alone.cause, 'bad_config')
  assert.ok(alone.confidence < 0.6, String(alone.confidence))
  assert.match(alone.root_cause, /EX_CONFIG/)
  const dep = record({
    container: container({ exitCode: 78 }),
    logs: logs('Error: connect ECONNREFUSED 10.0.0.5:5432'),
  })
  assert.equal(judgeBadConfig(dep), null)
  assert.equal(judgeDependencyUnreachable(dep)?.cause, 'dependency_unreachable')
})
