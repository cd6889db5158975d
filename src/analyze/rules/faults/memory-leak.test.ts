import assert from 'node:assert/strict'
import { test } from 'node:test'
import { container, MiB, points, record } from './fixture'
import { judgeMemoryLeak } from './memory-leak'

const running = container({ running: true, status: 'running', memoryLimitBytes: 512 * MiB })
const memAlert = { type: 'memory' as const, metric: 'container_memory_bytes', value: 300 * MiB, threshold: 250 * MiB }

test('steady growth of a container: a leak, restart', () => {
  const climb = [100, 112, 119, 133, 140, 155, 163, 178, 186, 200].map((m) => m * MiB)
  const v = judgeMemoryLeak(record({ alert: memAlert, container: running, memoryHistory: { points: points(climb) } }))!
  assert.equal(v.cause, 'memory_leak')
  assert.deepEqual(v.proposed_fix, { action: 'restart_container', params: { containerId: running.id } })
  assert.match(v.evidence[0], /grew from 100\.0 MiB to 200\.0 MiB/)
})

test('a one-off jump is not a leak', () => {
  const jump = [100, 101, 100, 102, 101, 190, 191, 190, 192, 191].map((m) => m * MiB)
  assert.equal(
    judgeMemoryLeak(record({ alert: memAlert, container: running, memoryHistory: { points: points(jump) } })),
    null,
  )
})

test('flat or noisy memory is not a leak', () => {
  const noisy = [100, 130, 95, 125, 98, 128, 97, 126, 99, 110].map((m) => m * MiB)
  assert.equal(
    judgeMemoryLeak(record({ alert: memAlert, container: running, memoryHistory: { points: points(noisy) } })),
    null,
  )
  assert.equal(judgeMemoryLeak(record({ alert: memAlert, container: running })), null)
})

test('a host leak: the top process on this host (killable) for an admin; another host: nothing proposed', () => {
  const host = { type: 'memory' as const, metric: 'memory_used_percent', value: 93, threshold: 90 }
  const climb = { points: points([60, 64, 67, 71, 75, 78, 82, 86, 89, 93]) }
  const byRss = [{ pid: 4242, name: 'java', command: 'java -jar app.jar', rssBytes: 900 * MiB, killable: true }]
  const here = judgeMemoryLeak(
    record({
      alert: { ...host, resource: { kind: 'host', id: 'me', name: 'me' } },
      metricHistory: climb,
      processes: { byRss },
    }),
  )!
  assert.deepEqual(here.proposed_fix, { action: 'kill_process', params: { pid: 4242 } })
  assert.equal(here.risk_level, 'high')
  const there = judgeMemoryLeak(
    record({
      alert: { ...host, resource: { kind: 'host', id: 'db-7', name: 'db-7' }, node: 'db-7', thisHost: false },
      metricHistory: climb,
      processes: { byRss },
    }),
  )!
  assert.equal(there.cause, 'memory_leak')
  assert.equal(there.proposed_fix, null)
})
