import assert from 'node:assert/strict'
import os from 'node:os'
import { test } from 'node:test'
import { container, points, record } from '../rules/faults/fixture'
import { boundEvidence, sizeOf, thinPoints } from './bound'
import { isThisHost } from './host'
import { logSection } from './log-lines'
import { CAPS } from './types'

test('a huge record is cut to the bound, names what was cut, keeps the container', () => {
  const big = record({
    container: container({ envNames: Array.from({ length: 500 }, (_, i) => `VAR_${i}_${'X'.repeat(20)}`) }),
    logs: {
      lines: Array.from({ length: 500 }, (_, i) => `line ${i} ${'y'.repeat(300)}`),
      errorLines: Array.from({ length: 50 }, (_, i) => `ERROR ${i} ${'z'.repeat(300)}`),
      linesRead: 500,
    },
    metricHistory: { points: points(Array.from({ length: 2000 }, (_, i) => i)) },
    openIncidents: Array.from({ length: 100 }, (_, i) => ({
      id: `inc_${i}`,
      type: 'cpu',
      resource: 'r'.repeat(50),
      status: 'open',
      openedAt: new Date(0).toISOString(),
    })),
  })
  const b = boundEvidence(big)
  assert.ok(sizeOf(b) <= CAPS.totalBytes, `${sizeOf(b)} bytes`)
  assert.ok(b.truncated && b.truncated.length > 0)
  assert.ok(b.container?.id)
  assert.ok((b.logs?.lines.length ?? 0) <= CAPS.logLines)
  assert.ok((b.openIncidents?.length ?? 0) <= CAPS.openIncidents)
  assert.ok(b.logs === undefined || b.logs.lines.every((l) => l.length <= CAPS.logLineChars))
  // The input is not changed.
  assert.equal(big.logs!.lines.length, 500)
})

test('a small record passes unchanged, without a truncated marker', () => {
  const small = record({ container: container() })
  assert.deepEqual(boundEvidence(small), small)
})

test('thinPoints keeps the newest point and the bound', () => {
  const p = points(Array.from({ length: 300 }, (_, i) => i))
  const t = thinPoints(p, 60)
  assert.equal(t.length, 60)
  assert.deepEqual(t.at(-1), p.at(-1))
})

test('log lines are redacted and the telling ones kept beyond the tail', () => {
  const text = [
    'FATAL: missing required environment variable DATABASE_URL',
    ...Array.from({ length: 100 }, (_, i) => `tick ${i}`),
    'login with password=hunter2',
  ].join('\n')
  const s = logSection(text)
  assert.equal(s.lines.length, CAPS.logLines)
  assert.ok(s.errorLines.some((l) => l.includes('DATABASE_URL')))
  assert.ok(!JSON.stringify(s).includes('hunter2'))
})

test('isThisHost: this host by name, with a port, or loopback; another host is not', () => {
  assert.equal(isThisHost(undefined), true)
  assert.equal(isThisHost(os.hostname()), true)
  assert.equal(isThisHost(`${os.hostname()}:9100`), true)
  assert.equal(isThisHost('localhost:9100'), true)
  assert.equal(isThisHost('node-exporter-7', 'node-exporter-7:9100'), true)
  assert.equal(isThisHost('db-7.example.invalid:9100'), false)
})
