import type { ApiRouteConfig } from 'motia'
import type { ApiStep } from '../../src/platform/events/steps'
import { protect } from '../../middlewares/api.middleware'
import { caller } from '../../src/platform/http/requests'
import { permissionsOf } from '../../src/platform/auth/roles'

export const config = {
  type: 'api',
  name: 'WhoAmI',
  description: "The caller's role and what it may do",
  path: '/api/whoami',
  method: 'GET',
  emits: [],
  flows: ['sentinel'],
  middleware: protect('read'),
} satisfies ApiRouteConfig

export const handler: ApiStep<typeof config> = async (req) => {
  const who = caller(req.headers)
  return { status: 200, body: { ...who, permissions: permissionsOf(who.role) } }
}
