import type { ApiRequest, ApiRouteConfig, FlowContext } from 'motia'
import { protect } from '../../middlewares/api.middleware'
import { getConfig } from '../../src/platform/config/index'
import { monitorFromConfig } from '../../src/observe/intake'
import { computeHealth } from '../../src/observe/health/scores'
import { IncidentStore } from '../../src/platform/store/incidents'

export const config: ApiRouteConfig = {
  type: 'api',
  name: 'InfrastructureStatus',
  description: 'The latest reading of every check, its source (Prometheus or the collectors, and why), its state, and health scores',
  path: '/api/infrastructure-status',
  method: 'GET',
  emits: [],
  flows: ['sentinel'],
  middleware: protect('read'),
}

export const handler = async (_req: ApiRequest, _ctx: FlowContext) => {
  const monitor = monitorFromConfig()
  const [status, source] = await Promise.all([monitor.latestStatus(), monitor.sourceStatus()])
  const health = await computeHealth({ config: getConfig(), store: new IncidentStore(), checks: async () => status.checks })
  return { status: 200, body: { ...status, sourceStatus: source, health } as unknown as Record<string, unknown> }
}
