import type { ApiRouteConfig } from 'motia'
import type { ApiStep } from '../../src/platform/events/steps'
import { protect } from '../../middlewares/api.middleware'
import { caller, parseBody } from '../../src/platform/http/requests'
import { startChaos } from '../../src/chaos/api'
import { chaosStartBody } from '../../src/chaos/types'
import { getConfig } from '../../src/platform/config/index'
import { AuditLog } from '../../src/platform/store/audit'
import { IncidentStore } from '../../src/platform/store/incidents'
import { getRedis } from '../../src/platform/store/redis'

export const config = {
  type: 'api',
  name: 'StartChaos',
  description: 'Start a chaos run on containers labelled sentinel.chaos=true: faults, their rates, a duration (admin)',
  path: '/api/chaos/start',
  method: 'POST',
  emits: [],
  flows: ['sentinel'],
  middleware: protect('chaos'),
  bodySchema: chaosStartBody,
} satisfies ApiRouteConfig

export const handler: ApiStep<typeof config> = async (req) => {
  const plan = parseBody(config, req)
  const { keyId } = caller(req.headers)
  const body = await startChaos(plan, `key:${keyId}`, {
    redis: getRedis(),
    audit: new AuditLog(),
    store: new IncidentStore(),
    config: getConfig(),
  })
  return { status: 202, body }
}
