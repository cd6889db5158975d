import type { ApiRouteConfig } from 'motia'
import type { ApiStep } from '../../src/platform/events/steps'
import { protect } from '../../middlewares/api.middleware'
import { parseOr400 } from '../../src/platform/http/errors'
import { MAX_DAYS, summaryQuery, summaryRange, summaryReport } from '../../src/history/reports'
import { withArchive } from '../../src/history/unavailable'

export const config = {
  type: 'api',
  name: 'ReportSummary',
  description:
    'Incidents over a range from the archive: totals, automatic fixes, escalations, rollbacks, time to detect and resolve, by type, node, day or week and resource',
  path: '/api/reports/summary',
  method: 'GET',
  emits: [],
  flows: ['sentinel'],
  middleware: protect('read'),
  queryParams: [
    { name: 'from', description: 'ISO time or date, inclusive (default: 30 days before to)' },
    { name: 'to', description: `ISO time or date, exclusive (default: now); at most ${MAX_DAYS} days after from` },
    { name: 'by', description: 'day (default) or week (UTC, weeks start on Monday)' },
  ],
} satisfies ApiRouteConfig

export const handler: ApiStep<typeof config> = async (req, { logger }) => {
  const q = parseOr400(summaryQuery, req.queryParams, 'query')
  return withArchive(
    async (db) => ({ status: 200, body: await summaryReport(db, { ...q, ...summaryRange(q) }) }),
    (msg, data) => logger.warn(msg, data),
  )
}
