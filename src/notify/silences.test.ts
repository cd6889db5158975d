import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { after, before, beforeEach, describe, it } from 'node:test'
import { z } from 'zod'
import { startRedis, type TestRedis } from '../../tests/helpers/redis'
import { HttpError } from '../platform/http/errors'
import { AuditLog } from '../platform/store/audit'
import { matches, parseMatcher } from './matchers'
import {
  createSilence,
  expireSilence,
  matcherOf,
  matchersProblem,
  matcherText,
  parseDuration,
  SILENCES_KEY,
  silenceBody,
  SilenceStore,
  silenceWindow,
} from './silences'

const HOUR = 3_600_000
const DAY = 24 * HOUR
const ms = (...texts: string[]) => texts.map(parseMatcher)
const iso = (t: number) => new Date(t).toISOString()

const problem = (status: number, code: string, fields?: string[], message?: RegExp) => (err: unknown) => {
  assert.ok(err instanceof HttpError, String(err))
  assert.equal(err.status, status, err.message)
  assert.equal(err.code, code)
  if (fields)
    assert.deepEqual(
      ((err.details as { fields: { field: string }[] }).fields ?? []).map((f) => f.field),
      fields,
      err.message,
    )
  if (message) assert.match(err.message, message)
  return true
}

describe('silence rules', () => {
  it('parses durations', () => {
    assert.equal(parseDuration('30m'), 30 * 60_000)
    assert.equal(parseDuration('2h'), 2 * HOUR)
    assert.equal(parseDuration('1h30m'), 90 * 60_000)
    assert.equal(parseDuration('7d'), 7 * DAY)
    assert.equal(parseDuration('1w'), 7 * DAY)
    assert.equal(parseDuration('45s'), 45_000)
    for (const bad of ['', '0m', '2', 'h', '2x', '-1h', '1.5h', '30m2h']) assert.equal(parseDuration(bad), null, bad)
  })

  it('writes matchers as Alertmanager does, and reads them back the same', () => {
    for (const t of [
      'severity="critical"',
      'node!="db-1"',
      'type=~"container_.*"',
      'container!~"test-.*"',
      'x="a\\"b"',
    ])
      assert.equal(matcherText(parseMatcher(t)), t)
  })

  it('refuses a regular expression that cannot run in linear time, and runs any other in linear time', () => {
    assert.throws(() => parseMatcher('container=~"(?<=a)b"'), /not a regular expression .*linear time/)
    assert.throws(() => parseMatcher('container=~"(?!db).*"'), /linear time/)
    // Catastrophic for a backtracking engine against a long label; answered at once here.
    const hog = parseMatcher('container=~"(a+)+"')
    assert.equal(matches([hog], { container: `${'a'.repeat(5000)}!` }), false)
    assert.equal(matches([hog], { container: 'aaaa' }), true)
  })

  it('needs one matcher that narrows the silence', () => {
    assert.equal(matchersProblem(ms('severity="critical"')), null)
    assert.equal(matchersProblem(ms('type=~"container_.*"')), null)
    assert.equal(matchersProblem(ms('node!="db-1"', 'container="web"')), null)
    assert.match(matchersProblem([])!, /at least one matcher/)
    for (const broad of [
      ['type=~".*"'],
      ['type=~".+"'],
      ['type=~"(?:.|\\n)*"'],
      ['node!="db-1"'],
      ['node!~"db-.*"'],
      ['container=""'],
      ['type=~".*"', 'node!="x"'],
    ])
      assert.match(matchersProblem(ms(...broad)) ?? 'accepted', /must narrow/, broad.join(', '))
  })

  it("validates the API's body, naming the field", () => {
    const ok = silenceBody.safeParse({ matchers: ['severity="critical"'], duration: '2h', comment: ' deploy ' })
    assert.ok(ok.success, JSON.stringify(ok.error?.issues))
    assert.equal(ok.data.comment, 'deploy')
    const now = Date.now()
    assert.deepEqual(silenceWindow(ok.data, now), { endMs: now + 2 * HOUR })
    assert.deepEqual(ok.data.matchers.map(matcherOf), [
      { name: 'severity', value: 'critical', isRegex: false, isEqual: true },
    ])
    // Motia draws every step's body as JSON Schema: the body schema must be representable.
    assert.doesNotThrow(() => z.toJSONSchema(silenceBody))
    const start = Date.now() + HOUR
    const later = silenceBody.parse({
      matchers: [{ name: 'node', value: 'db-.*', isRegex: true }],
      startsAt: iso(start),
      duration: '30m',
      comment: 'maintenance',
    })
    assert.deepEqual(silenceWindow(later, now), { startGiven: start, endMs: start + 30 * 60_000 })
    // A start in the past counts as now: the duration runs from now.
    assert.deepEqual(silenceWindow({ startsAt: iso(now - HOUR), duration: '1h' }, now), {
      startGiven: now - HOUR,
      endMs: now + HOUR,
    })
    assert.deepEqual(silenceWindow({ endsAt: iso(now + HOUR) }, now), { endMs: now + HOUR })

    const paths = (body: unknown) => {
      const r = silenceBody.safeParse(body)
      assert.equal(r.success, false, JSON.stringify(body))
      return r.error!.issues.map((i) => i.path.join('.'))
    }
    const base = { matchers: ['severity="critical"'], duration: '2h', comment: 'x' }
    assert.deepEqual(paths({ ...base, matchers: [] }), ['matchers'])
    assert.deepEqual(paths({ ...base, matchers: ['sev=="x"'] }), ['matchers.0'])
    assert.deepEqual(paths({ ...base, matchers: ['type=~".*"'] }), ['matchers'])
    assert.deepEqual(paths({ ...base, comment: '' }), ['comment'])
    assert.deepEqual(paths({ ...base, comment: 'x'.repeat(501) }), ['comment'])
    assert.deepEqual(paths({ ...base, duration: 'soon' }), ['duration'])
    assert.deepEqual(paths({ ...base, duration: '31d' }), ['duration'])
    assert.deepEqual(paths({ ...base, duration: undefined }), ['endsAt'])
    assert.deepEqual(paths({ ...base, endsAt: iso(Date.now() + HOUR) }), ['duration'])
    assert.deepEqual(paths({ ...base, duration: undefined, endsAt: iso(Date.now() - 1000) }), ['endsAt'])
    assert.deepEqual(paths({ ...base, duration: undefined, endsAt: iso(Date.now() + 31 * DAY) }), ['endsAt'])
    assert.deepEqual(paths({ ...base, duration: undefined, endsAt: 'tomorrow' }), ['endsAt'])
    assert.deepEqual(
      paths({ ...base, duration: undefined, endsAt: iso(Date.now() + HOUR), startsAt: iso(Date.now() + 2 * HOUR) }),
      ['startsAt'],
    )
    assert.deepEqual(paths({ ...base, extra: 1 }), [''])
    // Every field's problem at once, each named once.
    assert.deepEqual(paths({ matchers: ['sev=="x"', 'node!="a"'], duration: 'soon', comment: '' }).sort(), [
      'comment',
      'duration',
      'matchers.0',
    ])
    assert.deepEqual(paths({ matchers: ['node!="a"'], duration: '40d', comment: 'x' }).sort(), ['duration', 'matchers'])
  })
})

describe('SilenceStore (real Redis)', () => {
  let redis: TestRedis
  let dir: string
  let clock = Date.now()
  let store: SilenceStore
  before(async () => {
    redis = await startRedis()
    dir = mkdtempSync(path.join(os.tmpdir(), 'sentinel-silences-'))
  })
  after(async () => {
    await redis.stop()
    rmSync(dir, { recursive: true, force: true })
  })
  beforeEach(async () => {
    await redis.client.del(SILENCES_KEY)
    clock = Date.now()
    store = new SilenceStore(redis.client, { now: () => clock })
    store.invalidate()
  })

  const create = (over: Partial<Parameters<SilenceStore['create']>[0]> = {}) =>
    store.create({
      matchers: ms('severity="critical"'),
      endsAt: iso(clock + 2 * HOUR),
      createdBy: 'key:op',
      comment: 'deploy',
      ...over,
    })

  it('creates a silence with its status computed, and lists it', async () => {
    const s = await create({ comment: '  the db migration  ' })
    assert.match(s.id, /^sil_[a-z0-9]+_[0-9a-f]{10}$/)
    assert.equal(s.status, 'active')
    assert.equal(s.startsAt, iso(clock))
    assert.equal(s.createdAt, iso(clock))
    assert.equal(s.endsAt, iso(clock + 2 * HOUR))
    assert.equal(s.comment, 'the db migration')
    assert.equal(s.createdBy, 'key:op')
    assert.deepEqual(s.matchers, [{ name: 'severity', value: 'critical', isRegex: false, isEqual: true }])
    assert.deepEqual(await store.get(s.id), s)
    assert.deepEqual(await store.list(), [s])
    // Stored without its status: that is computed when asked.
    assert.equal(JSON.parse((await redis.client.hget(SILENCES_KEY, s.id))!).status, undefined)
    clock += 2 * HOUR
    assert.equal((await store.get(s.id))!.status, 'expired')
  })

  it('a start in the past is now; a start ahead is pending until it comes', async () => {
    const past = await create({ startsAt: iso(clock - HOUR) })
    assert.equal(past.startsAt, iso(clock))
    const ahead = await create({ startsAt: iso(clock + HOUR), endsAt: iso(clock + 3 * HOUR) })
    assert.equal(ahead.status, 'pending')
    clock += HOUR
    assert.equal((await store.get(ahead.id))!.status, 'active')
  })

  it('refuses what cannot make a silence, naming the field', async () => {
    await assert.rejects(create({ matchers: [] }), problem(400, 'invalid_request', ['matchers']))
    await assert.rejects(create({ matchers: ms('node!="x"') }), problem(400, 'invalid_request', ['matchers']))
    await assert.rejects(create({ endsAt: iso(clock) }), problem(400, 'invalid_request', ['endsAt'], /future/))
    await assert.rejects(
      create({ endsAt: iso(clock + 30 * DAY + 1000) }),
      problem(400, 'invalid_request', ['endsAt'], /30 days/),
    )
    assert.ok(await create({ endsAt: iso(clock + 30 * DAY) }), 'exactly 30 days is allowed')
    await assert.rejects(
      create({ startsAt: iso(clock + 3 * HOUR) }),
      problem(400, 'invalid_request', ['startsAt'], /before the end/),
    )
    await assert.rejects(create({ comment: '   ' }), problem(400, 'invalid_request', ['comment']))
    await assert.rejects(create({ endsAt: 'never' }), problem(400, 'invalid_request', ['endsAt']))
    await assert.rejects(
      store.create(
        { matchers: [], endsAt: iso(clock - 1), createdBy: 'key:op', comment: '' },
        { fieldPrefix: 'body.' },
      ),
      problem(400, 'invalid_request', ['body.matchers', 'body.endsAt', 'body.comment']),
    )
  })

  it('lists active, then pending, then what ended in the last 24 hours; prunes after 7 days', async () => {
    const longActive = await create({ endsAt: iso(clock + 5 * HOUR), comment: 'long' })
    const shortActive = await create({ endsAt: iso(clock + HOUR), comment: 'short' })
    const pendingLate = await create({ startsAt: iso(clock + 3 * HOUR), endsAt: iso(clock + 4 * HOUR) })
    const pendingSoon = await create({ startsAt: iso(clock + HOUR), endsAt: iso(clock + 4 * HOUR) })
    const endedLongAgo = await create({ endsAt: iso(clock + 10 * 60_000) })
    const endedRecently = await create({ endsAt: iso(clock + 20 * 60_000) })
    const endedOld = await create({ endsAt: iso(clock + 30 * 60_000) })
    // Eight days on, endedOld was expired early, eight days ago... set the scene by hand:
    const stored = JSON.parse((await redis.client.hget(SILENCES_KEY, endedOld.id))!)
    stored.endsAt = iso(clock - 8 * DAY)
    await redis.client.hset(SILENCES_KEY, endedOld.id, JSON.stringify(stored))
    const stale = JSON.parse((await redis.client.hget(SILENCES_KEY, endedLongAgo.id))!)
    stale.endsAt = iso(clock - 2 * DAY)
    await redis.client.hset(SILENCES_KEY, endedLongAgo.id, JSON.stringify(stale))
    clock += 30 * 60_000
    const list = await store.list()
    assert.deepEqual(
      list.map((s) => [s.id, s.status]),
      [
        [shortActive.id, 'active'],
        [longActive.id, 'active'],
        [pendingSoon.id, 'pending'],
        [pendingLate.id, 'pending'],
        [endedRecently.id, 'expired'],
      ],
    )
    // Ended two days ago: not listed, still kept; eight days ago: deleted.
    assert.ok(await redis.client.hexists(SILENCES_KEY, endedLongAgo.id))
    assert.equal(await redis.client.hexists(SILENCES_KEY, endedOld.id), 0)
  })

  it('expire ends a silence now; unknown is 404, expired is 409', async () => {
    const s = await create()
    clock += 60_000
    const done = await store.expire(s.id, 'key:other')
    assert.equal(done.status, 'expired')
    assert.equal(done.endsAt, iso(clock))
    assert.equal(done.startsAt, s.startsAt)
    assert.equal(done.expiredBy, 'key:other')
    assert.deepEqual(await store.get(s.id), done)
    await assert.rejects(store.expire(s.id, 'key:op'), problem(409, 'already_expired', undefined, /ended already/))
    await assert.rejects(store.expire('sil_nope_0', 'key:op'), problem(404, 'not_found', undefined, /sil_nope_0/))
    // A pending one: its window becomes empty.
    const p = await create({ startsAt: iso(clock + HOUR), endsAt: iso(clock + 2 * HOUR) })
    const ended = await store.expire(p.id, 'key:op')
    assert.equal(ended.startsAt, iso(clock))
    assert.equal(ended.endsAt, iso(clock))
    assert.equal(ended.status, 'expired')
    // Two people at once: one ends it, the other is told it has ended.
    const both = await create()
    const results = await Promise.allSettled([store.expire(both.id, 'key:a'), store.expire(both.id, 'key:b')])
    assert.deepEqual(results.map((r) => r.status).sort(), ['fulfilled', 'rejected'])
  })

  it('mutedBy answers the active silence that matches, from a copy at most a second old', async () => {
    const labels = { severity: 'critical', type: 'container_down', node: 'db-1', container: 'pg' }
    assert.equal(await store.mutedBy(labels), null)
    const s = await create({ matchers: ms('node=~"db-.*"', 'type="container_down"') })
    // Created through this client: seen at once.
    assert.equal((await store.mutedBy(labels))?.id, s.id)
    assert.equal((await store.mutedBy(labels))?.status, 'active')
    assert.equal(await store.mutedBy({ ...labels, node: 'web-1' }), null)
    assert.equal(await store.mutedBy({ ...labels, type: 'cpu' }), null)
    // Its window: not before it starts, not once it ends.
    assert.equal(await store.mutedBy(labels, clock + 2 * HOUR), null)
    assert.equal(await store.mutedBy(labels, clock - 1000), null)
    // Of two, the one that ends last.
    const longer = await create({ matchers: ms('severity="critical"'), endsAt: iso(clock + 5 * HOUR) })
    assert.equal((await store.mutedBy(labels))?.id, longer.id)
    await store.expire(longer.id, 'key:op')
    assert.equal((await store.mutedBy(labels))?.id, s.id)

    // Another process's change (written straight to Redis here) is seen within a second, and the
    // copy is not read again before that: calls in between cost no Redis round trip.
    const otherClient = redis.client.duplicate()
    const other = new SilenceStore(otherClient, { now: () => clock })
    await other.expire(s.id, 'key:elsewhere')
    otherClient.disconnect()
    assert.equal((await store.mutedBy(labels))?.id, s.id, 'still the cached copy')
    const calls = 200
    const t0 = performance.now()
    for (let i = 0; i < calls; i++) await store.mutedBy(labels)
    const perCall = (performance.now() - t0) / calls
    assert.ok(perCall < 1, `${perCall.toFixed(3)} ms per call`)
    await new Promise((r) => setTimeout(r, 1100))
    assert.equal(await store.mutedBy(labels), null, 'the change seen after the cache expired')
  })

  it('createSilence and expireSilence audit what they do', async () => {
    const audit = new AuditLog(redis.client, path.join(dir, 'audit.jsonl'))
    const input = silenceBody.parse({ matchers: ['container="web"'], duration: '30m', comment: 'redeploying web' })
    const s = await createSilence(input, { user: 'key:op', role: 'operator' }, { silences: store, audit })
    assert.equal(s.createdBy, 'key:op')
    assert.equal(s.status, 'active')
    assert.ok(Math.abs(Date.parse(s.endsAt) - Date.now() - 30 * 60_000) < 5000, s.endsAt)
    await expireSilence(s.id, { user: 'key:adm', role: 'admin' }, { silences: store, audit })
    const events = (await audit.read(10)).filter((e) => e.resource === s.id)
    assert.deepEqual(
      events.map((e) => [e.kind, e.actor]),
      [
        ['silence.expired', 'key:adm'],
        ['silence.created', 'key:op'],
      ],
    )
    assert.deepEqual(events[1].data?.matchers, ['container="web"'])
    assert.equal(events[1].data?.comment, 'redeploying web')
  })
})
