import type { ApiRouteConfig } from 'motia'
import type { ApiStep } from '../../src/platform/events/steps'
import { protect } from '../../middlewares/api.middleware'
import { Approvals } from '../../src/approve/approvals'
import { IncidentStore } from '../../src/platform/store/incidents'
import { getRedis } from '../../src/platform/store/redis'

export const config = {
  type: 'api',
  name: 'PendingApprovals',
  description: 'Incidents waiting for a person: the proposed fix, its risk, who may approve, and when it expires',
  path: '/api/approvals/pending',
  method: 'GET',
  emits: [],
  flows: ['sentinel'],
  middleware: protect('read'),
} satisfies ApiRouteConfig

export const handler: ApiStep<typeof config> = async () => {
  const redis = getRedis()
  return { status: 200, body: { approvals: await new Approvals(new IncidentStore(redis), redis).pending() } }
}
