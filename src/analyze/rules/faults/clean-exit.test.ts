import assert from 'node:assert/strict'
import { test } from 'node:test'
import { judgeCleanExit } from './clean-exit'
import { container, record } from './fixture'
import { judgeKilled } from './killed'

test('exit 0: a clean exit, restart', () => {
  const e = record({ container: container({ exitCode: 0 }) })
  const v = judgeCleanExit(e)!
  assert.equal(v.cause, 'clean_exit')
  assert.equal(v.proposed_fix?.action, 'restart_container')
  assert.equal(judgeKilled(e), null)
})

test('a kill or an error exit is not a clean exit', () => {
  assert.equal(judgeCleanExit(record({ container: container({ exitCode: 137 }) })), null)
  assert.equal(judgeCleanExit(record({ container: container({ exitCode: 2 }) })), null)
})

test('running again: nothing to do', () => {
  const v = judgeCleanExit(record({ container: container({ running: true, status: 'running' }), eventExitCode: 0 }))!
  assert.equal(v.proposed_fix, null)
})
