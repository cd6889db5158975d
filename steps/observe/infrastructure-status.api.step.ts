import type { ApiRequest, ApiRouteConfig, FlowContext } from 'motia'
import { protect } from '../../middlewares/api.middleware'
import { monitorFromConfig } from '../../src/flow/observe'

export const config: ApiRouteConfig = {
  type: 'api',
  name: 'InfrastructureStatus',
  description: 'The latest reading of every check, its source (Prometheus or the collectors, and why) and its state',
  path: '/api/infrastructure-status',
  method: 'GET',
  emits: [],
  flows: ['sentinel'],
  middleware: protect('read'),
}

export const handler = async (_req: ApiRequest, _ctx: FlowContext) => {
  const monitor = monitorFromConfig()
  const [status, source] = await Promise.all([monitor.latestStatus(), monitor.sourceStatus()])
  return { status: 200, body: { ...status, sourceStatus: source } as unknown as Record<string, unknown> }
}
