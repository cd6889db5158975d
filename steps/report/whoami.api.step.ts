import type { ApiRequest, ApiRouteConfig, FlowContext } from 'motia'
import { protect } from '../../middlewares/api.middleware'
import { caller } from '../../src/platform/http/requests'
import { permissionsOf } from '../../src/platform/auth/roles'

export const config: ApiRouteConfig = {
  type: 'api',
  name: 'WhoAmI',
  description: "The caller's role and what it may do",
  path: '/api/whoami',
  method: 'GET',
  emits: [],
  flows: ['sentinel'],
  middleware: protect('read'),
}

export const handler = async (req: ApiRequest, _ctx: FlowContext) => {
  const who = caller(req.headers)
  return { status: 200, body: { ...who, permissions: permissionsOf(who.role) } }
}
