import assert from 'node:assert/strict'
import { test } from 'node:test'
import { CAUSE_IDS } from '../../causes'
import { fallbackVerdict } from './fallback'
import { container, MiB, record } from './fixture'
import { FAULT_RULES, judge, RULE_CAUSES } from './index'

test('every rule names a distinct known cause', () => {
  assert.equal(new Set(RULE_CAUSES).size, FAULT_RULES.length)
  for (const c of RULE_CAUSES) assert.ok(CAUSE_IDS.includes(c), c)
})

test('the most confident verdict wins: an OOM kill over a SIGKILL', () => {
  const e = record({ container: container({ exitCode: 137, oomKilled: true, memoryLimitBytes: 32 * MiB }) })
  const { best, all } = judge(e, 'container_down')
  assert.equal(best?.cause, 'oom')
  assert.ok(all.every((v) => v.cause !== 'killed'))
})

test('only the rules of the alert type are asked; none firing gives null', () => {
  const e = record({ container: container({ exitCode: 2 }) })
  assert.equal(judge(e, 'container_down').best, null)
  assert.equal(judge(record({ container: container({ exitCode: 137 }) }), 'disk').best, null)
})

test('a crash restarted by the fast path: the restart it got; running again without it: nothing', () => {
  const running = container({ running: true, status: 'running', exitCode: 0 })
  const decided = record({
    container: running,
    eventExitCode: 2,
    decidedBefore: { actionId: 'restart_container', route: 'auto', at: '2025-01-01T00:00:01.000Z' },
  })
  assert.equal(judge(decided, 'container_down').best, null)
  const v = fallbackVerdict(decided, 'container_down')
  assert.equal(v.cause, 'crash')
  assert.equal(v.proposed_fix?.action, 'restart_container')
  assert.match(v.root_cause, /Sentinel restarted it already/)
  const late = fallbackVerdict(record({ container: running, eventExitCode: 2 }), 'container_down')
  assert.equal(late.proposed_fix, null)
})
