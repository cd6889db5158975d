/**
 * POST /api/replay against a real Sentinel whose archive holds incidents about a real watched
 * container: an admin gets the table, other roles a 403, bad bodies a 400 naming the field; and
 * nothing is executed: the container is untouched (restart count, state, start time, no Docker
 * events during the call), the rate-limit and remediation-slot keys in Redis are as they were, the
 * only audit entry is replay.run, and no incident changed.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { openArchive } from '../../src/history/archive/open'
import type { SqlClient } from '../../src/history/archive/sql'
import { upsertIncident } from '../../src/history/archive/writer'
import type { Decision, Incident } from '../../src/platform/store/model'
import { docker, removeContainers, runContainer, state, uniqueName } from '../helpers/docker'
import { startRedis, type TestRedis } from '../helpers/redis'
import { PROJECT_ROOT, type SentinelInstance, startSentinel, WATCHED } from '../helpers/sentinel'

const HOUR = 3_600_000
const iso = (ms: number) => new Date(ms).toISOString()

describe('policy replay API', () => {
  let redis: TestRedis
  let sentinel: SentinelInstance
  let db: SqlClient
  const name = uniqueName('replay')
  let containerId = ''
  const T0 = Date.now() - 3 * HOUR
  const archived: Incident[] = []

  /** A container death decided by the fast path under the default policy (3 restarts in 15 min). */
  const death = (n: number, minute: number, decision: Omit<Decision, 'decidedAt' | 'params'>): Incident => {
    const opened = T0 + minute * 60_000
    const resource = { kind: 'container' as const, id: containerId, name }
    const d: Decision = { ...decision, params: { containerId }, decidedAt: iso(opened + 500) }
    return {
      id: `inc_replayapi_${n}`,
      fingerprint: `container_down:${containerId}:${n}`,
      type: 'container_down',
      severity: 'critical',
      status: d.route === 'auto' ? 'resolved' : 'awaiting_approval',
      title: `Container ${name} died`,
      resource,
      alert: {
        fingerprint: `container_down:${containerId}:${n}`,
        type: 'container_down',
        severity: 'critical',
        metric: 'container_running',
        value: 0,
        threshold: 1,
        resource,
        labels: {},
        source: 'docker:die',
        at: iso(opened - 200),
      },
      decision: d,
      actions: [],
      timeline: [
        { stage: 'detected', at: iso(opened), actor: 'sentinel:docker-watcher', summary: `${name} died` },
        { stage: 'decided', at: d.decidedAt, actor: 'sentinel:policy', summary: d.route },
      ],
      openedAt: iso(opened),
      updatedAt: iso(opened + 60_000),
      version: 4,
    }
  }

  before(async () => {
    redis = await startRedis()
    sentinel = await startSentinel({ redisPort: redis.port })
    containerId = await runContainer(name, { labels: WATCHED })
    const auto = { route: 'auto' as const, risk: 'low' as const, actionId: 'restart_container', rule: 'risk:low' }
    archived.push(
      death(1, 0, { ...auto, reasons: ['low risk: fix automatically (1/3 in window)'] }),
      death(2, 1, { ...auto, reasons: ['low risk: fix automatically (2/3 in window)'] }),
      death(3, 2, { ...auto, reasons: ['low risk: fix automatically (3/3 in window)'] }),
      death(4, 3, {
        route: 'approval',
        risk: 'high',
        actionId: 'restart_container',
        approverRole: 'admin',
        rule: 'guardrail:rate-limit',
        reasons: ['rate limit: 3 restart_container in the last 900 s (max 3)'],
      }),
    )
    // The Sentinel's own archive (DATA_DIR/history.sqlite), as the archiver would have filled it.
    db = await openArchive({ DATABASE_URL: undefined, DATA_DIR: sentinel.dataDir, projectRoot: PROJECT_ROOT })
    await db.transaction(async (tx) => {
      for (const i of archived) await upsertIncident(tx, i)
    })
  })
  after(async () => {
    await db?.close()
    await removeContainers(name)
    await sentinel?.cleanup()
    await redis?.stop()
  })

  const range = () => ({ from: iso(T0 - 60_000), to: iso(T0 + HOUR) })

  it('answers an admin with the table, and executes nothing', async () => {
    const containerBefore = await state(name)
    const redisKeys = async () =>
      (await redis.client.keys('sentinel:*'))
        .filter((k) => k.startsWith('sentinel:ratelimit:') || k.startsWith('sentinel:remediation:'))
        .sort()
    const keysBefore = await redisKeys()
    const leasesBefore = await redis.client.zrange('sentinel:remediation:leases', 0, -1, 'WITHSCORES')
    const auditBefore = (await sentinel.get('/api/audit?limit=1000')).body.events as Array<{ kind: string }>
    const docsBefore = await db.all(
      'SELECT id, version, doc FROM incidents JOIN incident_docs ON incident_id = id ORDER BY id',
    )
    // From the first request on (the container's own create and start came before).
    const since = Date.now() / 1000

    // The current (default) policy, and one allowing a single restart per 15 minutes.
    const now = await sentinel.post('/api/replay', range())
    const strict = await sentinel.post('/api/replay', {
      ...range(),
      policy: { rateLimit: { maxActions: 1, windowSeconds: 900 } },
    })

    const until = (Date.now() + 1000) / 1000
    assert.equal(now.status, 200, JSON.stringify(now.body))
    assert.deepEqual(
      now.body.incidents.map((i: any) => [i.id, i.then.route, i.now.route, i.changed]),
      [
        ['inc_replayapi_1', 'auto', 'auto', false],
        ['inc_replayapi_2', 'auto', 'auto', false],
        ['inc_replayapi_3', 'auto', 'auto', false],
        ['inc_replayapi_4', 'approval', 'approval', false],
      ],
    )
    assert.equal(now.body.incidents[0].resource, name)
    assert.equal(now.body.incidents[0].then.outcome, 'resolved')
    assert.equal(now.body.totals.incidents, 4)
    assert.equal(now.body.totals.changed, 0)
    assert.equal(strict.status, 200, JSON.stringify(strict.body))
    assert.deepEqual(
      strict.body.incidents.map((i: any) => [i.now.route, i.now.risk, i.changed]),
      [
        ['auto', 'low', false],
        ['approval', 'high', true],
        ['approval', 'high', true],
        ['approval', 'high', false],
      ],
    )
    assert.deepEqual(
      [strict.body.totals.autoThen, strict.body.totals.autoNow, strict.body.totals.approvalNow],
      [3, 1, 3],
    )
    assert.deepEqual(strict.body.policy.rateLimit, { maxActions: 1, windowSeconds: 900 })

    // Nothing ran: the container as it was, no Docker event about it, Redis's guardrail keys as they were.
    const containerAfter = await state(name)
    assert.deepEqual(
      [containerAfter.Running, containerAfter.StartedAt, containerAfter.RestartCount, containerAfter.Pid],
      [containerBefore.Running, containerBefore.StartedAt, containerBefore.RestartCount, containerBefore.Pid],
    )
    const events = await docker(
      'events',
      '--since',
      since.toFixed(3),
      '--until',
      until.toFixed(3),
      '--filter',
      `container=${containerId}`,
      '--format',
      '{{json .}}',
    )
    assert.equal(events, '', `Docker events during the replay: ${events}`)
    assert.deepEqual(await redisKeys(), keysBefore)
    assert.deepEqual(await redis.client.zrange('sentinel:remediation:leases', 0, -1, 'WITHSCORES'), leasesBefore)
    // Two replays, two audit entries, nothing else.
    const auditAfter = (await sentinel.get('/api/audit?limit=1000')).body.events as Array<any>
    const added = auditAfter.slice(0, auditAfter.length - auditBefore.length)
    assert.deepEqual(
      added.map((e) => [e.kind, e.actor.startsWith('key:')]),
      [
        ['replay.run', true],
        ['replay.run', true],
      ],
    )
    // Newest first: the strict replay, then the one under the current policy.
    assert.deepEqual(added[0].data.overrides, { rateLimit: { maxActions: 1, windowSeconds: 900 } })
    assert.deepEqual(added[1].data.overrides, {})
    assert.deepEqual([added[0].data.from, added[0].data.to], [range().from, range().to])
    assert.deepEqual(
      await db.all('SELECT id, version, doc FROM incidents JOIN incident_docs ON incident_id = id ORDER BY id'),
      docsBefore,
    )
    assert.equal((await sentinel.get('/api/incidents?view=full')).body.incidents.length, 0, 'none opened in Redis')
  })

  it('is for admins only', async () => {
    for (const role of ['operator', 'viewer'] as const) {
      const res = await sentinel.post('/api/replay', range(), role)
      assert.equal(res.status, 403, role)
    }
    assert.equal((await sentinel.post('/api/replay', range(), null)).status, 401)
  })

  it('refuses bad bodies naming the field', async () => {
    const cases: Array<[unknown, RegExp]> = [
      [{ ...range(), policy: { shadowMode: 'yes' } }, /body\.policy\.shadowMode/],
      [{ ...range(), policy: { sandboxMode: true } }, /body\.policy: Unrecognized key: "sandboxMode"/],
      [{ ...range(), limit: 20_000 }, /body\.limit/],
      [{ ...range(), policy: { allowedActions: ['format_disk'] } }, /body\.policy\.allowedActions\.0/],
      [{ ...range(), policy: { freezeWindows: '61 * * * *|1h|UTC' } }, /body\.policy\.freezeWindows/],
      [{ from: range().to, to: range().from }, /body\.to: is before body\.from/],
      [{ to: range().to }, /body\.from/],
    ]
    for (const [body, message] of cases) {
      const res = await sentinel.post('/api/replay', body)
      assert.equal(res.status, 400, JSON.stringify(body))
      assert.match(res.body.message, message)
    }
  })
})
