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

test('restarted by the fast path before the analysis: the restart it got; not decided before: nothing', () => {
  const running = container({ running: true, status: 'running' })
  const decided = judgeCleanExit(
    record({
      container: running,
      eventExitCode: 0,
      decidedBefore: {
        actionId: 'restart_container',
        route: 'auto',
        at: '2025-01-01T00:00:01.000Z',
        actionStatus: 'succeeded',
      },
    }),
  )!
  assert.equal(decided.cause, 'clean_exit')
  assert.deepEqual(decided.proposed_fix, { action: 'restart_container', params: { containerId: running.id } })
  assert.match(decided.root_cause, /Sentinel restarted it already/)
  // An Alertmanager ContainerDown for a container that runs again: no incident decision, no restart.
  const late = judgeCleanExit(record({ container: running, eventExitCode: 0 }))!
  assert.equal(late.proposed_fix, null)
  assert.match(late.root_cause, /no action is needed/)
})
