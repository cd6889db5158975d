import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { Incident } from '../platform/store/model'
import { matchFaultsToIncidents, probesContainer } from './match'
import type { FaultRecord } from './types'

const t0 = Date.parse('2026-11-27T10:00:00Z')
const iso = (ms: number) => new Date(ms).toISOString()

function pause(faultId: string, atMs: number, endpoints?: string[]): FaultRecord {
  return {
    faultId,
    runId: 'chaos_test',
    kind: 'slowProbe',
    at: iso(atMs),
    endedAt: iso(atMs + 60_000),
    outcome: 'injected',
    container: { id: `id-${faultId}`, name: `web-${faultId}`, ...(endpoints ? { endpoints } : {}) },
    params: {},
  }
}

function latency(id: string, url: string, openedMs: number): Incident {
  return {
    id,
    fingerprint: `latency:${url}`,
    type: 'latency',
    severity: 'warning',
    status: 'resolved',
    title: `${url} is slow`,
    resource: { kind: 'endpoint', id: url, name: url },
    alert: {} as Incident['alert'],
    actions: [],
    timeline: [],
    openedAt: iso(openedMs),
    updatedAt: iso(openedMs),
    version: 1,
  }
}

describe('crediting latency incidents to paused containers', () => {
  const published = pause('a', t0, ['*:8080', '172.17.0.5:80', 'web-a:80'])
  const loopbackOnly = pause('b', t0, ['127.0.0.1:9090', '172.17.0.6:80'])

  it('matches a probe URL to the endpoints the container answers on', () => {
    assert.equal(
      probesContainer(published, latency('i1', 'http://127.0.0.1:8080/', t0)),
      true,
      'published on every address',
    )
    assert.equal(probesContainer(published, latency('i2', 'http://10.1.2.3:8080/health', t0)), true)
    assert.equal(
      probesContainer(published, latency('i3', 'http://172.17.0.5/', t0)),
      true,
      'its own address, default port',
    )
    assert.equal(probesContainer(published, latency('i4', 'http://web-a/', t0)), true, 'its name on the Docker network')
    assert.equal(probesContainer(published, latency('i5', 'http://127.0.0.1:9090/', t0)), false, 'another port')
    assert.equal(probesContainer(published, latency('i6', 'https://172.17.0.5/', t0)), false, 'https is port 443')
    assert.equal(
      probesContainer(loopbackOnly, latency('i7', 'http://localhost:9090/', t0)),
      true,
      'localhost is loopback',
    )
    assert.equal(
      probesContainer(loopbackOnly, latency('i8', 'http://10.1.2.3:9090/', t0)),
      false,
      'bound to loopback only',
    )
  })

  it('falls back to type and time when the fault or the resource says nothing about endpoints', () => {
    assert.equal(probesContainer(pause('c', t0), latency('i9', 'http://127.0.0.1:1/', t0)), true)
    assert.equal(probesContainer(published, latency('i10', 'not a url', t0)), true)
  })

  it('credits each of two simultaneous pauses with the incident of its own endpoint', () => {
    // The incident for b's endpoint opens first: by time alone, a would take it.
    const incidents = [
      latency('inc_b', 'http://127.0.0.1:9090/', t0 + 5_000),
      latency('inc_a', 'http://127.0.0.1:8080/', t0 + 9_000),
    ]
    const m = matchFaultsToIncidents([published, loopbackOnly], incidents)
    assert.equal(m.get('a')?.id, 'inc_a')
    assert.equal(m.get('b')?.id, 'inc_b')
  })
})
