import type { ApiRouteConfig } from 'motia'
import type { ApiStep } from '../../src/platform/events/steps'
import { protect } from '../../middlewares/api.middleware'
import { deployBody, deploySummary, servicePath, startDeploy } from '../../src/deploy/api'
import { getConfig } from '../../src/platform/config/index'
import { parseOr400 } from '../../src/platform/http/errors'
import { caller, parseBody } from '../../src/platform/http/requests'
import { AuditLog } from '../../src/platform/store/audit'
import { getRedis } from '../../src/platform/store/redis'

export const config = {
  type: 'api',
  name: 'StartDeploy',
  description:
    'Canary deploy of a new image to a watched Swarm service: one task first, then 25 %, then 100 %, each step held by a health gate against the old tasks; rolled back by itself when the gate fails (operator; admin during a change freeze)',
  path: '/api/services/:name/deploy',
  method: 'POST',
  emits: [],
  flows: ['sentinel'],
  middleware: protect('decide:medium'),
  bodySchema: deployBody,
} satisfies ApiRouteConfig

export const handler: ApiStep<typeof config> = async (req) => {
  const { name } = parseOr400(servicePath, req.pathParams, 'path')
  const input = parseBody(config, req)
  const { keyId, role } = caller(req.headers)
  const deploy = await startDeploy(
    name,
    input,
    { user: `key:${keyId}`, role },
    { redis: getRedis(), audit: new AuditLog(), config: getConfig() },
  )
  return { status: 202, body: deploySummary(deploy) }
}
