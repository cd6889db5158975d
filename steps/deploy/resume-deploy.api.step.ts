import type { ApiRouteConfig } from 'motia'
import type { ApiStep } from '../../src/platform/events/steps'
import { protect } from '../../middlewares/api.middleware'
import { deployControlHandler } from '../../src/deploy/api'

export const config = {
  type: 'api',
  name: 'ResumeDeploy',
  description:
    'Resume a paused deploy: the current step goes on to the next when its gate holds (operator; admin during a change freeze)',
  path: '/api/services/:name/deploy/resume',
  method: 'POST',
  emits: [],
  flows: ['sentinel'],
  middleware: protect('decide:medium'),
} satisfies ApiRouteConfig

export const handler: ApiStep<typeof config> = deployControlHandler('resume')
