/**
 * Writes incidents and audit entries into the archive as idempotent upserts: an incident's row is
 * replaced whole (its child rows deleted and written again) inside the caller's transaction, and
 * only by a document at least as new as the stored one, so a retry, a replay after kill -9 or an
 * older copy arriving late never duplicates a part nor goes back in time.
 */
import type { AuditEvent } from '../../platform/store/audit'
import type { Incident } from '../../platform/store/model'
import { incidentRow, type IncidentRow } from './row'
import type { SqlClient, SqlValue } from './sql'

const COLUMNS: (keyof IncidentRow | 'archived_at')[] = [
  'id',
  'version',
  'fingerprint',
  'type',
  'severity',
  'status',
  'title',
  'resource_kind',
  'resource_id',
  'resource_name',
  'node',
  'detected_at',
  'opened_at',
  'updated_at',
  'resolved_at',
  'closed_at',
  'analyser',
  'cause',
  'root_cause',
  'confidence',
  'route',
  'risk',
  'action_id',
  'last_action_status',
  'auto_fixed',
  'escalated',
  'rolled_back',
  'approval_status',
  'approval_wait_ms',
  'test',
  'archived_at',
]

// The rows are replaced only by the same or a newer version of the incident; RETURNING names the
// rows written (a row an older version did not replace is not returned).
const upsertIncidentsSql = (rows: number) =>
  `INSERT INTO incidents (${COLUMNS.join(', ')}) VALUES ${Array.from(
    { length: rows },
    () => `(${COLUMNS.map(() => '?').join(', ')})`,
  ).join(', ')}
ON CONFLICT (id) DO UPDATE SET ${COLUMNS.filter((c) => c !== 'id')
    .map((c) => `${c} = excluded.${c}`)
    .join(', ')}
WHERE excluded.version >= incidents.version
RETURNING id`

const json = (v: unknown): string | null => (v === undefined ? null : JSON.stringify(v))
const ms = (iso: string | undefined): number | null => {
  const t = iso ? Date.parse(iso) : NaN
  return Number.isFinite(t) ? t : null
}

// Rows per multi-row statement: one round trip for many rows (PostgreSQL pays a round trip per
// statement), under both databases' limits on bound parameters (SQLite 32 766, PostgreSQL 65 535).
const ROWS_PER_STATEMENT = 200

const chunks = <T>(items: T[], size = ROWS_PER_STATEMENT): T[][] =>
  Array.from({ length: Math.ceil(items.length / size) }, (_, i) => items.slice(i * size, (i + 1) * size))

/** INSERT of many rows into `table`, in statements of at most ROWS_PER_STATEMENT rows. */
async function insertRows(tx: SqlClient, table: string, columns: string[], rows: SqlValue[][]): Promise<void> {
  const one = `(${columns.map(() => '?').join(', ')})`
  for (const part of chunks(rows))
    await tx.run(`INSERT INTO ${table} (${columns.join(', ')}) VALUES ${part.map(() => one).join(', ')}`, part.flat())
}

const CHILD_TABLES = ['incident_timeline', 'incident_actions', 'incident_snapshots', 'incident_approvals']

/**
 * Archives incidents with all their parts, in a few multi-row statements; returns those written
 * (an incident the archive already holds at a newer version is left as it is). Call inside
 * `db.transaction`.
 */
export async function upsertIncidents(
  tx: SqlClient,
  incidents: Incident[],
  opts: { node?: string; now?: number } = {},
): Promise<Incident[]> {
  // The newest copy of each: one statement must not upsert a row twice.
  const newest = new Map<string, Incident>()
  for (const i of incidents) if ((newest.get(i.id)?.version ?? -Infinity) <= i.version) newest.set(i.id, i)
  const all = [...newest.values()]
  if (!all.length) return []
  const now = opts.now ?? Date.now()
  const rows = new Map(all.map((i) => [i.id, incidentRow(i, { node: opts.node })]))
  const writtenIds = new Set<string>()
  for (const part of chunks(all)) {
    const values = part.flatMap((i) => {
      const row = rows.get(i.id)!
      return COLUMNS.map((c) => (c === 'archived_at' ? now : row[c])) as SqlValue[]
    })
    for (const r of await tx.all<{ id: string }>(upsertIncidentsSql(part.length), values)) writtenIds.add(r.id)
  }
  const written = all.filter((i) => writtenIds.has(i.id))
  if (!written.length) return []
  const ids = written.map((i) => i.id)
  for (const part of chunks(written))
    await tx.run(
      `INSERT INTO incident_docs (incident_id, doc) VALUES ${part.map(() => '(?, ?)').join(', ')}
       ON CONFLICT (incident_id) DO UPDATE SET doc = excluded.doc`,
      part.flatMap((i) => [i.id, rows.get(i.id)!.doc]),
    )
  for (const table of CHILD_TABLES)
    for (const part of chunks(ids))
      await tx.run(`DELETE FROM ${table} WHERE incident_id IN (${part.map(() => '?').join(', ')})`, part)
  await insertRows(
    tx,
    'incident_timeline',
    ['incident_id', 'seq', 'stage', 'at', 'actor', 'summary', 'data'],
    written.flatMap((i) =>
      (i.timeline ?? []).map((e, seq) => [i.id, seq, e.stage, ms(e.at) ?? 0, e.actor, e.summary, json(e.data)]),
    ),
  )
  await insertRows(
    tx,
    'incident_actions',
    ['incident_id', 'seq', 'action_id', 'status', 'started_at', 'finished_at', 'params', 'result', 'error'],
    written.flatMap((i) =>
      (i.actions ?? []).map((a, seq) => [
        i.id,
        seq,
        a.actionId,
        a.status,
        ms(a.startedAt),
        ms(a.finishedAt),
        json(a.params),
        json(a.result),
        a.error ?? null,
      ]),
    ),
  )
  await insertRows(
    tx,
    'incident_snapshots',
    ['incident_id', 'seq', 'doc'],
    written.flatMap((i) => (i.snapshots ?? []).map((s, seq) => [i.id, seq, JSON.stringify(s)])),
  )
  await insertRows(
    tx,
    'incident_approvals',
    [
      'incident_id',
      'status',
      'approver_role',
      'risk',
      'action_id',
      'requested_at',
      'expires_at',
      'decided_by',
      'decided_role',
      'decided_at',
      'reason',
      'comment',
    ],
    written.flatMap((i) => {
      const ap = i.approval
      return ap
        ? [
            [
              i.id,
              ap.status,
              ap.approverRole,
              ap.risk,
              ap.actionId,
              ms(ap.requestedAt) ?? 0,
              ms(ap.expiresAt),
              ap.decidedBy ?? null,
              ap.decidedByRole ?? null,
              ms(ap.decidedAt),
              ap.reason ?? null,
              ap.comment ?? null,
            ],
          ]
        : []
    }),
  )
  if (tx.dialect === 'sqlite') {
    // The FTS row shares the incident row's rowid: found through an index, where a match on the
    // (unindexed) id column would scan the whole FTS table on every upsert.
    for (const part of chunks(ids)) {
      const found = await tx.all<{ rowid: number; id: string }>(
        `SELECT rowid, id FROM incidents WHERE id IN (${part.map(() => '?').join(', ')})`,
        part,
      )
      await tx.run(
        `DELETE FROM incidents_fts WHERE rowid IN (${found.map(() => '?').join(', ')})`,
        found.map((f) => f.rowid),
      )
      await insertRows(
        tx,
        'incidents_fts',
        ['rowid', 'id', 'title', 'root_cause', 'cause'],
        found.map((f) => {
          const row = rows.get(f.id)!
          return [f.rowid, f.id, row.title, row.root_cause ?? '', row.cause ?? '']
        }),
      )
    }
  }
  return written
}

/**
 * Archives one incident with all its parts; returns false when the archive already holds a newer
 * version (nothing written). Call inside `db.transaction`.
 */
export async function upsertIncident(
  tx: SqlClient,
  incident: Incident,
  opts: { node?: string; now?: number } = {},
): Promise<boolean> {
  return (await upsertIncidents(tx, [incident], opts)).length === 1
}

/** An audit event with the id of its entry in the audit stream (the archive's key for it). */
export interface ArchivedAuditEvent extends AuditEvent {
  entryId: string
}

/** Archives audit entries; an entry archived before is overwritten, never added twice. */
export async function upsertAuditEntries(tx: SqlClient, entries: ArchivedAuditEvent[]): Promise<void> {
  // One entry id once per statement (a page read twice may repeat one).
  const unique = [...new Map(entries.map((e) => [e.entryId, e])).values()]
  for (const part of chunks(unique))
    await tx.run(
      `INSERT INTO audit_entries (entry_id, at, kind, actor, incident_id, resource, outcome, data)
       VALUES ${part.map(() => '(?, ?, ?, ?, ?, ?, ?, ?)').join(', ')}
       ON CONFLICT (entry_id) DO UPDATE SET at = excluded.at, kind = excluded.kind, actor = excluded.actor,
         incident_id = excluded.incident_id, resource = excluded.resource, outcome = excluded.outcome, data = excluded.data`,
      part.flatMap((e) => [
        e.entryId,
        ms(e.at) ?? 0,
        e.kind,
        e.actor,
        e.incidentId ?? null,
        e.resource ?? null,
        e.outcome ?? null,
        json(e.data),
      ]),
    )
}

/** Reads an archive cursor (archive_state). */
export async function readCursor(db: SqlClient, name: string): Promise<string | null> {
  const rows = await db.all<{ value: string }>('SELECT value FROM archive_state WHERE name = ?', [name])
  return rows[0]?.value ?? null
}

/** Writes an archive cursor; call in the transaction that archived what it covers. */
export async function writeCursor(tx: SqlClient, name: string, value: string): Promise<void> {
  await tx.run(
    'INSERT INTO archive_state (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value',
    [name, value],
  )
}
