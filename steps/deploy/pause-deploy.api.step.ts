import type { ApiRouteConfig } from 'motia'
import type { ApiStep } from '../../src/platform/events/steps'
import { protect } from '../../middlewares/api.middleware'
import { deployControlHandler } from '../../src/deploy/api'

export const config = {
  type: 'api',
  name: 'PauseDeploy',
  description:
    'Pause the deploy under way of a service: the gate still judges the canary (and rolls it back if it fails), no step is promoted until it is resumed (operator)',
  path: '/api/services/:name/deploy/pause',
  method: 'POST',
  emits: [],
  flows: ['sentinel'],
  middleware: protect('decide:medium'),
} satisfies ApiRouteConfig

export const handler: ApiStep<typeof config> = deployControlHandler('pause')
