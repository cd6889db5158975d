/**
 * The process tests/integration/archive-crash.test.ts kills with SIGKILL: `archive` archives
 * everything marked (the archiver's drain) and the audit stream; `retention` runs one retention
 * sweep. Both exit 0 when done. Run as `node --import tsx tests/helpers/archive-child.ts <mode>`
 * with the environment naming where things are:
 *
 *   ARCHIVE_REDIS_PORT       the test's Redis (127.0.0.1)
 *   ARCHIVE_DATABASE_URL     a PostgreSQL archive, or
 *   ARCHIVE_SQLITE_DIR       the directory of a SQLite archive (history.sqlite)
 *   ARCHIVE_BATCH            incidents and audit entries per pass (default 50)
 *   ARCHIVE_HOLD_AFTER       (archive) after this many archive commits, print `held` and wait there
 *                            for the kill: the commit is made, the marks it covers not yet released
 *   RETENTION_DAYS           (retention) the retention, days
 *   RETENTION_AHEAD_MS       (retention) the sweep runs as if this much later
 *   RETENTION_PAGE           (retention) incidents per page of the walk
 */
import { Redis } from 'ioredis'
import { openArchive } from '../../src/history/archive/open'
import type { SqlClient } from '../../src/history/archive/sql'
import { startArchiver } from '../../src/history/archiver'
import { sweepRetention } from '../../src/history/retention'

const mode = process.argv[2]
const env = process.env
const redis = new Redis({ host: '127.0.0.1', port: Number(env.ARCHIVE_REDIS_PORT), maxRetriesPerRequest: 3 })
redis.on('error', () => {})
const db = await openArchive({
  DATABASE_URL: env.ARCHIVE_DATABASE_URL || undefined,
  DATA_DIR: env.ARCHIVE_SQLITE_DIR ?? '.',
  projectRoot: env.ARCHIVE_SQLITE_DIR ?? process.cwd(),
})
const log = (level: string, msg: string) => {
  if (level !== 'info') process.stderr.write(`${level}: ${msg}\n`)
}

if (mode === 'archive') {
  const holdAfter = Number(env.ARCHIVE_HOLD_AFTER ?? 0)
  let commits = 0
  const held: SqlClient = {
    ...db,
    transaction: async (fn) => {
      const out = await db.transaction(fn)
      if (++commits === holdAfter) {
        process.stdout.write('held\n')
        await new Promise(() => {})
      }
      return out
    },
  }
  const archiver = startArchiver({
    redis,
    db: held,
    log,
    intervalMs: 3_600_000,
    batch: Number(env.ARCHIVE_BATCH ?? 50),
    metrics: null,
  })
  await archiver.drain()
  await archiver.stop()
  process.stdout.write(`archived ${archiver.status().archivedIncidents} ${archiver.status().archivedAudit}\n`)
} else if (mode === 'retention') {
  const ahead = Number(env.RETENTION_AHEAD_MS ?? 0)
  const removed = await sweepRetention({
    redis,
    db,
    retentionDays: Number(env.RETENTION_DAYS ?? 7),
    now: () => Date.now() + ahead,
    pageSize: Number(env.RETENTION_PAGE ?? 500),
  })
  process.stdout.write(`removed ${removed}\n`)
} else {
  throw new Error(`unknown mode ${mode}: archive or retention`)
}
await db.close()
redis.disconnect()
