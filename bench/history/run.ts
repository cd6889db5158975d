/**
 * bench/history (`npm run bench:history`): the incident archive at scale, on SQLite and on a real
 * PostgreSQL, in one run on this machine:
 *
 *   - archive throughput: N incidents (default 100 000) and their audit entries, marked in Redis as
 *     the store marks them, copied into each database by the archiver's own pass
 *     (src/history/archiver.ts runArchivePass), incidents per second;
 *   - history queries (src/history/query.ts) and the summary report (src/history/reports.ts):
 *     median and p99 latency over --repeat calls each (default 30; p99 of 30 is the slowest but one);
 *   - Redis memory before and after retention (src/history/retention.ts, INCIDENT_RETENTION_DAYS 7)
 *     over incidents spread across 90 days.
 *
 *   npm run bench:history -- [--incidents 100000] [--repeat 30] [--quick]   (--quick: 10 000, 10)
 *
 * The incidents are synthetic (./incidents.ts, seeded), stored in Redis with the keys the incident
 * store uses. It starts its own Redis and PostgreSQL (free ports, temporary directories) and removes
 * them at the end, on failure and on Ctrl-C. The last line is every figure as JSON.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { performance } from 'node:perf_hooks'
import { startPostgres, type TestPostgres } from '../../tests/helpers/postgres'
import { startRedis, type TestRedis } from '../../tests/helpers/redis'
import { machine } from '../sse/common'
import { ARCHIVE_PENDING, incidentKeys } from '../../src/platform/store/incidents'
import { incidentSummary } from '../../src/platform/store/summary'
import { openPostgres, openSqlite, type SqlClient } from '../../src/history/archive/sql'
import { migrate } from '../../src/history/archive/schema'
import { runArchivePass } from '../../src/history/archiver'
import { sweepRetention } from '../../src/history/retention'
import { exportHistory, historyQuerySchema, MAX_EXPORT, queryHistory } from '../../src/history/query'
import { nearestRank, summaryReport } from '../../src/history/reports'
import { seeded, syntheticIncident } from './incidents'

const args = process.argv.slice(2)
const flag = (name: string, fallback: number) => {
  const i = args.indexOf(`--${name}`)
  return i >= 0 ? Number(args[i + 1]) : fallback
}
const quick = args.includes('--quick')
const N = flag('incidents', quick ? 10_000 : 100_000)
const REPEAT = flag('repeat', quick ? 10 : 30)
const DAYS = 90
const AUDIT_PER_INCIDENT = 1 // the audit stream keeps 100 000 entries (its MAXLEN)

const log = (s: string) => process.stdout.write(s + '\n')
const round = (v: number, d = 1) => Math.round(v * 10 ** d) / 10 ** d

let redis: TestRedis | undefined
let postgres: TestPostgres | undefined
const dir = mkdtempSync(path.join(os.tmpdir(), 'sentinel-bench-history-'))
const cleanup = async () => {
  await redis?.stop().catch(() => {})
  await postgres?.stop().catch(() => {})
  rmSync(dir, { recursive: true, force: true })
}
process.on('SIGINT', () => void cleanup().then(() => process.exit(130)))

async function usedMemory(r: TestRedis): Promise<number> {
  const info = await r.client.info('memory')
  return Number(/used_memory:(\d+)/.exec(info)?.[1] ?? NaN)
}

async function seedRedis(r: TestRedis, now: number): Promise<{ ids: { id: string; version: number }[] }> {
  const rand = seeded(22)
  const ids: { id: string; version: number }[] = []
  const resourceKeys = new Set<string>()
  for (let start = 0; start < N; start += 1000) {
    const p = r.client.pipeline()
    for (let n = start; n < Math.min(N, start + 1000); n++) {
      const inc = syntheticIncident(n, rand, now, DAYS)
      ids.push({ id: inc.id, version: inc.version })
      p.set(incidentKeys.doc(inc.id), JSON.stringify(inc))
      p.set(incidentKeys.summary(inc.id), JSON.stringify(incidentSummary(inc)))
      p.zadd(incidentKeys.byTime, Date.parse(inc.openedAt), inc.id)
      p.zadd(incidentKeys.byResource(inc.resource), Date.parse(inc.openedAt), inc.id)
      resourceKeys.add(incidentKeys.byResource(inc.resource))
      p.zadd(ARCHIVE_PENDING, inc.version, inc.id)
      for (let a = 0; a < AUDIT_PER_INCIDENT; a++)
        p.xadd(
          'sentinel:audit',
          '*',
          'event',
          JSON.stringify({
            at: inc.updatedAt,
            kind: 'action.executed',
            actor: 'step:ExecuteRemediation',
            incidentId: inc.id,
            resource: inc.resource.name,
            outcome: 'succeeded',
            data: { actionId: 'restart_container' },
          }),
        )
    }
    await p.exec()
  }
  // The store keeps the newest 50 incidents of each resource in its index (the analysis's memory).
  const p = r.client.pipeline()
  for (const key of resourceKeys) p.zremrangebyrank(key, 0, -51)
  await p.exec()
  return { ids }
}

async function remark(r: TestRedis, ids: { id: string; version: number }[]) {
  for (let start = 0; start < ids.length; start += 5000) {
    const p = r.client.pipeline()
    for (const { id, version } of ids.slice(start, start + 5000)) p.zadd(ARCHIVE_PENDING, version, id)
    await p.exec()
  }
}

async function archiveAll(r: TestRedis, db: SqlClient): Promise<{ seconds: number; incidents: number; audit: number }> {
  const t0 = performance.now()
  let incidents = 0
  let audit = 0
  for (;;) {
    const pass = await runArchivePass({ redis: r.client, db, batch: 1000 })
    incidents += pass.written.length
    audit += pass.audit
    if (!pass.more && (await r.client.zcard(ARCHIVE_PENDING)) === 0) break
  }
  return { seconds: (performance.now() - t0) / 1000, incidents, audit }
}

interface Latency {
  medianMs: number
  p99Ms: number
}

async function time(fn: () => Promise<unknown>): Promise<Latency> {
  await fn() // warm: statement caches, buffers
  const samples: number[] = []
  for (let i = 0; i < REPEAT; i++) {
    const t0 = performance.now()
    await fn()
    samples.push(performance.now() - t0)
  }
  samples.sort((a, b) => a - b)
  return { medianMs: round(nearestRank(samples, 50) ?? NaN, 2), p99Ms: round(nearestRank(samples, 99) ?? NaN, 2) }
}

async function queries(db: SqlClient, now: number): Promise<Record<string, Latency>> {
  const q = (input: Record<string, unknown>) => historyQuerySchema(MAX_EXPORT).parse(input)
  const iso = (ms: number) => new Date(ms).toISOString()
  // The cursor of page 20 of the unfiltered list, to time a deep page.
  let deep: string | undefined
  for (let p = 0; p < 20; p++) deep = (await queryHistory(db, q({ limit: '50', cursor: deep }))).nextCursor ?? undefined
  return {
    'list, first page (50)': await time(() => queryHistory(db, q({ limit: '50' }))),
    'list, page 21 by cursor': await time(() => queryHistory(db, q({ limit: '50', cursor: deep }))),
    'type + node + severity': await time(() =>
      queryHistory(db, q({ type: 'memory', node: 'node-3', severity: 'critical', limit: '50' })),
    ),
    'resource, 30 days': await time(() =>
      queryHistory(db, q({ resource: 'checkout-7', from: iso(now - 30 * 86_400_000), limit: '50' })),
    ),
    'full text "oom killer"': await time(() => queryHistory(db, q({ q: 'oom killer', limit: '50' }))),
    'action + status, 7 days': await time(() =>
      queryHistory(
        db,
        q({ action: 'restart_container', status: 'escalated', from: iso(now - 7 * 86_400_000), limit: '50' }),
      ),
    ),
    'CSV export rows (10 000)': await time(() => exportHistory(db, q({ limit: '10000' }))),
    'summary, 30 days by day': await time(() => summaryReport(db, { from: now - 30 * 86_400_000, to: now, by: 'day' })),
    'summary, 90 days by week': await time(() =>
      summaryReport(db, { from: now - 90 * 86_400_000, to: now, by: 'week' }),
    ),
  }
}

async function main() {
  const m = machine()
  log(`bench:history  ${N} incidents over ${DAYS} days, ${REPEAT} calls per query`)
  log(`machine: ${JSON.stringify(m)}`)
  redis = await startRedis()
  postgres = await startPostgres()
  const now = Date.now()
  const t0 = performance.now()
  const { ids } = await seedRedis(redis, now)
  const memoryBefore = await usedMemory(redis)
  log(`seeded Redis in ${round((performance.now() - t0) / 1000)} s: used_memory ${round(memoryBefore / 2 ** 20)} MiB`)

  const sqliteFile = path.join(dir, 'history.sqlite')
  const backends: Array<{ name: string; db: SqlClient }> = [
    { name: 'sqlite', db: openSqlite(sqliteFile) },
    { name: 'postgres', db: openPostgres(postgres.url) },
  ]
  const results: Record<string, unknown> = {}
  for (const [i, b] of backends.entries()) {
    await migrate(b.db)
    // The marks were released by the first archive; the audit cursor lives in each archive.
    if (i > 0) await remark(redis, ids)
    const a = await archiveAll(redis, b.db)
    const perSecond = round(a.incidents / a.seconds, 0)
    log(
      `\n[${b.name}] archived ${a.incidents} incidents and ${a.audit} audit entries in ${round(a.seconds)} s: ${perSecond} incidents/s`,
    )
    // Planner statistics, as PostgreSQL's autovacuum gathers them on a live archive (and SQLite's
    // ANALYZE): a table filled a moment ago has none, and its first plans would be guesses.
    await b.db.run('ANALYZE')
    if (b.name === 'sqlite') log(`[sqlite] file size ${round(statSync(sqliteFile).size / 2 ** 20)} MiB`)
    const lat = await queries(b.db, now)
    log(`[${b.name}] ${'query'.padEnd(28)} ${'median ms'.padStart(10)} ${'p99 ms'.padStart(10)}`)
    for (const [k, v] of Object.entries(lat))
      log(`[${b.name}] ${k.padEnd(28)} ${String(v.medianMs).padStart(10)} ${String(v.p99Ms).padStart(10)}`)
    results[b.name] = { archive: { ...a, perSecond }, queries: lat }
  }

  const t1 = performance.now()
  const removed = await sweepRetention({ redis: redis.client, db: backends[0].db, retentionDays: 7 })
  const sweepSeconds = (performance.now() - t1) / 1000
  const memoryAfter = await usedMemory(redis)
  log(
    `\nretention (7 days, archive: sqlite): removed ${removed} of ${N} incidents from Redis in ${round(sweepSeconds)} s; ` +
      `used_memory ${round(memoryBefore / 2 ** 20)} → ${round(memoryAfter / 2 ** 20)} MiB (${round((memoryAfter / memoryBefore) * 100)} %)`,
  )
  const still = await queryHistory(backends[0].db, historyQuerySchema(MAX_EXPORT).parse({ limit: '1' }))
  log(`the archive still answers after retention: newest ${still.incidents[0]?.id ?? 'none'}`)
  for (const b of backends) await b.db.close()
  log(
    JSON.stringify({
      machine: m,
      incidents: N,
      repeat: REPEAT,
      ...results,
      retention: {
        removed,
        seconds: round(sweepSeconds, 2),
        redisBytesBefore: memoryBefore,
        redisBytesAfter: memoryAfter,
      },
    }),
  )
}

main()
  .then(cleanup)
  .catch(async (err) => {
    console.error(err)
    await cleanup()
    process.exit(1)
  })
