/**
 * On call through the API of a real Sentinel: acknowledging an incident (a viewer is refused, the
 * first operator takes it, a second acknowledgement is a 409 naming who has it), and silences
 * (created, listed, expired; bad input is a 400 naming the field), each audited.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { IncidentStore } from '../../src/platform/store/incidents'
import { resolve } from '../../src/platform/store/lifecycle'
import { startRedis, type TestRedis } from '../helpers/redis'
import { type SentinelInstance, startSentinel, type TestRole } from '../helpers/sentinel'

describe('on call: acknowledge and silences (API)', () => {
  let redis: TestRedis
  let sentinel: SentinelInstance
  let store: IncidentStore

  before(async () => {
    redis = await startRedis()
    sentinel = await startSentinel({ redisPort: redis.port })
    store = new IncidentStore(redis.client)
  })
  after(async () => {
    await sentinel?.cleanup()
    await redis?.stop()
  })

  const del = async (pathname: string, as: TestRole | null) => {
    const res = await fetch(sentinel.url + pathname, {
      method: 'DELETE',
      headers: as ? { authorization: `Bearer ${sentinel.keys[as]}` } : {},
    })
    const text = await res.text()
    return { status: res.status, body: text ? JSON.parse(text) : null }
  }
  const keyIdOf = async (as: TestRole) => `key:${(await sentinel.get('/api/whoami', as)).body.keyId}`

  let n = 0
  /** An open incident, as the flow's intake writes it (the flow is not told: it stays open). */
  async function openIncident(): Promise<string> {
    const { incident } = await store.open(
      {
        fingerprint: `oncall:${n++}:${Date.now()}`,
        type: 'container_down',
        severity: 'critical',
        metric: 'container_running',
        value: 0,
        threshold: 1,
        resource: { kind: 'container', id: `oncall-${n}`, name: `oncall-${n}` },
        labels: {},
        source: 'test',
        at: new Date().toISOString(),
      },
      { title: `oncall-${n} is down`, actor: 'test' },
    )
    return incident.id
  }

  it('acknowledge: no key 401, a viewer 403, the first operator 200, a second acknowledgement 409', async () => {
    const id = await openIncident()
    const path = `/api/incidents/${id}/ack`
    assert.equal((await sentinel.post(path, {}, null)).status, 401)
    const viewer = await sentinel.post(path, {}, 'viewer')
    assert.equal(viewer.status, 403, JSON.stringify(viewer.body))
    assert.match(viewer.body.message, /needs/)
    assert.equal((await store.get(id))!.acknowledgement, undefined, 'a refused acknowledgement changes nothing')

    const operatorKey = await keyIdOf('operator')
    const ok = await sentinel.post(path, { comment: 'looking at it' }, 'operator')
    assert.equal(ok.status, 200, JSON.stringify(ok.body))
    assert.equal(ok.body.incidentId, id)
    assert.equal(ok.body.status, 'open')
    assert.equal(ok.body.acknowledgement.by, operatorKey)
    assert.ok(Math.abs(Date.parse(ok.body.acknowledgement.at) - Date.now()) < 10_000)

    const again = await sentinel.post(path, {}, 'admin')
    assert.equal(again.status, 409, JSON.stringify(again.body))
    assert.equal(again.body.error, 'already_acknowledged')
    assert.match(again.body.message, new RegExp(`acknowledged by ${operatorKey} at ${ok.body.acknowledgement.at}`))
    assert.deepEqual(again.body.details.acknowledgement, ok.body.acknowledgement)

    const inc = (await sentinel.get(`/api/incidents/${id}`, 'viewer')).body
    assert.deepEqual(inc.acknowledgement, ok.body.acknowledgement)
    const entries = inc.timeline.filter((t: any) => t.stage === 'acknowledged')
    assert.equal(entries.length, 1)
    assert.equal(entries[0].summary, `acknowledged by ${operatorKey}: looking at it`)
    const audit = (await sentinel.get(`/api/audit?incident=${id}`, 'admin')).body.events
    assert.deepEqual(
      audit.filter((e: any) => e.kind === 'incident.acknowledged').map((e: any) => [e.actor, e.data.comment]),
      [[operatorKey, 'looking at it']],
    )
  })

  it('acknowledge: unknown 404, closed 409, bad input 400 naming the field', async () => {
    const missing = await sentinel.post('/api/incidents/inc_none_0/ack', {}, 'operator')
    assert.equal(missing.status, 404)
    const closed = await openIncident()
    await store.update(closed, (i) => resolve(i, { actor: 'test', summary: 'fixed' }))
    const late = await sentinel.post(`/api/incidents/${closed}/ack`, {}, 'operator')
    assert.equal(late.status, 409)
    assert.equal(late.body.error, 'already_closed')

    const id = await openIncident()
    const long = await sentinel.post(`/api/incidents/${id}/ack`, { comment: 'x'.repeat(501) }, 'operator')
    assert.equal(long.status, 400)
    assert.match(long.body.message, /body\.comment/)
    const extra = await sentinel.post(`/api/incidents/${id}/ack`, { by: 'someone else' }, 'operator')
    assert.equal(extra.status, 400)
    const badId = await sentinel.post('/api/incidents/not-an-id/ack', {}, 'operator')
    assert.equal(badId.status, 400)
    assert.match(badId.body.message, /path\.id/)
    assert.equal((await store.get(id))!.acknowledgement, undefined)
    // A bodiless POST is an acknowledgement without a comment.
    const bare = await fetch(`${sentinel.url}/api/incidents/${id}/ack`, {
      method: 'POST',
      headers: { authorization: `Bearer ${sentinel.keys.admin}` },
    })
    assert.equal(bare.status, 200, await bare.clone().text())
    assert.equal(((await bare.json()) as any).acknowledgement.by, await keyIdOf('admin'))
  })

  it('silences: created by an operator, listed for a viewer, expired once; each audited', async () => {
    const body = {
      matchers: ['severity="critical"', { name: 'node', value: 'db-.*', isRegex: true }],
      duration: '2h',
      comment: 'db migration',
    }
    assert.equal((await sentinel.post('/api/silences', body, null)).status, 401)
    assert.equal((await sentinel.post('/api/silences', body, 'viewer')).status, 403)
    const created = await sentinel.post('/api/silences', body, 'operator')
    assert.equal(created.status, 201, JSON.stringify(created.body))
    const s = created.body
    assert.match(s.id, /^sil_/)
    assert.equal(s.status, 'active')
    assert.equal(s.createdBy, await keyIdOf('operator'))
    assert.equal(s.comment, 'db migration')
    assert.deepEqual(s.matchers, [
      { name: 'severity', value: 'critical', isRegex: false, isEqual: true },
      { name: 'node', value: 'db-.*', isRegex: true, isEqual: true },
    ])
    assert.ok(Math.abs(Date.parse(s.endsAt) - Date.now() - 2 * 3_600_000) < 10_000, s.endsAt)

    const later = await sentinel.post(
      '/api/silences',
      {
        matchers: ['container="web"'],
        startsAt: new Date(Date.now() + 3_600_000).toISOString(),
        endsAt: new Date(Date.now() + 7_200_000).toISOString(),
        comment: 'release window',
      },
      'admin',
    )
    assert.equal(later.status, 201, JSON.stringify(later.body))
    assert.equal(later.body.status, 'pending')

    const list = await sentinel.get('/api/silences', 'viewer')
    assert.equal(list.status, 200)
    assert.deepEqual(
      list.body.silences.map((x: any) => [x.id, x.status]),
      [
        [s.id, 'active'],
        [later.body.id, 'pending'],
      ],
    )

    assert.equal((await del(`/api/silences/${s.id}`, null)).status, 401)
    assert.equal((await del(`/api/silences/${s.id}`, 'viewer')).status, 403)
    const expired = await del(`/api/silences/${s.id}`, 'operator')
    assert.equal(expired.status, 200, JSON.stringify(expired.body))
    assert.equal(expired.body.status, 'expired')
    assert.equal(expired.body.expiredBy, await keyIdOf('operator'))
    assert.ok(Date.parse(expired.body.endsAt) <= Date.now())
    const twice = await del(`/api/silences/${s.id}`, 'operator')
    assert.equal(twice.status, 409)
    assert.equal(twice.body.error, 'already_expired')
    assert.equal((await del('/api/silences/sil_none_0', 'operator')).status, 404)
    const badId = await del('/api/silences/nope', 'operator')
    assert.equal(badId.status, 400)
    assert.match(badId.body.message, /path\.id/)

    const after = (await sentinel.get('/api/silences', 'viewer')).body.silences
    assert.deepEqual(
      after.map((x: any) => [x.id, x.status]),
      [
        [later.body.id, 'pending'],
        [s.id, 'expired'],
      ],
    )
    const audit = (await sentinel.get('/api/audit?limit=100', 'admin')).body.events.filter(
      (e: any) => e.resource === s.id,
    )
    assert.deepEqual(
      audit.map((e: any) => e.kind),
      ['silence.expired', 'silence.created'],
    )
    assert.deepEqual(audit[1].data.matchers, ['severity="critical"', 'node=~"db-.*"'])
  })

  it('silences: bad input is a 400 naming the field, and nothing is made', async () => {
    const before = (await sentinel.get('/api/silences', 'viewer')).body.silences.length
    const base = { matchers: ['severity="critical"'], duration: '1h', comment: 'x' }
    const iso = (msFromNow: number) => new Date(Date.now() + msFromNow).toISOString()
    const cases: [string, unknown, RegExp][] = [
      ['no comment', { ...base, comment: undefined }, /body\.comment/],
      ['an empty comment', { ...base, comment: '   ' }, /body\.comment/],
      ['a comment over 500 characters', { ...base, comment: 'x'.repeat(501) }, /body\.comment/],
      ['no matchers', { ...base, matchers: [] }, /body\.matchers/],
      ['matchers not a list', { ...base, matchers: 'severity="critical"' }, /body\.matchers/],
      ['a matcher that is not one', { ...base, matchers: ['severity=="x"'] }, /body\.matchers\.0/],
      ['a regex that does not compile', { ...base, matchers: ['node=~"("'] }, /body\.matchers\.0/],
      ['only a matcher that matches everything', { ...base, matchers: ['type=~".*"'] }, /body\.matchers: .*narrow/],
      ['only a negative matcher', { ...base, matchers: ['node!="db-1"'] }, /body\.matchers: .*narrow/],
      ['a duration that is not one', { ...base, duration: 'soon' }, /body\.duration/],
      ['a duration over 30 days', { ...base, duration: '31d' }, /body\.duration: must be at most 30 days ahead/],
      ['neither endsAt nor duration', { ...base, duration: undefined }, /body\.endsAt/],
      [
        'both endsAt and duration',
        { ...base, endsAt: iso(3_600_000) },
        /body\.duration: give endsAt or duration, not both/,
      ],
      [
        'an end in the past',
        { ...base, duration: undefined, endsAt: iso(-60_000) },
        /body\.endsAt: must be in the future/,
      ],
      ['an end that is not a time', { ...base, duration: undefined, endsAt: 'tomorrow' }, /body\.endsAt/],
      [
        'a start after the end',
        { ...base, duration: undefined, startsAt: iso(7_200_000), endsAt: iso(3_600_000) },
        /body\.startsAt: must be before the end/,
      ],
      ['an unknown field', { ...base, createdBy: 'someone else' }, /createdBy/],
    ]
    for (const [what, body, field] of cases) {
      const res = await sentinel.post('/api/silences', body, 'operator')
      assert.equal(res.status, 400, `${what}: ${JSON.stringify(res.body)}`)
      assert.match(res.body.message, field, what)
    }
    assert.equal((await sentinel.get('/api/silences', 'viewer')).body.silences.length, before)
  })

  it('documents and serves the new routes', async () => {
    const doc = (await sentinel.get('/api/openapi.json', 'viewer')).body
    assert.ok(doc.paths['/api/incidents/{id}/ack']?.post)
    assert.ok(doc.paths['/api/silences']?.post && doc.paths['/api/silences']?.get)
    assert.ok(doc.paths['/api/silences/{id}']?.delete)
    const routes = (await sentinel.get('/api/routes', 'admin')).body.routes
    for (const [method, path] of [
      ['POST', '/api/incidents/:id/ack'],
      ['POST', '/api/silences'],
      ['GET', '/api/silences'],
      ['DELETE', '/api/silences/:id'],
    ])
      assert.ok(
        routes.some((r: any) => r.method === method && r.path === path && r.zone === 'api'),
        `${method} ${path} in /api/routes`,
      )
    const who = (await sentinel.get('/api/whoami', 'operator')).body
    assert.ok(who.permissions.includes('acknowledge') && who.permissions.includes('silence'))
    assert.ok(!(await sentinel.get('/api/whoami', 'viewer')).body.permissions.includes('silence'))
  })
})
