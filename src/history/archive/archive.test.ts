/**
 * The archive foundation on both databases: migrations run once, transactions are all or nothing
 * (and on SQLite's single connection, one caller's transaction never sees another's statements),
 * an incident's upsert is idempotent and never goes back to an older version, full text finds
 * titles and root causes.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { openTestArchive, type TestArchive } from '../../../tests/helpers/test-archive'
import type { Incident } from '../../platform/store/model'
import { incidentRow, nodeOf } from './row'
import { migrate, SCHEMA_VERSION } from './schema'
import { toPostgresPlaceholders, type SqlClient } from './sql'
import { upsertIncident } from './writer'

const at = (s: number) => new Date(Date.UTC(2026, 10, 1, 12, 0, s)).toISOString()

function incident(id: string, over: Partial<Incident> = {}): Incident {
  const resource = { kind: 'container' as const, id: `c-${id}`, name: `web-${id}` }
  return {
    id,
    fingerprint: `fp-${id}`,
    type: 'container_down',
    severity: 'critical',
    status: 'resolved',
    title: `web-${id} exited with code 137`,
    resource,
    alert: {
      fingerprint: `fp-${id}`,
      type: 'container_down',
      severity: 'critical',
      metric: 'container_running',
      value: 0,
      threshold: 1,
      resource,
      labels: { node: 'node-a' },
      source: 'docker-events',
      at: at(0),
    },
    actions: [{ actionId: 'restart_container', params: {}, status: 'succeeded', startedAt: at(3), finishedAt: at(4) }],
    analysis: { analyser: 'rules', cause: 'oom', root_cause: 'the kernel OOM killer ended the process' },
    timeline: [
      { stage: 'detected', at: at(1), actor: 'sentinel:docker-watcher', summary: 'died' },
      { stage: 'acted', at: at(4), actor: 'step:Execute', summary: 'restarted' },
      { stage: 'resolved', at: at(9), actor: 'step:Verify', summary: 'running again' },
    ],
    openedAt: at(1),
    updatedAt: at(9),
    resolvedAt: at(9),
    version: 5,
    ...over,
  }
}

test('? placeholders become $n for PostgreSQL', () => {
  assert.equal(toPostgresPlaceholders('a = ? AND b IN (?, ?)'), 'a = $1 AND b IN ($2, $3)')
})

test('derived columns: automatic fix, escalation, approval wait, node', () => {
  const auto = incidentRow(incident('a'))
  assert.equal(auto.auto_fixed, 1)
  assert.equal(auto.escalated, 0)
  assert.equal(auto.node, 'node-a')
  assert.equal(auto.detected_at, Date.parse(at(0)))
  assert.equal(auto.resolved_at, Date.parse(at(9)))
  const approved = incidentRow(
    incident('b', {
      approval: {
        status: 'approved',
        approverRole: 'operator',
        risk: 'medium',
        actionId: 'restart_container',
        params: {},
        requestedAt: at(2),
        expiresAt: at(50),
        decidedAt: at(32),
      },
    }),
  )
  assert.equal(approved.auto_fixed, 0, 'a person approved it')
  assert.equal(approved.approval_wait_ms, 30_000)
  const escalated = incidentRow(incident('c', { status: 'escalated', resolvedAt: undefined, actions: [] }))
  assert.equal(escalated.escalated, 1)
  assert.equal(escalated.resolved_at, null)
  const host = incident('d', { resource: { kind: 'host', id: 'h1', name: 'db-host' } })
  host.alert.labels = {}
  assert.equal(nodeOf(host), 'db-host')
})

for (const dialect of ['sqlite', 'postgres'] as const) {
  describe(`archive on ${dialect}`, () => {
    let db: SqlClient
    let archive: TestArchive | undefined
    before(async () => {
      archive = await openTestArchive(dialect, { migrate: false })
      db = archive.db
      assert.deepEqual(await migrate(db), [SCHEMA_VERSION])
    })
    after(async () => {
      await archive?.close()
    })

    test('migrations run once', async () => {
      assert.deepEqual(await migrate(db), [])
      const rows = await db.all<{ version: number }>('SELECT version FROM schema_migrations')
      assert.deepEqual(
        rows.map((r) => r.version),
        [SCHEMA_VERSION],
      )
    })

    test('an upsert is idempotent and never goes back to an older version', async () => {
      const inc = incident('i1')
      assert.equal(await db.transaction((tx) => upsertIncident(tx, inc)), true)
      assert.equal(await db.transaction((tx) => upsertIncident(tx, inc)), true)
      assert.equal(await db.transaction((tx) => upsertIncident(tx, { ...inc, version: 4, title: 'older' })), false)
      const [row] = await db.all<{ title: string; version: number }>(
        'SELECT title, version FROM incidents WHERE id = ?',
        ['i1'],
      )
      assert.deepEqual(row, { title: inc.title, version: 5 })
      const [parts] = await db.all<{ t: number; a: number }>(
        `SELECT (SELECT count(*) FROM incident_timeline WHERE incident_id = 'i1') AS t,
                (SELECT count(*) FROM incident_actions WHERE incident_id = 'i1') AS a`,
      )
      assert.deepEqual(parts, { t: 3, a: 1 }, 'child rows replaced, not added')
    })

    test('a transaction that throws writes nothing', async () => {
      await assert.rejects(
        db.transaction(async (tx) => {
          await upsertIncident(tx, incident('i2'))
          throw new Error('boom')
        }),
        /boom/,
      )
      assert.equal((await db.all('SELECT id FROM incidents WHERE id = ?', ['i2'])).length, 0)
    })

    test('concurrent transactions do not see or lose each other', async () => {
      await Promise.all(
        Array.from({ length: 20 }, (_, n) =>
          db
            .transaction(async (tx) => {
              await upsertIncident(tx, incident(`p${n}`))
              await new Promise((r) => setTimeout(r, 2))
              if (n % 5 === 0) throw new Error('rolled back on purpose')
            })
            .catch(() => {}),
        ),
      )
      const rows = await db.all<{ n: number }>("SELECT count(*) AS n FROM incidents WHERE id LIKE 'p%'")
      assert.equal(rows[0].n, 16)
      const orphans = await db.all<{ n: number }>(
        "SELECT count(*) AS n FROM incident_timeline WHERE incident_id LIKE 'p%' AND incident_id NOT IN (SELECT id FROM incidents)",
      )
      assert.equal(orphans[0].n, 0)
    })

    test('full text finds a root cause word', async () => {
      await db.transaction((tx) =>
        upsertIncident(tx, incident('f1', { analysis: { root_cause: 'disk filled by runaway logrotate' } })),
      )
      const hits =
        db.dialect === 'postgres'
          ? await db.all<{ id: string }>("SELECT id FROM incidents WHERE search @@ plainto_tsquery('simple', ?)", [
              'logrotate',
            ])
          : await db.all<{ id: string }>('SELECT id FROM incidents_fts WHERE incidents_fts MATCH ?', ['logrotate'])
      assert.deepEqual(
        hits.map((h) => h.id),
        ['f1'],
      )
    })
  })
}
