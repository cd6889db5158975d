import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { startRedis, type TestRedis } from '../../../tests/helpers/redis'
import { AuditLog } from './audit'
import { ExecutionStore } from './executions'
import { IncidentStore } from './incidents'
import { note, recordDecision } from './lifecycle'
import { incidentSummary } from './summary'
import type { Alert } from './model'
import { mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'

const alert = (fp: string, at = new Date().toISOString()): Alert => ({
  fingerprint: fp,
  type: 'container_down',
  severity: 'critical',
  metric: 'container_running',
  value: 0,
  threshold: 1,
  resource: { kind: 'container', id: fp, name: fp },
  labels: {},
  source: 'test',
  at,
})

describe('incident store (real Redis)', () => {
  let redis: TestRedis
  let store: IncidentStore
  before(async () => {
    redis = await startRedis()
    store = new IncidentStore(redis.client)
  })
  after(() => redis.stop())

  it('opens one incident per fingerprint while it is open, and a new one after it resolves', async () => {
    const a = await store.open(alert('fp-1'), { title: 't', actor: 'test' })
    const b = await store.open(alert('fp-1'), { title: 't', actor: 'test' })
    assert.equal(a.created, true)
    assert.equal(b.created, false)
    assert.equal(b.incident.id, a.incident.id)
    await store.update(a.incident.id, (i) => {
      i.status = 'resolved'
    })
    const c = await store.open(alert('fp-1'), { title: 't', actor: 'test' })
    assert.equal(c.created, true)
    assert.notEqual(c.incident.id, a.incident.id)
    assert.ok(!(await store.openIds()).includes(a.incident.id))
    assert.ok((await store.openIds()).includes(c.incident.id))
  })

  it('finds an incident again by its id when the same event is replayed', async () => {
    const first = await store.open(alert('fp-replay'), { title: 't', actor: 'test', id: 'inc_replay_1' })
    await store.update(first.incident.id, (i) => {
      i.status = 'resolved'
    })
    const replay = await store.open(alert('fp-replay'), { title: 't', actor: 'test', id: 'inc_replay_1' })
    assert.equal(replay.created, false)
    assert.equal(replay.incident.status, 'resolved')
  })

  it('keeps every concurrent update (compare-and-set)', async () => {
    const { incident } = await store.open(alert('fp-concurrent'), { title: 't', actor: 'test' })
    const second = redis.client.duplicate()
    const other = new IncidentStore(second)
    try {
      await Promise.all(
        Array.from({ length: 60 }, (_, n) =>
          (n % 2 ? store : other).update(incident.id, (i) => note(i, { actor: 'test', summary: `note ${n}` })),
        ),
      )
    } finally {
      second.disconnect()
    }
    const final = (await store.get(incident.id))!
    const notes = final.timeline.filter((t) => t.stage === 'note').map((t) => t.summary)
    assert.equal(notes.length, 60)
    assert.equal(new Set(notes).size, 60)
    assert.equal(final.version, 61)
  })

  it('reads many fingerprints at once and batch-updates without losing a write made in between', async () => {
    const a = (await store.open(alert('fp-batch-a'), { title: 't', actor: 'test' })).incident
    const b = (await store.open(alert('fp-batch-b'), { title: 't', actor: 'test' })).incident
    const held = await store.openIncidentsFor(['fp-batch-a', 'fp-batch-b', 'fp-batch-none'])
    assert.deepEqual([...held.keys()].sort(), ['fp-batch-a', 'fp-batch-b'])
    // Another process writes `a` after it was read: the batch's copy of `a` is stale.
    await store.update(a.id, (i) => note(i, { actor: 'other', summary: 'written in between' }))
    const [newA, newB] = await store.updateMany([
      { incident: held.get('fp-batch-a')!, mutate: (i) => void (i.alert.value = 7) },
      { incident: held.get('fp-batch-b')!, mutate: () => false },
    ])
    assert.equal(newA.alert.value, 7)
    assert.ok(
      newA.timeline.some((t) => t.summary === 'written in between'),
      'the write in between is kept',
    )
    assert.equal(newA.version, 3)
    assert.equal(newB.version, b.version, 'declined: no write')
    const stored = (await store.get(a.id))!
    assert.equal(stored.alert.value, 7)
    assert.equal(stored.version, 3)
  })

  it('lists newest first with a cursor', async () => {
    const ids: string[] = []
    for (let n = 0; n < 5; n++) {
      ids.push((await store.open(alert(`fp-list-${n}`), { title: `t${n}`, actor: 'test' })).incident.id)
      await new Promise((r) => setTimeout(r, 3))
    }
    const page1 = await store.list({ limit: 2 })
    assert.deepEqual(
      page1.map((i) => i.id),
      [ids[4], ids[3]],
    )
    const page2 = await store.list({ limit: 2, beforeMs: Date.parse(page1[1].openedAt) })
    assert.deepEqual(
      page2.map((i) => i.id),
      [ids[2], ids[1]],
    )
  })

  it('claims an execution once', async () => {
    const exec = new ExecutionStore(redis.client)
    assert.equal(await exec.claim('inc_x', 'restart_container', 'a'), null)
    const second = await exec.claim('inc_x', 'restart_container', 'b')
    assert.equal(second?.owner, 'a')
    assert.equal(second?.status, 'started')
    await exec.finish('inc_x', 'restart_container', { status: 'succeeded', result: { performed: 'start' } })
    assert.equal((await exec.claim('inc_x', 'restart_container', 'c'))?.status, 'succeeded')
  })

  it('keeps the audit trail in a file that survives the loss of Redis data', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'sentinel-test-audit-'))
    try {
      const file = path.join(dir, 'audit.jsonl')
      const audit = new AuditLog(redis.client, file)
      await audit.append({ kind: 'action.executed', actor: 'test', incidentId: 'inc_a', outcome: 'succeeded' })
      await audit.append({ kind: 'incident.resolved', actor: 'test', incidentId: 'inc_b' })
      assert.deepEqual((await audit.read(10)).map((e) => e.kind).slice(0, 2), ['incident.resolved', 'action.executed'])
      await redis.client.flushall()
      const fromFile = await new AuditLog(redis.client, file).read(10)
      assert.deepEqual(
        fromFile.map((e) => e.kind),
        ['incident.resolved', 'action.executed'],
      )
      assert.deepEqual(
        (await audit.read(10, 'inc_a')).map((e) => e.incidentId),
        ['inc_a'],
      )
    } finally {
      rmSync(dir, { recursive: true })
    }
  })

  it("keeps each incident's summary in step with it, and pages summaries or whole incidents newest first", async () => {
    const ids: string[] = []
    for (let n = 0; n < 5; n++) {
      const { incident } = await store.open(alert(`fp-page-${n}`), { title: `page ${n}`, actor: 'test' })
      ids.push(incident.id)
      await new Promise((r) => setTimeout(r, 3))
    }
    await store.update(ids[4], (i) => {
      i.analysis = { analyser: 'rules', root_cause: 'x'.repeat(1000), confidence: 0.9 }
      return recordDecision(
        i,
        {
          route: 'auto',
          risk: 'low',
          actionId: 'restart_container',
          params: {},
          reasons: ['r'],
          rule: 'x',
          decidedAt: new Date().toISOString(),
        },
        'test',
      )
    })
    const summaries: any[] = (await store.listStored({ limit: 3, view: 'summary' })).map((s) => JSON.parse(s.json))
    assert.deepEqual(
      summaries.map((s) => s.id),
      [ids[4], ids[3], ids[2]],
    )
    const newest = await store.get(ids[4])
    assert.deepEqual(summaries[0], JSON.parse(JSON.stringify(incidentSummary(newest!))))
    assert.equal(summaries[0].status, 'remediating')
    assert.equal(summaries[0].decision.actionId, 'restart_container')
    assert.equal(summaries[0].analysis.rootCause.length, 200)
    assert.equal(summaries[0].timeline, undefined)
    const full = await store.listStored({ limit: 1, view: 'full' })
    assert.deepEqual(JSON.parse(full[0].json), newest)
    // An incident stored before summaries existed is summarised when listed.
    await redis.client.del(`sentinel:incidents:summary:${ids[3]}`)
    const again = (await store.listStored({ limit: 2, view: 'summary' })).map((s) => JSON.parse(s.json))
    assert.deepEqual(again[1], incidentSummary((await store.get(ids[3]))!))
  })
})
