/**
 * The archiver on SQLite and on PostgreSQL (real Redis, a real SQLite file, a real PostgreSQL
 * server): incidents written through the store and taken through the lifecycle, and audit entries,
 * reach the archive with all their parts; a write during a pass stays marked and the next pass
 * archives it; incidents stored before the marks existed are archived too; PostgreSQL killed and
 * restarted under the archiver loses nothing, and the outage is logged once, without the password.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import {
  archivedCounts,
  assertArchived,
  driveIncident,
  redisIncidents,
  SHAPES,
} from '../../tests/helpers/archive-fixtures'
import { waitFor } from '../../tests/helpers/ports'
import { startPostgres, type TestPostgres } from '../../tests/helpers/postgres'
import { startRedis, type TestRedis } from '../../tests/helpers/redis'
import { AuditLog } from '../platform/store/audit'
import { ARCHIVE_PENDING, IncidentStore } from '../platform/store/incidents'
import { note } from '../platform/store/lifecycle'
import type { Incident } from '../platform/store/model'
import type { LogFn } from '../platform/telemetry/log'
import { openArchive } from './archive/open'
import type { SqlClient } from './archive/sql'
import { readCursor } from './archive/writer'
import { AUDIT_CURSOR, AUDIT_STREAM, BACKFILL_DONE, runArchivePass, startArchiver } from './archiver'

type Logged = { level: string; msg: string; data?: Record<string, unknown> }
const capture =
  (into: Logged[]): LogFn =>
  (level, msg, data) =>
    void into.push({ level, msg, data })

for (const dialect of ['sqlite', 'postgres'] as const) {
  describe(`archiver (${dialect})`, () => {
    let redis: TestRedis
    let pg: TestPostgres | undefined
    let dir: string
    let db: SqlClient
    let store: IncidentStore
    let audit: AuditLog

    before(async () => {
      redis = await startRedis()
      if (dialect === 'postgres') pg = await startPostgres()
      dir = mkdtempSync(path.join(os.tmpdir(), 'sentinel-archiver-'))
      db = await openArchive({ DATABASE_URL: pg?.url, DATA_DIR: dir, projectRoot: dir })
      assert.equal(db.dialect, dialect)
      store = new IncidentStore(redis.client)
      audit = new AuditLog(redis.client, path.join(dir, 'audit', 'audit.jsonl'))
    })
    after(async () => {
      await db?.close().catch(() => {})
      await redis?.stop()
      await pg?.stop()
      rmSync(dir, { recursive: true, force: true })
    })

    it('archives incidents with their timeline, actions, approval and snapshots, and the audit log', async () => {
      const final = new Map<string, Incident>()
      for (const shape of SHAPES) {
        const doc = await driveIncident(store, shape, `fp-${dialect}-${shape}`)
        final.set(shape, doc)
      }
      for (let n = 0; n < 5; n++)
        await audit.append({
          kind: n % 2 ? 'action.executed' : 'policy.decided',
          actor: 'test',
          incidentId: final.get('auto_fixed')!.id,
          resource: 'web',
          outcome: 'ok',
          data: { n },
        })
      assert.equal(await redis.client.zcard(ARCHIVE_PENDING), SHAPES.length, 'every incident is marked')

      const hooked: Incident[] = []
      const archiver = startArchiver({
        redis: redis.client,
        db,
        log: () => {},
        intervalMs: 3_600_000,
        metrics: null,
        onArchived: (incidents) => void hooked.push(...incidents),
      })
      await archiver.drain()
      await archiver.stop()

      const inRedis = await redisIncidents(redis.client)
      assert.equal(inRedis.size, SHAPES.length)
      await assertArchived(db, inRedis.values())
      assert.equal(await redis.client.zcard(ARCHIVE_PENDING), 0, 'nothing left marked')

      // The parts themselves, not only their counts.
      const fixed = final.get('auto_fixed')!
      const [row] = await db.all<{ status: string; auto_fixed: number; doc: string; root_cause: string }>(
        'SELECT status, auto_fixed, doc, root_cause FROM incidents JOIN incident_docs ON incident_id = id WHERE id = ?',
        [fixed.id],
      )
      assert.equal(row.status, 'resolved')
      assert.equal(row.auto_fixed, 1)
      assert.equal(row.root_cause, 'the OOM killer ended it')
      assert.deepEqual(JSON.parse(row.doc), fixed)
      const stages = await db.all<{ stage: string }>(
        'SELECT stage FROM incident_timeline WHERE incident_id = ? ORDER BY seq',
        [fixed.id],
      )
      assert.deepEqual(
        stages.map((s) => s.stage),
        fixed.timeline.map((e) => e.stage),
      )
      const [snapshot] = await db.all<{ doc: string }>('SELECT doc FROM incident_snapshots WHERE incident_id = ?', [
        fixed.id,
      ])
      assert.deepEqual(JSON.parse(snapshot.doc), fixed.snapshots![0])
      const approved = final.get('approved_failed')!
      const [approval] = await db.all<{ status: string; decided_by: string; comment: string }>(
        'SELECT status, decided_by, comment FROM incident_approvals WHERE incident_id = ?',
        [approved.id],
      )
      assert.deepEqual(approval, { status: 'approved', decided_by: 'user:ops', comment: 'go' })
      const [action] = await db.all<{ status: string; error: string }>(
        'SELECT status, error FROM incident_actions WHERE incident_id = ?',
        [approved.id],
      )
      assert.deepEqual(action, { status: 'failed', error: 'no such container' })

      const stream = await redis.client.xrange(AUDIT_STREAM, '-', '+')
      const entries = await db.all<{ entry_id: string; kind: string; incident_id: string; data: string }>(
        'SELECT entry_id, kind, incident_id, data FROM audit_entries',
      )
      assert.deepEqual(entries.map((e) => e.entry_id).sort(), stream.map(([id]) => id).sort())
      const byId = new Map(entries.map((e) => [e.entry_id, e]))
      for (const [id, fields] of stream) {
        const event = JSON.parse(fields[fields.indexOf('event') + 1])
        assert.equal(byId.get(id)!.kind, event.kind)
        assert.equal(byId.get(id)!.incident_id, fixed.id)
        assert.deepEqual(JSON.parse(byId.get(id)!.data), event.data)
      }
      assert.equal(await readCursor(db, AUDIT_CURSOR), stream.at(-1)![0])

      // The hook saw every incident at the version archived last.
      const lastHooked = new Map(hooked.map((i) => [i.id, i.version]))
      for (const doc of inRedis.values()) assert.equal(lastHooked.get(doc.id), doc.version)
    })

    it('leaves an incident written during a pass marked, and the next pass archives it', async () => {
      const doc = await driveIncident(store, 'open', `fp-${dialect}-race`)
      let newer: Incident | undefined
      // The write comes after the pass read the document and committed it, before it releases the mark.
      const racing: SqlClient = {
        ...db,
        transaction: async (fn) => {
          const out = await db.transaction(fn)
          newer ??= await store.update(doc.id, (i) => note(i, { actor: 'test', summary: 'a write during the pass' }))
          return out
        },
      }
      const first = await runArchivePass({ redis: redis.client, db: racing })
      assert.ok(newer && newer.version === doc.version + 1)
      assert.deepEqual(
        first.written.map((i) => [i.id, i.version]),
        [[doc.id, doc.version]],
      )
      assert.equal(first.more, true, 'the pass says more is waiting')
      assert.equal(Number(await redis.client.zscore(ARCHIVE_PENDING, doc.id)), newer.version, 'still marked')
      assert.equal((await archivedCounts(db)).get(doc.id)?.version, doc.version)

      const second = await runArchivePass({ redis: redis.client, db })
      assert.deepEqual(
        second.written.map((i) => [i.id, i.version]),
        [[doc.id, newer.version]],
      )
      assert.equal(second.more, false)
      assert.equal(await redis.client.zscore(ARCHIVE_PENDING, doc.id), null)
      await assertArchived(db, [newer])
    })

    it('archives incidents stored before the marks existed, once for a new archive', async () => {
      const old = await driveIncident(store, 'auto_fixed', `fp-${dialect}-before-marks`)
      // As an incident written by a Sentinel without the archive: no mark.
      await redis.client.zrem(ARCHIVE_PENDING, old.id)
      await db.run('DELETE FROM archive_state WHERE name = ?', [BACKFILL_DONE])
      const archiver = startArchiver({ redis: redis.client, db, log: () => {}, intervalMs: 3_600_000, metrics: null })
      await archiver.drain()
      await archiver.stop()
      await assertArchived(db, (await redisIncidents(redis.client)).values())
      assert.ok(await readCursor(db, BACKFILL_DONE))
      assert.equal(await redis.client.zcard(ARCHIVE_PENDING), 0)
    })

    if (dialect === 'postgres')
      it('keeps everything marked while PostgreSQL is down, logs it once, and catches up when it is back', async () => {
        const logs: Logged[] = []
        const archiver = startArchiver({
          redis: redis.client,
          db,
          log: capture(logs),
          intervalMs: 100,
          metrics: null,
        })
        try {
          await driveIncident(store, 'auto_fixed', 'fp-pg-before-crash')
          await waitFor(async () => (await redis.client.zcard(ARCHIVE_PENDING)) === 0, {
            timeoutMs: 30_000,
            what: 'the archiver to catch up before the crash',
          })
          await pg!.crash()
          const during: Incident[] = []
          for (const shape of SHAPES) during.push(await driveIncident(store, shape, `fp-pg-during-${shape}`))
          for (let n = 0; n < 3; n++) await audit.append({ kind: 'note', actor: 'test', data: { during: n } })
          await waitFor(() => archiver.status().failedPasses >= 2, {
            timeoutMs: 30_000,
            what: 'passes failing while PostgreSQL is down',
          })
          assert.equal(await redis.client.zcard(ARCHIVE_PENDING), during.length, 'the writes wait in Redis')
          assert.ok(archiver.status().outageSince)

          await pg!.restart()
          const streamLength = await redis.client.xlen(AUDIT_STREAM)
          await waitFor(
            async () =>
              (await redis.client.zcard(ARCHIVE_PENDING)) === 0 &&
              Number((await db.all<{ n: number }>('SELECT COUNT(*) AS n FROM audit_entries'))[0].n) === streamLength,
            { timeoutMs: 60_000, what: 'the archiver to catch up after the restart' },
          )
          await assertArchived(db, (await redisIncidents(redis.client)).values())
          assert.equal(archiver.status().outageSince, null)
        } finally {
          await archiver.stop()
        }
        const paused = logs.filter((l) => /archiving paused/.test(l.msg))
        assert.equal(paused.length, 1, 'one line for the outage, however many passes failed')
        assert.equal(paused[0].level, 'error')
        assert.equal(logs.filter((l) => /reachable again/.test(l.msg)).length, 1)
        assert.ok(!JSON.stringify(logs).includes(pg!.password), 'the password is never logged')
      })
  })
}
