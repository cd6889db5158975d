import type { ApiRouteConfig } from 'motia'
import type { ApiStep } from '../../src/platform/events/steps'
import { protect } from '../../middlewares/api.middleware'
import { notFound, parseOr400 } from '../../src/platform/http/errors'
import { incidentIdPath } from '../../src/platform/http/requests'
import { IncidentStore } from '../../src/platform/store/incidents'

export const config = {
  type: 'api',
  name: 'GetIncident',
  description: 'One incident with its timeline, decision, actions, snapshots and analysis',
  path: '/api/incidents/:id',
  method: 'GET',
  emits: [],
  flows: ['sentinel'],
  middleware: protect('read'),
} satisfies ApiRouteConfig

export const handler: ApiStep<typeof config> = async (req) => {
  const { id } = parseOr400(incidentIdPath, req.pathParams, 'path')
  const incident = await new IncidentStore().get(id)
  if (!incident) throw notFound(`incident ${id}`)
  return { status: 200, body: incident }
}
