/**
 * Retention: closed incidents (resolved, suppressed) older than INCIDENT_RETENTION_DAYS leave Redis
 * once the archive holds them, so Redis keeps the working set and the archive keeps the history.
 *
 * Only what the archive holds at the same or a newer version is removed, and the removal is one
 * Lua script that first checks the document is still that version, still closed, and not marked
 * for a newer write (ARCHIVE_PENDING): an incident written since it was checked stays. The script
 * takes out the document, its member of the by-time index and of the open set, the fingerprint's
 * `last` pointer when it names it, and its archive mark, all at once; its summary and its member of
 * its resource's index stay (the summary until 90 days after it opened), for the analysis's memory
 * of the resource (src/analyze/memory.ts), which runs where the archive is not:
 * a kill -9 leaves an incident either whole in Redis or gone from Redis and in the archive.
 * Open incidents (and escalated ones, which wait for a person) are never touched.
 */
import type { Redis } from 'ioredis'
import { ARCHIVE_PENDING, incidentKeys, RESOURCE_MEMORY_MS } from '../platform/store/incidents'
import { CLOSED_STATUSES, isClosed } from '../platform/store/lifecycle'
import type { Incident } from '../platform/store/model'
import type { LogFn } from '../platform/telemetry/log'
import { metricsRecorder, type MetricsRecorder } from '../platform/telemetry/metrics'
import { resolveArchive, safeMessage, type ArchiveHandle } from './archiver'

const DAY_MS = 86_400_000
const DEFAULT_PAGE = 500
const DEFAULT_INTERVAL_MS = 3_600_000
// After a sweep that failed (the archive or Redis unreachable), the next try comes this soon.
const RETRY_MS = 5 * 60_000

// KEYS: document, summary, by-time index, open set, fingerprint's last, resource index, archive
// marks. ARGV: id, the version the archive holds it at (or newer), when the analysis's memory of
// it ends (ms). 1 when removed. The summary of an incident still in its resource's index stays
// until then: the analysis (a step process, with no archive) reads past incidents from it.
const FORGET_LUA = `
local cur = redis.call('GET', KEYS[1])
if not cur then return 0 end
local doc = cjson.decode(cur)
if tostring(doc.version) ~= ARGV[2] then return 0 end
local closed = { ${CLOSED_STATUSES.map((s) => `['${s}'] = true`).join(', ')} }
if not closed[doc.status] then return 0 end
local marked = redis.call('ZSCORE', KEYS[7], ARGV[1])
if marked and tonumber(marked) > tonumber(ARGV[2]) then return 0 end
redis.call('DEL', KEYS[1])
if redis.call('ZSCORE', KEYS[6], ARGV[1]) then
  redis.call('PEXPIREAT', KEYS[2], ARGV[3])
else
  redis.call('DEL', KEYS[2])
end
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('SREM', KEYS[4], ARGV[1])
if redis.call('GET', KEYS[5]) == ARGV[1] then redis.call('DEL', KEYS[5]) end
redis.call('ZREM', KEYS[7], ARGV[1])
return 1
`

const ms = (iso: string | undefined): number => {
  const t = iso ? Date.parse(iso) : NaN
  return Number.isFinite(t) ? t : NaN
}

/** When it stopped changing: the later of its resolution and its last write. */
const quietSince = (i: Incident): number => {
  const times = [ms(i.resolvedAt), ms(i.updatedAt)].filter((t) => Number.isFinite(t))
  return times.length ? Math.max(...times) : NaN
}

export interface RetentionOptions {
  redis: Redis
  db: ArchiveHandle
  /** INCIDENT_RETENTION_DAYS: closed this long ago, an archived incident leaves Redis. */
  retentionDays: number
  log?: LogFn
  /** Incidents read per page of the by-time index (default 500). */
  pageSize?: number
  now?: () => number
}

/**
 * One sweep: walks the by-time index oldest first, in pages, up to the cutoff (an incident closed
 * before the cutoff was opened before it too); returns how many incidents it removed from Redis.
 */
export async function sweepRetention(opts: RetentionOptions): Promise<number> {
  const db = await resolveArchive(opts.db)
  const page = Math.max(1, opts.pageSize ?? DEFAULT_PAGE)
  const cutoff = (opts.now?.() ?? Date.now()) - opts.retentionDays * DAY_MS
  let removed = 0
  // Members before `offset` were kept; the removed ones have left the index, so the offset moves
  // by what stayed. New incidents are indexed at their opening (now), past the cutoff.
  let offset = 0
  for (;;) {
    const ids = await opts.redis.zrangebyscore(incidentKeys.byTime, '-inf', `(${cutoff}`, 'LIMIT', offset, page)
    if (!ids.length) break
    const raws = await opts.redis.mget(ids.map(incidentKeys.doc))
    const due: Incident[] = []
    for (const raw of raws) {
      if (raw === null) continue
      let doc: Incident
      try {
        doc = JSON.parse(raw) as Incident
      } catch {
        continue
      }
      if (isClosed(doc) && quietSince(doc) < cutoff) due.push(doc)
    }
    let removedHere = 0
    if (due.length) {
      const rows = await db.all<{ id: string; version: number }>(
        `SELECT id, version FROM incidents WHERE id IN (${due.map(() => '?').join(', ')})`,
        due.map((d) => d.id),
      )
      const archived = new Map(rows.map((r) => [r.id, Number(r.version)]))
      const held = due.filter((d) => (archived.get(d.id) ?? -1) >= d.version)
      if (held.length) {
        const p = opts.redis.pipeline()
        for (const d of held)
          p.eval(
            FORGET_LUA,
            7,
            incidentKeys.doc(d.id),
            incidentKeys.summary(d.id),
            incidentKeys.byTime,
            incidentKeys.open,
            incidentKeys.last(d.fingerprint),
            incidentKeys.byResource(d.resource),
            ARCHIVE_PENDING,
            d.id,
            String(d.version),
            String(Date.parse(d.openedAt) + RESOURCE_MEMORY_MS),
          )
        for (const [err, ok] of (await p.exec()) ?? []) {
          if (err) throw err
          if (ok === 1) removedHere++
        }
      }
    }
    removed += removedHere
    offset += ids.length - removedHere
    if (ids.length < page) break
  }
  return removed
}

export interface RetentionStatus {
  running: boolean
  lastSweepAt: string | null
  lastRemoved: number | null
  removedTotal: number
  lastError: string | null
}

export interface Retention {
  stop(): Promise<void>
  /** A sweep now (after the one under way). */
  sweep(): Promise<number>
  status(): RetentionStatus
}

/** Sweeps once at start, then every `intervalMs` (default an hour). */
export function startRetention(
  opts: RetentionOptions & {
    log: LogFn
    intervalMs?: number
    metrics?: Pick<MetricsRecorder, 'archiveFailed'> | null
  },
): Retention {
  const intervalMs = opts.intervalMs ?? DEFAULT_INTERVAL_MS
  const metrics = opts.metrics === undefined ? metricsRecorder(opts.redis, { log: opts.log }) : opts.metrics
  let stopped = false
  let timer: NodeJS.Timeout | undefined
  let sweeps: Promise<unknown> = Promise.resolve()
  let lastSweepAt: number | null = null
  let lastRemoved: number | null = null
  let removedTotal = 0
  let lastError: string | null = null

  const sweep = (): Promise<number> => {
    const run = async () => {
      const n = await sweepRetention(opts)
      lastSweepAt = Date.now()
      lastRemoved = n
      removedTotal += n
      lastError = null
      if (n)
        opts.log('info', `retention: ${n} archived incident(s) closed over ${opts.retentionDays} day(s) ago left Redis`)
      return n
    }
    const next = sweeps.then(run, run)
    sweeps = next.catch(() => {})
    return next
  }

  const tick = async () => {
    timer = undefined
    if (stopped) return
    let delay = intervalMs
    try {
      await sweep()
    } catch (err) {
      // Nothing is removed when the archive cannot be checked: Redis keeps the incidents meanwhile.
      const message = safeMessage(err)
      if (message !== lastError)
        opts.log('warn', 'retention sweep failed; incidents stay in Redis until the next one', { error: message })
      lastError = message
      void metrics?.archiveFailed({ stage: 'retention' })
      delay = Math.min(intervalMs, RETRY_MS)
    }
    if (stopped) return
    timer = setTimeout(() => void tick(), delay)
    timer.unref()
  }

  timer = setTimeout(() => void tick(), 0)
  timer.unref()
  return {
    async stop() {
      stopped = true
      if (timer) clearTimeout(timer)
      timer = undefined
      await sweeps
    },
    sweep,
    status: () => ({
      running: !stopped,
      lastSweepAt: lastSweepAt === null ? null : new Date(lastSweepAt).toISOString(),
      lastRemoved,
      removedTotal,
      lastError,
    }),
  }
}
