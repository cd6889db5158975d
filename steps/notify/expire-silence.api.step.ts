import type { ApiRouteConfig } from 'motia'
import type { ApiStep } from '../../src/platform/events/steps'
import { protect } from '../../middlewares/api.middleware'
import { expireSilence, SilenceStore, silenceIdPath } from '../../src/notify/silences'
import { parseOr400 } from '../../src/platform/http/errors'
import { caller } from '../../src/platform/http/requests'
import { AuditLog } from '../../src/platform/store/audit'
import { getRedis } from '../../src/platform/store/redis'

export const config = {
  type: 'api',
  name: 'ExpireSilence',
  description: 'End a silence now: pages for what it matched resume. Unknown: 404; ended already: 409',
  path: '/api/silences/:id',
  method: 'DELETE',
  emits: [],
  flows: ['sentinel'],
  middleware: protect('silence'),
} satisfies ApiRouteConfig

export const handler: ApiStep<typeof config> = async (req) => {
  const { id } = parseOr400(silenceIdPath, req.pathParams, 'path')
  const { keyId, role } = caller(req.headers)
  const silence = await expireSilence(
    id,
    { user: `key:${keyId}`, role },
    { silences: new SilenceStore(getRedis()), audit: new AuditLog() },
  )
  return { status: 200, body: silence }
}
