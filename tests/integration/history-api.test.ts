/**
 * The history API against a real Sentinel, once with its SQLite archive (DATA_DIR/history.sqlite)
 * and once with DATABASE_URL to a real PostgreSQL, each archive seeded with the fixture incidents
 * (tests/helpers/history-fixtures.ts) before Sentinel starts: filters, pagination, CSV (by Accept
 * and by format=csv), one archived incident, the summary report, the 400s naming the field, 401
 * without a key, and (PostgreSQL) a 503 with Retry-After while the database is down.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { openArchive } from '../../src/history/archive/open'
import { seedHistory } from '../helpers/history-fixtures'
import { waitFor } from '../helpers/ports'
import { startPostgres, type TestPostgres } from '../helpers/postgres'
import { startRedis, type TestRedis } from '../helpers/redis'
import { parseCsv } from '../helpers/rfc4180'
import { PROJECT_ROOT, type SentinelInstance, startSentinel } from '../helpers/sentinel'

const numberOf = (id: string) => Number(id.replace('inc_h', ''))
const nums = (rows: { id: string }[]) => rows.map((r) => numberOf(r.id)).sort((a, b) => a - b)
const range = (a: number, b: number) => Array.from({ length: b - a + 1 }, (_, k) => a + k)
const TWO_WEEKS = 'from=2025-03-03&to=2025-03-17'

for (const dialect of ['sqlite', 'postgres'] as const) {
  describe(`history API on ${dialect}`, () => {
    let redis: TestRedis
    let pg: TestPostgres | undefined
    let sentinel: SentinelInstance
    let dataDir: string

    before(async () => {
      redis = await startRedis()
      dataDir = mkdtempSync(path.join(os.tmpdir(), 'sentinel-test-history-'))
      if (dialect === 'postgres') pg = await startPostgres()
      // Seeded before Sentinel starts, through the same opening Sentinel uses.
      const archive = await openArchive({ DATABASE_URL: pg?.url, DATA_DIR: dataDir, projectRoot: PROJECT_ROOT })
      await seedHistory(archive)
      await archive.close()
      sentinel = await startSentinel({
        redisPort: redis.port,
        env: pg ? { DATABASE_URL: pg.url } : { DATA_DIR: dataDir },
      })
    })
    after(async () => {
      await sentinel?.cleanup()
      await pg?.stop()
      await redis?.stop()
      rmSync(dataDir, { recursive: true, force: true })
    })

    it('needs a key', async () => {
      for (const p of ['/api/history', '/api/history/inc_h01', '/api/reports/summary'])
        assert.equal((await sentinel.get(p, null)).status, 401, p)
    })

    it('lists archived incidents with filters, newest first', async () => {
      const res = await sentinel.get(`/api/history?${TWO_WEEKS}`, 'viewer')
      assert.equal(res.status, 200)
      // #1-#34 open in those two weeks and are not tests.
      assert.deepEqual(nums(res.body.incidents), range(1, 34))
      assert.equal(res.body.incidents[0].id, 'inc_h34')
      assert.equal(res.body.nextCursor, null)
      const ids = async (query: string) => {
        const r = await sentinel.get(`/api/history?${query}`, 'viewer')
        assert.equal(r.status, 200, `${query}: ${JSON.stringify(r.body)}`)
        return nums(r.body.incidents)
      }
      assert.deepEqual(await ids('node=node-c'), [4, 9, 11, 16, 22, 24, 25, 32])
      assert.deepEqual(await ids('resource=c-web&from=2025-03-03'), [1, 2, 8, 10, 15, 20, 21, 27, 30])
      assert.deepEqual(await ids('type=disk&severity=critical'), [4, 25])
      assert.deepEqual(await ids('status=escalated&analyser=llm'), [7, 9, 16, 21, 28])
      assert.deepEqual(await ids('action=rotate_logs'), [33])
      assert.deepEqual(await ids(`q=${encodeURIComponent('pool leak')}`), [16])
      assert.deepEqual(await ids(`q=${encodeURIComponent('leak NOT pool')}`), [])
      assert.deepEqual(await ids('includeTest=true'), range(1, 40))
    })

    it('pages with an opaque cursor, each incident once', async () => {
      const seen: number[] = []
      let cursor: string | null = null
      let pages = 0
      do {
        const res = await sentinel.get(
          `/api/history?includeTest=true&limit=15${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
          'viewer',
        )
        assert.equal(res.status, 200)
        seen.push(...res.body.incidents.map((r: { id: string }) => numberOf(r.id)))
        cursor = res.body.nextCursor
        pages++
      } while (cursor && pages < 10)
      assert.equal(pages, 3)
      assert.deepEqual(
        [...seen].sort((a, b) => a - b),
        range(1, 40),
      )
    })

    it('exports CSV by Accept and by format=csv: the same rows, a file name with the range', async () => {
      const json = await sentinel.get(`/api/history?${TWO_WEEKS}`, 'viewer')
      const byAccept = await sentinel.get(`/api/history?${TWO_WEEKS}`, 'viewer', { accept: 'text/csv' })
      const byFormat = await sentinel.get(`/api/history?${TWO_WEEKS}&format=csv`, 'viewer')
      for (const res of [byAccept, byFormat]) {
        assert.equal(res.status, 200)
        assert.match(res.headers.get('content-type') ?? '', /^text\/csv/)
        assert.equal(
          res.headers.get('content-disposition'),
          'attachment; filename="sentinel-history-20250303T000000Z-20250317T000000Z.csv"',
        )
        const records = parseCsv(res.body as string)
        assert.equal(records[0][0], 'id')
        assert.deepEqual(
          records.slice(1).map((r) => r[0]),
          json.body.incidents.map((r: { id: string }) => r.id),
        )
        const title = records[0].indexOf('title')
        // #12's title is a spreadsheet formula: it comes out as text.
        assert.equal(
          records.find((r) => r[0] === 'inc_h12')![title],
          `'=HYPERLINK("http://evil.example/?x=1","click, here")`,
        )
      }
      assert.equal(byAccept.body, byFormat.body)
      // format=json wins over Accept; an export may ask for more than a page.
      const asJson = await sentinel.get(`/api/history?${TWO_WEEKS}&format=json`, 'viewer', { accept: 'text/csv' })
      assert.equal(asJson.body.incidents.length, 34)
      const big = await sentinel.get('/api/history?format=csv&limit=20000&includeTest=true', 'viewer')
      assert.equal(big.status, 200)
      assert.equal(parseCsv(big.body as string).length, 41)
      assert.equal(big.headers.get('x-next-cursor'), null)
      const part = await sentinel.get('/api/history?format=csv&limit=5', 'viewer')
      assert.equal(parseCsv(part.body as string).length, 6)
      assert.ok(part.headers.get('x-next-cursor'))
    })

    it('refuses bad queries with a 400 naming the field', async () => {
      for (const [query, field] of [
        ['from=yesterday', 'query.from'],
        ['to=2025-02-30', 'query.to'],
        ['limit=0', 'query.limit'],
        ['limit=501', 'query.limit'],
        ['format=csv&limit=50001', 'query.limit'],
        ['cursor=not-a-cursor', 'query.cursor'],
        ['severity=fatal', 'query.severity'],
        ['q=%22*%22', 'query.q'],
      ]) {
        const res = await sentinel.get(`/api/history?${query}`, 'viewer')
        assert.equal(res.status, 400, query)
        assert.ok(
          res.body.details.fields.some((f: { field: string }) => f.field === field),
          `${query}: ${JSON.stringify(res.body)}`,
        )
        assert.match(res.body.message, new RegExp(field.replace('.', '\\.')))
      }
    })

    it('gives one archived incident with its audit entries and postmortem, 404 naming an absent id', async () => {
      const res = await sentinel.get('/api/history/inc_h01', 'viewer')
      assert.equal(res.status, 200)
      assert.equal(res.body.incident.id, 'inc_h01')
      assert.equal(res.body.incident.title, 'web: container exited')
      assert.deepEqual(
        res.body.audit.map((e: { kind: string }) => e.kind),
        ['incident.opened', 'action.executed', 'incident.resolved'],
      )
      assert.equal(res.body.postmortem.draftedBy, 'rules')
      const absent = await sentinel.get('/api/history/inc_not_there_1', 'viewer')
      assert.equal(absent.status, 404)
      assert.match(absent.body.message, /inc_not_there_1/)
      assert.equal((await sentinel.get('/api/history/DROP%20TABLE', 'viewer')).status, 400)
    })

    it('reports a summary over a range, by day or week', async () => {
      const res = await sentinel.get(`/api/reports/summary?${TWO_WEEKS}`, 'viewer')
      assert.equal(res.status, 200)
      // As counted by hand in src/history/reports.test.ts.
      assert.equal(res.body.totals.incidents, 34)
      assert.equal(res.body.totals.autoFixed, 15)
      assert.equal(res.body.totals.escalated, 10)
      assert.equal(res.body.totals.rollbacks, 3)
      assert.deepEqual(res.body.totals.timeToResolve, { medianSeconds: 300, p90Seconds: 2400 })
      assert.deepEqual(res.body.byNode, { 'node-a': 14, 'node-b': 12, 'node-c': 8 })
      assert.equal(res.body.buckets.length, 14)
      const weekly = await sentinel.get(`/api/reports/summary?${TWO_WEEKS}&by=week`, 'viewer')
      assert.deepEqual(
        weekly.body.buckets.map((b: { incidents: number }) => b.incidents),
        [19, 15],
      )
      // Default: the last 30 days up to now.
      const recent = await sentinel.get('/api/reports/summary', 'viewer')
      assert.equal(recent.status, 200)
      assert.equal(Date.parse(recent.body.to) - Date.parse(recent.body.from), 30 * 86_400_000)
      assert.equal(recent.body.by, 'day')
      for (const [query, field] of [
        ['from=2024-01-01&to=2025-03-01', 'query.from'],
        ['from=2025-03-05&to=2025-03-04', 'query.from'],
        ['by=month', 'query.by'],
        ['to=soon', 'query.to'],
      ]) {
        const bad = await sentinel.get(`/api/reports/summary?${query}`, 'viewer')
        assert.equal(bad.status, 400, query)
        assert.match(bad.body.message, new RegExp(field.replace('.', '\\.')), query)
      }
    })

    if (dialect === 'postgres')
      it('answers 503 with Retry-After while PostgreSQL is down, and serves again once it is back', async () => {
        await pg!.crash()
        for (const p of [`/api/history?${TWO_WEEKS}`, '/api/history/inc_h01', `/api/reports/summary?${TWO_WEEKS}`]) {
          const res = await sentinel.get(p, 'viewer')
          assert.equal(res.status, 503, `${p}: ${JSON.stringify(res.body)}`)
          assert.ok(Number(res.headers.get('retry-after')) > 0)
          assert.equal(res.body.error, 'archive_unavailable')
          assert.match(res.body.message, /archive/)
          assert.doesNotMatch(JSON.stringify(res.body), new RegExp(pg!.password))
        }
        // /healthz reports the archive down (public: no address, no error text) and stays 200:
        // healing does not need the archive.
        await waitFor(async () => (await sentinel.get('/healthz', null)).body.archive?.status === 'down', {
          timeoutMs: 40_000,
          what: '/healthz to report the archive down',
        })
        const health = await sentinel.get('/healthz', null)
        assert.equal(health.status, 200)
        assert.equal(health.body.archive.database, 'postgres')
        assert.doesNotMatch(JSON.stringify(health.body), new RegExp(pg!.password))
        await pg!.restart()
        await waitFor(async () => (await sentinel.get('/healthz', null)).body.archive?.status === 'up', {
          timeoutMs: 60_000,
          what: '/healthz to report the archive up again',
        })
        await waitFor(async () => (await sentinel.get(`/api/history?${TWO_WEEKS}`, 'viewer')).status === 200, {
          timeoutMs: 30_000,
          what: 'the history API to answer again',
        })
        const res = await sentinel.get(`/api/history?${TWO_WEEKS}`, 'viewer')
        assert.equal(res.body.incidents.length, 34)
      })
  })
}
