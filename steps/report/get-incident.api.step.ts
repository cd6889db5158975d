import type { ApiRequest, ApiRouteConfig, FlowContext } from 'motia'
import { z } from 'zod'
import { protect } from '../../middlewares/api.middleware'
import { notFound, parseOr400 } from '../../src/platform/http/errors'
import { IncidentStore } from '../../src/platform/store/incidents'

export const config: ApiRouteConfig = {
  type: 'api',
  name: 'GetIncident',
  description: 'One incident with its timeline, decision, actions, snapshots and analysis',
  path: '/api/incidents/:id',
  method: 'GET',
  emits: [],
  flows: ['sentinel'],
  middleware: protect('read'),
}

const pathSchema = z.object({ id: z.string().regex(/^inc_[a-z0-9_]+$/, 'an incident id such as inc_lx2k3_ab12cd34ef') })

export const handler = async (req: ApiRequest, _ctx: FlowContext) => {
  const { id } = parseOr400(pathSchema, req.pathParams, 'path')
  const incident = await new IncidentStore().get(id)
  if (!incident) throw notFound(`incident ${id}`)
  return { status: 200, body: incident as unknown as Record<string, unknown> }
}
