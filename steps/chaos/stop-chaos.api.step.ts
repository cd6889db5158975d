import type { ApiRouteConfig } from 'motia'
import type { ApiStep } from '../../src/platform/events/steps'
import { protect } from '../../middlewares/api.middleware'
import { caller } from '../../src/platform/http/requests'
import { stopChaos } from '../../src/chaos/api'
import { AuditLog } from '../../src/platform/store/audit'
import { getRedis } from '../../src/platform/store/redis'

export const config = {
  type: 'api',
  name: 'StopChaos',
  description: 'Stop the chaos run: every fault in effect is undone (admin)',
  path: '/api/chaos/stop',
  method: 'POST',
  emits: [],
  flows: ['sentinel'],
  middleware: protect('chaos'),
} satisfies ApiRouteConfig

export const handler: ApiStep<typeof config> = async (req) => {
  const { keyId } = caller(req.headers)
  return { status: 200, body: await stopChaos(`key:${keyId}`, { redis: getRedis(), audit: new AuditLog() }) }
}
