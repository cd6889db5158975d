import type { ApiRouteConfig } from 'motia'
import type { ApiStep } from '../../src/platform/events/steps'
import { protect } from '../../middlewares/api.middleware'
import { listDeploys, listDeploysQuery } from '../../src/deploy/api'
import { parseOr400 } from '../../src/platform/http/errors'
import { getRedis } from '../../src/platform/store/redis'

export const config = {
  type: 'api',
  name: 'ListDeploys',
  description:
    'Canary deploys, newest first: service, image, phase, step, what the gate saw last (canary against old tasks) and what it waits for; filter service, limit 1-200',
  path: '/api/deploys',
  method: 'GET',
  emits: [],
  flows: ['sentinel'],
  middleware: protect('read'),
  queryParams: [
    { name: 'service', description: 'only the deploys of this service' },
    { name: 'limit', description: '1 to 200 (default 50)' },
  ],
} satisfies ApiRouteConfig

export const handler: ApiStep<typeof config> = async (req) => {
  const q = parseOr400(listDeploysQuery, req.queryParams, 'query')
  return { status: 200, body: await listDeploys(getRedis(), q) }
}
