import type { ApiRouteConfig } from 'motia'
import type { ApiStep } from '../../src/platform/events/steps'
import { protect } from '../../middlewares/api.middleware'
import { createSilence, SilenceStore, silenceBody } from '../../src/notify/silences'
import { caller, parseBody } from '../../src/platform/http/requests'
import { AuditLog } from '../../src/platform/store/audit'
import { getRedis } from '../../src/platform/store/redis'

export const config = {
  type: 'api',
  name: 'CreateSilence',
  description:
    'Silence pages for the incidents a set of Alertmanager matchers selects, until endsAt (or for a duration): they still open and are still fixed, they do not page',
  path: '/api/silences',
  method: 'POST',
  emits: [],
  flows: ['sentinel'],
  middleware: protect('silence'),
  bodySchema: silenceBody,
} satisfies ApiRouteConfig

export const handler: ApiStep<typeof config> = async (req) => {
  const input = parseBody(config, req)
  const { keyId, role } = caller(req.headers)
  const silence = await createSilence(
    input,
    { user: `key:${keyId}`, role },
    { silences: new SilenceStore(getRedis()), audit: new AuditLog() },
  )
  return { status: 201, body: silence }
}
