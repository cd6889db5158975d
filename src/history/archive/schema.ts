/**
 * The archive's tables, as numbered migrations run at start (each in its own transaction, recorded
 * in schema_migrations, so a start killed half-way redoes only the unfinished one). Add a
 * migration at the end; never edit one that has shipped.
 *
 * `incidents` holds one row per incident: the columns the history filters and reports read,
 * derived from its document by ./row.ts; `incident_docs` the whole document as stored in Redis
 * (the source of truth for postmortems and replay). The child tables (timeline, actions, snapshots, approval) and
 * the audit entries make the parts queryable on their own. Times are milliseconds since the epoch;
 * flags are 0/1.
 */
import type { Dialect, SqlClient } from './sql'

interface Migration {
  version: number
  name: string
  statements: (dialect: Dialect) => string[]
}

const INCIDENT_COLUMNS = `
  id TEXT PRIMARY KEY,
  version INTEGER NOT NULL,
  fingerprint TEXT NOT NULL,
  type TEXT NOT NULL,
  severity TEXT NOT NULL,
  status TEXT NOT NULL,
  title TEXT NOT NULL,
  resource_kind TEXT NOT NULL,
  resource_id TEXT NOT NULL,
  resource_name TEXT NOT NULL,
  node TEXT NOT NULL,
  detected_at BIGINT,
  opened_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  resolved_at BIGINT,
  closed_at BIGINT,
  analyser TEXT,
  cause TEXT,
  root_cause TEXT,
  confidence DOUBLE PRECISION,
  route TEXT,
  risk TEXT,
  action_id TEXT,
  last_action_status TEXT,
  auto_fixed INTEGER NOT NULL DEFAULT 0,
  escalated INTEGER NOT NULL DEFAULT 0,
  rolled_back INTEGER NOT NULL DEFAULT 0,
  approval_status TEXT,
  approval_wait_ms BIGINT,
  test INTEGER NOT NULL DEFAULT 0,
  archived_at BIGINT NOT NULL`

const MIGRATIONS: Migration[] = [
  {
    version: 1,
    name: 'incidents, their parts, audit entries, postmortems',
    statements: (dialect) => [
      `CREATE TABLE incidents (${INCIDENT_COLUMNS}${
        dialect === 'postgres'
          ? `,
  search tsvector GENERATED ALWAYS AS (to_tsvector('simple', coalesce(title, '') || ' ' || coalesce(root_cause, '') || ' ' || coalesce(cause, ''))) STORED`
          : ''
      })`,
      // The history's order (newest first, id to break ties) read straight from an index.
      'CREATE INDEX incidents_opened ON incidents (opened_at, id)',
      'CREATE INDEX incidents_type_opened ON incidents (type, opened_at)',
      'CREATE INDEX incidents_node_opened ON incidents (node, opened_at)',
      'CREATE INDEX incidents_resource_opened ON incidents (resource_name, opened_at)',
      'CREATE INDEX incidents_status ON incidents (status)',
      'CREATE INDEX incidents_resolved ON incidents (resolved_at)',
      dialect === 'postgres'
        ? 'CREATE INDEX incidents_search ON incidents USING GIN (search)'
        : // Full text over titles and root causes; kept in step with `incidents` by ./writer.ts.
          `CREATE VIRTUAL TABLE incidents_fts USING fts5(id UNINDEXED, title, root_cause, cause, tokenize = 'unicode61')`,
      // The whole document apart: SQLite keeps a row's text inline, and ~4 KB documents in the
      // rows the filters and reports scan made every scan read a page per incident.
      `CREATE TABLE incident_docs (
  incident_id TEXT PRIMARY KEY REFERENCES incidents (id) ON DELETE CASCADE,
  doc TEXT NOT NULL)`,
      `CREATE TABLE incident_timeline (
  incident_id TEXT NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
  seq INTEGER NOT NULL,
  stage TEXT NOT NULL,
  at BIGINT NOT NULL,
  actor TEXT NOT NULL,
  summary TEXT NOT NULL,
  data TEXT,
  PRIMARY KEY (incident_id, seq))`,
      `CREATE TABLE incident_actions (
  incident_id TEXT NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
  seq INTEGER NOT NULL,
  action_id TEXT NOT NULL,
  status TEXT NOT NULL,
  started_at BIGINT,
  finished_at BIGINT,
  params TEXT,
  result TEXT,
  error TEXT,
  PRIMARY KEY (incident_id, seq))`,
      'CREATE INDEX incident_actions_action ON incident_actions (action_id)',
      `CREATE TABLE incident_snapshots (
  incident_id TEXT NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
  seq INTEGER NOT NULL,
  doc TEXT NOT NULL,
  PRIMARY KEY (incident_id, seq))`,
      `CREATE TABLE incident_approvals (
  incident_id TEXT PRIMARY KEY REFERENCES incidents (id) ON DELETE CASCADE,
  status TEXT NOT NULL,
  approver_role TEXT NOT NULL,
  risk TEXT NOT NULL,
  action_id TEXT,
  requested_at BIGINT NOT NULL,
  expires_at BIGINT,
  decided_by TEXT,
  decided_role TEXT,
  decided_at BIGINT,
  reason TEXT,
  comment TEXT)`,
      // Keyed by the audit stream's entry id: re-archiving an entry overwrites it, never adds one.
      `CREATE TABLE audit_entries (
  entry_id TEXT PRIMARY KEY,
  at BIGINT NOT NULL,
  kind TEXT NOT NULL,
  actor TEXT NOT NULL,
  incident_id TEXT,
  resource TEXT,
  outcome TEXT,
  data TEXT)`,
      'CREATE INDEX audit_entries_incident ON audit_entries (incident_id, at)',
      'CREATE INDEX audit_entries_at ON audit_entries (at)',
      `CREATE TABLE postmortems (
  incident_id TEXT PRIMARY KEY,
  markdown TEXT NOT NULL,
  drafted_by TEXT NOT NULL,
  created_at BIGINT NOT NULL)`,
      // Cursors of the archiver (the audit stream's last archived entry), written in the same
      // transaction as what they cover.
      'CREATE TABLE archive_state (name TEXT PRIMARY KEY, value TEXT NOT NULL)',
    ],
  },
]

export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1].version

/** Brings the database to SCHEMA_VERSION; returns the versions it applied. */
export async function migrate(db: SqlClient): Promise<number[]> {
  await db.run('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)')
  const applied: number[] = []
  for (const m of MIGRATIONS) {
    const done = await db.transaction(async (tx) => {
      // In the transaction: two starting controllers on one PostgreSQL must not both apply it.
      if (tx.dialect === 'postgres') await tx.run('LOCK TABLE schema_migrations IN EXCLUSIVE MODE')
      const rows = await tx.all('SELECT version FROM schema_migrations WHERE version = ?', [m.version])
      if (rows.length) return false
      for (const s of m.statements(tx.dialect)) await tx.run(s)
      await tx.run('INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)', [m.version, Date.now()])
      return true
    })
    if (done) applied.push(m.version)
  }
  return applied
}
