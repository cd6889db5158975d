/**
 * The REST API against a real Sentinel: every protected endpoint against every role and no key,
 * the failed-authentication limit, bad input, and an approval decided through the API that runs
 * the fix through the flow.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { createIdle, removeContainers, runContainer, state, uniqueName } from '../helpers/docker'
import { waitFor } from '../helpers/ports'
import { startRedis, type TestRedis } from '../helpers/redis'
import { type SentinelInstance, startSentinel, type TestRole, WATCH_ARG } from '../helpers/sentinel'

describe('API', () => {
  let redis: TestRedis
  let sentinel: SentinelInstance
  const containers: string[] = []

  before(async () => {
    redis = await startRedis()
    // Every analysis is less sure than 1.0, so even a restart needs an operator: the approval path.
    sentinel = await startSentinel({
      redisPort: redis.port,
      env: { CONFIDENCE_THRESHOLD: '1', VERIFY_STABLE_SECONDS: '0.5', AUTH_MAX_FAILURES: '5' },
    })
  })
  after(async () => {
    await removeContainers(...containers)
    await sentinel?.cleanup()
    await redis?.stop()
  })

  const RANK: Record<TestRole, number> = { viewer: 0, operator: 1, admin: 2 }
  const endpoints: { method: 'GET' | 'POST'; path: string; body?: unknown; needs: TestRole }[] = [
    { method: 'GET', path: '/api/incidents', needs: 'viewer' },
    { method: 'GET', path: '/api/incidents/inc_none_0', needs: 'viewer' },
    { method: 'GET', path: '/api/approvals/pending', needs: 'viewer' },
    { method: 'GET', path: '/api/whoami', needs: 'viewer' },
    { method: 'POST', path: '/api/incidents/inc_none_0/approve', body: {}, needs: 'operator' },
    { method: 'POST', path: '/api/incidents/inc_none_0/reject', body: { reason: 'no' }, needs: 'operator' },
    { method: 'POST', path: '/api/incidents/inc_none_0/rollback', body: {}, needs: 'admin' },
    { method: 'POST', path: '/api/incidents/inc_none_0/resolve', body: { reason: 'x' }, needs: 'operator' },
    { method: 'POST', path: '/api/alerts/alertmanager', body: { version: '4' }, needs: 'operator' },
    { method: 'GET', path: '/api/infrastructure-status', needs: 'viewer' },
    { method: 'GET', path: '/api/audit', needs: 'admin' },
    { method: 'POST', path: '/api/trigger-alert', body: { type: 'cpu', resource: 'matrix-host' }, needs: 'admin' },
  ]

  it('protects every endpoint: no key 401, a role too low 403, enough 2xx/4xx past auth', async () => {
    for (const ep of endpoints) {
      const call = (as: TestRole | null) =>
        ep.method === 'GET' ? sentinel.get(ep.path, as) : sentinel.post(ep.path, ep.body, as)
      const none = await call(null)
      assert.equal(none.status, 401, `${ep.method} ${ep.path} without a key`)
      for (const role of ['viewer', 'operator', 'admin'] as TestRole[]) {
        const res = await call(role)
        if (RANK[role] < RANK[ep.needs]) {
          assert.equal(res.status, 403, `${ep.method} ${ep.path} as ${role}`)
          assert.match(res.body.message, /needs/)
        } else {
          assert.ok(![401, 403].includes(res.status), `${ep.method} ${ep.path} as ${role} got ${res.status}`)
        }
      }
    }
    const viaHeader = await sentinel.get('/api/whoami', null, { 'x-api-key': sentinel.keys.operator })
    assert.equal(viaHeader.status, 200)
    assert.equal(viaHeader.body.role, 'operator')
  })

  it('answers repeated failed keys from one client with 429 and Retry-After', async () => {
    let last
    for (let i = 0; i < 7; i++)
      last = await sentinel.get('/api/incidents', null, {
        authorization: `Bearer wrong-key-${i}-xxxxxxxxxxxxxxxxxxxxxx`,
      })
    assert.equal(last!.status, 429)
    assert.ok(Number(last!.headers.get('retry-after')) > 0)
    // A good key still gets in from the blocked address (tests/security/lockout.test.ts says more).
    assert.equal((await sentinel.get('/api/whoami', 'viewer')).status, 200)
    await redis.client.del(...(await redis.client.keys('*auth*')))
  })

  it('rejects bad input with a 400 naming the field, and changes nothing', async () => {
    const before = (await sentinel.get('/api/incidents?view=full&limit=200')).body.incidents.length
    const bad = await sentinel.post('/api/trigger-alert', { type: 'nuclear', resource: '' })
    assert.equal(bad.status, 400)
    assert.match(bad.body.message, /body\.type/)
    assert.match(bad.body.message, /body\.resource/)
    const notJson = await sentinel.post('/api/trigger-alert', '{"type": "cpu", ', 'admin')
    assert.ok(notJson.status >= 400 && notJson.status < 500, `malformed JSON got ${notJson.status}`)
    const unwatched = uniqueName('api-unwatched')
    containers.push(unwatched)
    await runContainer(unwatched)
    const refused = await sentinel.post('/api/trigger-alert', { type: 'container_down', resource: unwatched })
    assert.equal(refused.status, 422)
    const noReason = await sentinel.post('/api/incidents/inc_none_0/reject', {}, 'admin')
    assert.equal(noReason.status, 400)
    assert.match(noReason.body.message, /body\.reason/)
    assert.equal((await sentinel.get('/api/incidents?view=full&limit=200')).body.incidents.length, before)
  })

  it('waits for an operator, takes the first decision only, then fixes and resolves through the flow', async () => {
    const name = uniqueName('api-approval')
    containers.push(name)
    // Created, never started: down without a death event, so only the flow can bring it up.
    await createIdle(name, WATCH_ARG)
    const startedBefore = (await state(name)).StartedAt
    const trig = await sentinel.post('/api/trigger-alert', { type: 'container_down', resource: name })
    assert.equal(trig.status, 202)
    const id = trig.body.incidentId as string

    const pending = await waitFor(
      async () => {
        const r = await sentinel.get('/api/approvals/pending', 'viewer')
        return r.body.approvals.find((a: any) => a.incidentId === id)
      },
      { timeoutMs: 30_000, what: 'the approval request' },
    ).catch(async (err) => {
      const inc = (await sentinel.get(`/api/incidents/${id}`)).body
      throw new Error(
        `${(err as Error).message}; incident: ${JSON.stringify({ status: inc.status, timeline: inc.timeline, analysis: inc.analysis?.proposed_fix })}`,
      )
    })
    assert.equal(pending.approverRole, 'operator')
    assert.equal(pending.proposedAction, 'restart_container')

    assert.equal((await sentinel.post(`/api/incidents/${id}/approve`, {}, 'viewer')).status, 403)
    const ok = await sentinel.post(`/api/incidents/${id}/approve`, {}, 'operator')
    assert.equal(ok.status, 200, JSON.stringify(ok.body))
    const twice = await sentinel.post(`/api/incidents/${id}/reject`, { reason: 'too late' }, 'admin')
    assert.equal(twice.status, 409)

    const resolved = await waitFor(
      async () => {
        const r = await sentinel.get(`/api/incidents/${id}`, 'viewer')
        return r.body.status === 'resolved' ? r.body : null
      },
      { timeoutMs: 45_000, what: 'the approved fix to be verified and resolved' },
    )
    assert.equal(resolved.test, true)
    assert.equal(resolved.approval.status, 'approved')
    assert.match(resolved.approval.decidedBy, /^key:/)
    const stages = resolved.timeline.map((t: any) => t.stage)
    for (const s of [
      'detected',
      'analyzed',
      'decided',
      'approval_requested',
      'approved',
      'acted',
      'verified',
      'resolved',
    ])
      assert.ok(stages.includes(s), `timeline has ${s}`)
    assert.notEqual((await state(name)).StartedAt, startedBefore, 'the approved restart ran')
    assert.equal((await state(name)).Running, true)

    const audit = await sentinel.get(`/api/audit?incident=${id}`, 'admin')
    assert.equal(audit.status, 200)
    const kinds = audit.body.events.map((e: any) => e.kind)
    for (const k of [
      'incident.opened',
      'incident.analyzed',
      'policy.decided',
      'approval.requested',
      'approval.approved',
      'action.executed',
      'incident.resolved',
    ])
      assert.ok(kinds.includes(k), `audit has ${k}`)

    const rollback = await sentinel.post(`/api/incidents/${id}/rollback`, {}, 'admin')
    assert.equal(rollback.status, 409, 'a restart cannot be rolled back')
    assert.equal(
      (await sentinel.post(`/api/incidents/${id}/resolve`, { reason: 'again' }, 'operator')).status,
      409,
      'already resolved',
    )
  })

  it('lets a person close an escalated incident, which frees its problem for a new incident', async () => {
    const trig = await sentinel.post('/api/trigger-alert', { type: 'cpu', resource: 'escalation-host' })
    const id = trig.body.incidentId as string
    await waitFor(
      async () =>
        (await sentinel.get(`/api/incidents/${id}`)).body.approval?.status === 'pending' ||
        (await sentinel.get(`/api/incidents/${id}`)).body.status === 'escalated',
      { timeoutMs: 30_000, what: 'a decision' },
    )
    if ((await sentinel.get(`/api/incidents/${id}`)).body.approval?.status === 'pending') {
      assert.equal(
        (await sentinel.post(`/api/incidents/${id}/reject`, { reason: 'not this way' }, 'admin')).status,
        200,
      )
    }
    assert.equal((await sentinel.get(`/api/incidents/${id}`)).body.status, 'escalated')
    // Still escalated: the same problem does not open a second incident.
    assert.equal((await sentinel.post('/api/trigger-alert', { type: 'cpu', resource: 'escalation-host' })).status, 409)
    assert.equal(
      (await sentinel.post(`/api/incidents/${id}/resolve`, { reason: 'fixed by hand' }, 'viewer')).status,
      403,
    )
    const closed = await sentinel.post(`/api/incidents/${id}/resolve`, { reason: 'fixed by hand' }, 'operator')
    assert.equal(closed.status, 200)
    assert.equal((await sentinel.post('/api/trigger-alert', { type: 'cpu', resource: 'escalation-host' })).status, 202)
  })

  it("keeps an approval's comment: in the approval, its timeline entry and the audit log, as the OpenAPI document says", async () => {
    const name = uniqueName('api-comment')
    containers.push(name)
    await createIdle(name, WATCH_ARG)
    const trig = await sentinel.post('/api/trigger-alert', { type: 'container_down', resource: name })
    assert.equal(trig.status, 202)
    const id = trig.body.incidentId as string
    await waitFor(
      async () =>
        (await sentinel.get('/api/approvals/pending', 'viewer')).body.approvals.some((a: any) => a.incidentId === id),
      { timeoutMs: 30_000, what: 'the approval request' },
    )

    // The body is parsed with the step's own schema: a bad one is a 400 naming the field, and decides nothing.
    const tooLong = await sentinel.post(`/api/incidents/${id}/approve`, { comment: 'x'.repeat(501) }, 'operator')
    assert.equal(tooLong.status, 400)
    assert.match(tooLong.body.message, /body\.comment/)
    const unknownField = await sentinel.post(`/api/incidents/${id}/approve`, { note: 'hi' }, 'operator')
    assert.equal(unknownField.status, 400)
    assert.match(unknownField.body.message, /note/)
    assert.equal((await sentinel.get(`/api/incidents/${id}`, 'viewer')).body.approval.status, 'pending')

    const comment = 'go ahead: the release is finished'
    const ok = await sentinel.post(`/api/incidents/${id}/approve`, { comment }, 'operator')
    assert.equal(ok.status, 200, JSON.stringify(ok.body))
    assert.equal(ok.body.approval.comment, comment, 'the answer shows the comment')

    const incident = (await sentinel.get(`/api/incidents/${id}`, 'viewer')).body
    assert.equal(incident.approval.status, 'approved')
    assert.equal(incident.approval.comment, comment)
    const approved = incident.timeline.find((t: any) => t.stage === 'approved')
    assert.equal(approved?.data?.comment, comment, JSON.stringify(incident.timeline))
    assert.ok(approved.summary.includes(comment), approved.summary)

    const audit = await sentinel.get(`/api/audit?incident=${id}`, 'admin')
    assert.equal(audit.status, 200)
    const event = audit.body.events.find((e: any) => e.kind === 'approval.approved')
    assert.equal(event?.data?.comment, comment, JSON.stringify(audit.body.events))

    const doc = await sentinel.get('/api/openapi.json', 'viewer')
    const schema = doc.body.paths['/api/incidents/{id}/approve'].post.requestBody.content['application/json'].schema
    assert.equal(schema.properties.comment.type, 'string')
    assert.equal(schema.properties.comment.maxLength, 500)
    assert.equal(schema.additionalProperties, false)
  })
})
