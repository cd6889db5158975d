import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { ServiceInfo } from '../../platform/swarm/client'
import { lowScoreOf, recentUpdateOf } from './service'

const NOW = Date.parse('2026-12-04T10:00:00Z')
const ago = (m: number) => new Date(NOW - m * 60_000).toISOString()

function service(updatedMinutesAgo: number, prev: Record<string, unknown> | null): ServiceInfo {
  return {
    ID: 'svc1',
    Version: { Index: 9 },
    CreatedAt: ago(600),
    UpdatedAt: ago(updatedMinutesAgo),
    Spec: { Name: 'web', TaskTemplate: { ContainerSpec: { Image: 'web:2@sha256:ab' }, ForceUpdate: 1 } },
    ...(prev ? { PreviousSpec: { Name: 'web', TaskTemplate: { ContainerSpec: prev } } } : {}),
  }
}

describe('the update a service incident is blamed on', () => {
  it('is a change of what the tasks run within DEPLOY_WATCH_MINUTES', () => {
    const u = recentUpdateOf(service(3, { Image: 'web:1@sha256:cd' }), NOW, 15)
    assert.deepEqual(u, { at: ago(3), fromImage: 'web:1', toImage: 'web:2', minutesAgo: 3 })
  })
  it('is none when older, when there is no previous spec, or when only a forced update happened', () => {
    assert.equal(recentUpdateOf(service(30, { Image: 'web:1' }), NOW, 15), null)
    assert.equal(recentUpdateOf(service(3, null), NOW, 15), null)
    assert.equal(recentUpdateOf(service(3, { Image: 'web:2@sha256:ab' }), NOW, 15), null)
  })
  it('is none after a rollback: rolling that back would put the broken spec back', () => {
    const back = { ...service(3, { Image: 'web:3' }), UpdateStatus: { State: 'rollback_completed', StartedAt: ago(3) } }
    assert.equal(recentUpdateOf(back, NOW, 15), null)
    const paused = { ...back, UpdateStatus: { State: 'paused', StartedAt: ago(3) } }
    assert.equal(recentUpdateOf(paused, NOW, 15)?.fromImage, 'web:3')
  })
})

describe('the health score named in the analysis', () => {
  it('is named when it was below DEPLOY_ROLLBACK_SCORE, not otherwise', () => {
    assert.equal(
      lowScoreOf({ details: { healthScore: 0.438, rollbackScore: 0.7 } }),
      'health score 0.438, below DEPLOY_ROLLBACK_SCORE 0.7',
    )
    assert.equal(lowScoreOf({ details: { healthScore: 0.9, rollbackScore: 0.7 } }), null)
    assert.equal(lowScoreOf({ details: { problem: 'crash_loop' } }), null)
    assert.equal(lowScoreOf({}), null)
  })
})
