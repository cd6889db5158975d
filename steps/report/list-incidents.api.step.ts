import type { ApiRouteConfig } from 'motia'
import type { ApiStep } from '../../src/platform/events/steps'
import { protect } from '../../middlewares/api.middleware'
import { parseOr400 } from '../../src/platform/http/errors'
import { listIncidentsJson, listQuery } from '../../src/report/incidents'
import { IncidentStore } from '../../src/platform/store/incidents'

export const config = {
  type: 'api',
  name: 'ListIncidents',
  description: 'Incidents, newest first; filters: status, severity, type, resource, since, until; cursor pagination',
  path: '/api/incidents',
  method: 'GET',
  emits: [],
  flows: ['sentinel'],
  middleware: protect('read'),
  queryParams: [
    { name: 'status', description: 'open, awaiting_approval, remediating, verifying, resolved, escalated, suppressed' },
    { name: 'severity', description: 'critical, warning, info' },
    { name: 'type', description: 'container_down, memory, cpu, disk, latency, anomaly...' },
    { name: 'resource', description: 'resource name or id' },
    { name: 'since', description: 'ISO time, inclusive' },
    { name: 'until', description: 'ISO time, inclusive' },
    { name: 'limit', description: '1 to 200 (default 50)' },
    { name: 'cursor', description: 'nextCursor of the previous page' },
  ],
} satisfies ApiRouteConfig

// One store per process (the API runs in the main process: no client per request).
let incidents: IncidentStore | undefined
const store = () => (incidents ??= new IncidentStore())

export const handler: ApiStep<typeof config> = async (req) => {
  const q = parseOr400(listQuery, req.queryParams, 'query')
  const page = await listIncidentsJson(store(), q)
  return { status: 200, headers: { 'Content-Type': 'application/json; charset=utf-8' }, body: page.json }
}
