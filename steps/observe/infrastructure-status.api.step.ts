import type { ApiRouteConfig } from 'motia'
import type { ApiStep } from '../../src/platform/events/steps'
import { protect } from '../../middlewares/api.middleware'
import { getConfig } from '../../src/platform/config/index'
import { monitorFromConfig } from '../../src/observe/intake'
import { computeHealth } from '../../src/observe/health/scores'
import { IncidentStore } from '../../src/platform/store/incidents'

export const config = {
  type: 'api',
  name: 'InfrastructureStatus',
  description:
    'The latest reading of every check, its source (Prometheus or the collectors, and why), its state, and health scores',
  path: '/api/infrastructure-status',
  method: 'GET',
  emits: [],
  flows: ['sentinel'],
  middleware: protect('read'),
} satisfies ApiRouteConfig

export const handler: ApiStep<typeof config> = async () => {
  const monitor = monitorFromConfig()
  const [status, source] = await Promise.all([monitor.latestStatus(), monitor.sourceStatus()])
  const health = await computeHealth({
    config: getConfig(),
    store: new IncidentStore(),
    checks: async () => status.checks,
  })
  return { status: 200, body: { ...status, sourceStatus: source, health } }
}
