import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { startRedis, type TestRedis } from '../../tests/helpers/redis'
import { HttpError } from '../platform/http/errors'
import { AuditLog } from '../platform/store/audit'
import { IncidentStore } from '../platform/store/incidents'
import { resolve } from '../platform/store/lifecycle'
import { NOTIFY_OUTBOX } from '../platform/store/notify-outbox'
import { acknowledgeFromSlack, acknowledgeIncident } from './acknowledge'

describe('acknowledgeIncident (real Redis)', () => {
  let redis: TestRedis
  let store: IncidentStore
  let audit: AuditLog
  let dir: string
  before(async () => {
    redis = await startRedis()
    dir = mkdtempSync(path.join(os.tmpdir(), 'sentinel-ack-'))
    store = new IncidentStore(redis.client)
    audit = new AuditLog(redis.client, path.join(dir, 'audit.jsonl'))
  })
  after(async () => {
    await redis.stop()
    rmSync(dir, { recursive: true, force: true })
  })

  let n = 0
  async function openIncident(): Promise<string> {
    const { incident } = await store.open(
      {
        fingerprint: `ack:${n++}`,
        type: 'container_down',
        severity: 'critical',
        metric: 'container_running',
        value: 0,
        threshold: 1,
        resource: { kind: 'container', id: `c${n}`, name: `web-${n}` },
        labels: {},
        source: 'test',
        at: new Date().toISOString(),
      },
      { title: 'web is down', actor: 'test' },
    )
    return incident.id
  }
  const httpError = (status: number, code: string, message?: RegExp) => (err: unknown) => {
    assert.ok(err instanceof HttpError, String(err))
    assert.equal(err.status, status)
    assert.equal(err.code, code)
    if (message) assert.match(err.message, message)
    return true
  }

  it('records who took the incident, in the incident, its timeline, the outbox and the audit log', async () => {
    const id = await openIncident()
    const inc = await acknowledgeIncident(
      id,
      { user: 'key:k1', role: 'operator' },
      { comment: '  on it  ' },
      { store, audit },
    )
    assert.equal(inc.acknowledgement?.by, 'key:k1')
    assert.ok(Math.abs(Date.parse(inc.acknowledgement!.at) - Date.now()) < 5000)
    assert.equal(inc.status, 'open', 'acknowledging does not move the status')
    const stored = (await store.get(id))!
    assert.deepEqual(stored.acknowledgement, inc.acknowledgement)
    const entry = stored.timeline.at(-1)!
    assert.equal(entry.stage, 'acknowledged')
    assert.equal(entry.actor, 'key:k1')
    assert.equal(entry.summary, 'acknowledged by key:k1: on it')
    assert.deepEqual(entry.data, { role: 'operator', comment: 'on it', via: 'api' })

    const outbox = (await redis.client.xrange(NOTIFY_OUTBOX, '-', '+')).map(([, f]) => JSON.parse(f[1]))
    assert.ok(
      outbox.some((e) => e.incidentId === id && e.event === 'acknowledged'),
      JSON.stringify(outbox),
    )

    const [ev] = await audit.read(1, id)
    assert.equal(ev.kind, 'incident.acknowledged')
    assert.equal(ev.actor, 'key:k1')
    assert.equal(ev.incidentId, id)
    assert.deepEqual(ev.data, { role: 'operator', comment: 'on it', via: 'api' })
  })

  it('a second acknowledgement is a 409 naming who has it and since when, and changes nothing', async () => {
    const id = await openIncident()
    const first = await acknowledgeIncident(id, { user: 'slack:U1', role: 'admin' }, { via: 'slack' }, { store, audit })
    const version = first.version
    await assert.rejects(
      acknowledgeIncident(id, { user: 'key:k2', role: 'operator' }, {}, { store, audit }),
      httpError(409, 'already_acknowledged', new RegExp(`acknowledged by slack:U1 at ${first.acknowledgement!.at}`)),
    )
    const stored = (await store.get(id))!
    assert.equal(stored.version, version)
    assert.equal(stored.acknowledgement?.by, 'slack:U1')
    assert.equal(stored.timeline.filter((t) => t.stage === 'acknowledged').length, 1)
    assert.equal((await audit.read(10, id)).filter((e) => e.kind === 'incident.acknowledged').length, 1)
  })

  it('of two people acknowledging at once, one owns it and the other gets a 409', async () => {
    const id = await openIncident()
    const results = await Promise.allSettled(
      ['key:a', 'key:b', 'key:c', 'key:d'].map((user) =>
        acknowledgeIncident(id, { user, role: 'operator' }, {}, { store, audit }),
      ),
    )
    const ok = results.filter((r) => r.status === 'fulfilled')
    assert.equal(ok.length, 1, JSON.stringify(results.map((r) => r.status)))
    for (const r of results) if (r.status === 'rejected') assert.ok(httpError(409, 'already_acknowledged')(r.reason))
    const stored = (await store.get(id))!
    assert.equal(stored.timeline.filter((t) => t.stage === 'acknowledged').length, 1)
    assert.equal(
      stored.acknowledgement?.by,
      (ok[0] as PromiseFulfilledResult<{ acknowledgement?: { by: string } }>).value.acknowledgement?.by,
    )
  })

  it('404 for an unknown incident, 409 for a closed one, 403 for a viewer', async () => {
    await assert.rejects(
      acknowledgeIncident('inc_none_0', { user: 'key:k', role: 'operator' }, {}, { store, audit }),
      httpError(404, 'not_found', /inc_none_0/),
    )
    const id = await openIncident()
    await store.update(id, (i) => resolve(i, { actor: 'test', summary: 'fixed' }))
    await assert.rejects(
      acknowledgeIncident(id, { user: 'key:k', role: 'operator' }, {}, { store, audit }),
      httpError(409, 'already_closed', /is resolved/),
    )
    const open = await openIncident()
    await assert.rejects(
      acknowledgeIncident(open, { user: 'key:v', role: 'viewer' }, {}, { store, audit }),
      httpError(403, 'forbidden', /an operator or an admin/),
    )
    assert.equal((await store.get(open))!.acknowledgement, undefined)
  })
})

describe('acknowledgeFromSlack (real Redis)', () => {
  let redis: TestRedis
  let store: IncidentStore
  let audit: AuditLog
  let dir: string
  before(async () => {
    redis = await startRedis()
    dir = mkdtempSync(path.join(os.tmpdir(), 'sentinel-ack-slack-'))
    store = new IncidentStore(redis.client)
    audit = new AuditLog(redis.client, path.join(dir, 'audit.jsonl'))
  })
  after(async () => {
    await redis.stop()
    rmSync(dir, { recursive: true, force: true })
  })

  it('records the click and answers conflicts in words for the clicker', async () => {
    const { incident } = await store.open(
      {
        fingerprint: 'slack-ack',
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
    const onAck = acknowledgeFromSlack({ store, audit })
    assert.deepEqual(await onAck({ incidentId: incident.id, by: 'slack:U0OPER1', role: 'operator' }), { ok: true })
    const stored = (await store.get(incident.id))!
    assert.equal(stored.acknowledgement?.by, 'slack:U0OPER1')
    assert.equal(stored.timeline.at(-1)?.data?.via, 'slack')
    const again = await onAck({ incidentId: incident.id, by: 'slack:U0ADMIN1', role: 'admin' })
    assert.deepEqual(again, { conflict: `already acknowledged by <@U0OPER1> at ${stored.acknowledgement!.at}` })
    assert.deepEqual(await onAck({ incidentId: 'inc_none_1', by: 'slack:U0OPER1', role: 'operator' }), {
      conflict: 'incident not found',
    })
    await store.update(incident.id, (i) => resolve(i, { actor: 'test', summary: 'done' }))
    const { incident: other } = await store.open(
      { ...stored.alert, fingerprint: 'slack-ack-2' },
      { title: 'disk full again', actor: 'test' },
    )
    await store.update(other.id, (i) => resolve(i, { actor: 'test', summary: 'done' }))
    assert.deepEqual(await onAck({ incidentId: other.id, by: 'slack:U0OPER1', role: 'operator' }), {
      conflict: 'it is resolved',
    })
  })
})
