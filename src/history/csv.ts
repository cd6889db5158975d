/**
 * The incident history as CSV (RFC 4180): a header row, CRLF line ends, a field in double quotes
 * when it holds a comma, a quote or a line break (a quote inside doubled). Spreadsheets run a cell
 * that starts with = + - @ (or a tab or CR before one) as a formula, and incident titles carry text
 * from alerts, container names and LLM output: such a text cell gets a leading `'` so a spreadsheet
 * shows it as text. Numbers and booleans are written by Sentinel and left as they are; an absent
 * value is an empty field.
 */
import type { HistoryRow } from './query'

/** The columns, in order: the list's fields, the resource flattened. */
export const CSV_COLUMNS: { name: string; value: (r: HistoryRow) => string | number | boolean | null }[] = [
  { name: 'id', value: (r) => r.id },
  { name: 'title', value: (r) => r.title },
  { name: 'type', value: (r) => r.type },
  { name: 'severity', value: (r) => r.severity },
  { name: 'status', value: (r) => r.status },
  { name: 'node', value: (r) => r.node },
  { name: 'resourceKind', value: (r) => r.resource.kind },
  { name: 'resourceId', value: (r) => r.resource.id },
  { name: 'resourceName', value: (r) => r.resource.name },
  { name: 'openedAt', value: (r) => r.openedAt },
  { name: 'resolvedAt', value: (r) => r.resolvedAt },
  { name: 'detectedAt', value: (r) => r.detectedAt },
  { name: 'cause', value: (r) => r.cause },
  { name: 'rootCause', value: (r) => r.rootCause },
  { name: 'analyser', value: (r) => r.analyser },
  { name: 'route', value: (r) => r.route },
  { name: 'risk', value: (r) => r.risk },
  { name: 'actionId', value: (r) => r.actionId },
  { name: 'lastActionStatus', value: (r) => r.lastActionStatus },
  { name: 'autoFixed', value: (r) => r.autoFixed },
  { name: 'escalated', value: (r) => r.escalated },
  { name: 'rolledBack', value: (r) => r.rolledBack },
  { name: 'approvalStatus', value: (r) => r.approvalStatus },
  { name: 'timeToResolveSeconds', value: (r) => r.timeToResolveSeconds },
]

const FORMULA_START = /^[=+\-@\t\r]/

/** One field: text neutralised against formulas, then quoted when RFC 4180 needs it. */
export function csvField(value: string | number | boolean | null): string {
  if (value === null) return ''
  let s = typeof value === 'string' ? value : String(value)
  if (typeof value === 'string' && FORMULA_START.test(s)) s = `'${s}`
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s
}

export function historyCsv(rows: HistoryRow[]): string {
  const lines = [CSV_COLUMNS.map((c) => c.name).join(',')]
  for (const r of rows) lines.push(CSV_COLUMNS.map((c) => csvField(c.value(r))).join(','))
  return lines.join('\r\n') + '\r\n'
}

/** 2025-03-01T00:00:00.000Z → 20250301T000000Z: an instant a file name can hold. */
const compact = (ms: number) =>
  new Date(ms)
    .toISOString()
    .replace(/\.\d+Z$/, 'Z')
    .replace(/[-:]/g, '')

/** sentinel-history-<from>-<to>.csv; a missing `from` is `start`, a missing `to` is now. */
export function csvFilename(from: number | undefined, to: number | undefined, now = Date.now()): string {
  return `sentinel-history-${from === undefined ? 'start' : compact(from)}-${compact(to ?? now)}.csv`
}

/** CSV when asked by `?format=csv`, or by `Accept: text/csv` unless `?format=json` says otherwise. */
export function wantsCsv(format: unknown, accept: unknown): boolean {
  const f = Array.isArray(format) ? format[0] : format
  if (f === 'csv') return true
  if (f !== undefined) return false
  const a = Array.isArray(accept) ? accept.join(',') : typeof accept === 'string' ? accept : ''
  return /(^|[\s,])text\/csv\b/i.test(a)
}
