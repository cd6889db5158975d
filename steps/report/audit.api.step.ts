import type { ApiRequest, ApiRouteConfig, FlowContext } from 'motia'
import { z } from 'zod'
import { protect } from '../../middlewares/api.middleware'
import { parseOr400 } from '../../src/platform/http/errors'
import { AuditLog } from '../../src/platform/store/audit'

export const config: ApiRouteConfig = {
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
}

const one = (v: unknown) => (Array.isArray(v) ? v[0] : v)
const query = z.object({
  limit: z.preprocess(one, z.coerce.number().int().min(1).max(1000).default(100)),
  incident: z.preprocess(one, z.string().regex(/^inc_[a-z0-9_]+$/).optional()),
})

export const handler = async (req: ApiRequest, _ctx: FlowContext) => {
  const q = parseOr400(query, req.queryParams, 'query')
  return { status: 200, body: { events: await new AuditLog().read(q.limit, q.incident) } }
}
