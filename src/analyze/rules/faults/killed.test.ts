import assert from 'node:assert/strict'
import { test } from 'node:test'
import { judgeCleanExit } from './clean-exit'
import { container, record } from './fixture'
import { judgeKilled } from './killed'
import { judgeOom } from './oom'

test('SIGKILL without an OOM kill: killed, restart', () => {
  const e = record({ container: container({ exitCode: 137 }) })
  const v = judgeKilled(e)!
  assert.equal(v.cause, 'killed')
  assert.deepEqual(v.proposed_fix, { action: 'restart_container', params: { containerId: e.container!.id } })
  assert.ok(v.evidence.some((l) => l.includes('exit code 137')))
  assert.equal(judgeOom(e), null)
  assert.equal(judgeCleanExit(e), null)
})

test('already running again: the exit code of the event, and nothing to do', () => {
  const e = record({ container: container({ running: true, status: 'running', exitCode: 0 }), eventExitCode: 143 })
  const v = judgeKilled(e)!
  assert.equal(v.cause, 'killed')
  assert.equal(v.proposed_fix, null)
  assert.match(v.root_cause, /SIGTERM/)
})

test('OOM-killed is not "killed"; a segfault is a crash, not a kill', () => {
  assert.equal(judgeKilled(record({ container: container({ exitCode: 137, oomKilled: true }) })), null)
  assert.equal(judgeKilled(record({ container: container({ exitCode: 139 }) })), null)
  assert.equal(judgeKilled(record({ container: container({ exitCode: 1 }) })), null)
})
