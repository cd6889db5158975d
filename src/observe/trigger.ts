/** Test alerts (admin): an incident marked as a test that runs through the whole flow. */
import { createHash } from 'node:crypto'
import type { IncidentStore } from '../platform/store/incidents'
import type { Alert, Incident } from '../platform/store/model'
import type { AuditLog } from '../platform/store/audit'
import { findWatchedContainer } from '../platform/docker/engine-api'
import { HttpError } from '../platform/http/errors'

const METRIC: Record<string, { metric: string; threshold: number; unit: string }> = {
  memory: { metric: 'memory_used_percent', threshold: 60, unit: '%' },
  cpu: { metric: 'cpu_busy_percent', threshold: 80, unit: '%' },
  disk: { metric: 'disk_used_percent', threshold: 95, unit: '%' },
  latency: { metric: 'latency_ms', threshold: 200, unit: 'ms' },
  container_down: { metric: 'container_running', threshold: 1, unit: '' },
}

export async function triggerTestAlert(
  input: { type: keyof typeof METRIC; resource: string; value?: number },
  by: string,
  deps: { store: IncidentStore; audit: AuditLog },
): Promise<Incident> {
  const m = METRIC[input.type]
  let resource: Alert['resource']
  if (input.type === 'container_down') {
    // Looked up among the watched containers only: an unwatched one is never inspected, and the
    // answer does not say whether it exists.
    const watched = await findWatchedContainer(input.resource)
    if (!watched)
      throw new HttpError(
        422,
        'not_watched',
        `no container carrying the watch label is named ${input.resource}; Sentinel acts only on watched containers`,
      )
    resource = { kind: 'container', id: watched.id, name: watched.name }
  } else {
    resource = {
      kind: input.type === 'disk' ? 'filesystem' : input.type === 'latency' ? 'endpoint' : 'host',
      id: input.resource,
      name: input.resource,
    }
  }
  const value = input.value ?? (input.type === 'container_down' ? 0 : m.threshold * 1.2)
  const fingerprint = `test:${input.type}:${createHash('sha256').update(resource.id).digest('hex').slice(0, 16)}`
  const alert: Alert = {
    fingerprint,
    type: input.type as Alert['type'],
    severity: input.type === 'container_down' ? 'critical' : 'warning',
    metric: m.metric,
    value,
    threshold: m.threshold,
    resource,
    labels: { test: 'true' },
    source: `test alert by ${by}`,
    at: new Date().toISOString(),
  }
  const { incident, created } = await deps.store.open(alert, {
    title: `[test] ${input.type} on ${resource.name}: ${value}${m.unit}`,
    actor: by,
    test: true,
  })
  if (!created) throw new HttpError(409, 'already_open', `incident ${incident.id} is already open for this test alert`)
  await deps.audit.append({
    kind: 'incident.opened',
    actor: by,
    incidentId: incident.id,
    resource: resource.name,
    data: { type: input.type, test: true, value },
  })
  return incident
}
