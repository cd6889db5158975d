import type { ApiRouteConfig } from 'motia'
import type { ApiStep } from '../../src/platform/events/steps'
import { protect } from '../../middlewares/api.middleware'
import { parseOr400 } from '../../src/platform/http/errors'
import { chaosStatus } from '../../src/chaos/api'
import { chaosStatusQuery } from '../../src/chaos/types'
import { IncidentStore } from '../../src/platform/store/incidents'
import { getRedis } from '../../src/platform/store/redis'

export const config = {
  type: 'api',
  name: 'ChaosStatus',
  description: "The chaos engine's state and its fault history, each fault with the incident it caused (admin)",
  path: '/api/chaos',
  method: 'GET',
  emits: [],
  flows: ['sentinel'],
  middleware: protect('chaos'),
  queryParams: [
    { name: 'limit', description: 'faults, newest first: 1 to 500 (default 100)' },
    { name: 'run', description: 'only this run (chaos_...)' },
  ],
} satisfies ApiRouteConfig

export const handler: ApiStep<typeof config> = async (req) => {
  const q = parseOr400(chaosStatusQuery, req.queryParams, 'query')
  const body = await chaosStatus({ limit: q.limit, runId: q.run }, { redis: getRedis(), store: new IncidentStore() })
  return { status: 200, body }
}
