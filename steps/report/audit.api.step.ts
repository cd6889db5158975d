import type { ApiRouteConfig } from 'motia'
import type { ApiStep } from '../../src/platform/events/steps'
import { protect } from '../../middlewares/api.middleware'
import { parseOr400 } from '../../src/platform/http/errors'
import { AuditLog } from '../../src/platform/store/audit'
import { auditQuery } from '../../src/report/audit'

export const config = {
  type: 'api',
  name: 'ReadAudit',
  description: 'The append-only audit log, newest first (admin)',
  path: '/api/audit',
  method: 'GET',
  emits: [],
  flows: ['sentinel'],
  middleware: protect('audit'),
  queryParams: [
    { name: 'limit', description: '1 to 1000 (default 100)' },
    { name: 'incident', description: 'only this incident' },
  ],
} satisfies ApiRouteConfig

export const handler: ApiStep<typeof config> = async (req) => {
  const q = parseOr400(auditQuery, req.queryParams, 'query')
  return { status: 200, body: { events: await new AuditLog().read(q.limit, q.incident) } }
}
