import type { ApiRequest, ApiRouteConfig, FlowContext } from 'motia'
import { z } from 'zod'
import { protect } from '../../middlewares/api.middleware'
import { HttpError, notFound, parseOr400 } from '../../src/platform/http/errors'
import { caller, incidentIdPath } from '../../src/platform/http/requests'
import { AuditLog } from '../../src/platform/store/audit'
import { IncidentStore } from '../../src/platform/store/incidents'

export const config: ApiRouteConfig = {
  type: 'api',
  name: 'ResolveManually',
  description: 'A person closes an incident (an escalated one, typically), with a reason; 409 when it is already closed',
  path: '/api/incidents/:id/resolve',
  method: 'POST',
  emits: [],
  flows: ['sentinel'],
  middleware: protect('decide:low'),
  bodySchema: z.object({ reason: z.string().trim().min(1).max(500) }).strict(),
}

const body = z.object({ reason: z.string().trim().min(1, 'say why').max(500) }).strict()

export const handler = async (req: ApiRequest, _ctx: FlowContext) => {
  const { id } = parseOr400(incidentIdPath, req.pathParams, 'path')
  const { reason } = parseOr400(body, req.body ?? {}, 'body')
  const { keyId, role } = caller(req.headers)
  const store = new IncidentStore()
  const current = await store.get(id)
  if (!current) throw notFound(`incident ${id}`)
  if (current.status === 'resolved' || current.status === 'suppressed') throw new HttpError(409, 'already_closed', `incident ${id} is already ${current.status}`)
  const by = `key:${keyId}`
  const incident = await store.append(id, { stage: 'resolved', actor: by, summary: `closed by ${by}: ${reason}`, data: { role, manual: true } }, (i) => {
    i.status = 'resolved'
    i.resolvedAt = new Date().toISOString()
  })
  await new AuditLog().append({ kind: 'incident.resolved', actor: by, incidentId: id, resource: incident.resource.name, outcome: 'closed by a person', data: { reason, role } })
  return { status: 200, body: { incidentId: id, status: incident.status } }
}
