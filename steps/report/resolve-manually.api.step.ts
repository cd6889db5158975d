import type { ApiRouteConfig } from 'motia'
import type { ApiStep } from '../../src/platform/events/steps'
import { protect } from '../../middlewares/api.middleware'
import { HttpError, notFound, parseOr400 } from '../../src/platform/http/errors'
import { caller, incidentIdPath, parseBody, reasonBody } from '../../src/platform/http/requests'
import { AuditLog } from '../../src/platform/store/audit'
import { IncidentStore } from '../../src/platform/store/incidents'
import { isClosed, resolve } from '../../src/platform/store/lifecycle'

export const config = {
  type: 'api',
  name: 'ResolveManually',
  description:
    'A person closes an incident (an escalated one, typically), with a reason; 409 when it is already closed',
  path: '/api/incidents/:id/resolve',
  method: 'POST',
  emits: [],
  flows: ['sentinel'],
  middleware: protect('decide:low'),
  bodySchema: reasonBody,
} satisfies ApiRouteConfig

export const handler: ApiStep<typeof config> = async (req) => {
  const { id } = parseOr400(incidentIdPath, req.pathParams, 'path')
  const { reason } = parseBody(config, req)
  const { keyId, role } = caller(req.headers)
  const store = new IncidentStore()
  const current = await store.get(id)
  if (!current) throw notFound(`incident ${id}`)
  const closed = (i: typeof current) => new HttpError(409, 'already_closed', `incident ${id} is already ${i.status}`)
  if (isClosed(current)) throw closed(current)
  const by = `key:${keyId}`
  // Checked again on the version written: closed meanwhile is a 409 too.
  const incident = await store.update(id, (i) => {
    if (isClosed(i)) throw closed(i)
    return resolve(i, { actor: by, summary: `closed by ${by}: ${reason}`, data: { role, manual: true } })
  })
  await new AuditLog().append({
    kind: 'incident.resolved',
    actor: by,
    incidentId: id,
    resource: incident.resource.name,
    outcome: 'closed by a person',
    data: { reason, role },
  })
  return { status: 200, body: { incidentId: id, status: incident.status } }
}
