import type { ApiRouteConfig } from 'motia'
import type { ApiStep } from '../../src/platform/events/steps'
import { protect } from '../../middlewares/api.middleware'
import { controlDeploy, deploySummary, servicePath } from '../../src/deploy/api'
import { getConfig } from '../../src/platform/config/index'
import { parseOr400 } from '../../src/platform/http/errors'
import { caller } from '../../src/platform/http/requests'
import { AuditLog } from '../../src/platform/store/audit'
import { getRedis } from '../../src/platform/store/redis'

export const config = {
  type: 'api',
  name: 'ResumeDeploy',
  description:
    'Resume a paused deploy: the current step goes on to the next when its gate holds (operator; admin during a change freeze)',
  path: '/api/services/:name/deploy/resume',
  method: 'POST',
  emits: [],
  flows: ['sentinel'],
  middleware: protect('decide:medium'),
} satisfies ApiRouteConfig

export const handler: ApiStep<typeof config> = async (req) => {
  const { name } = parseOr400(servicePath, req.pathParams, 'path')
  const { keyId, role } = caller(req.headers)
  const deploy = await controlDeploy(
    name,
    'resume',
    { user: `key:${keyId}`, role },
    { redis: getRedis(), audit: new AuditLog(), config: getConfig() },
  )
  return { status: 200, body: deploySummary(deploy) }
}
