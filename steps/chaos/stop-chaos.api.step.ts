import type { ApiRequest, ApiRouteConfig, FlowContext } from 'motia'
import { protect } from '../../middlewares/api.middleware'
import { caller } from '../../src/platform/http/requests'
import { stopChaos } from '../../src/chaos/api'
import { AuditLog } from '../../src/platform/store/audit'
import { getRedis } from '../../src/platform/store/redis'

export const config: ApiRouteConfig = {
  type: 'api',
  name: 'StopChaos',
  description: 'Stop the chaos run: every fault in effect is undone (admin)',
  path: '/api/chaos/stop',
  method: 'POST',
  emits: [],
  flows: ['sentinel'],
  middleware: protect('chaos'),
}

export const handler = async (req: ApiRequest, _ctx: FlowContext) => {
  const { keyId } = caller(req.headers)
  return { status: 200, body: await stopChaos(`key:${keyId}`, { redis: getRedis(), audit: new AuditLog() }) }
}
