/** GET /api/cluster: the controllers sharing this Redis and each duty's leader (src/platform/lease/), for viewers. */
import type { ApiRouteConfig } from 'motia'
import type { ApiStep } from '../../src/platform/events/steps'
import { protect } from '../../middlewares/api.middleware'
import { getConfig } from '../../src/platform/config/index'
import { clusterView } from '../../src/platform/lease/cluster'
import { getRedis } from '../../src/platform/store/redis'

export const config = {
  type: 'api',
  name: 'ClusterStatus',
  description:
    'The controllers on this Redis (id, host, port, start, duties led, last renewal) and the leader and fencing token of each duty',
  path: '/api/cluster',
  method: 'GET',
  emits: [],
  flows: ['sentinel'],
  middleware: protect('read'),
} satisfies ApiRouteConfig

export const handler: ApiStep<typeof config> = async () => {
  const view = await clusterView(getRedis())
  return {
    status: 200,
    headers: { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store' },
    body: {
      // The controller whose process answered (step processes inherit its lease holder id).
      answeredBy: process.env.SENTINEL_LEASE_HOLDER ?? null,
      leaseSeconds: getConfig().LEADER_LEASE_SECONDS,
      ...view,
    },
  }
}
