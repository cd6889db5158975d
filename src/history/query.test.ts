/**
 * The history list and one archived incident, on SQLite and on a real PostgreSQL, over the 40
 * incidents of tests/helpers/history-fixtures.ts: every filter (expected incidents picked by hand
 * from the fixture table), full text with query syntax in the input, keyset pagination that gives
 * every row once, the CSV export read back with a strict RFC 4180 parser, and the query's 400s.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { openTestArchive, type TestArchive } from '../../tests/helpers/test-archive'
import { parseCsv } from '../../tests/helpers/rfc4180'
import {
  DAY0_MS,
  DAY_MS,
  FIXTURE_INCIDENTS,
  FIXTURES,
  fixtureId,
  openedAtMs,
  seedHistory,
} from '../../tests/helpers/history-fixtures'
import type { SqlClient } from './archive/sql'
import { CSV_COLUMNS, csvField, csvFilename, historyCsv, wantsCsv } from './csv'
import {
  archivedIncident,
  exportHistory,
  historyQuerySchema,
  MAX_EXPORT,
  MAX_PAGE,
  queryHistory,
  type HistoryQueryInput,
  type HistoryRow,
} from './query'

const numberOf = (id: string) => Number(id.replace('inc_h', ''))
const nums = (rows: HistoryRow[]) => rows.map((r) => numberOf(r.id)).sort((a, b) => a - b)
const range = (a: number, b: number) => Array.from({ length: b - a + 1 }, (_, k) => a + k)
const day = (n: number) => DAY0_MS + n * DAY_MS

test('the strict CSV reader refuses what RFC 4180 does not allow', () => {
  assert.deepEqual(parseCsv('a,"b,""c"""\r\n,\r\n'), [
    ['a', 'b,"c"'],
    ['', ''],
  ])
  assert.throws(() => parseCsv('a,b\n'), /bare LF|CRLF/)
  assert.throws(() => parseCsv('a"b\r\n'), /quote in an unquoted/)
  assert.throws(() => parseCsv('"a"b\r\n'), /after a closing quote/)
  assert.throws(() => parseCsv('a,b'), /CRLF/)
})

test('CSV fields: quoted when needed, formulas neutralised, numbers and empties as they are', () => {
  assert.equal(csvField('plain'), 'plain')
  assert.equal(csvField('a,b'), '"a,b"')
  assert.equal(csvField('say "hi"'), '"say ""hi"""')
  assert.equal(csvField('two\nlines'), '"two\nlines"')
  assert.equal(csvField('=1+2'), "'=1+2")
  assert.equal(csvField('+1'), "'+1")
  assert.equal(csvField('-1'), "'-1")
  assert.equal(csvField('@SUM(A1)'), "'@SUM(A1)")
  assert.equal(csvField('\tx'), "'\tx")
  assert.equal(csvField('\r=x'), `"'\r=x"`)
  assert.equal(csvField('=a,b'), `"'=a,b"`)
  assert.equal(csvField(-3.5), '-3.5')
  assert.equal(csvField(true), 'true')
  assert.equal(csvField(null), '')
  assert.equal(
    csvFilename(Date.UTC(2025, 2, 3), Date.UTC(2025, 2, 17, 12, 30)),
    'sentinel-history-20250303T000000Z-20250317T123000Z.csv',
  )
  assert.equal(csvFilename(undefined, undefined, Date.UTC(2025, 0, 1)), 'sentinel-history-start-20250101T000000Z.csv')
  assert.equal(wantsCsv(undefined, 'text/csv'), true)
  assert.equal(wantsCsv(undefined, 'application/json, text/csv;q=0.5'), true)
  assert.equal(wantsCsv('json', 'text/csv'), false)
  assert.equal(wantsCsv('csv', 'application/json'), true)
  assert.equal(wantsCsv(undefined, 'application/json'), false)
  assert.equal(wantsCsv(undefined, undefined), false)
})

test("the query's bad input is refused, naming the field", () => {
  const json = historyQuerySchema(MAX_PAGE)
  const csv = historyQuerySchema(MAX_EXPORT)
  const fieldOf = (r: ReturnType<typeof json.safeParse>) => (r.success ? null : r.error.issues[0].path.join('.'))
  assert.equal(fieldOf(json.safeParse({ from: 'yesterday' })), 'from')
  assert.equal(fieldOf(json.safeParse({ to: '2025-13-01' })), 'to')
  assert.equal(fieldOf(json.safeParse({ from: '2025-03-05', to: '2025-03-04' })), 'to')
  assert.equal(fieldOf(json.safeParse({ limit: '0' })), 'limit')
  assert.equal(fieldOf(json.safeParse({ limit: String(MAX_PAGE + 1) })), 'limit')
  assert.equal(csv.safeParse({ limit: String(MAX_PAGE + 1) }).success, true)
  assert.equal(fieldOf(csv.safeParse({ limit: String(MAX_EXPORT + 1) })), 'limit')
  assert.equal(fieldOf(json.safeParse({ limit: 'ten' })), 'limit')
  assert.equal(fieldOf(json.safeParse({ severity: 'fatal' })), 'severity')
  assert.equal(fieldOf(json.safeParse({ status: 'done' })), 'status')
  assert.equal(fieldOf(json.safeParse({ cursor: 'garbage' })), 'cursor')
  // Base64 of JSON, but not of a cursor: still refused.
  assert.equal(fieldOf(json.safeParse({ cursor: Buffer.from('[1,"x; DROP"]').toString('base64url') })), 'cursor')
  assert.equal(fieldOf(json.safeParse({ q: '"*"' })), 'q')
  assert.equal(fieldOf(json.safeParse({ includeTest: 'maybe' })), 'includeTest')
  assert.equal(fieldOf(json.safeParse({ format: 'xml' })), 'format')
  const ok = json.parse({ from: '2025-03-03', to: '2025-03-04T00:00:00+01:00', limit: ['5', '9'], includeTest: '1' })
  assert.equal(ok.from, Date.UTC(2025, 2, 3))
  assert.equal(ok.to, Date.UTC(2025, 2, 3, 23))
  assert.equal(ok.limit, 5, 'a repeated parameter: the first counts')
  assert.equal(ok.includeTest, true)
  assert.equal(json.parse({}).includeTest, false)
})

for (const dialect of ['sqlite', 'postgres'] as const) {
  describe(`history on ${dialect}`, () => {
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

    const list = async (q: HistoryQueryInput) => nums((await queryHistory(db, { limit: MAX_PAGE, ...q })).incidents)

    test('test incidents are hidden unless asked for; newest first', async () => {
      const page = await queryHistory(db, { limit: MAX_PAGE })
      // #1-#36 are not test incidents; #37-#40 are.
      assert.deepEqual(nums(page.incidents), range(1, 36))
      assert.equal(page.nextCursor, null)
      const opened = page.incidents.map((r) => Date.parse(r.openedAt))
      assert.deepEqual(
        opened,
        [...opened].sort((a, b) => b - a),
      )
      assert.equal(page.incidents[0].id, fixtureId(36), '#36 opens last (day 14)')
      assert.equal(page.incidents.at(-1)!.id, fixtureId(35), '#35 opens first (day -1)')
      assert.deepEqual(await list({ includeTest: true }), range(1, 40))
    })

    test('from is inclusive, to exclusive (on opened_at)', async () => {
      // #35 opens 1 min before day 0, #36 exactly at day 14.
      assert.deepEqual(await list({ from: day(0), to: day(14) }), range(1, 34))
      assert.deepEqual(await list({ from: openedAtMs(FIXTURES[34]), to: openedAtMs(FIXTURES[35]) }), range(1, 35))
      // Day 3: #11, #12 and #13 (23:59).
      assert.deepEqual(await list({ from: day(3), to: day(4) }), [11, 12, 13])
    })

    test('node, resource (name or id), type, severity, status', async () => {
      assert.deepEqual(await list({ node: 'node-c' }), [4, 9, 11, 16, 22, 24, 25, 32])
      assert.deepEqual(await list({ node: 'node-c', includeTest: true }), [4, 9, 11, 16, 22, 24, 25, 32, 38])
      const web = [1, 2, 8, 10, 15, 20, 21, 27, 30, 35]
      assert.deepEqual(await list({ resource: 'web' }), web)
      assert.deepEqual(await list({ resource: 'c-web' }), web)
      assert.deepEqual(await list({ resource: '/var' }), [4, 11, 25])
      assert.deepEqual(await list({ resource: 'https://shop.example/health' }), [6, 13, 22, 31])
      assert.deepEqual(await list({ type: 'disk' }), [4, 11, 18, 25, 33])
      assert.deepEqual(await list({ severity: 'info' }), [6, 14, 31])
      // rejected #9 #28, failed #4 #16 #27, rolled back #7 #21 #33
      assert.deepEqual(await list({ status: 'escalated' }), [4, 7, 9, 16, 21, 27, 28, 33])
      assert.deepEqual(await list({ status: 'suppressed' }), [13])
      assert.deepEqual(await list({ node: 'node-a', type: 'memory' }), [2, 10, 21, 30])
      assert.deepEqual(await list({ node: 'nowhere' }), [])
    })

    test("action: the incident's decided action, or any action it ran", async () => {
      // Disk incidents decide clean_disk (#11 was escalated without an action).
      assert.deepEqual(await list({ action: 'clean_disk' }), [4, 18, 25, 33])
      // #33 ran rotate_logs after clean_disk failed: only in its actions.
      assert.deepEqual(await list({ action: 'rotate_logs' }), [33])
      // CPU incidents with a decision (#19 is still open).
      assert.deepEqual(await list({ action: 'renice_process' }), [3, 9, 14, 24, 28, 34])
    })

    test('analyser', async () => {
      assert.deepEqual(await list({ analyser: 'llm' }), [3, 7, 9, 10, 14, 16, 21, 22, 24, 28, 30, 34])
      assert.deepEqual(await list({ analyser: 'llm', from: day(7) }), [21, 22, 24, 28, 30, 34])
    })

    test('full text over titles, root causes and causes; all the words; any case', async () => {
      assert.deepEqual(await list({ q: 'pool leak' }), [16])
      assert.deepEqual(await list({ q: 'leak' }), [16, 30])
      // The default memory root cause (#16, #26, #30 have their own); #38 is a test incident.
      assert.deepEqual(await list({ q: 'KILLER' }), [2, 7, 10, 21, 36])
      assert.deepEqual(await list({ q: 'killer', includeTest: true }), [2, 7, 10, 21, 36, 38])
      assert.deepEqual(await list({ q: 'twice' }), [29], 'a title')
      assert.deepEqual(await list({ q: 'hyperlink' }), [12])
      // latency incidents with an analysis: only #22 (#6, #13, #31 have none)
      assert.deepEqual(await list({ q: 'upstream slowly' }), [22])
      assert.deepEqual(await list({ q: 'leak', node: 'node-a' }), [30])
    })

    test('full-text syntax in the input is only words: it neither errors nor changes the search', async () => {
      // Each is the words it holds: FTS5's NOT, OR, NEAR, column filters, prefixes and quotes do nothing.
      assert.deepEqual(await list({ q: 'leak NOT pool' }), [], 'NOT is a word no incident holds, not an operator')
      assert.deepEqual(await list({ q: 'leak OR pool' }), [])
      assert.deepEqual(await list({ q: '"leak' }), [16, 30])
      assert.deepEqual(await list({ q: 'leak*' }), [16, 30])
      assert.deepEqual(await list({ q: 'lea*' }), [], 'no prefix search')
      assert.deepEqual(await list({ q: 'title:twice' }), [])
      assert.deepEqual(await list({ q: 'NEAR(pool leak)' }), [])
      assert.deepEqual(await list({ q: "leak') OR 1=1 --" }), [])
      assert.deepEqual(await list({ q: '(((leak' }), [16, 30])
      assert.deepEqual(await list({ q: '*** "" :' }), [], 'no word at all (the API refuses it): nothing')
    })

    test('pagination gives every row exactly once, newest first, ties by id', async () => {
      // #8 and #37 open at the same instant: the id breaks the tie.
      for (const limit of [1, 7, 13]) {
        const seen: HistoryRow[] = []
        let cursor: string | undefined
        let pages = 0
        for (;;) {
          const page = await queryHistory(db, { includeTest: true, limit, cursor })
          pages++
          seen.push(...page.incidents)
          if (!page.nextCursor) break
          assert.equal(page.incidents.length, limit)
          cursor = page.nextCursor
          assert.ok(pages <= 40, 'the walk ends')
        }
        assert.equal(pages, Math.ceil(40 / limit), `limit ${limit}: full pages, then the rest`)
        assert.deepEqual(nums(seen), range(1, 40), `limit ${limit}: each incident once`)
        for (let k = 1; k < seen.length; k++) {
          const a = Date.parse(seen[k - 1].openedAt)
          const b = Date.parse(seen[k].openedAt)
          assert.ok(a > b || (a === b && seen[k - 1].id > seen[k].id), `limit ${limit}: order at ${k}`)
        }
      }
      // With a filter: node-a without test incidents (#1 #2 #5 #8 #10 #14 #15 #18 #20 #21 #27 #28 #30 #33 #35).
      const seen: number[] = []
      let cursor: string | undefined
      do {
        const page = await queryHistory(db, { node: 'node-a', limit: 4, cursor })
        seen.push(...page.incidents.map((r) => numberOf(r.id)))
        cursor = page.nextCursor ?? undefined
      } while (cursor)
      assert.deepEqual(
        [...seen].sort((a, b) => a - b),
        [1, 2, 5, 8, 10, 14, 15, 18, 20, 21, 27, 28, 30, 33, 35],
      )
    })

    test('a row: every field, ISO times, flags, time to resolve', async () => {
      const rows = (await queryHistory(db, { limit: MAX_PAGE, includeTest: true })).incidents
      const byN = (n: number) => rows.find((r) => r.id === fixtureId(n))!
      // #3: day 0 05:00, alert 30 s before, approval waited 240 s, resolved 900 s after opening.
      assert.deepEqual(byN(3), {
        id: 'inc_h03',
        title: 'api: CPU above threshold',
        type: 'cpu',
        severity: 'warning',
        status: 'resolved',
        node: 'node-b',
        resource: { kind: 'container', id: 'c-api', name: 'api' },
        openedAt: '2025-03-03T05:00:00.000Z',
        resolvedAt: '2025-03-03T05:15:00.000Z',
        detectedAt: '2025-03-03T04:59:30.000Z',
        cause: 'saturation',
        rootCause: 'a runaway loop kept a core busy',
        analyser: 'llm',
        route: 'approval',
        risk: 'medium',
        actionId: 'renice_process',
        lastActionStatus: 'succeeded',
        autoFixed: false,
        escalated: false,
        rolledBack: false,
        approvalStatus: 'approved',
        timeToResolveSeconds: 900,
      })
      // #33: rolled back, escalated, not resolved.
      const r33 = byN(33)
      assert.deepEqual(
        [r33.status, r33.rolledBack, r33.escalated, r33.autoFixed, r33.lastActionStatus, r33.actionId],
        ['escalated', true, true, false, 'rolled_back', 'clean_disk'],
      )
      assert.equal(r33.resolvedAt, null)
      assert.equal(r33.timeToResolveSeconds, null)
      // #15 has no alert time; #6 (open) no analysis nor decision.
      assert.equal(byN(15).detectedAt, null)
      assert.equal(byN(15).autoFixed, true)
      assert.deepEqual(
        [byN(6).analyser, byN(6).route, byN(6).actionId, byN(6).approvalStatus, byN(6).cause],
        [null, null, null, null, null],
      )
      assert.equal(byN(22).timeToResolveSeconds, 7200)
      assert.equal(byN(22).escalated, true)
    })

    test('CSV: the same rows, read back by a strict RFC 4180 parser, formulas neutralised', async () => {
      const page = await queryHistory(db, { limit: MAX_PAGE, includeTest: true })
      const records = parseCsv(historyCsv(page.incidents))
      assert.deepEqual(
        records[0],
        CSV_COLUMNS.map((c) => c.name),
      )
      assert.equal(records.length, 41)
      const col = (name: string) => records[0].indexOf(name)
      // Text cells starting with = + - @ or a tab are the text with a ' before it.
      const formula = /^[=+\-@\t\r]/
      for (const [k, row] of page.incidents.entries()) {
        const rec = records[k + 1]
        assert.equal(rec.length, CSV_COLUMNS.length)
        const expected: Record<string, string> = {
          id: row.id,
          title: formula.test(row.title) ? `'${row.title}` : row.title,
          type: row.type,
          severity: row.severity,
          status: row.status,
          node: row.node,
          resourceKind: row.resource.kind,
          resourceId: row.resource.id,
          resourceName: row.resource.name,
          openedAt: row.openedAt,
          resolvedAt: row.resolvedAt ?? '',
          detectedAt: row.detectedAt ?? '',
          cause: row.cause ?? '',
          rootCause: row.rootCause ?? '',
          analyser: row.analyser ?? '',
          route: row.route ?? '',
          risk: row.risk ?? '',
          actionId: row.actionId ?? '',
          lastActionStatus: row.lastActionStatus ?? '',
          autoFixed: String(row.autoFixed),
          escalated: String(row.escalated),
          rolledBack: String(row.rolledBack),
          approvalStatus: row.approvalStatus ?? '',
          timeToResolveSeconds: row.timeToResolveSeconds === null ? '' : String(row.timeToResolveSeconds),
        }
        assert.deepEqual(Object.fromEntries(records[0].map((name, c) => [name, rec[c]])), expected, row.id)
      }
      const recordOf = (n: number) => records.find((r) => r[0] === fixtureId(n))!
      // Written out by hand: the fixture's titles as a spreadsheet must show them.
      assert.equal(recordOf(12)[col('title')], `'=HYPERLINK("http://evil.example/?x=1","click, here")`)
      assert.equal(recordOf(20)[col('title')], "'-web: container exited")
      assert.equal(recordOf(29)[col('title')], `'+api: container exited, "twice"`)
      assert.equal(recordOf(32)[col('title')], "'\tworker: container exited")
      assert.equal(
        recordOf(25)[col('rootCause')],
        'old logs filled the volume\r\nsecond line, with a comma and "quotes"',
      )
      assert.equal(recordOf(3)[col('timeToResolveSeconds')], '900')
    })

    test('a CSV export reads page after page and stops at its limit', async () => {
      const all = await queryHistory(db, { limit: MAX_PAGE, includeTest: true })
      const whole = await exportHistory(db, { limit: 1000, includeTest: true }, { pageSize: 7 })
      assert.deepEqual(whole.incidents, all.incidents)
      assert.equal(whole.nextCursor, null)
      const first = await queryHistory(db, { limit: 10, includeTest: true })
      const part = await exportHistory(db, { limit: 10, includeTest: true }, { pageSize: 3 })
      assert.deepEqual(part.incidents, first.incidents)
      assert.equal(part.nextCursor, first.nextCursor)
      const rest = await exportHistory(
        db,
        { limit: 1000, includeTest: true, cursor: part.nextCursor! },
        { pageSize: 7 },
      )
      assert.deepEqual(rest.incidents, all.incidents.slice(10))
    })

    test('one archived incident: the document, its audit entries oldest first, its postmortem', async () => {
      const found = await archivedIncident(db, fixtureId(1))
      assert.ok(found)
      assert.deepEqual(found.incident, FIXTURE_INCIDENTS[0])
      assert.deepEqual(
        found.audit.map((e) => [e.kind, e.at]),
        [
          ['incident.opened', '2025-03-03T01:00:00.000Z'],
          ['action.executed', '2025-03-03T01:00:05.000Z'],
          ['incident.resolved', '2025-03-03T01:02:00.000Z'],
        ],
      )
      assert.deepEqual(found.audit[0], {
        entryId: `${Date.UTC(2025, 2, 3, 1)}-0`,
        at: '2025-03-03T01:00:00.000Z',
        kind: 'incident.opened',
        actor: 'test',
        incidentId: 'inc_h01',
        resource: 'web',
        outcome: 'ok',
        data: { step: 'incident.opened' },
      })
      assert.deepEqual(found.postmortem, {
        markdown: '# web exited\n\nRestarted.',
        draftedBy: 'rules',
        createdAt: '2025-03-03T01:03:20.000Z',
      })
      const other = await archivedIncident(db, fixtureId(2))
      assert.deepEqual([other?.audit, other?.postmortem], [[], null])
      assert.equal(await archivedIncident(db, 'inc_nothing_here'), null)
    })
  })
}
