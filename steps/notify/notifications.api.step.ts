import type { ApiRouteConfig } from 'motia'
import { z } from 'zod'
import type { ApiStep } from '../../src/platform/events/steps'
import { protect } from '../../middlewares/api.middleware'
import { parseOr400 } from '../../src/platform/http/errors'
import { firstValue } from '../../src/platform/http/requests'
import { getRuntime } from '../../src/app/runtime'

const query = z.object({ limit: z.preprocess(firstValue, z.coerce.number().int().min(1).max(1000).default(100)) })

export const config = {
  type: 'api',
  name: 'NotificationsStatus',
  description:
    'The notification path: whether it is on, its receivers, deliveries waiting, the dead-letter list and the latest outcomes (admin)',
  path: '/api/notifications',
  method: 'GET',
  emits: [],
  flows: ['sentinel'],
  middleware: protect('audit'),
  queryParams: [{ name: 'limit', description: 'How many dead letters and recent outcomes (1-1000, default 100)' }],
} satisfies ApiRouteConfig

export const handler: ApiStep<typeof config> = async (req) => {
  const { limit } = parseOr400(query, req.queryParams, 'query')
  // API steps run in the main process (src/app/http/api-steps.ts): the runtime holds the routing file.
  return { status: 200, body: await getRuntime().notificationsStatus(limit) }
}
