import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { availabilityOf, headroomTerm, healthScore, systemScore } from './score'
import { conditionOf } from './scores'

const healthy = { availability: 1, restarts: 0, openIncidents: 0, thresholdRatios: [0.2, 0.4] }

describe('health score', () => {
  it('is 1 for a healthy, idle container and 0 for a down one whatever else', () => {
    assert.equal(healthScore(healthy).score, 1)
    assert.equal(healthScore({ ...healthy, thresholdRatios: [] }).score, 1)
    assert.equal(healthScore({ ...healthy, availability: 0 }).score, 0)
    assert.equal(healthScore({ availability: 0, restarts: 0, openIncidents: 0, thresholdRatios: [] }).score, 0)
  })

  it('falls with each input on its own, and stays within 0..1', () => {
    const base = healthScore(healthy).score
    assert.ok(healthScore({ ...healthy, restarts: 1 }).score < base)
    assert.ok(healthScore({ ...healthy, restarts: 4 }).score < healthScore({ ...healthy, restarts: 1 }).score)
    assert.ok(healthScore({ ...healthy, openIncidents: 1 }).score < base)
    assert.ok(healthScore({ ...healthy, openIncidents: 3 }).score < healthScore({ ...healthy, openIncidents: 1 }).score)
    assert.ok(healthScore({ ...healthy, thresholdRatios: [0.8] }).score < base)
    assert.ok(healthScore({ ...healthy, availability: 0.25 }).score < base)
    const worst = healthScore({ availability: 1, restarts: 1e9, openIncidents: 1e9, thresholdRatios: [50] })
    assert.ok(worst.score >= 0 && worst.score < 0.01, String(worst.score))
    for (const bad of [NaN, -3, Infinity]) {
      const s = healthScore({ availability: bad, restarts: bad, openIncidents: bad, thresholdRatios: [bad] }).score
      assert.ok(s >= 0 && s <= 1, `${bad} → ${s}`)
    }
  })

  it('weighs as documented: one open incident, a breached threshold, two restarts', () => {
    assert.equal(healthScore({ ...healthy, openIncidents: 1 }).score, 0.8) // 0.35 + 0.4/2 + 0.25
    assert.equal(healthScore({ ...healthy, thresholdRatios: [1.3] }).score, 0.75) // headroom gone
    assert.equal(healthScore({ ...healthy, restarts: 2 }).score, 0.825) // 0.35/2 + 0.4 + 0.25
    assert.equal(healthScore({ ...healthy, availability: 0.25 }).score, 0.25)
  })

  it('reports the threshold distance from the worst check', () => {
    assert.equal(healthScore({ ...healthy, thresholdRatios: [0.3, 0.9] }).thresholdDistance, 0.1)
    assert.equal(healthScore({ ...healthy, thresholdRatios: [1.5] }).thresholdDistance, -0.5)
    assert.equal(healthScore({ ...healthy, thresholdRatios: [] }).thresholdDistance, null)
    assert.equal(headroomTerm([0.5]), 1)
    assert.equal(headroomTerm([0.75]), 0.5)
    assert.equal(headroomTerm([1]), 0)
  })

  it('scores the system from the host and the mean of the containers', () => {
    const host = { openIncidents: 0, thresholdRatios: [0.1] }
    assert.equal(systemScore(host, []).score, 1)
    const up = healthScore(healthy)
    const down = healthScore({ ...healthy, availability: 0 })
    const sys = systemScore(host, [up, down])
    assert.equal(sys.score, 0.75) // ½·1 + ½·mean(1, 0)
    assert.equal(sys.availability, 0.5)
    assert.ok(systemScore({ openIncidents: 2, thresholdRatios: [0.99] }, [up]).score < systemScore(host, [up]).score)
    assert.equal(
      systemScore({ openIncidents: 1, thresholdRatios: [] }, [healthScore({ ...healthy, openIncidents: 2 })])
        .openIncidents,
      3,
    )
  })

  it('derives the availability from the container state Docker reports', () => {
    assert.equal(conditionOf({ State: 'running', Status: 'Up 3 minutes' }), 'running')
    assert.equal(conditionOf({ State: 'running', Status: 'Up 3 minutes (healthy)' }), 'healthy')
    assert.equal(conditionOf({ State: 'running', Status: 'Up 3 minutes (unhealthy)' }), 'unhealthy')
    assert.equal(conditionOf({ State: 'running', Status: 'Up 1 second (health: starting)' }), 'starting')
    assert.equal(conditionOf({ State: 'paused', Status: 'Up 3 minutes (Paused)' }), 'paused')
    assert.equal(conditionOf({ State: 'exited', Status: 'Exited (137) 2 seconds ago' }), 'down')
    assert.equal(availabilityOf('healthy'), 1)
    assert.equal(availabilityOf('paused'), 0.25)
    assert.equal(availabilityOf('down'), 0)
  })
})
