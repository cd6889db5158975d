/**
 * Reading the incident archive: GET /api/history (a filtered, keyset-paginated list of archived
 * incidents, as JSON or CSV) and GET /api/history/:id (one archived incident whole, with its audit
 * entries and postmortem).
 *
 * Every statement is put together from fixed SQL fragments; what the caller typed only ever
 * travels as a `?` parameter. Pages are ordered newest first on (opened_at, id), and the cursor is
 * the last row's pair, so a page never repeats or skips a row when incidents are archived while
 * someone pages (a row opened later than the first page simply is not in this walk).
 *
 * Full text (`q`) is cut into words here (letters and digits; anything else separates words), and
 * every word must appear in the title, root cause or cause: on SQLite each word goes to FTS5 as a
 * quoted string (so `"`, `*`, `NEAR`, `OR` or `:` in the input are words, never query syntax); on
 * PostgreSQL the same words go to plainto_tsquery('simple', ...), which has no syntax to inject.
 */
import { z } from 'zod'
import { HttpError } from '../platform/http/errors'
import { firstValue } from '../platform/http/requests'
import { INCIDENT_STATUSES } from '../platform/store/lifecycle'
import type { AuditEvent } from '../platform/store/audit'
import type { Incident } from '../platform/store/model'
import type { SqlClient, SqlValue } from './archive/sql'

/** A page of the JSON list holds at most this many incidents. */
export const MAX_PAGE = 500
/** A CSV export holds at most this many (read from the archive EXPORT_PAGE at a time). */
export const MAX_EXPORT = 50_000
const EXPORT_PAGE = 1000

/** An instant in a query: an ISO time with its offset, or a date (midnight UTC). As milliseconds. */
export const archiveTime = z
  .union([z.iso.datetime({ offset: true }), z.iso.date()], {
    error: 'an ISO time such as 2025-03-01T00:00:00Z, or a date such as 2025-03-01',
  })
  .transform((s) => Date.parse(s.length === 10 ? `${s}T00:00:00Z` : s))

const text = (max: number) => z.preprocess(firstValue, z.string().trim().min(1).max(max).optional())

/** The words of a full-text search: runs of letters and digits (what both tokenizers index). */
export function searchWords(q: string): string[] {
  return (q.match(/[\p{L}\p{M}\p{N}]+/gu) ?? []).slice(0, 16)
}

/** (opened_at, id) of the last row of a page, as an opaque string. */
interface Cursor {
  openedAt: number
  id: string
}

export function encodeCursor(c: Cursor): string {
  return Buffer.from(JSON.stringify([c.openedAt, c.id])).toString('base64url')
}

function decodeCursor(s: string): Cursor | null {
  try {
    const v: unknown = JSON.parse(Buffer.from(s, 'base64url').toString('utf8'))
    if (
      Array.isArray(v) &&
      v.length === 2 &&
      Number.isSafeInteger(v[0]) &&
      typeof v[1] === 'string' &&
      /^inc_[a-z0-9_]+$/.test(v[1])
    )
      return { openedAt: v[0], id: v[1] }
  } catch {
    // not base64 of JSON: answered below as a bad cursor
  }
  return null
}

/**
 * The query of GET /api/history. `maxLimit` is MAX_PAGE for JSON and MAX_EXPORT for a CSV export.
 * `to` is exclusive: incidents opened in [from, to).
 */
export const historyQuerySchema = (maxLimit: number) =>
  z
    .object({
      from: z.preprocess(firstValue, archiveTime.optional()),
      to: z.preprocess(firstValue, archiveTime.optional()),
      node: text(256),
      /** A resource's name or id. */
      resource: text(256),
      type: text(64),
      severity: z.preprocess(firstValue, z.enum(['critical', 'warning', 'info']).optional()),
      status: z.preprocess(firstValue, z.enum(INCIDENT_STATUSES).optional()),
      /** The incident's decided action, or any action it ran. */
      action: text(64),
      analyser: text(64),
      q: z.preprocess(
        firstValue,
        z
          .string()
          .max(200)
          .refine((s) => searchWords(s).length > 0, 'no word to search for (letters or digits)')
          .optional(),
      ),
      includeTest: z.preprocess(
        firstValue,
        z
          .enum(['true', 'false', '1', '0'], { error: 'true or false' })
          .default('false')
          .transform((v) => v === 'true' || v === '1'),
      ),
      limit: z.preprocess(
        firstValue,
        z.coerce
          .number()
          .int()
          .min(1)
          .max(maxLimit, `at most ${maxLimit}${maxLimit < MAX_EXPORT ? ` (a CSV export: up to ${MAX_EXPORT})` : ''}`)
          .default(50),
      ),
      cursor: z.preprocess(
        firstValue,
        z
          .string()
          .max(400)
          .refine((s) => decodeCursor(s) !== null, 'not a cursor: pass nextCursor of the previous page as given')
          .optional(),
      ),
      format: z.preprocess(firstValue, z.enum(['json', 'csv']).optional()),
    })
    .refine((q) => q.from === undefined || q.to === undefined || q.from <= q.to, {
      path: ['to'],
      message: 'before from',
    })

export type HistoryQuery = z.output<ReturnType<typeof historyQuerySchema>>
/** The query as code passes it (times in ms; anything left out: no filter, or the default). */
export type HistoryQueryInput = Partial<HistoryQuery>

/** One archived incident as the list shows it (times ISO). */
export interface HistoryRow {
  id: string
  title: string
  type: string
  severity: string
  status: string
  node: string
  resource: { kind: string; id: string; name: string }
  openedAt: string
  resolvedAt: string | null
  detectedAt: string | null
  cause: string | null
  rootCause: string | null
  analyser: string | null
  route: string | null
  risk: string | null
  actionId: string | null
  lastActionStatus: string | null
  autoFixed: boolean
  escalated: boolean
  rolledBack: boolean
  approvalStatus: string | null
  timeToResolveSeconds: number | null
}

export interface HistoryPage {
  incidents: HistoryRow[]
  nextCursor: string | null
}

interface ListedRow {
  id: string
  title: string
  type: string
  severity: string
  status: string
  node: string
  resource_kind: string
  resource_id: string
  resource_name: string
  opened_at: number
  resolved_at: number | null
  detected_at: number | null
  cause: string | null
  root_cause: string | null
  analyser: string | null
  route: string | null
  risk: string | null
  action_id: string | null
  last_action_status: string | null
  auto_fixed: number
  escalated: number
  rolled_back: number
  approval_status: string | null
}

const LIST_COLUMNS = `i.id, i.title, i.type, i.severity, i.status, i.node, i.resource_kind, i.resource_id, i.resource_name,
  i.opened_at, i.resolved_at, i.detected_at, i.cause, i.root_cause, i.analyser, i.route, i.risk, i.action_id,
  i.last_action_status, i.auto_fixed, i.escalated, i.rolled_back, i.approval_status`

const iso = (ms: number | null) => (ms === null ? null : new Date(Number(ms)).toISOString())

function toHistoryRow(r: ListedRow): HistoryRow {
  return {
    id: r.id,
    title: r.title,
    type: r.type,
    severity: r.severity,
    status: r.status,
    node: r.node,
    resource: { kind: r.resource_kind, id: r.resource_id, name: r.resource_name },
    openedAt: iso(r.opened_at)!,
    resolvedAt: iso(r.resolved_at),
    detectedAt: iso(r.detected_at),
    cause: r.cause,
    rootCause: r.root_cause,
    analyser: r.analyser,
    route: r.route,
    risk: r.risk,
    actionId: r.action_id,
    lastActionStatus: r.last_action_status,
    autoFixed: Number(r.auto_fixed) === 1,
    escalated: Number(r.escalated) === 1,
    rolledBack: Number(r.rolled_back) === 1,
    approvalStatus: r.approval_status,
    timeToResolveSeconds: r.resolved_at === null ? null : (Number(r.resolved_at) - Number(r.opened_at)) / 1000,
  }
}

/** The WHERE clause of a query, as fixed fragments and their parameters. */
function whereOf(db: SqlClient, q: HistoryQueryInput): { sql: string; params: SqlValue[] } {
  const parts: string[] = []
  const params: SqlValue[] = []
  const add = (fragment: string, ...values: SqlValue[]) => {
    parts.push(fragment)
    params.push(...values)
  }
  if (q.from !== undefined) add('i.opened_at >= ?', q.from)
  if (q.to !== undefined) add('i.opened_at < ?', q.to)
  if (q.node) add('i.node = ?', q.node)
  if (q.resource) add('(i.resource_name = ? OR i.resource_id = ?)', q.resource, q.resource)
  if (q.type) add('i.type = ?', q.type)
  if (q.severity) add('i.severity = ?', q.severity)
  if (q.status) add('i.status = ?', q.status)
  if (q.action)
    add(
      // IN, not a correlated EXISTS: the actions that ran it are looked up once (by their index), not per row.
      '(i.action_id = ? OR i.id IN (SELECT a.incident_id FROM incident_actions a WHERE a.action_id = ?))',
      q.action,
      q.action,
    )
  if (q.analyser) add('i.analyser = ?', q.analyser)
  if (!q.includeTest) add('i.test = 0')
  if (q.q) {
    const words = searchWords(q.q)
    // No word (the API refuses such a q; code may pass one): nothing can match it.
    if (words.length === 0) add('1 = 0')
    else if (db.dialect === 'sqlite')
      add(
        'i.id IN (SELECT id FROM incidents_fts WHERE incidents_fts MATCH ?)',
        // Each word a quoted FTS5 string ("" is a quote inside one); words side by side: all of them.
        words.map((w) => `"${w.replace(/"/g, '""')}"`).join(' '),
      )
    else add("i.search @@ plainto_tsquery('simple', ?)", words.join(' '))
  }
  if (q.cursor) {
    const c = decodeCursor(q.cursor)
    if (!c) throw new HttpError(400, 'invalid_request', 'query.cursor: not a cursor')
    add('(i.opened_at < ? OR (i.opened_at = ? AND i.id < ?))', c.openedAt, c.openedAt, c.id)
  }
  return { sql: parts.length ? `WHERE ${parts.join(' AND ')}` : '', params }
}

/** One page of archived incidents, newest first. */
export async function queryHistory(db: SqlClient, q: HistoryQueryInput): Promise<HistoryPage> {
  const limit = Math.max(1, Math.min(q.limit ?? 50, MAX_EXPORT))
  const where = whereOf(db, q)
  // One row more than asked: whether there is a next page, without a second query.
  const rows = await db.all<ListedRow>(
    `SELECT ${LIST_COLUMNS} FROM incidents i ${where.sql} ORDER BY i.opened_at DESC, i.id DESC LIMIT ?`,
    [...where.params, limit + 1],
  )
  const page = rows.slice(0, limit)
  const last = page.at(-1)
  return {
    incidents: page.map(toHistoryRow),
    nextCursor: rows.length > limit && last ? encodeCursor({ openedAt: Number(last.opened_at), id: last.id }) : null,
  }
}

/**
 * Up to `limit` rows for a CSV export, read EXPORT_PAGE at a time (one statement never holds the
 * archive for the whole export); the cursor of what follows, if anything does.
 */
export async function exportHistory(
  db: SqlClient,
  query: HistoryQueryInput,
  opts: { pageSize?: number } = {},
): Promise<HistoryPage> {
  const pageSize = opts.pageSize ?? EXPORT_PAGE
  const total = Math.max(1, Math.min(query.limit ?? 50, MAX_EXPORT))
  const out: HistoryRow[] = []
  let cursor = query.cursor
  for (;;) {
    const page = await queryHistory(db, { ...query, cursor, limit: Math.min(pageSize, total - out.length) })
    out.push(...page.incidents)
    cursor = page.nextCursor ?? undefined
    if (!page.nextCursor || out.length >= total) return { incidents: out, nextCursor: page.nextCursor }
  }
}

// ---- One archived incident -----------------------------------------------------------------------

export interface ArchivedAuditEntry extends AuditEvent {
  /** The audit stream's id of the entry. */
  entryId: string
}

export interface ArchivedIncident {
  incident: Incident
  audit: ArchivedAuditEntry[]
  postmortem: { markdown: string; draftedBy: string; createdAt: string } | null
}

interface AuditRow {
  entry_id: string
  at: number
  kind: string
  actor: string
  incident_id: string | null
  resource: string | null
  outcome: string | null
  data: string | null
}

function toAuditEntry(r: AuditRow): ArchivedAuditEntry {
  return {
    entryId: r.entry_id,
    at: iso(r.at)!,
    kind: r.kind,
    actor: r.actor,
    ...(r.incident_id !== null ? { incidentId: r.incident_id } : {}),
    ...(r.resource !== null ? { resource: r.resource } : {}),
    ...(r.outcome !== null ? { outcome: r.outcome } : {}),
    ...(r.data !== null ? { data: JSON.parse(r.data) as Record<string, unknown> } : {}),
  }
}

/** An archived incident whole, its audit entries oldest first and its postmortem; null when absent. */
export async function archivedIncident(db: SqlClient, id: string): Promise<ArchivedIncident | null> {
  const [row] = await db.all<{ doc: string }>('SELECT doc FROM incident_docs WHERE incident_id = ?', [id])
  if (!row) return null
  const audit = await db.all<AuditRow>(
    `SELECT entry_id, at, kind, actor, incident_id, resource, outcome, data FROM audit_entries
     WHERE incident_id = ? ORDER BY at, entry_id`,
    [id],
  )
  const [pm] = await db.all<{ markdown: string; drafted_by: string; created_at: number }>(
    'SELECT markdown, drafted_by, created_at FROM postmortems WHERE incident_id = ?',
    [id],
  )
  return {
    incident: JSON.parse(row.doc) as Incident,
    audit: audit.map(toAuditEntry),
    postmortem: pm ? { markdown: pm.markdown, draftedBy: pm.drafted_by, createdAt: iso(pm.created_at)! } : null,
  }
}
