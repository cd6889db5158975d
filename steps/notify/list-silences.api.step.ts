import type { ApiRouteConfig } from 'motia'
import type { ApiStep } from '../../src/platform/events/steps'
import { protect } from '../../middlewares/api.middleware'
import { SilenceStore } from '../../src/notify/silences'
import { getRedis } from '../../src/platform/store/redis'

export const config = {
  type: 'api',
  name: 'ListSilences',
  description: 'Silences: active and pending ones, then those that ended in the last 24 hours',
  path: '/api/silences',
  method: 'GET',
  emits: [],
  flows: ['sentinel'],
  middleware: protect('read'),
} satisfies ApiRouteConfig

export const handler: ApiStep<typeof config> = async () => {
  return { status: 200, body: { silences: await new SilenceStore(getRedis()).list() } }
}
