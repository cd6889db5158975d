import type { ApiRouteConfig } from 'motia'
import type { ApiStep } from '../../src/platform/events/steps'
import { protect } from '../../middlewares/api.middleware'
import { deployIdPath, getDeploy } from '../../src/deploy/api'
import { parseOr400 } from '../../src/platform/http/errors'
import { getRedis } from '../../src/platform/store/redis'

export const config = {
  type: 'api',
  name: 'GetDeploy',
  description: 'One canary deploy with its timeline (every step, gate comparison, pause, resume, abort, rollback)',
  path: '/api/deploys/:id',
  method: 'GET',
  emits: [],
  flows: ['sentinel'],
  middleware: protect('read'),
} satisfies ApiRouteConfig

export const handler: ApiStep<typeof config> = async (req) => {
  const { id } = parseOr400(deployIdPath, req.pathParams, 'path')
  return { status: 200, body: await getDeploy(getRedis(), id) }
}
