import type { ApiRouteConfig } from 'motia'
import type { ApiStep } from '../../src/platform/events/steps'
import { protect } from '../../middlewares/api.middleware'
import { parseOr400 } from '../../src/platform/http/errors'
import { csvFilename, historyCsv, wantsCsv } from '../../src/history/csv'
import { exportHistory, historyQuerySchema, MAX_EXPORT, MAX_PAGE, queryHistory } from '../../src/history/query'
import { withArchive } from '../../src/history/unavailable'

export const config = {
  type: 'api',
  name: 'IncidentHistory',
  description:
    'Archived incidents, newest first, with filters, full-text search and cursor pagination; CSV with Accept: text/csv or format=csv',
  path: '/api/history',
  method: 'GET',
  emits: [],
  flows: ['sentinel'],
  middleware: protect('read'),
  queryParams: [
    { name: 'from', description: 'ISO time or date: opened at or after' },
    { name: 'to', description: 'ISO time or date: opened before' },
    { name: 'node', description: 'the host the incident happened on' },
    { name: 'resource', description: 'resource name or id' },
    { name: 'type', description: 'container_down, memory, cpu, disk, latency, anomaly...' },
    { name: 'severity', description: 'critical, warning, info' },
    { name: 'status', description: 'open, awaiting_approval, remediating, verifying, resolved, escalated, suppressed' },
    { name: 'action', description: 'an action the incident decided or ran (restart_container...)' },
    { name: 'analyser', description: 'which analyser explained it' },
    { name: 'q', description: 'words to find in titles, root causes and causes (all of them)' },
    { name: 'includeTest', description: 'true: test incidents too (default false)' },
    { name: 'limit', description: `1 to ${MAX_PAGE} (default 50); a CSV export up to ${MAX_EXPORT}` },
    { name: 'cursor', description: 'nextCursor of the previous page' },
    { name: 'format', description: 'json (default) or csv' },
  ],
} satisfies ApiRouteConfig

const jsonQuery = historyQuerySchema(MAX_PAGE)
const csvQuery = historyQuerySchema(MAX_EXPORT)

export const handler: ApiStep<typeof config> = async (req, { logger }) => {
  const csv = wantsCsv(req.queryParams.format, req.headers.accept)
  const q = parseOr400(csv ? csvQuery : jsonQuery, req.queryParams, 'query')
  return withArchive(
    async (db) => {
      if (!csv) return { status: 200, body: await queryHistory(db, q) }
      const page = await exportHistory(db, q)
      return {
        status: 200,
        headers: {
          'Content-Type': 'text/csv; charset=utf-8',
          'Content-Disposition': `attachment; filename="${csvFilename(q.from, q.to)}"`,
          // What follows the export, for the next one (the body is the rows only).
          ...(page.nextCursor ? { 'X-Next-Cursor': page.nextCursor } : {}),
        },
        body: historyCsv(page.incidents),
      }
    },
    (msg, data) => logger.warn(msg, data),
  )
}
