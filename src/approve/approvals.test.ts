import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { startRedis, type TestRedis } from '../../tests/helpers/redis'
import { IncidentStore } from '../platform/store/incidents'
import type { Decision } from '../platform/store/model'
import { Approvals } from './approvals'

const decision = (approverRole: 'operator' | 'admin', risk: 'medium' | 'high'): Decision => ({
  route: 'approval',
  risk,
  actionId: 'clean_sandbox',
  params: {},
  approverRole,
  rule: `risk:${risk}`,
  reasons: ['test'],
  decidedAt: new Date().toISOString(),
})

describe('approvals (real Redis)', () => {
  let redis: TestRedis
  let store: IncidentStore
  let approvals: Approvals
  before(async () => {
    redis = await startRedis()
    store = new IncidentStore(redis.client)
    approvals = new Approvals(store, redis.client)
  })
  after(() => redis.stop())

  let n = 0
  async function incidentNeeding(role: 'operator' | 'admin', risk: 'medium' | 'high', ttlMs = 60_000) {
    const { incident } = await store.open(
      {
        fingerprint: `disk:${n++}`,
        type: 'disk',
        severity: 'warning',
        metric: 'disk_used_percent',
        value: 97,
        threshold: 95,
        resource: { kind: 'filesystem', id: '/', name: '/' },
        labels: {},
        source: 'test',
        at: new Date().toISOString(),
      },
      { title: 'disk full', actor: 'test' },
    )
    const d = decision(role, risk)
    await store.update(incident.id, (i) => {
      i.decision = d
    })
    await approvals.request(incident.id, d, ttlMs, 'test')
    return incident.id
  }

  it('lists pending approvals and takes the first decision only', async () => {
    const id = await incidentNeeding('operator', 'medium')
    assert.ok((await approvals.pending()).some((p) => p.incidentId === id))
    const first = await approvals.decide(id, { decision: 'approve', by: 'user:ops', role: 'operator' })
    assert.equal(first.kind, 'ok')
    const second = await approvals.decide(id, { decision: 'reject', by: 'user:other', role: 'admin', reason: 'no' })
    assert.deepEqual(second, { kind: 'not_pending', status: 'approved' })
    const inc = (await store.get(id))!
    assert.equal(inc.approval?.decidedBy, 'user:ops')
    assert.equal(inc.approval?.decidedByRole, 'operator', "the approver's role is recorded for the executor")
    assert.equal(inc.decision?.route, 'auto')
    assert.ok(!(await approvals.pending()).some((p) => p.incidentId === id))
  })

  it('refuses an operator on a high-risk approval and changes nothing', async () => {
    const id = await incidentNeeding('admin', 'high')
    assert.deepEqual(await approvals.decide(id, { decision: 'approve', by: 'user:ops', role: 'operator' }), {
      kind: 'forbidden',
      needed: 'admin',
    })
    assert.equal((await store.get(id))!.approval?.status, 'pending')
    assert.equal(
      (await approvals.decide(id, { decision: 'reject', by: 'user:root', role: 'admin', reason: 'not now' })).kind,
      'ok',
    )
    assert.equal((await store.get(id))!.status, 'escalated')
  })

  it('lets exactly one of many concurrent deciders win', async () => {
    const id = await incidentNeeding('operator', 'medium')
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, k) =>
        approvals.decide(id, { decision: 'approve', by: `user:${k}`, role: 'admin' }),
      ),
    )
    assert.equal(results.filter((r) => r.kind === 'ok').length, 1)
    assert.equal(results.filter((r) => r.kind === 'not_pending').length, 9)
  })

  it('takes no decision past the expiry, even before expireDue has run', async () => {
    const id = await incidentNeeding('admin', 'high', 10)
    await new Promise((r) => setTimeout(r, 30))
    assert.deepEqual(await approvals.decide(id, { decision: 'approve', by: 'user:root', role: 'admin' }), {
      kind: 'not_pending',
      status: 'expired',
    })
    assert.equal((await store.get(id))!.approval?.status, 'pending', 'left for expireDue')
  })

  it('escalates an expired operator approval to the admins, then leaves it escalated', async () => {
    const id = await incidentNeeding('operator', 'medium', 10)
    const t = Date.now() + 50
    await approvals.expireDue(t, 1000, 'test')
    let inc = (await store.get(id))!
    assert.equal(inc.approval?.approverRole, 'admin')
    assert.equal(inc.approval?.status, 'pending')
    await approvals.expireDue(t + 2000, 1000, 'test')
    inc = (await store.get(id))!
    assert.equal(inc.approval?.status, 'expired')
    assert.equal(inc.status, 'escalated')
  })
})
