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

const restartedByFastPath = {
  actionId: 'restart_container',
  route: 'auto' as const,
  at: '2025-01-01T00:00:01.000Z',
  actionStatus: 'succeeded' as const,
}

test('restarted by the fast path before the analysis: killed, the restart it got, said so', () => {
  const e = record({
    container: container({ running: true, status: 'running', exitCode: 0 }),
    eventExitCode: 137,
    decidedBefore: restartedByFastPath,
  })
  const v = judgeKilled(e)!
  assert.equal(v.cause, 'killed')
  assert.deepEqual(v.proposed_fix, { action: 'restart_container', params: { containerId: e.container!.id } })
  assert.match(v.root_cause, /Sentinel restarted it already/)
  assert.ok(v.evidence.some((l) => l.includes('decided before this analysis: restart_container (route auto)')))
})

test('a restart waiting for approval is said to wait; a decision that was not a restart proposes none', () => {
  const waiting = judgeKilled(
    record({
      container: container({ running: true, status: 'running', exitCode: 0 }),
      eventExitCode: 137,
      decidedBefore: { actionId: 'restart_container', route: 'approval', at: '2025-01-01T00:00:01.000Z' },
    }),
  )!
  assert.equal(waiting.proposed_fix?.action, 'restart_container')
  assert.match(waiting.root_cause, /waits for approval/)
  // Docker's own restart policy restarted it (the fast path deferred): nothing for Sentinel to do.
  const deferred = judgeKilled(
    record({
      container: container({ running: true, status: 'running', exitCode: 0 }),
      eventExitCode: 137,
      decidedBefore: { actionId: null, route: 'defer', at: '2025-01-01T00:00:01.000Z' },
    }),
  )!
  assert.equal(deferred.proposed_fix, null)
  assert.match(deferred.root_cause, /no action is needed/)
})
