import assert from 'node:assert/strict'
import { test } from 'node:test'
import { container, logs, record } from './fixture'
import { judgePortInUse } from './port-in-use'

test('EADDRINUSE in the log: port in use, no restart', () => {
  const v = judgePortInUse(
    record({ container: container(), logs: logs('Error: listen EADDRINUSE: address already in use :::8080') }),
  )!
  assert.equal(v.cause, 'port_in_use')
  assert.equal(v.proposed_fix, null)
})

test("Docker's own start error", () => {
  const c = container({
    exitCode: 128,
    error: 'driver failed programming external connectivity: Bind for 0.0.0.0:8080 failed: port is already allocated',
  })
  const v = judgePortInUse(record({ container: c }))!
  assert.equal(v.cause, 'port_in_use')
  assert.ok(v.evidence[0].startsWith('docker error:'))
})

test('a running container, or a log without a bind failure: not this rule', () => {
  const line = 'Error: listen EADDRINUSE: address already in use :::8080'
  assert.equal(
    judgePortInUse(
      record({
        alert: { type: 'latency' },
        container: container({ running: true, status: 'running' }),
        logs: logs(line),
      }),
    ),
    null,
  )
  assert.equal(judgePortInUse(record({ container: container(), logs: logs('listening on :8080') })), null)
})
