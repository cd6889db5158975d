/**
 * The archiver: copies every incident write and every audit entry from Redis into the SQL archive
 * (./archive/), in the main process.
 *
 * Incidents: the store marks each write in ARCHIVE_PENDING (the id, scored by the version written)
 * inside the same Lua script as the write, so a change and its mark commit together. A pass reads a
 * page of marks and their documents, upserts the documents in one transaction, and only then
 * removes each mark, and only when its score is still at most the version archived: a write that
 * came in between stays marked for the next pass. A kill -9 anywhere leaves marks whose documents
 * are upserted again next time, and the upserts are idempotent (./archive/writer.ts): nothing is
 * lost, nothing is duplicated.
 *
 * Audit entries: the stream `sentinel:audit` is read from the cursor kept in the archive
 * (archive_state 'audit_stream'), and each page is written with the new cursor in one transaction.
 *
 * An archive that cannot be reached (PostgreSQL down, or not openable yet at start) leaves all of
 * it in Redis: passes back off up to 30 s, one log line per outage, and catch up when it returns.
 */
import type { Redis } from 'ioredis'
import type { AuditEvent } from '../platform/store/audit'
import { ARCHIVE_PENDING, incidentKeys } from '../platform/store/incidents'
import type { Incident } from '../platform/store/model'
import type { LogFn } from '../platform/telemetry/log'
import { metricsRecorder, type MetricsRecorder } from '../platform/telemetry/metrics'
import type { SqlClient } from './archive/sql'
import { readCursor, upsertAuditEntries, upsertIncidents, writeCursor, type ArchivedAuditEvent } from './archive/writer'

/** The audit log's Redis stream (src/platform/store/audit.ts writes it). */
export const AUDIT_STREAM = 'sentinel:audit'
/** archive_state: the id of the last audit stream entry archived. */
export const AUDIT_CURSOR = 'audit_stream'
/**
 * archive_state: set once every incident Redis held when this archive was first used has been
 * marked to archive (incidents written before the marks existed, or a new, empty archive).
 */
export const BACKFILL_DONE = 'redis_backfill'

const DEFAULT_INTERVAL_MS = 5000
const DEFAULT_BATCH = 500
const MAX_BACKOFF_MS = 30_000
const FIRST_BACKOFF_MS = 1000

/** The archive, or how to open it (the process's historyArchive(): retried until it opens). */
export type ArchiveHandle = SqlClient | (() => Promise<SqlClient>)

export const resolveArchive = (db: ArchiveHandle): Promise<SqlClient> =>
  typeof db === 'function' ? db() : Promise.resolve(db)

/** An error's message with any URL's password masked (a driver may echo a connection string). */
export function safeMessage(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err)
  return message.replace(/(\b[a-z][a-z0-9+.-]*:\/\/[^:/@\s]*:)[^@\s]*@/gi, '$1***@')
}

// Removes each id (ARGV[i]) whose mark is still at most the version archived (ARGV[i + 1]); a mark
// raised by a write since the page was read stays. Returns how many marks it removed.
const RELEASE_LUA = `
local n = 0
for i = 1, #ARGV, 2 do
  local marked = redis.call('ZSCORE', KEYS[1], ARGV[i])
  if marked and tonumber(marked) <= tonumber(ARGV[i + 1]) then
    n = n + redis.call('ZREM', KEYS[1], ARGV[i])
  end
end
return n
`

export interface ArchivePassResult {
  /** The incident versions written in this pass (the archive held none as new). */
  written: Incident[]
  /** Marks read, and marks removed after the commit. */
  marked: number
  released: number
  /** Audit entries archived. */
  audit: number
  /** More is waiting: a page was full, or a mark was raised by a write during the pass. */
  more: boolean
}

export interface ArchivePassDeps {
  redis: Redis
  db: SqlClient
  batch?: number
  log?: LogFn
  now?: () => number
}

/**
 * Marks every incident of the by-time index to archive (score 0: whatever version Redis holds),
 * once per archive: incidents stored before the marks existed, or all of them when the archive is
 * new. Idempotent (ZADD NX), so a start killed half-way does it again.
 */
export async function backfillMarks(deps: ArchivePassDeps): Promise<number> {
  if (await readCursor(deps.db, BACKFILL_DONE)) return 0
  const page = deps.batch ?? DEFAULT_BATCH
  let marked = 0
  for (let offset = 0; ; offset += page) {
    const ids = await deps.redis.zrange(incidentKeys.byTime, offset, offset + page - 1)
    if (!ids.length) break
    const p = deps.redis.pipeline()
    for (const id of ids) p.zadd(ARCHIVE_PENDING, 'NX', 0, id)
    for (const [err, added] of (await p.exec()) ?? []) {
      if (err) throw err
      marked += Number(added)
    }
    if (ids.length < page) break
  }
  await deps.db.transaction((tx) => writeCursor(tx, BACKFILL_DONE, new Date(deps.now?.() ?? Date.now()).toISOString()))
  if (marked) deps.log?.('info', `marked ${marked} incident(s) stored before the archive to archive`)
  return marked
}

/** One page of marked incidents into the archive. */
async function archiveIncidentPage(deps: ArchivePassDeps, batch: number) {
  const flat = await deps.redis.zrange(ARCHIVE_PENDING, 0, batch - 1, 'WITHSCORES')
  const ids: string[] = []
  const scores: number[] = []
  for (let i = 0; i < flat.length; i += 2) {
    ids.push(flat[i])
    scores.push(Number(flat[i + 1]))
  }
  if (!ids.length) return { written: [] as Incident[], marked: 0, released: 0, raised: false }
  const raws = await deps.redis.mget(ids.map(incidentKeys.doc))
  // What each mark may be released at: the version archived, or the score read when there is
  // nothing to archive (the document is gone).
  const releaseAt = [...scores]
  const docs: Incident[] = []
  raws.forEach((raw, n) => {
    if (raw === null) return
    try {
      const doc = JSON.parse(raw) as Incident
      if (typeof doc?.id !== 'string' || typeof doc.version !== 'number') throw new Error('not an incident')
      docs.push(doc)
      releaseAt[n] = doc.version
    } catch (err) {
      // Nothing can archive it; keeping the mark would only retry it forever.
      deps.log?.('error', 'an incident marked to archive is unreadable; left out of the archive', {
        incidentId: ids[n],
        error: (err as Error).message,
      })
    }
  })
  const now = deps.now?.() ?? Date.now()
  const written: Incident[] = []
  if (docs.length)
    await deps.db.transaction(async (tx) => {
      written.push(...(await upsertIncidents(tx, docs, { now })))
    })
  const released = (await deps.redis.eval(
    RELEASE_LUA,
    1,
    ARCHIVE_PENDING,
    ...ids.flatMap((id, n) => [id, String(releaseAt[n])]),
  )) as number
  return { written, marked: ids.length, released, raised: released < ids.length }
}

/** One page of the audit stream, after the archived cursor, into the archive with the new cursor. */
async function archiveAuditPage(deps: ArchivePassDeps, batch: number) {
  const cursor = await readCursor(deps.db, AUDIT_CURSOR)
  const rows = await deps.redis.xrange(AUDIT_STREAM, cursor ? `(${cursor}` : '-', '+', 'COUNT', batch)
  if (!rows.length) return { archived: 0, full: false }
  const entries: ArchivedAuditEvent[] = []
  for (const [entryId, fields] of rows) {
    const at = fields.indexOf('event')
    try {
      const event = JSON.parse(at >= 0 ? fields[at + 1] : '') as AuditEvent
      if (typeof event?.kind !== 'string' || typeof event.actor !== 'string') throw new Error('not an audit event')
      entries.push({ ...event, entryId })
    } catch (err) {
      // Skipped (the cursor moves past it): the JSONL copy of the audit log still has every line.
      deps.log?.('warn', 'an audit stream entry is unreadable; left out of the archive', {
        entryId,
        error: (err as Error).message,
      })
    }
  }
  const last = rows[rows.length - 1][0]
  await deps.db.transaction(async (tx) => {
    await upsertAuditEntries(tx, entries)
    await writeCursor(tx, AUDIT_CURSOR, last)
  })
  return { archived: entries.length, full: rows.length >= batch }
}

/**
 * One archiving pass: a page of marked incidents and a page of the audit stream. Throws when the
 * archive or Redis cannot be reached (nothing marked is released then).
 */
export async function runArchivePass(deps: ArchivePassDeps): Promise<ArchivePassResult> {
  const batch = Math.max(1, deps.batch ?? DEFAULT_BATCH)
  const incidents = await archiveIncidentPage(deps, batch)
  const audit = await archiveAuditPage(deps, batch)
  return {
    written: incidents.written,
    marked: incidents.marked,
    released: incidents.released,
    audit: audit.archived,
    more: incidents.marked >= batch || incidents.raised || audit.full,
  }
}

export interface ArchiverOptions {
  redis: Redis
  db: ArchiveHandle
  log: LogFn
  /** Between passes when nothing is waiting (default 5 s); a full page runs the next pass at once. */
  intervalMs?: number
  /** Incidents and audit entries per pass (default 500). */
  batch?: number
  /**
   * Called after each commit with the incident versions it wrote, one call at a time and not
   * awaited by the archiving (a slow hook never holds it back). A version may come again after a
   * crash: the hook must be idempotent. A throw is logged.
   */
  onArchived?: (incidents: Incident[], db: SqlClient) => unknown
  /** Where the counts go (default: the shared metrics in Redis); null for none. */
  metrics?: Pick<MetricsRecorder, 'archived' | 'archiveFailed'> | null
}

export interface ArchiverStatus {
  running: boolean
  /** Where the archive is (file, or postgres host:port/db), once opened. */
  location: string | null
  /** Incidents marked to archive at the end of the last pass. */
  pending: number | null
  archivedIncidents: number
  archivedAudit: number
  failedPasses: number
  /** Since when passes fail (the archive or Redis unreachable); null when they work. */
  outageSince: string | null
  lastError: string | null
  lastPassAt: string | null
}

export interface Archiver {
  /** Stops the loop after the pass under way; `drainMs`: first archive what is pending, for at most that long. */
  stop(opts?: { drainMs?: number }): Promise<void>
  /** Archives everything pending now (and what gets marked meanwhile), and waits for the hooks. Throws when the archive cannot be reached. */
  drain(): Promise<void>
  status(): ArchiverStatus
}

export function startArchiver(opts: ArchiverOptions): Archiver {
  const intervalMs = opts.intervalMs ?? DEFAULT_INTERVAL_MS
  const metrics = opts.metrics === undefined ? metricsRecorder(opts.redis, { log: opts.log }) : opts.metrics
  let stopped = false
  let timer: NodeJS.Timeout | undefined
  let failures = 0
  let outageSince: number | null = null
  let lastError: string | null = null
  let lastPassAt: number | null = null
  let location: string | null = null
  let pending: number | null = null
  let backfilled = false
  let archivedIncidents = 0
  let archivedAudit = 0
  let failedPasses = 0
  // Passes never overlap (the loop and drain() share this queue); hooks run one at a time on theirs.
  let passes: Promise<unknown> = Promise.resolve()
  let hooks: Promise<unknown> = Promise.resolve()

  const pass = async (): Promise<ArchivePassResult> => {
    const db = await resolveArchive(opts.db)
    if (location === null) {
      location = db.location
      opts.log('info', 'incident archive open', { archive: db.location })
    }
    const deps: ArchivePassDeps = { redis: opts.redis, db, batch: opts.batch, log: opts.log }
    if (!backfilled) {
      await backfillMarks(deps)
      backfilled = true
    }
    const r = await runArchivePass(deps)
    archivedIncidents += r.written.length
    archivedAudit += r.audit
    lastPassAt = Date.now()
    if (r.written.length) void metrics?.archived({ kind: 'incident', count: r.written.length })
    if (r.audit) void metrics?.archived({ kind: 'audit', count: r.audit })
    if (r.written.length && opts.onArchived) {
      const written = r.written
      hooks = hooks
        .then(() => opts.onArchived!(written, db))
        .catch((err) => opts.log('warn', 'the after-archive hook failed', { error: safeMessage(err) }))
    }
    pending = await opts.redis.zcard(ARCHIVE_PENDING)
    return r
  }

  const exclusive = (): Promise<ArchivePassResult> => {
    const next = passes.then(pass, pass)
    passes = next.catch(() => {})
    return next
  }

  const schedule = (ms: number) => {
    if (stopped) return
    timer = setTimeout(() => void tick(), ms)
    timer.unref()
  }

  const tick = async () => {
    timer = undefined
    if (stopped) return
    try {
      const r = await exclusive()
      if (outageSince !== null)
        opts.log('info', 'the incident archive is reachable again; catching up', {
          archive: location,
          downSeconds: Math.round((Date.now() - outageSince) / 1000),
          pending,
        })
      outageSince = null
      failures = 0
      schedule(r.more ? 0 : intervalMs)
    } catch (err) {
      failures++
      failedPasses++
      lastError = safeMessage(err)
      void metrics?.archiveFailed({ stage: 'archive' })
      if (outageSince === null) {
        outageSince = Date.now()
        // Once per outage: everything stays marked in Redis and is archived when it returns.
        opts.log('error', 'archiving paused: the incident archive cannot be reached; changes wait in Redis', {
          archive: location ?? 'not open yet',
          error: lastError,
        })
      }
      schedule(Math.min(MAX_BACKOFF_MS, FIRST_BACKOFF_MS * 2 ** Math.min(failures - 1, 10)))
    }
  }

  const drainUntil = async (deadline: number) => {
    for (;;) {
      const r = await exclusive()
      if (!r.more || Date.now() > deadline) break
    }
    await hooks
  }

  schedule(0)
  return {
    async stop(stopOpts = {}) {
      stopped = true
      if (timer) clearTimeout(timer)
      timer = undefined
      if (!stopOpts.drainMs) {
        await passes
        return
      }
      // Bounded: an archive that hangs (a host that drops packets) must not hold the shutdown; an
      // abandoned pass leaves its marks, which the next start archives.
      let limit: NodeJS.Timeout | undefined
      const drained = drainUntil(Date.now() + stopOpts.drainMs)
        .then(() => passes)
        .catch((err) =>
          opts.log('warn', 'archiving at shutdown stopped; the rest waits in Redis', { error: safeMessage(err) }),
        )
      await Promise.race([drained, new Promise((r) => (limit = setTimeout(r, stopOpts.drainMs)))])
      clearTimeout(limit)
    },
    drain: () => drainUntil(Infinity),
    status: () => ({
      running: !stopped,
      location,
      pending,
      archivedIncidents,
      archivedAudit,
      failedPasses,
      outageSince: outageSince === null ? null : new Date(outageSince).toISOString(),
      lastError,
      lastPassAt: lastPassAt === null ? null : new Date(lastPassAt).toISOString(),
    }),
  }
}
