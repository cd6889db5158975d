/**
 * The summary report on SQLite and on a real PostgreSQL over the fixture incidents
 * (tests/helpers/history-fixtures.ts). Every expected figure below is counted by hand from the
 * fixture table, with the working in the comments; both databases must give exactly these, and
 * the same report.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { openTestArchive, type TestArchive } from '../../tests/helpers/test-archive'
import { DAY0_MS, DAY_MS, seedHistory } from '../../tests/helpers/history-fixtures'
import type { SqlClient } from './archive/sql'
import { nearestRank, summaryQuery, summaryReport, type SummaryReport } from './reports'

const day = (n: number) => DAY0_MS + n * DAY_MS
const dayIso = (n: number) => new Date(day(n)).toISOString()

test('nearest-rank percentiles: the value at rank ⌈p/100 · n⌉', () => {
  assert.equal(nearestRank([], 50), null)
  assert.equal(nearestRank([7], 90), 7)
  // n = 4: median rank 2, p90 rank ⌈3.6⌉ = 4
  assert.equal(nearestRank([1, 2, 3, 4], 50), 2)
  assert.equal(nearestRank([1, 2, 3, 4], 90), 4)
  // n = 10: p90 rank 9
  assert.equal(nearestRank([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 90), 9)
})

test("the summary's query: defaults, a range over 400 days or backwards is refused on `from`", () => {
  const fieldOf = (v: unknown) => {
    const r = summaryQuery.safeParse(v)
    return r.success ? null : `${r.error.issues[0].path.join('.')}: ${r.error.issues[0].message}`
  }
  assert.equal(fieldOf({ from: '2025-03-05', to: '2025-03-04' }), 'from: after to')
  assert.equal(fieldOf({ from: '2024-01-01', to: '2025-03-01' }), 'from: the range is over 400 days')
  assert.equal(fieldOf({ from: '2025-01-01', to: '2026-02-05' }), null, '400 days exactly')
  assert.equal(fieldOf({ from: '2025-01-01', to: '2026-02-06' }), 'from: the range is over 400 days')
  assert.match(fieldOf({ from: 'last week' }) ?? '', /^from: /)
  assert.match(fieldOf({ by: 'month' }) ?? '', /^by: /)
  // A from in the future with the default to (now) is backwards too.
  assert.equal(fieldOf({ from: new Date(Date.now() + DAY_MS).toISOString() }), 'from: after to')
  assert.equal(summaryQuery.parse({}).by, 'day')
})

const reports: Record<string, SummaryReport> = {}

for (const dialect of ['sqlite', 'postgres'] as const) {
  describe(`summary report on ${dialect}`, () => {
    let db: SqlClient
    let archive: TestArchive | undefined

    before(async () => {
      archive = await openTestArchive(dialect)
      db = archive.db
      await seedHistory(db)
    })
    after(async () => {
      await archive?.close()
    })

    test('two weeks by day: every figure as counted by hand', async () => {
      const r = await summaryReport(db, { from: day(0), to: day(14), by: 'day' })
      reports[dialect] = r
      assert.equal(r.from, '2025-03-03T00:00:00.000Z')
      assert.equal(r.to, '2025-03-17T00:00:00.000Z')
      assert.equal(r.by, 'day')
      // In range and not test: #1-#34 (#35 opens before day 0, #36 at day 14, #37-#40 are tests).
      // auto #1 2 5 8 12 14 15 17 20 23 25 26 29 30 32 = 15
      // escalated: rejected #9 #28, failed #4 #16 #27, rollback #7 #21 #33, manual #11 #22 = 10
      // rollbacks #7 #21 #33 = 3
      //
      // Time to detect, 32 values (#15 and #23 have no alert time; #14's alert is 50 s late: 0):
      //   0 0 3 4 5 6 7 8 9 10 11 12 14 15 15 18 20 20 22 25 26 30 30 33 35 40 45 55 60 70 90 100
      //   median rank ⌈16⌉ = 16 → 18; p90 rank ⌈28.8⌉ = 29 → 60
      // Time to resolve, 22 resolved (15 auto, 5 approved #3 #10 #18 #24 #34, 2 manual #11 #22):
      //   30 60 60 90 120 150 180 240 240 300 300 360 420 480 600 600 900 1200 1800 2400 3600 7200
      //   median rank 11 → 300; p90 rank ⌈19.8⌉ = 20 → 2400
      // Approval waits, 7 decided (#3 240, #9 600, #10 60, #18 900, #24 1800, #28 120, #34 300):
      //   total 4020; sorted 60 120 240 300 600 900 1800, median rank 4 → 300
      assert.deepEqual(r.totals, {
        incidents: 34,
        autoFixed: 15,
        autoFixedShare: 15 / 34,
        escalated: 10,
        escalationRate: 10 / 34,
        rollbacks: 3,
        timeToDetect: { medianSeconds: 18, p90Seconds: 60 },
        timeToResolve: { medianSeconds: 300, p90Seconds: 2400 },
        approvalSeconds: { total: 4020, median: 300 },
      })
      // container_down #1 5 8 12 15 17 20 23 27 29 32; memory #2 7 10 16 21 26 30;
      // cpu #3 9 14 19 24 28 34; disk #4 11 18 25 33; latency #6 13 22 31
      assert.deepEqual(r.byType, { container_down: 11, memory: 7, cpu: 7, disk: 5, latency: 4 })
      // node-a #1 2 5 8 10 14 15 18 20 21 27 28 30 33; node-b #3 6 7 12 13 17 19 23 26 29 31 34;
      // node-c #4 9 11 16 22 24 25 32
      assert.deepEqual(r.byNode, { 'node-a': 14, 'node-b': 12, 'node-c': 8 })
      // web #1 2 8 10 15 20 21 27 30 (9); api #3 12 19 28 29 34 (6); worker #9 14 24 32 (4);
      // shop-health #6 13 22 31 (4); cache #7 17 26, db #5 16 23, /var #4 11 25 (3 each); /data #18 33
      assert.deepEqual(r.topResources, [
        { kind: 'container', name: 'web', count: 9 },
        { kind: 'container', name: 'api', count: 6 },
        { kind: 'container', name: 'worker', count: 4 },
        { kind: 'endpoint', name: 'shop-health', count: 4 },
        { kind: 'container', name: 'cache', count: 3 },
        { kind: 'container', name: 'db', count: 3 },
        { kind: 'filesystem', name: '/var', count: 3 },
        { kind: 'filesystem', name: '/data', count: 2 },
      ])
      const cd = 'container_down'
      // Per day: the incidents, their types, the median of the resolved ones' times (nearest
      // rank), the share fixed automatically.
      assert.deepEqual(r.buckets, [
        // #1 auto 120, #2 auto 300, #3 approved 900, #4 failed: median of 120 300 900 → 300; 2/4
        {
          start: dayIso(0),
          incidents: 4,
          byType: { [cd]: 1, memory: 1, cpu: 1, disk: 1 },
          mttrMedianSeconds: 300,
          autoFixedShare: 0.5,
        },
        // #5 auto 60, #6 open, #7 rollback
        {
          start: dayIso(1),
          incidents: 3,
          byType: { [cd]: 1, latency: 1, memory: 1 },
          mttrMedianSeconds: 60,
          autoFixedShare: 1 / 3,
        },
        // #8 auto 180, #9 rejected, #10 approved 1200 (#37 is a test): median of 180 1200 → rank 1
        {
          start: dayIso(2),
          incidents: 3,
          byType: { [cd]: 1, cpu: 1, memory: 1 },
          mttrMedianSeconds: 180,
          autoFixedShare: 1 / 3,
        },
        // #11 manual 3600, #12 auto 240, #13 suppressed
        {
          start: dayIso(3),
          incidents: 3,
          byType: { disk: 1, [cd]: 1, latency: 1 },
          mttrMedianSeconds: 240,
          autoFixedShare: 1 / 3,
        },
        // #14 auto 600, #15 auto 90
        { start: dayIso(4), incidents: 2, byType: { cpu: 1, [cd]: 1 }, mttrMedianSeconds: 90, autoFixedShare: 1 },
        // #16 failed, #17 auto 150 (#40 is a test)
        { start: dayIso(5), incidents: 2, byType: { memory: 1, [cd]: 1 }, mttrMedianSeconds: 150, autoFixedShare: 0.5 },
        // #18 approved 1800, #19 open
        { start: dayIso(6), incidents: 2, byType: { disk: 1, cpu: 1 }, mttrMedianSeconds: 1800, autoFixedShare: 0 },
        // #20 auto 60, #21 rollback
        { start: dayIso(7), incidents: 2, byType: { [cd]: 1, memory: 1 }, mttrMedianSeconds: 60, autoFixedShare: 0.5 },
        // #22 manual 7200, #23 auto 300
        {
          start: dayIso(8),
          incidents: 2,
          byType: { latency: 1, [cd]: 1 },
          mttrMedianSeconds: 300,
          autoFixedShare: 0.5,
        },
        // #24 approved 2400, #25 auto 420 (#38 is a test)
        { start: dayIso(9), incidents: 2, byType: { cpu: 1, disk: 1 }, mttrMedianSeconds: 420, autoFixedShare: 0.5 },
        // #26 auto 480, #27 failed
        {
          start: dayIso(10),
          incidents: 2,
          byType: { memory: 1, [cd]: 1 },
          mttrMedianSeconds: 480,
          autoFixedShare: 0.5,
        },
        // #28 rejected, #29 auto 30
        { start: dayIso(11), incidents: 2, byType: { cpu: 1, [cd]: 1 }, mttrMedianSeconds: 30, autoFixedShare: 0.5 },
        // #30 auto 360, #31 open (#39 is a test)
        {
          start: dayIso(12),
          incidents: 2,
          byType: { memory: 1, latency: 1 },
          mttrMedianSeconds: 360,
          autoFixedShare: 0.5,
        },
        // #32 auto 240, #33 rollback, #34 approved 600: median of 240 600 → rank 1
        {
          start: dayIso(13),
          incidents: 3,
          byType: { [cd]: 1, disk: 1, cpu: 1 },
          mttrMedianSeconds: 240,
          autoFixedShare: 1 / 3,
        },
      ])
    })

    test('by week: UTC weeks from Monday, a range starting mid-week, empty weeks included', async () => {
      const r = await summaryReport(db, { from: day(0), to: day(14), by: 'week' })
      assert.deepEqual(r.buckets, [
        // #1-#19: cd #1 5 8 12 15 17; memory #2 7 10 16; cpu #3 9 14 19; disk #4 11 18; latency #6 13
        // resolved: 60 90 120 150 180 240 300 600 900 1200 1800 3600 → rank 6 → 240;
        // auto #1 2 5 8 12 14 15 17 = 8 of 19
        {
          start: '2025-03-03T00:00:00.000Z',
          incidents: 19,
          byType: { container_down: 6, memory: 4, cpu: 4, disk: 3, latency: 2 },
          mttrMedianSeconds: 240,
          autoFixedShare: 8 / 19,
        },
        // #20-#34: cd #20 23 27 29 32; memory #21 26 30; cpu #24 28 34; disk #25 33; latency #22 31
        // resolved: 30 60 240 300 360 420 480 600 2400 7200 → rank 5 → 360; auto #20 23 25 26 29 30 32 = 7 of 15
        {
          start: '2025-03-10T00:00:00.000Z',
          incidents: 15,
          byType: { container_down: 5, memory: 3, cpu: 3, disk: 2, latency: 2 },
          mttrMedianSeconds: 360,
          autoFixedShare: 7 / 15,
        },
      ])
      // From Wednesday day 2: the first bucket still starts on Monday 03-03 and holds days 2-6:
      // 3 + 3 + 2 + 2 + 2 = 12 (#8-#19). To day 21: week 3 (03-17) holds #36 only.
      const mid = await summaryReport(db, { from: day(2), to: day(21), by: 'week' })
      assert.deepEqual(
        mid.buckets.map((b) => [b.start, b.incidents]),
        [
          ['2025-03-03T00:00:00.000Z', 12],
          ['2025-03-10T00:00:00.000Z', 15],
          ['2025-03-17T00:00:00.000Z', 1],
        ],
      )
      // An empty range of weeks: buckets with zeros and nulls.
      const empty = await summaryReport(db, { from: day(28), to: day(42), by: 'week' })
      assert.deepEqual(empty.buckets, [
        { start: '2025-03-31T00:00:00.000Z', incidents: 0, byType: {}, mttrMedianSeconds: null, autoFixedShare: null },
        { start: '2025-04-07T00:00:00.000Z', incidents: 0, byType: {}, mttrMedianSeconds: null, autoFixedShare: null },
      ])
      assert.deepEqual(empty.totals, {
        incidents: 0,
        autoFixed: 0,
        autoFixedShare: null,
        escalated: 0,
        escalationRate: null,
        rollbacks: 0,
        timeToDetect: { medianSeconds: null, p90Seconds: null },
        timeToResolve: { medianSeconds: null, p90Seconds: null },
        approvalSeconds: { total: 0, median: null },
      })
      assert.deepEqual([empty.byType, empty.byNode, empty.topResources], [{}, {}, []])
    })

    test('the range is [from, to): the incident at from counts, the one at to does not', async () => {
      // #35 opens at day 0 − 1 min, #36 at day 14 exactly.
      const r = await summaryReport(db, { from: day(0) - 60_000, to: day(14) + 1, by: 'day' })
      // 34 + #35 + #36; both auto-fixed in 60 s
      assert.equal(r.totals.incidents, 36)
      assert.equal(r.totals.autoFixed, 17)
      assert.equal(r.buckets[0].start, '2025-03-02T00:00:00.000Z')
      assert.equal(r.buckets.length, 16, 'days -1 to 14')
      assert.equal(r.buckets[15].incidents, 1)
      // One day only: day 4 is #14 (cpu, node-a, worker, auto 600 s) and #15 (cd, node-a, web, auto 90 s).
      const d4 = await summaryReport(db, { from: day(4), to: day(5) })
      assert.deepEqual(
        [d4.totals.incidents, d4.byNode, d4.totals.timeToResolve, d4.totals.timeToDetect],
        [2, { 'node-a': 2 }, { medianSeconds: 90, p90Seconds: 600 }, { medianSeconds: 0, p90Seconds: 0 }],
      )
    })
  })
}

test('SQLite and PostgreSQL give the same report', () => {
  assert.ok(reports.sqlite && reports.postgres)
  assert.deepEqual(reports.postgres, reports.sqlite)
})
