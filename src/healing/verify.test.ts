import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { verifyUntilStable } from './verify'

describe('verifyUntilStable', () => {
  it('needs the check to hold for the settle time without a break', async () => {
    const answers = [false, true, false, true, true, true, true, true, true, true, true]
    let n = 0
    const r = await verifyUntilStable(async () => ({ ok: answers[Math.min(n++, answers.length - 1)], detail: 'x' }), { timeoutMs: 5000, stableMs: 30, pollMs: 10 })
    assert.equal(r.ok, true)
    assert.ok(n >= 5, 'a break resets the settle time')
  })
  it('fails at the deadline with the last reading', async () => {
    const r = await verifyUntilStable(async () => ({ ok: false, detail: 'container is not_running' }), { timeoutMs: 100, stableMs: 10, pollMs: 10 })
    assert.equal(r.ok, false)
    assert.match(r.detail, /not stable within 100 ms: container is not_running/)
  })
  it('treats a check that throws as failing, not as a crash', async () => {
    const r = await verifyUntilStable(async () => {
      throw new Error('docker unreachable')
    }, { timeoutMs: 50, stableMs: 10, pollMs: 10 })
    assert.equal(r.ok, false)
    assert.match(r.detail, /docker unreachable/)
  })
})
