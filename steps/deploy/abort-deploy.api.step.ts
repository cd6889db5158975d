import type { ApiRouteConfig } from 'motia'
import type { ApiStep } from '../../src/platform/events/steps'
import { protect } from '../../middlewares/api.middleware'
import { deployControlHandler } from '../../src/deploy/api'

export const config = {
  type: 'api',
  name: 'AbortDeploy',
  description:
    'Abort the deploy under way of a service: the canary is removed (a promotion under way is rolled back by Swarm) and the service is checked back on its old image (operator)',
  path: '/api/services/:name/deploy/abort',
  method: 'POST',
  emits: [],
  flows: ['sentinel'],
  middleware: protect('decide:medium'),
} satisfies ApiRouteConfig

export const handler: ApiStep<typeof config> = deployControlHandler('abort')
