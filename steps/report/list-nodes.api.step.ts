/** GET /api/nodes: the fleet's node list (src/report/nodes.ts), for viewers and up. */
import type { ApiRouteConfig } from 'motia'
import type { ApiStep } from '../../src/platform/events/steps'
import { protect } from '../../middlewares/api.middleware'
import { getRedis } from '../../src/platform/store/redis'
import { listNodes } from '../../src/report/nodes'

export const config = {
  type: 'api',
  name: 'ListNodes',
  description:
    'Fleet nodes by name: up, down or unknown by their heartbeats, engine, host readings, watched containers, open incidents',
  path: '/api/nodes',
  method: 'GET',
  emits: [],
  flows: ['sentinel'],
  middleware: protect('read'),
} satisfies ApiRouteConfig

export const handler: ApiStep<typeof config> = async () => {
  const nodes = await listNodes(getRedis())
  return { status: 200, headers: { 'Content-Type': 'application/json; charset=utf-8' }, body: { nodes } }
}
