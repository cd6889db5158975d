/**
 * The summary report over the incident archive (GET /api/reports/summary): how many incidents, how
 * many Sentinel fixed by itself, how long they took, by type, node, day or week and resource.
 *
 * Definitions (the columns are derived once, in ./archive/row.ts):
 * - the incidents counted are those opened in [from, to); test incidents are left out;
 * - time to detect = opened_at − detected_at (the alert's time), clamped at 0, over the incidents
 *   whose alert has a time;
 * - time to resolve = resolved_at − opened_at, over the resolved incidents; a bucket's
 *   mttrMedianSeconds is its median (null when none of its incidents is resolved);
 * - autoFixedShare = incidents fixed automatically (resolved by a successful action nobody had to
 *   approve) / incidents; escalationRate = incidents escalated at some point / incidents; both
 *   null when there is no incident; rollbacks = incidents with a fix rolled back;
 * - approvalSeconds: total and median of the wait from an approval request to its decision, over
 *   the incidents whose approval was decided (median null when none);
 * - percentiles are nearest-rank: the p-th percentile of n sorted values is the value at rank
 *   ⌈p/100 · n⌉ (the median is p = 50), always one of the measured values. They are computed here
 *   from the durations both databases return as integer milliseconds, so SQLite and PostgreSQL give
 *   the same figures; seconds are milliseconds / 1000;
 * - buckets are UTC days, or UTC weeks starting on Monday, from the one holding `from` to the one
 *   holding the last instant before `to`, empty ones included (a chart needs the zeros);
 * - topResources: the 10 resources with the most incidents (ties by kind, then name).
 *
 * The counts are grouped in SQL (a few hundred groups, whatever the number of incidents) and only
 * the durations come back row by row, in one statement: three statements per report, none per row.
 */
import { z } from 'zod'
import { firstValue } from '../platform/http/requests'
import type { SqlClient } from './archive/sql'
import { archiveTime } from './query'

const DAY_MS = 86_400_000
const WEEK_MS = 7 * DAY_MS
/** 1970-01-01 was a Thursday: the first Monday is 4 days later; weeks are counted from it. */
const FIRST_MONDAY_MS = 4 * DAY_MS
export const DEFAULT_DAYS = 30
export const MAX_DAYS = 400

export type BucketSize = 'day' | 'week'

/** The query of GET /api/reports/summary; defaults: the last 30 days, by day. */
export const summaryQuery = z
  .object({
    from: z.preprocess(firstValue, archiveTime.optional()),
    to: z.preprocess(firstValue, archiveTime.optional()),
    by: z.preprocess(firstValue, z.enum(['day', 'week']).default('day')),
  })
  .superRefine((q, ctx) => {
    const { from, to } = summaryRange(q)
    if (from > to) ctx.addIssue({ code: 'custom', path: ['from'], message: 'after to' })
    else if (to - from > MAX_DAYS * DAY_MS)
      ctx.addIssue({ code: 'custom', path: ['from'], message: `the range is over ${MAX_DAYS} days` })
  })

export interface SummaryOptions {
  from?: number
  to?: number
  by?: BucketSize
}

/** [from, to) in ms with the defaults filled in: to = now, from = to − 30 days. */
export function summaryRange(q: SummaryOptions, now = Date.now()): { from: number; to: number } {
  const to = q.to ?? now
  return { from: q.from ?? to - DEFAULT_DAYS * DAY_MS, to }
}

export interface DurationFigures {
  medianSeconds: number | null
  p90Seconds: number | null
}

export interface SummaryBucket {
  start: string
  incidents: number
  byType: Record<string, number>
  mttrMedianSeconds: number | null
  autoFixedShare: number | null
}

export interface SummaryReport {
  from: string
  to: string
  by: BucketSize
  totals: {
    incidents: number
    autoFixed: number
    autoFixedShare: number | null
    escalated: number
    escalationRate: number | null
    rollbacks: number
    timeToDetect: DurationFigures
    timeToResolve: DurationFigures
    approvalSeconds: { total: number; median: number | null }
  }
  byType: Record<string, number>
  byNode: Record<string, number>
  buckets: SummaryBucket[]
  topResources: { kind: string; name: string; count: number }[]
}

/** Nearest-rank percentile of values sorted ascending: the value at rank ⌈p/100 · n⌉; null when empty. */
export function nearestRank(sorted: ArrayLike<number>, p: number): number | null {
  if (sorted.length === 0) return null
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length))
  return sorted[Math.min(rank, sorted.length) - 1]
}

const seconds = (ms: number | null) => (ms === null ? null : ms / 1000)

const sortedOf = (values: number[]) => Float64Array.from(values).sort()

function durationFigures(values: number[]): DurationFigures {
  const sorted = sortedOf(values)
  return { medianSeconds: seconds(nearestRank(sorted, 50)), p90Seconds: seconds(nearestRank(sorted, 90)) }
}

/** The bucket of an opened_at, as SQL over `i.opened_at` (integer division in both dialects), and in JS. */
const BUCKET: Record<BucketSize, { sql: string; start: (ms: number) => number; size: number }> = {
  day: {
    sql: `(i.opened_at / ${DAY_MS}) * ${DAY_MS}`,
    start: (ms) => Math.floor(ms / DAY_MS) * DAY_MS,
    size: DAY_MS,
  },
  week: {
    sql: `((i.opened_at - ${FIRST_MONDAY_MS}) / ${WEEK_MS}) * ${WEEK_MS} + ${FIRST_MONDAY_MS}`,
    start: (ms) => Math.floor((ms - FIRST_MONDAY_MS) / WEEK_MS) * WEEK_MS + FIRST_MONDAY_MS,
    size: WEEK_MS,
  },
}

const IN_RANGE = 'i.opened_at >= ? AND i.opened_at < ? AND i.test = 0'

/** Counts in a record, the largest first (ties by name), so the JSON reads in order. */
const ranked = (counts: Map<string, number>): Record<string, number> =>
  Object.fromEntries([...counts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)))

const bump = (m: Map<string, number>, k: string, n: number) => m.set(k, (m.get(k) ?? 0) + n)

export async function summaryReport(db: SqlClient, opts: SummaryOptions = {}): Promise<SummaryReport> {
  const { from, to } = summaryRange(opts)
  const by = opts.by ?? 'day'
  const bucket = BUCKET[by]
  const range = [from, to]

  // Grouped by bucket, type and node at once: one pass over the range instead of two.
  const groups = await db.all<{
    bucket: number
    type: string
    node: string
    n: number
    auto_fixed: number
    escalated: number
    rolled_back: number
  }>(
    `SELECT ${bucket.sql} AS bucket, i.type AS type, i.node AS node, COUNT(*) AS n, SUM(i.auto_fixed) AS auto_fixed,
       SUM(i.escalated) AS escalated, SUM(i.rolled_back) AS rolled_back
     FROM incidents i WHERE ${IN_RANGE} GROUP BY ${bucket.sql}, i.type, i.node`,
    range,
  )
  // Every resource's count, ranked here: the two databases order equal counts' names by different
  // collations, and the report must be the same on both.
  const resources = await db.all<{ kind: string; name: string; n: number }>(
    `SELECT i.resource_kind AS kind, i.resource_name AS name, COUNT(*) AS n FROM incidents i
     WHERE ${IN_RANGE} GROUP BY i.resource_kind, i.resource_name`,
    range,
  )
  const durations = await db.all<{
    bucket: number
    detect_ms: number | null
    resolve_ms: number | null
    approval_ms: number | null
  }>(
    `SELECT ${bucket.sql} AS bucket, i.opened_at - i.detected_at AS detect_ms, i.resolved_at - i.opened_at AS resolve_ms,
       i.approval_wait_ms AS approval_ms
     FROM incidents i
     WHERE ${IN_RANGE} AND (i.detected_at IS NOT NULL OR i.resolved_at IS NOT NULL OR i.approval_wait_ms IS NOT NULL)`,
    range,
  )

  let incidents = 0
  let autoFixed = 0
  let escalated = 0
  let rollbacks = 0
  const byType = new Map<string, number>()
  const byNode = new Map<string, number>()
  const perBucket = new Map<number, { incidents: number; autoFixed: number; byType: Map<string, number> }>()
  for (const g of groups) {
    const n = Number(g.n)
    incidents += n
    autoFixed += Number(g.auto_fixed)
    escalated += Number(g.escalated)
    rollbacks += Number(g.rolled_back)
    bump(byType, g.type, n)
    bump(byNode, g.node, n)
    const start = Number(g.bucket)
    const b = perBucket.get(start) ?? { incidents: 0, autoFixed: 0, byType: new Map() }
    b.incidents += n
    b.autoFixed += Number(g.auto_fixed)
    bump(b.byType, g.type, n)
    perBucket.set(start, b)
  }

  const detect: number[] = []
  const resolve: number[] = []
  const approval: number[] = []
  const resolveByBucket = new Map<number, number[]>()
  for (const d of durations) {
    if (d.detect_ms !== null) detect.push(Math.max(0, Number(d.detect_ms)))
    if (d.resolve_ms !== null) {
      const ms = Number(d.resolve_ms)
      resolve.push(ms)
      const list = resolveByBucket.get(Number(d.bucket)) ?? []
      list.push(ms)
      resolveByBucket.set(Number(d.bucket), list)
    }
    if (d.approval_ms !== null) approval.push(Number(d.approval_ms))
  }

  const buckets: SummaryBucket[] = []
  for (let start = bucket.start(from); start < to; start += bucket.size) {
    const b = perBucket.get(start)
    const mttr = resolveByBucket.get(start)
    buckets.push({
      start: new Date(start).toISOString(),
      incidents: b?.incidents ?? 0,
      byType: b ? ranked(b.byType) : {},
      mttrMedianSeconds: mttr ? seconds(nearestRank(sortedOf(mttr), 50)) : null,
      autoFixedShare: b ? b.autoFixed / b.incidents : null,
    })
  }

  const byName = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0)
  const topResources = resources
    .map((r) => ({ kind: r.kind, name: r.name, count: Number(r.n) }))
    .sort((a, b) => b.count - a.count || byName(a.kind, b.kind) || byName(a.name, b.name))
    .slice(0, 10)

  const approvalSorted = sortedOf(approval)
  return {
    from: new Date(from).toISOString(),
    to: new Date(to).toISOString(),
    by,
    totals: {
      incidents,
      autoFixed,
      autoFixedShare: incidents ? autoFixed / incidents : null,
      escalated,
      escalationRate: incidents ? escalated / incidents : null,
      rollbacks,
      timeToDetect: durationFigures(detect),
      timeToResolve: durationFigures(resolve),
      approvalSeconds: {
        total: approval.reduce((s, v) => s + v, 0) / 1000,
        median: seconds(nearestRank(approvalSorted, 50)),
      },
    },
    byType: ranked(byType),
    byNode: ranked(byNode),
    buckets,
    topResources,
  }
}
