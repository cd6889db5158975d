/**
 * Retention (real Redis, a real SQLite archive): closed incidents past INCIDENT_RETENTION_DAYS that
 * the archive holds leave Redis with every key and index member that named them; open, escalated,
 * recent, unarchived and newer-than-archived ones stay; the archive still has what left.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { archivedCounts, driveIncident, redisIncidents } from '../../tests/helpers/archive-fixtures'
import { waitFor } from '../../tests/helpers/ports'
import { startRedis, type TestRedis } from '../../tests/helpers/redis'
import { ARCHIVE_PENDING, incidentKeys, IncidentStore } from '../platform/store/incidents'
import { note } from '../platform/store/lifecycle'
import type { Incident } from '../platform/store/model'
import { openArchive } from './archive/open'
import type { SqlClient } from './archive/sql'
import { startArchiver } from './archiver'
import { startRetention, sweepRetention } from './retention'

const DAY = 86_400_000

describe('retention (real Redis, SQLite archive)', () => {
  let redis: TestRedis
  let dir: string
  let db: SqlClient
  let store: IncidentStore
  const drain = async () => {
    const archiver = startArchiver({ redis: redis.client, db, log: () => {}, intervalMs: 3_600_000, metrics: null })
    await archiver.drain()
    await archiver.stop()
  }
  /** Every Redis key and index member that names the incident. */
  const traces = async (i: Incident) => {
    const r = redis.client
    const out: string[] = []
    if (await r.exists(incidentKeys.doc(i.id))) out.push('doc')
    if (await r.exists(incidentKeys.summary(i.id))) out.push('summary')
    if ((await r.zscore(incidentKeys.byTime, i.id)) !== null) out.push('by_time')
    if ((await r.zscore(incidentKeys.byResource(i.resource), i.id)) !== null) out.push('resource')
    if ((await r.get(incidentKeys.last(i.fingerprint))) === i.id) out.push('last')
    if (await r.sismember(incidentKeys.open, i.id)) out.push('open')
    if ((await r.zscore(ARCHIVE_PENDING, i.id)) !== null) out.push('pending')
    return out
  }

  before(async () => {
    redis = await startRedis()
    dir = mkdtempSync(path.join(os.tmpdir(), 'sentinel-retention-'))
    db = await openArchive({ DATABASE_URL: undefined, DATA_DIR: dir, projectRoot: dir })
    store = new IncidentStore(redis.client)
  })
  after(async () => {
    await db?.close()
    await redis?.stop()
    rmSync(dir, { recursive: true, force: true })
  })

  it('removes old archived closed incidents from Redis, and only those', async () => {
    // Archived and closed: these go (one shares its resource with an open incident, whose index stays).
    const resolved = await driveIncident(store, 'auto_fixed', 'fp-ret-resolved', 'shared')
    const suppressed = await driveIncident(store, 'escalated_suppressed', 'fp-ret-suppressed')
    // Its fingerprint's `last` points at the newer incident of the same problem, which stays open.
    const superseded = await driveIncident(store, 'auto_fixed', 'fp-ret-again')
    const open = await driveIncident(store, 'open', 'fp-ret-again', 'shared')
    const escalated = await driveIncident(store, 'approved_failed', 'fp-ret-escalated')
    const changedSince = await driveIncident(store, 'auto_fixed', 'fp-ret-changed')
    const markLost = await driveIncident(store, 'auto_fixed', 'fp-ret-mark-lost')
    await drain()
    // Written after the archive took it: the archive's version is older (marked, or, for
    // markLost, the mark removed by hand: the version check alone must keep it).
    const changed = await store.update(changedSince.id, (i) => note(i, { actor: 'test', summary: 'late note' }))
    const lost = await store.update(markLost.id, (i) => note(i, { actor: 'test', summary: 'late note' }))
    await redis.client.zrem(ARCHIVE_PENDING, markLost.id)
    // Never archived at all.
    const unarchived = await driveIncident(store, 'auto_fixed', 'fp-ret-unarchived')

    assert.deepEqual(await traces(resolved), ['doc', 'summary', 'by_time', 'resource', 'last'])
    assert.deepEqual(await traces(superseded), ['doc', 'summary', 'by_time', 'resource'])

    // Nothing is old enough yet.
    assert.equal(await sweepRetention({ redis: redis.client, db, retentionDays: 7 }), 0)
    assert.equal((await redisIncidents(redis.client)).size, 8)

    // Eight days on; pages of 2 so the walk pages over kept and removed incidents.
    const later = () => Date.now() + 8 * DAY
    const removed = await sweepRetention({ redis: redis.client, db, retentionDays: 7, now: later, pageSize: 2 })
    assert.equal(removed, 3)
    // Gone from Redis but the summary the analysis's memory of its resource reads, until 90 days
    // after it opened.
    for (const gone of [resolved, suppressed, superseded]) {
      assert.deepEqual(await traces(gone), ['summary', 'resource'], gone.id)
      const ttl = await redis.client.pttl(incidentKeys.summary(gone.id))
      assert.ok(ttl > 80 * DAY && ttl <= 90 * DAY, `summary ttl ${ttl}`)
    }
    const remembered = await store.recentOfResource(resolved.resource, 50)
    assert.ok(
      remembered.some((s) => s.id === resolved.id),
      'the analysis still remembers the resource',
    )
    assert.deepEqual(await traces(open), ['doc', 'summary', 'by_time', 'resource', 'last', 'open'])
    assert.deepEqual(await traces(escalated), ['doc', 'summary', 'by_time', 'resource', 'last'])
    assert.deepEqual(await traces(changed), ['doc', 'summary', 'by_time', 'resource', 'last', 'pending'])
    assert.deepEqual(await traces(lost), ['doc', 'summary', 'by_time', 'resource', 'last'])
    assert.deepEqual(await traces(unarchived), ['doc', 'summary', 'by_time', 'resource', 'last', 'pending'])

    // The archive still has what left Redis, whole.
    const archived = await archivedCounts(db)
    for (const gone of [resolved, suppressed, superseded]) assert.equal(archived.get(gone.id)?.version, gone.version)
    const [row] = await db.all<{ doc: string }>('SELECT doc FROM incident_docs WHERE incident_id = ?', [resolved.id])
    assert.deepEqual(JSON.parse(row.doc), resolved)

    // Once archived, the changed and the unarchived ones go too; the mark-lost one waits for its mark.
    await drain()
    assert.equal(await sweepRetention({ redis: redis.client, db, retentionDays: 7, now: later }), 2)
    assert.deepEqual(await traces(changed), ['summary', 'resource'])
    assert.deepEqual(await traces(unarchived), ['summary', 'resource'])
    assert.deepEqual(await traces(lost), ['doc', 'summary', 'by_time', 'resource', 'last'])
    assert.deepEqual([...(await redisIncidents(redis.client)).keys()].sort(), [open.id, escalated.id, lost.id].sort())
  })

  it('keeps an incident written while the sweep was checking the archive', async () => {
    const doc = await driveIncident(store, 'auto_fixed', 'fp-ret-race')
    await drain()
    let written: Incident | undefined
    // The write lands after the sweep read the document and the archive's version, before it removes.
    const racing: SqlClient = {
      ...db,
      all: async (sql, params) => {
        const rows = await db.all(sql, params)
        if (/FROM incidents WHERE id IN/.test(sql))
          written ??= await store.update(doc.id, (i) => note(i, { actor: 'test', summary: 'during the sweep' }))
        return rows as never
      },
    }
    const later = () => Date.now() + 8 * DAY
    assert.equal(await sweepRetention({ redis: redis.client, db: racing, retentionDays: 7, now: later }), 0)
    assert.ok(written)
    assert.deepEqual(await traces(written), ['doc', 'summary', 'by_time', 'resource', 'last', 'pending'])
    await drain()
    assert.equal(await sweepRetention({ redis: redis.client, db, retentionDays: 7, now: later }), 1)
    assert.deepEqual(await traces(written), ['summary', 'resource'])
  })

  it('sweeps at start on its own, and keeps incidents when the archive cannot be read', async () => {
    const doc = await driveIncident(store, 'escalated_suppressed', 'fp-ret-loop')
    await drain()
    const failing = startRetention({
      redis: redis.client,
      db: () => Promise.reject(new Error('archive down')),
      retentionDays: 7,
      now: () => Date.now() + 8 * DAY,
      log: () => {},
      metrics: null,
    })
    await assert.rejects(failing.sweep(), /archive down/)
    await failing.stop()
    assert.deepEqual(await traces(doc), ['doc', 'summary', 'by_time', 'resource', 'last'])

    const retention = startRetention({
      redis: redis.client,
      db,
      retentionDays: 7,
      now: () => Date.now() + 8 * DAY,
      log: () => {},
      metrics: null,
    })
    try {
      await waitFor(() => retention.status().lastSweepAt, { timeoutMs: 10_000, what: 'the sweep at start' })
      assert.deepEqual(await traces(doc), ['summary', 'resource'])
      assert.equal(retention.status().removedTotal, 1)
    } finally {
      await retention.stop()
    }
  })
})
