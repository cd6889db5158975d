import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { Evidence } from '../../evidence/types'
import { judgeDiskFill } from './disk-fill'
import { MiB, record } from './fixture'

const dir = (bytes: number, files = 1) => ({ bytes, files, largest: bytes ? [{ path: 'f', bytes }] : [] })
const sandbox = (logs: number, temp: number, cache: number, data: number): Evidence['sandbox'] => ({
  dir: '/sb',
  subdirs: { logs: dir(logs), temp: dir(temp), cache: dir(cache), data: dir(data) },
  cleanableBytes: logs + temp + cache,
  totalBytes: logs + temp + cache + data,
})
const disk = {
  type: 'disk' as const,
  metric: 'disk_used_percent',
  value: 95,
  threshold: 90,
  resource: { kind: 'filesystem' as const, id: '/', name: '/' },
}

test('logs fill the sandbox: clean it', () => {
  const v = judgeDiskFill(record({ alert: disk, sandbox: sandbox(40 * MiB, 5 * MiB, 0, 1 * MiB) }))!
  assert.equal(v.cause, 'disk_fill')
  assert.deepEqual(v.proposed_fix, { action: 'clean_sandbox', params: {} })
  assert.match(v.root_cause, /logs\/ is filling the disk/)
  assert.ok(v.confidence > 0.8)
})

test('data/ holds nearly all of it: not a fill by logs, temp or cache', () => {
  assert.equal(judgeDiskFill(record({ alert: disk, sandbox: sandbox(10_000, 0, 0, 50 * MiB) })), null)
  assert.equal(judgeDiskFill(record({ alert: disk, sandbox: sandbox(0, 0, 0, 0) })), null)
})

test("another host's filesystem: this host's sandbox is not cleaned for it", () => {
  const e = record({ alert: { ...disk, node: 'db-7', thisHost: false }, sandbox: sandbox(40 * MiB, 0, 0, 0) })
  assert.equal(judgeDiskFill(e), null)
})
