import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { startRedis, type TestRedis } from '../../tests/helpers/redis'
import { decide, type PolicyDeps } from './index'
import { takeRateLimit } from './rate-limit'
import { targetMismatch } from './target'

const incident = {
  id: 'inc_1',
  type: 'container_down' as const,
  resource: { kind: 'container' as const, id: 'c1', name: 'web' },
}
const proposal = { actionId: 'restart_container', params: { containerId: 'c1' } }
const baseConfig = {
  ALLOWED_ACTIONS: [] as string[],
  SHADOW_MODE: false,
  CONFIDENCE_THRESHOLD: 0.5,
  RATE_LIMIT_MAX_ACTIONS: 3,
  RATE_LIMIT_WINDOW_SECONDS: 900,
}
const allow: PolicyDeps['takeRateLimit'] = async () => ({ allowed: true, count: 1, max: 3, windowSeconds: 900 })

describe('policy', () => {
  it('fixes a low-risk container restart automatically and says why', async () => {
    const d = await decide({ incident, proposal }, { config: baseConfig, takeRateLimit: allow })
    assert.equal(d.route, 'auto')
    assert.equal(d.risk, 'low')
    assert.equal(d.rule, 'risk:low')
    assert.ok(d.reasons.length >= 2)
  })
  it('routes medium to an operator and high to an admin', async () => {
    const m = await decide({ incident, proposal, analysisRisk: 'medium' }, { config: baseConfig, takeRateLimit: allow })
    assert.deepEqual([m.route, m.risk, m.approverRole], ['approval', 'medium', 'operator'])
    const h = await decide({ incident, proposal, analysisRisk: 'high' }, { config: baseConfig, takeRateLimit: allow })
    assert.deepEqual([h.route, h.risk, h.approverRole], ['approval', 'high', 'admin'])
  })
  it('raises the risk one level when the analysis is unsure', async () => {
    const d = await decide({ incident, proposal, confidence: 0.2 }, { config: baseConfig, takeRateLimit: allow })
    assert.equal(d.risk, 'medium')
    assert.equal(d.route, 'approval')
  })
  it('escalates actions outside the allow-list or the catalog, and bad parameters', async () => {
    const a = await decide(
      { incident, proposal },
      { config: { ...baseConfig, ALLOWED_ACTIONS: ['clean_sandbox'] }, takeRateLimit: allow },
    )
    assert.deepEqual([a.route, a.rule], ['escalate', 'guardrail:allow-list'])
    const u = await decide(
      { incident, proposal: { actionId: 'rm_rf', params: {} } },
      { config: baseConfig, takeRateLimit: allow },
    )
    assert.deepEqual([u.route, u.rule], ['escalate', 'unknown-action'])
    const p = await decide(
      { incident, proposal: { actionId: 'restart_container', params: { containerId: '; rm -rf /' } } },
      { config: baseConfig, takeRateLimit: allow },
    )
    assert.deepEqual([p.route, p.rule], ['escalate', 'invalid-params'])
  })
  it("sends a container fix for a host incident to an admin: a fix stays on its incident's target", async () => {
    const host = { ...incident, type: 'cpu' as const, resource: { kind: 'host' as const, id: 'h1', name: 'h1' } }
    const d = await decide({ incident: host, proposal }, { config: baseConfig, takeRateLimit: allow })
    assert.deepEqual([d.route, d.risk, d.approverRole], ['approval', 'high', 'admin'])
    assert.match(d.reasons.join(' '), /acts on container c1 but the incident is about host h1/)
  })
  it("keeps a service fix on its incident's service: another service, or a container incident, goes to an admin", async () => {
    const svc = {
      ...incident,
      type: 'service_degraded' as const,
      resource: { kind: 'service' as const, id: 'svc1', name: 'api' },
    }
    const own = await decide(
      { incident: svc, proposal: { actionId: 'restart_service', params: { serviceId: 'api' } } },
      { config: baseConfig, takeRateLimit: allow },
    )
    assert.deepEqual([own.route, own.risk], ['auto', 'low'])
    const elsewhere = await decide(
      { incident, proposal: { actionId: 'restart_service', params: { serviceId: 'api' } } },
      { config: baseConfig, takeRateLimit: allow },
    )
    assert.deepEqual([elsewhere.route, elsewhere.risk, elsewhere.approverRole], ['approval', 'high', 'admin'])
    assert.match(elsewhere.reasons.join(' '), /acts on service api but the incident is about container web/)
    assert.equal(
      targetMismatch(svc, 'restart_service', { serviceId: 'other' })?.includes('aims at service other'),
      true,
    )
    assert.equal(targetMismatch(svc, 'restart_service', { serviceId: 'svc1' }), null)
  })
  it('verifies instead of acting when no fix is proposed', async () => {
    const d = await decide({ incident, proposal: null }, { config: baseConfig, takeRateLimit: allow })
    assert.deepEqual([d.route, d.rule, d.actionId], ['defer', 'no-fix', null])
  })
  it('escalates an anomaly with no fix instead of verifying it', async () => {
    const anomaly = {
      ...incident,
      type: 'anomaly' as const,
      resource: { kind: 'endpoint' as const, id: 'http://127.0.0.1:1/', name: 'http://127.0.0.1:1/' },
    }
    const d = await decide(
      { incident: anomaly, proposal: null, confidence: 0.2 },
      { config: baseConfig, takeRateLimit: allow },
    )
    assert.deepEqual([d.route, d.rule, d.actionId, d.approverRole], ['escalate', 'anomaly-no-fix', null, 'admin'])
    // With a fix, the usual routing (the analyser's low confidence asks a person).
    const f = await decide(
      { incident: { ...anomaly, resource: incident.resource }, proposal, confidence: 0.45 * 0.7 },
      { config: baseConfig, takeRateLimit: allow },
    )
    assert.equal(f.route, 'approval')
  })
  it('records and executes nothing in shadow mode', async () => {
    let counted = false
    const d = await decide(
      { incident, proposal },
      {
        config: { ...baseConfig, SHADOW_MODE: true },
        takeRateLimit: async () => ((counted = true), { allowed: true, count: 1, max: 3, windowSeconds: 900 }),
      },
    )
    assert.equal(d.route, 'shadow')
    assert.equal(counted, false)
  })

  describe('rate limit (real Redis)', () => {
    let redis: TestRedis
    before(async () => (redis = await startRedis()))
    after(() => redis.stop())

    it('allows 3 restarts of one container in 15 minutes, then escalates; a retry of the same incident is not counted twice', async () => {
      const take = (inc: string, now: number) =>
        takeRateLimit('restart_container', 'c1', inc, 3, 900, redis.client, now)
      const t0 = 1_000_000_000
      assert.equal((await take('i1', t0)).allowed, true)
      assert.equal((await take('i1', t0 + 1)).count, 1, 'same incident again')
      assert.equal((await take('i2', t0 + 2)).allowed, true)
      assert.equal((await take('i3', t0 + 3)).allowed, true)
      const fourth = await take('i4', t0 + 4)
      assert.equal(fourth.allowed, false)
      // The window slides: 15 minutes after the first, one slot is free again.
      assert.equal((await take('i5', t0 + 900_001)).allowed, true)
      const d = await decide(
        { incident: { ...incident, id: 'i6' }, proposal },
        { config: baseConfig, takeRateLimit: (a, r, i) => takeRateLimit(a, r, i, 3, 900, redis.client, t0 + 900_001) },
      )
      assert.deepEqual([d.route, d.rule, d.approverRole], ['approval', 'guardrail:rate-limit', 'admin'])
    })
  })
})
