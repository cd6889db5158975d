/**
 * kill -9 during archiving loses nothing and duplicates nothing, on SQLite and on PostgreSQL: a
 * child process archives thousands of marked incidents (taken through the lifecycle by the real
 * store) and audit entries, is killed with SIGKILL part-way (after its first commits, before the
 * end), the incidents change meanwhile, and a second run finishes. Every incident is then archived
 * exactly once at its latest version with as many child rows as its document has parts, and every
 * audit entry exactly once. Then kill -9 during the retention sweep: every incident is still either
 * whole in Redis or in the archive, never half-removed, and a second sweep finishes the job.
 */
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { openArchive } from '../../src/history/archive/open'
import type { SqlClient } from '../../src/history/archive/sql'
import { AUDIT_STREAM } from '../../src/history/archiver'
import { AuditLog } from '../../src/platform/store/audit'
import { ARCHIVE_PENDING, incidentKeys, IncidentStore } from '../../src/platform/store/incidents'
import { isClosed, note } from '../../src/platform/store/lifecycle'
import { archivedCounts, assertArchived, driveIncident, redisIncidents, SHAPES } from '../helpers/archive-fixtures'
import { sleep } from '../helpers/ports'
import { startPostgres, type TestPostgres } from '../helpers/postgres'
import { startRedis, type TestRedis } from '../helpers/redis'

const ROOT = path.resolve(import.meta.dirname, '..', '..')
const CHILD = path.join(ROOT, 'tests', 'helpers', 'archive-child.ts')
const INCIDENTS = 2000
const AUDIT_ENTRIES = 3000
const DAY = 86_400_000

/** Runs `fn` over `items`, `width` at a time. */
async function inParallel<T, R>(items: T[], width: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length)
  let next = 0
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < items.length) {
        const n = next++
        out[n] = await fn(items[n])
      }
    }),
  )
  return out
}

interface Child {
  proc: ChildProcess
  stdout: () => string
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>
}

function runChild(mode: 'archive' | 'retention', env: Record<string, string>): Child {
  const proc = spawn(process.execPath, ['--import', 'tsx', CHILD, mode], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stderr = ''
  let stdout = ''
  proc.stderr!.on('data', (d) => (stderr += d))
  proc.stdout!.on('data', (d) => (stdout += d))
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>((resolve) =>
    proc.once('exit', (code, signal) => resolve({ code, signal, stderr })),
  )
  return { proc, stdout: () => stdout, exited }
}

/** Runs the child until `due()` says so, then kill -9; fails when it ended first. */
async function killWhen(child: Child, due: () => Promise<boolean>, what: string): Promise<void> {
  let ended = false
  void child.exited.then(() => (ended = true))
  for (;;) {
    if (ended) {
      const r = await child.exited
      assert.fail(`the child ended (${r.code ?? r.signal}) before ${what}: ${r.stderr}`)
    }
    if (await due()) break
    await sleep(10)
  }
  child.proc.kill('SIGKILL')
  const r = await child.exited
  assert.equal(r.signal, 'SIGKILL', `killed with SIGKILL (${r.stderr})`)
}

async function runToEnd(child: Child): Promise<void> {
  const r = await child.exited
  assert.equal(r.code, 0, `the child finished: ${r.stderr}`)
}

const count = async (db: SqlClient, table: string) =>
  Number((await db.all<{ n: number }>(`SELECT COUNT(*) AS n FROM ${table}`))[0].n)

describe('kill -9 during archiving and retention (real Redis, SQLite, PostgreSQL)', () => {
  let redis: TestRedis
  let pg: TestPostgres
  let dir: string
  let store: IncidentStore
  let audit: AuditLog
  let marks: string[]
  const children: ChildProcess[] = []
  const archives: SqlClient[] = []

  before(async () => {
    redis = await startRedis()
    pg = await startPostgres()
    dir = mkdtempSync(path.join(os.tmpdir(), 'sentinel-archive-crash-'))
    store = new IncidentStore(redis.client)
    audit = new AuditLog(redis.client, path.join(dir, 'audit', 'audit.jsonl'))
    await inParallel(
      Array.from({ length: INCIDENTS }, (_, n) => n),
      16,
      (n) => driveIncident(store, SHAPES[n % SHAPES.length], `fp-crash-${n}`, `web-${n % 37}`),
    )
    await inParallel(
      Array.from({ length: AUDIT_ENTRIES }, (_, n) => n),
      16,
      (n) =>
        audit.append({ kind: 'action.executed', actor: 'test', incidentId: `inc-${n}`, outcome: 'ok', data: { n } }),
    )
    // The marks as the store left them, to give each archive the same work.
    marks = await redis.client.zrange(ARCHIVE_PENDING, 0, -1, 'WITHSCORES')
    assert.equal(marks.length / 2, INCIDENTS)
  })
  after(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL')
    for (const db of archives) await db.close().catch(() => {})
    await redis?.stop()
    await pg?.stop()
    rmSync(dir, { recursive: true, force: true })
  })

  const restoreMarks = async () => {
    const r = redis.client
    await r.del(ARCHIVE_PENDING)
    for (let i = 0; i < marks.length; i += 1000) {
      const page = marks.slice(i, i + 1000)
      const args: (string | number)[] = []
      for (let j = 0; j < page.length; j += 2) args.push(Number(page[j + 1]), page[j])
      await r.zadd(ARCHIVE_PENDING, ...args)
    }
  }

  for (const dialect of ['sqlite', 'postgres'] as const)
    it(`archives every incident and audit entry exactly once after a kill -9 (${dialect})`, async (t) => {
      const sqliteDir = path.join(dir, dialect)
      const cfg = { DATABASE_URL: dialect === 'postgres' ? pg.url : undefined, DATA_DIR: '.', projectRoot: sqliteDir }
      const db = await openArchive(cfg)
      archives.push(db)
      await restoreMarks()
      const env = {
        ARCHIVE_REDIS_PORT: String(redis.port),
        ARCHIVE_DATABASE_URL: cfg.DATABASE_URL ?? '',
        ARCHIVE_SQLITE_DIR: sqliteDir,
        ARCHIVE_BATCH: '10', // small passes: many commits to land the kill between
      }

      const first = runChild('archive', env)
      children.push(first.proc)
      let atKill = 0
      await killWhen(
        first,
        async () => (atKill = await count(db, 'incidents')) >= INCIDENTS / 5,
        'a fifth of the incidents were archived',
      )
      const archivedAtKill = await count(db, 'incidents')
      assert.ok(archivedAtKill >= atKill && archivedAtKill < INCIDENTS, `killed part-way (${archivedAtKill} archived)`)
      const markedAtKill = await redis.client.zcard(ARCHIVE_PENDING)
      assert.ok(markedAtKill > 0, 'marks were left for the second run')
      t.diagnostic(`killed with ${archivedAtKill} incidents archived, ${markedAtKill} still marked`)

      // Killed again in the narrowest place: a page committed, its marks not released yet (the
      // second run's commits: a page of incidents, a page of audit entries, the next incidents).
      const held = runChild('archive', { ...env, ARCHIVE_HOLD_AFTER: '3' })
      children.push(held.proc)
      await killWhen(held, async () => held.stdout().includes('held'), 'it held after a commit')
      const flat = await redis.client.zrange(ARCHIVE_PENDING, 0, -1, 'WITHSCORES')
      const archivedNow = await archivedCounts(db)
      let coveredButMarked = 0
      for (let i = 0; i < flat.length; i += 2)
        if ((archivedNow.get(flat[i])?.version ?? -1) >= Number(flat[i + 1])) coveredButMarked++
      assert.ok(coveredButMarked > 0, 'marks of committed incidents were left (the window the kill hit)')
      t.diagnostic(`killed after a commit with ${coveredButMarked} archived incidents still marked`)

      // Life goes on between the two runs: incidents change, the audit log grows.
      const open = [...(await redisIncidents(redis.client)).values()].filter((i) => i.status === 'open').slice(0, 50)
      for (const i of open)
        await store.update(i.id, (x) => note(x, { actor: 'test', summary: `between runs (${dialect})` }))
      for (let n = 0; n < 100; n++) await audit.append({ kind: 'note', actor: 'test', data: { between: n, dialect } })

      const second = runChild('archive', env)
      children.push(second.proc)
      await runToEnd(second)

      const docs = await redisIncidents(redis.client)
      assert.equal(docs.size, INCIDENTS)
      await assertArchived(db, docs.values())
      assert.equal((await archivedCounts(db)).size, INCIDENTS, 'no incident the store does not have')
      assert.equal(await redis.client.zcard(ARCHIVE_PENDING), 0)

      const stream = await redis.client.xrange(AUDIT_STREAM, '-', '+')
      const entries = await db.all<{ entry_id: string }>('SELECT entry_id FROM audit_entries')
      assert.equal(entries.length, stream.length, 'every audit entry once')
      assert.deepEqual(entries.map((e) => e.entry_id).sort(), stream.map(([id]) => id).sort())
    })

  it('loses no incident when the retention sweep is killed with kill -9', async (t) => {
    // The PostgreSQL archive holds every incident at its latest version (previous test).
    const before = await redisIncidents(redis.client)
    const closed = [...before.values()].filter((i) => isClosed(i)).length
    assert.ok(closed > 0)
    const env = {
      ARCHIVE_REDIS_PORT: String(redis.port),
      ARCHIVE_DATABASE_URL: pg.url,
      RETENTION_DAYS: '7',
      RETENTION_AHEAD_MS: String(8 * DAY),
      RETENTION_PAGE: '5',
    }
    const first = runChild('retention', env)
    children.push(first.proc)
    await killWhen(
      first,
      async () => (await redis.client.zcard(incidentKeys.byTime)) <= INCIDENTS - 20,
      'the sweep removed its first incidents',
    )
    const left = await redisIncidents(redis.client)
    const removedAtKill = INCIDENTS - left.size
    assert.ok(removedAtKill > 0 && removedAtKill < closed, `killed part-way (${removedAtKill} of ${closed} removed)`)
    t.diagnostic(`killed with ${removedAtKill} of ${closed} closed incidents removed`)

    const db = archives.at(-1)!
    const check = async () => {
      const archived = await archivedCounts(db)
      const inRedis = await redisIncidents(redis.client)
      for (const [id, doc] of before) {
        const here = inRedis.get(id)
        if (here) {
          // Whole: its summary and index members are there with it.
          assert.ok(await redis.client.exists(incidentKeys.summary(id)), `${id}: summary kept`)
          assert.notEqual(await redis.client.zscore(incidentKeys.byTime, id), null, `${id}: by-time kept`)
        } else {
          assert.ok(isClosed(doc), `${id} was closed`)
          assert.equal(archived.get(id)?.version, doc.version, `${id} is in the archive at its last version`)
          // Its summary stays only for the analysis's memory of its resource, and then with an end.
          const remembered = (await redis.client.zscore(incidentKeys.byResource(doc.resource), id)) !== null
          assert.equal(
            await redis.client.exists(incidentKeys.summary(id)),
            remembered ? 1 : 0,
            `${id}: summary kept only for the resource's memory`,
          )
          if (remembered) assert.ok((await redis.client.pttl(incidentKeys.summary(id))) > 0, `${id}: summary expires`)
          assert.equal(await redis.client.zscore(incidentKeys.byTime, id), null, `${id}: not in the by-time index`)
        }
      }
      return inRedis
    }
    await check()

    const second = runChild('retention', env)
    children.push(second.proc)
    await runToEnd(second)
    const after = await check()
    assert.equal(after.size, INCIDENTS - closed, 'every closed incident left Redis; the others stay')
    for (const i of after.values()) assert.ok(!isClosed(i))
    assert.equal(await count(db, 'incidents'), INCIDENTS, 'the archive still has every incident')
  })
})
