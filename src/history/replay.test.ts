import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { startPostgres, type TestPostgres } from '../../tests/helpers/postgres'
import { startRedis, type TestRedis } from '../../tests/helpers/redis'
import { decide } from '../decide/index'
import { takeRateLimit } from '../decide/rate-limit'
import { targetMismatch } from '../decide/target'
import { HttpError } from '../platform/http/errors'
import type { Decision, Incident, ResourceRef, RiskLevel } from '../platform/store/model'
import { migrate } from './archive/schema'
import { openPostgres, openSqlite, type SqlClient } from './archive/sql'
import { upsertIncident } from './archive/writer'
import { parseReplayRequest, replay, runReplay, SimulatedRateLimit, SimulatedSlots, type ReplayResult } from './replay'

// Monday 2025-03-03 08:00 UTC; incidents are placed in minutes from it.
const T0 = Date.parse('2025-03-03T08:00:00.000Z')
const iso = (ms: number) => new Date(ms).toISOString()
const CURRENT = {
  ALLOWED_ACTIONS: [] as string[],
  SHADOW_MODE: false,
  CONFIDENCE_THRESHOLD: 0.5,
  RATE_LIMIT_MAX_ACTIONS: 3,
  RATE_LIMIT_WINDOW_SECONDS: 900,
  FREEZE_WINDOWS: [],
  MAX_CONCURRENT_REMEDIATIONS: 2,
  MAX_CONCURRENT_RECOVERIES: 32,
}

const container = (name: string): ResourceRef => ({ kind: 'container', id: `c0de${name}0000000000`, name })

interface Spec {
  n: number
  minute: number
  type: Incident['type']
  resource: ResourceRef
  /** fast: decided at once by the container fast path (restart); flow: from the analysis. */
  path: 'fast' | 'flow' | 'docker' | 'none'
  fix?: { action: string; params: Record<string, unknown> } | null
  risk?: RiskLevel
  confidence?: number
  /** How long its fix ran, when it ran (s). */
  ranSeconds?: number
}

const web = container('web')
const api = container('api')
const cache = container('cache')
const SPECS: Spec[] = [
  { n: 0, minute: -5, type: 'container_down', resource: api, path: 'fast', ranSeconds: 2 }, // before the range
  { n: 1, minute: 0, type: 'container_down', resource: web, path: 'fast', ranSeconds: 150 },
  { n: 2, minute: 2, type: 'container_down', resource: web, path: 'fast', ranSeconds: 2 },
  { n: 3, minute: 3, type: 'container_down', resource: api, path: 'fast', ranSeconds: 2 },
  { n: 4, minute: 4, type: 'container_down', resource: web, path: 'fast', ranSeconds: 2 },
  { n: 5, minute: 6, type: 'container_down', resource: web, path: 'fast' }, // rate-limited then
  {
    n: 6,
    minute: 10,
    type: 'memory',
    resource: container('db'),
    path: 'flow',
    fix: { action: 'update_memory_limit', params: { containerId: 'c0dedb0000000000', memoryBytes: 536870912 } },
    risk: 'medium',
    confidence: 0.8,
  },
  {
    n: 7,
    minute: 20,
    type: 'container_unhealthy',
    resource: cache,
    path: 'flow',
    fix: { action: 'restart_container', params: { containerId: cache.id } },
    risk: 'low',
    confidence: 0.9,
    ranSeconds: 2,
  },
  {
    n: 8,
    minute: 40,
    type: 'container_unhealthy',
    resource: cache,
    path: 'flow',
    fix: { action: 'restart_container', params: { containerId: cache.id } },
    risk: 'low',
    confidence: 0.3,
  },
  {
    n: 9,
    minute: 50,
    type: 'disk',
    resource: { kind: 'filesystem', id: '/srv', name: '/srv' },
    path: 'flow',
    fix: { action: 'clean_sandbox', params: {} },
    risk: 'low',
    confidence: 0.9,
  },
  {
    n: 10,
    minute: 60,
    type: 'anomaly',
    resource: { kind: 'series', id: 'latency:web', name: 'latency:web' },
    path: 'flow',
    fix: null,
  },
  {
    n: 11,
    minute: 70,
    type: 'cpu',
    resource: { kind: 'host', id: 'node1', name: 'node1' },
    path: 'flow',
    fix: { action: 'kill_process', params: { pid: 4242 } },
    risk: 'high',
    confidence: 0.9,
  },
  { n: 12, minute: 80, type: 'container_down', resource: container('worker'), path: 'docker' },
  { n: 13, minute: 90, type: 'container_down', resource: container('batch'), path: 'none' },
  {
    n: 14,
    minute: 100,
    type: 'container_unhealthy',
    resource: web,
    path: 'flow',
    fix: { action: 'restart_container', params: { containerId: 'someone-else' } },
    risk: 'low',
    confidence: 0.9,
  },
  { n: 15, minute: 120, type: 'container_down', resource: web, path: 'fast', ranSeconds: 2 },
]
const idOf = (n: number) => `inc_replay_${String(n).padStart(2, '0')}`

/**
 * The incidents as the real policy decided them under CURRENT: decide() with the real Redis rate
 * limit at each decision's time, the fast path's and the flow's inputs as they give them.
 */
async function recordedIncidents(redis: TestRedis): Promise<Incident[]> {
  const out: Incident[] = []
  for (const s of SPECS) {
    const opened = T0 + s.minute * 60_000
    const decidedAt = opened + (s.path === 'fast' ? 1000 : 8000)
    const base = { id: idOf(s.n), type: s.type, resource: s.resource }
    let decision: Decision | undefined
    let actor = 'step:DecideRemediation'
    if (s.path === 'docker') {
      actor = 'sentinel:policy'
      decision = {
        route: 'defer',
        risk: 'low',
        actionId: null,
        params: {},
        rule: 'docker-restart-policy',
        reasons: ["the container's own restart policy restarts it; Sentinel verifies instead of acting"],
        decidedAt: iso(decidedAt),
      }
    } else if (s.path !== 'none') {
      const proposal =
        s.path === 'fast'
          ? { actionId: 'restart_container', params: { containerId: s.resource.id } }
          : s.fix
            ? { actionId: s.fix.action, params: s.fix.params }
            : null
      if (s.path === 'fast') actor = 'sentinel:policy'
      const mismatch = s.path === 'flow' && proposal && targetMismatch(base, proposal.actionId, proposal.params)
      decision = mismatch
        ? {
            route: 'escalate',
            risk: 'high',
            actionId: proposal.actionId,
            params: proposal.params,
            approverRole: 'admin',
            rule: 'target-not-incident-resource',
            reasons: [mismatch],
            decidedAt: iso(decidedAt),
          }
        : await decide(
            {
              incident: base,
              proposal,
              ...(s.path === 'flow' ? { analysisRisk: s.risk, confidence: s.confidence } : {}),
            },
            {
              config: CURRENT,
              takeRateLimit: (a, r, i) =>
                takeRateLimit(
                  a,
                  r,
                  i,
                  CURRENT.RATE_LIMIT_MAX_ACTIONS,
                  CURRENT.RATE_LIMIT_WINDOW_SECONDS,
                  redis.client,
                  decidedAt,
                ),
              activeFreeze: () => null,
              now: () => new Date(decidedAt),
            },
          )
    }
    const ran = s.ranSeconds !== undefined && decision?.actionId
    const status: Incident['status'] =
      s.path === 'none'
        ? 'suppressed'
        : decision?.route === 'auto' || decision?.route === 'defer'
          ? 'resolved'
          : decision?.route === 'escalate'
            ? 'escalated'
            : 'awaiting_approval'
    out.push({
      id: idOf(s.n),
      fingerprint: `fp-${s.n}`,
      type: s.type,
      severity: 'critical',
      status,
      title: `incident ${s.n} on ${s.resource.name}`,
      resource: s.resource,
      alert: {
        fingerprint: `fp-${s.n}`,
        type: s.type,
        severity: 'critical',
        metric: 'm',
        value: 1,
        threshold: 0,
        resource: s.resource,
        labels: {},
        source: 'test',
        at: iso(opened - 500),
      },
      ...(decision ? { decision } : {}),
      actions: ran
        ? [
            {
              actionId: decision!.actionId!,
              params: decision!.params,
              status: 'succeeded',
              startedAt: iso(decidedAt),
              finishedAt: iso(decidedAt + s.ranSeconds! * 1000),
            },
          ]
        : [],
      // The fast path's incidents are analysed afterwards; an unsure analysis must not change their replay.
      analysis:
        s.path === 'fast'
          ? { analyser: 'rules', cause: 'crashed', root_cause: 'it crashed', confidence: 0.1, risk_level: 'high' }
          : s.path === 'flow'
            ? {
                analyser: 'rules',
                cause: 'x',
                root_cause: 'y',
                proposed_fix: s.fix ?? null,
                risk_level: s.risk ?? 'low',
                ...(s.confidence !== undefined ? { confidence: s.confidence } : {}),
              }
            : undefined,
      timeline: [
        { stage: 'detected', at: iso(opened), actor: 'sentinel:docker-watcher', summary: 'detected' },
        ...(decision
          ? [{ stage: 'decided' as const, at: decision.decidedAt, actor, summary: `${decision.route}` }]
          : []),
      ],
      openedAt: iso(opened),
      updatedAt: iso(opened + 60_000),
      version: 5,
    })
  }
  return out
}

const row = (r: ReplayResult, n: number) => {
  const found = r.incidents.find((i) => i.id === idOf(n))
  assert.ok(found, `incident ${n} replayed`)
  return found
}
const range = { from: iso(T0), to: iso(T0 + 130 * 60_000) }

for (const dialect of ['sqlite', 'postgres'] as const) {
  describe(`policy replay over a ${dialect} archive`, () => {
    let redis: TestRedis
    let pg: TestPostgres | undefined
    let dir: string
    let db: SqlClient
    let recorded: Incident[]

    before(async () => {
      redis = await startRedis()
      dir = mkdtempSync(path.join(os.tmpdir(), 'sentinel-test-replay-'))
      if (dialect === 'postgres') {
        pg = await startPostgres()
        db = openPostgres(pg.url)
      } else db = openSqlite(path.join(dir, 'history.sqlite'))
      await migrate(db)
      recorded = await recordedIncidents(redis)
      await db.transaction(async (tx) => {
        for (const i of recorded) await upsertIncident(tx, i)
      })
    })
    after(async () => {
      await db?.close()
      await pg?.stop()
      await redis?.stop()
      rmSync(dir, { recursive: true, force: true })
    })

    it('reproduces every recorded decision with the policy they were made under', async () => {
      // The recorded decisions are what the real policy made: the rate limit cut in on web's 4th death.
      assert.equal(recorded[5].decision?.rule, 'guardrail:rate-limit')
      const r = await replay(db, CURRENT, parseReplayRequest(range))
      assert.equal(r.incidents.length, 15, 'the incident before the range is not listed')
      assert.deepEqual(
        r.incidents.map((i) => i.id),
        SPECS.slice(1).map((s) => idOf(s.n)),
        'oldest first',
      )
      for (const inc of recorded.slice(1)) {
        const got = row(r, Number(inc.id.slice(-2)))
        assert.deepEqual(
          [got.now.route, got.now.risk, got.now.actionId],
          [inc.decision?.route ?? null, inc.decision?.risk ?? null, inc.decision?.actionId ?? null],
          `${inc.id}: ${got.now.reasons.join('; ')}`,
        )
        assert.deepEqual(got.then, {
          route: inc.decision?.route ?? null,
          risk: inc.decision?.risk ?? null,
          actionId: inc.decision?.actionId ?? null,
          outcome: inc.status,
        })
        assert.equal(got.changed, false)
      }
      assert.equal(r.totals.changed, 0)
      assert.equal(r.totals.autoThen, r.totals.autoNow)
      assert.equal(r.totals.approvalThen, r.totals.approvalNow)
      assert.equal(r.totals.escalateThen, r.totals.escalateNow)
      assert.equal(r.totals.waitNow, 0)
      assert.deepEqual(r.policy.overridden, [])
    })

    it('reports what a stricter policy changes: allow-list, rate limit, a freeze over part of the range', async () => {
      const r = await replay(
        db,
        CURRENT,
        parseReplayRequest({
          ...range,
          policy: {
            allowedActions: ['restart_container'],
            rateLimit: { maxActions: 2, windowSeconds: 900 },
            freezeWindows: '15 8 * * *|20m|UTC|morning freeze',
          },
        }),
      )
      // Hand-counted (see SPECS): web's 3rd death meets the lower limit; the db, disk and cpu fixes are
      // not allowed; the cache restart at 08:20 falls in the freeze.
      const changed = r.incidents.filter((i) => i.changed).map((i) => i.id)
      assert.deepEqual(changed, [4, 6, 7, 9, 11].map(idOf))
      assert.deepEqual([row(r, 4).now.route, row(r, 4).now.risk], ['approval', 'high'])
      assert.match(row(r, 4).now.reasons.at(-1)!, /rate limit: 2 restart_container on web/)
      assert.deepEqual([row(r, 6).now.route, row(r, 6).now.risk], ['escalate', 'high'])
      assert.match(row(r, 6).now.reasons[0], /not in ALLOWED_ACTIONS/)
      assert.deepEqual([row(r, 7).now.route, row(r, 7).now.risk], ['approval', 'low'])
      assert.match(row(r, 7).now.reasons.at(-1)!, /change freeze morning freeze/)
      assert.equal(row(r, 8).now.route, 'approval', 'outside the freeze: unchanged')
      // The api restart before the range counts: 2 in the window with the one at minute 3.
      assert.equal(row(r, 3).now.route, 'auto')
      assert.match(row(r, 3).now.reasons.at(-1)!, /\(2\/2 in window\)/)
      assert.equal(row(r, 15).now.route, 'auto', 'the window has moved on')
      assert.deepEqual(r.totals, {
        incidents: 15,
        changed: 5,
        autoThen: 6,
        autoNow: 4,
        approvalThen: 5,
        approvalNow: 4,
        escalateThen: 2,
        escalateNow: 5,
        shadowNow: 0,
        deferNow: 1,
        waitNow: 0,
      })
      assert.deepEqual(r.policy.overridden.sort(), ['allowedActions', 'freezeWindows', 'rateLimit'])
      assert.deepEqual(r.policy.freezeWindows, ['15 8 * * *|20m|UTC|morning freeze'])
    })

    it('in shadow mode every fix is recorded and none runs', async () => {
      const r = await replay(db, CURRENT, parseReplayRequest({ ...range, policy: { shadowMode: true } }))
      assert.deepEqual(
        {
          shadow: r.totals.shadowNow,
          escalate: r.totals.escalateNow,
          defer: r.totals.deferNow,
          auto: r.totals.autoNow,
          approval: r.totals.approvalNow,
          changed: r.totals.changed,
        },
        { shadow: 11, escalate: 2, defer: 1, auto: 0, approval: 0, changed: 11 },
      )
      assert.equal(row(r, 13).now.route, null, 'closed before a decision then')
    })

    it("overrides an action's risk, and simulates the cap on fixes at once", async () => {
      const risky = await replay(
        db,
        CURRENT,
        parseReplayRequest({ ...range, policy: { risk: { restart_container: 'medium' } } }),
      )
      assert.equal(risky.totals.autoNow, 0)
      assert.equal(risky.totals.approvalNow, 11)
      assert.deepEqual(
        risky.incidents.filter((i) => i.changed).map((i) => i.id),
        [1, 2, 3, 4, 5, 7, 8, 15].map(idOf),
      )
      assert.match(row(risky, 1).now.reasons[0], /restart_container is medium risk \(set so; the catalog says low\)/)

      // Starts of dead containers have a cap of their own per node. One at a time: web's 2nd restart
      // (minute 2) waits for the 1st, which ran 150 s.
      const one = await replay(db, CURRENT, parseReplayRequest({ ...range, policy: { maxConcurrentRecoveries: 1 } }))
      assert.equal(one.totals.waitNow, 1)
      assert.match(
        row(one, 2).now.reasons.at(-1)!,
        /would wait about 30 s for a recovery slot on local \(1 running, max 1\)/,
      )
      assert.equal(row(one, 2).now.route, 'auto')
      // The cap on other fixes at once does not hold them back.
      const other = await replay(
        db,
        CURRENT,
        parseReplayRequest({ ...range, policy: { maxConcurrentRemediations: 1 } }),
      )
      assert.equal(row(other, 2).now.reasons.at(-1)!.includes('would wait'), false)
    })

    it('honours the limit, and an empty range is empty', async () => {
      const r = await replay(db, CURRENT, parseReplayRequest({ ...range, limit: 4 }))
      assert.deepEqual(
        r.incidents.map((i) => i.id),
        [1, 2, 3, 4].map(idOf),
      )
      const none = await replay(
        db,
        CURRENT,
        parseReplayRequest({ from: iso(T0 - 86400_000 * 30), to: iso(T0 - 86400_000 * 29) }),
      )
      assert.equal(none.totals.incidents, 0)
    })

    it('audits the run once, with the range and the overrides, and writes nothing else', async () => {
      const audited: unknown[] = []
      const before = await db.all(
        'SELECT id, version, doc FROM incidents JOIN incident_docs ON incident_id = id ORDER BY id',
      )
      const keysBefore = await redis.client.keys('*')
      await runReplay(parseReplayRequest({ ...range, policy: { shadowMode: true } }), 'key:adm', {
        db,
        config: CURRENT,
        audit: { append: async (e) => (audited.push(e), { at: '', ...e }) },
      })
      assert.equal(audited.length, 1)
      assert.deepEqual(audited[0], {
        kind: 'replay.run',
        actor: 'key:adm',
        outcome: '11 of 15 changed',
        data: {
          from: range.from,
          to: range.to,
          limit: 1000,
          overrides: { shadowMode: true },
          totals: {
            incidents: 15,
            changed: 11,
            autoThen: 6,
            autoNow: 0,
            approvalThen: 5,
            approvalNow: 0,
            escalateThen: 2,
            escalateNow: 2,
            shadowNow: 11,
            deferNow: 1,
            waitNow: 0,
          },
        },
      })
      assert.deepEqual(
        await db.all('SELECT id, version, doc FROM incidents JOIN incident_docs ON incident_id = id ORDER BY id'),
        before,
      )
      assert.deepEqual((await redis.client.keys('*')).sort(), keysBefore.sort())
    })
  })
}

describe('replay request', () => {
  const refusal = (body: unknown): HttpError => {
    try {
      parseReplayRequest(body)
    } catch (err) {
      assert.ok(err instanceof HttpError)
      assert.equal(err.status, 400)
      return err
    }
    assert.fail('accepted')
  }
  const fields = (body: unknown): string[] =>
    (refusal(body).details as { fields: Array<{ field: string }> }).fields.map((f) => f.field)
  it('refuses bad bodies naming the field', () => {
    assert.deepEqual(fields({ ...range, extra: 1 }), ['body.(root)'])
    assert.match(refusal({ ...range, extra: 1 }).message, /Unrecognized key: "extra"/)
    assert.deepEqual(fields({ ...range, policy: { shadowmode: true } }), ['body.policy'])
    assert.match(refusal({ ...range, policy: { shadowmode: true } }).message, /"shadowmode"/)
    assert.deepEqual(fields({ from: 'yesterday', to: range.to }), ['body.from'])
    assert.deepEqual(fields({ ...range, limit: 10_001 }), ['body.limit'])
    assert.deepEqual(fields({ ...range, policy: { allowedActions: ['rm_rf'] } }), ['body.policy.allowedActions.0'])
    assert.deepEqual(fields({ ...range, policy: { risk: { restart_container: 'none' } } }), [
      'body.policy.risk.restart_container',
    ])
    assert.deepEqual(fields({ ...range, policy: { rateLimit: { maxActions: 0, windowSeconds: 60 } } }), [
      'body.policy.rateLimit.maxActions',
    ])
    assert.deepEqual(fields({ ...range, policy: { freezeWindows: 'every friday' } }), ['body.policy.freezeWindows'])
    assert.deepEqual(fields({ from: range.to, to: range.from }), ['body.to'])
    assert.deepEqual(fields({ to: range.to }), ['body.from'])
  })
  it('defaults the limit to 1000', () => {
    assert.equal(parseReplayRequest(range).limit, 1000)
  })
})

describe('the simulated rate limit and slots', () => {
  it('count as the Redis ones do: a member once, entries past the window dropped', () => {
    const rl = new SimulatedRateLimit()
    assert.deepEqual(rl.take('a', 'r', 'i1', 2, 60, 0), { allowed: true, count: 1, max: 2, windowSeconds: 60 })
    assert.equal(rl.take('a', 'r', 'i1', 2, 60, 1000).count, 1, 'the same member again')
    assert.equal(rl.take('a', 'r', 'i2', 2, 60, 2000).allowed, true)
    assert.equal(rl.take('a', 'r', 'i3', 2, 60, 3000).allowed, false)
    assert.equal(rl.take('a', 'other', 'i3', 2, 60, 3000).allowed, true, 'per resource')
    assert.equal(rl.take('a', 'r', 'i4', 2, 60, 60_000).allowed, true, 'i1 left the window')
    const slots = new SimulatedSlots(1)
    assert.deepEqual(slots.take('x', 0, 10_000), { waitMs: 0, running: 0 })
    assert.deepEqual(slots.take('y', 4000, 1000), { waitMs: 6000, running: 1 })
    assert.deepEqual(slots.take('z', 20_000, 1000), { waitMs: 0, running: 0 })
  })
})
