import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { HttpError, parseOr400 } from '../platform/http/errors'
import { matchFaultsToIncidents } from './match'
import type { Incident } from '../platform/store/model'
import { chaosStartBody, type FaultRecord } from './types'

const fieldsOf = (body: unknown): string[] => {
  try {
    parseOr400(chaosStartBody, body, 'body')
  } catch (err) {
    assert.ok(err instanceof HttpError)
    assert.equal(err.status, 400)
    return [...new Set(((err.details as { fields: { field: string }[] }).fields ?? []).map((f) => f.field))]
  }
  return []
}

describe('chaos start body', () => {
  it('accepts a plan with defaults filled in', () => {
    const plan = parseOr400(
      chaosStartBody,
      {
        faults: {
          kill: { minIntervalSec: 20, maxIntervalSec: 60 },
          cpu: { minIntervalSec: 30, maxIntervalSec: 90, durationSec: 20 },
          fillTemp: { minIntervalSec: 60, maxIntervalSec: 120, bytes: 50_000_000 },
          slowProbe: { minIntervalSec: 60, maxIntervalSec: 60, pauseSec: 10 },
        },
      },
      'body',
    )
    assert.equal(plan.durationSec, 3600)
    assert.equal(plan.faults.cpu?.workers, 1)
    assert.equal(plan.faults.fillTemp?.holdSec, 60)
  })

  it('rejects absurd sizes, rates and unknown fields with a 400 naming the field', () => {
    assert.deepEqual(
      fieldsOf({ faults: { fillTemp: { minIntervalSec: 10, maxIntervalSec: 20, bytes: 5 * 1024 ** 4 } } }),
      ['body.faults.fillTemp.bytes'],
    )
    assert.deepEqual(fieldsOf({ faults: { kill: { minIntervalSec: 0, maxIntervalSec: 20 } } }), [
      'body.faults.kill.minIntervalSec',
    ])
    assert.deepEqual(fieldsOf({ faults: { kill: { minIntervalSec: 30, maxIntervalSec: 20 } } }), [
      'body.faults.kill.maxIntervalSec',
    ])
    assert.deepEqual(fieldsOf({ faults: { cpu: { minIntervalSec: 5, maxIntervalSec: 5, durationSec: 100_000 } } }), [
      'body.faults.cpu.durationSec',
    ])
    assert.deepEqual(
      fieldsOf({ faults: { cpu: { minIntervalSec: 5, maxIntervalSec: 5, durationSec: 5, workers: 64 } } }),
      ['body.faults.cpu.workers'],
    )
    assert.deepEqual(fieldsOf({ faults: { slowProbe: { minIntervalSec: 5, maxIntervalSec: 5, pauseSec: 3600 } } }), [
      'body.faults.slowProbe.pauseSec',
    ])
    assert.deepEqual(
      fieldsOf({ faults: { kill: { minIntervalSec: 5, maxIntervalSec: 5 } }, durationSec: 10 * 86400 }),
      ['body.durationSec'],
    )
    assert.deepEqual(fieldsOf({ faults: {} }), ['body.faults'])
    assert.deepEqual(fieldsOf({ faults: { explode: {} } }), ['body.faults'])
    assert.deepEqual(fieldsOf({ faults: { kill: { minIntervalSec: 5, maxIntervalSec: 5 } }, targets: ['../etc'] }), [
      'body.targets.0',
    ])
    assert.deepEqual(fieldsOf({ faults: { kill: { minIntervalSec: 5, maxIntervalSec: 5, signal: 'TERM' } } }), [
      'body.faults.kill',
    ])
  })
})

describe('matching faults to incidents', () => {
  const c = { id: 'c1', name: 'web' }
  const t0 = Date.parse('2026-01-01T00:00:00Z')
  const iso = (ms: number) => new Date(t0 + ms).toISOString()
  const fault = (
    faultId: string,
    kind: FaultRecord['kind'],
    atMs: number,
    extra: Partial<FaultRecord> = {},
  ): FaultRecord => ({
    faultId,
    runId: 'chaos_x',
    kind,
    at: iso(atMs),
    outcome: 'injected',
    container: c,
    params: {},
    ...extra,
  })
  const incident = (id: string, type: Incident['type'], openedMs: number, extra: Partial<Incident> = {}) =>
    ({
      id,
      type,
      status: 'resolved',
      openedAt: iso(openedMs),
      resolvedAt: iso(openedMs + 5000),
      resource: { kind: 'container', id: 'c1', name: 'web' },
      ...extra,
    }) as Incident

  it('credits each incident to the fault that provoked it, once', () => {
    const m = matchFaultsToIncidents(
      [
        fault('f1', 'kill', 0),
        fault('f2', 'kill', 60_000),
        fault('f3', 'cpu', 120_000, { endedAt: iso(150_000) }),
        fault('f4', 'kill', 200_000, { outcome: 'skipped' }),
      ],
      [
        incident('i2', 'container_down', 60_500),
        incident('i1', 'container_down', 300),
        incident('i3', 'cpu', 170_000),
        incident('other', 'container_down', 200_500, { resource: { kind: 'container', id: 'c2', name: 'db' } }),
      ],
    )
    assert.equal(m.get('f1')?.id, 'i1')
    assert.equal(m.get('f2')?.id, 'i2')
    assert.equal(m.get('f3')?.id, 'i3')
    assert.equal(m.has('f4'), false, 'a skipped fault caused nothing')
  })

  it('shares an incident still open for the same problem, and matches nothing before the fault', () => {
    const m = matchFaultsToIncidents(
      [fault('f1', 'kill', 0), fault('f2', 'kill', 2000)],
      [incident('i1', 'container_down', 100, { resolvedAt: iso(10_000) })],
    )
    assert.equal(m.get('f1')?.id, 'i1')
    assert.deepEqual([m.get('f2')?.id, m.get('f2')?.shared], ['i1', true])
    assert.equal(matchFaultsToIncidents([fault('f1', 'kill', 60_000)], [incident('i0', 'container_down', 0)]).size, 0)
    // A fill is matched to the disk alert of the filesystem it filled only.
    const fill = fault('f1', 'fillTemp', 0, { container: undefined, filesystem: '/srv' })
    const disk = (id: string, mount: string) =>
      incident(id, 'disk', 1000, { resource: { kind: 'filesystem', id: `h:${mount}`, name: mount } })
    assert.equal(matchFaultsToIncidents([fill], [disk('i1', '/var')]).size, 0)
    assert.equal(matchFaultsToIncidents([fill], [disk('i1', '/var'), disk('i2', '/srv')]).get('f1')?.id, 'i2')
  })
})
