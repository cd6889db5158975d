/**
 * Glue between the monitor and the incident flow: opened alerts become incidents (one per
 * fingerprint), cleared ones resolve them, flapping ones are recorded and left for a person.
 * Used by the monitor cron step and the Alertmanager intake.
 */
import { getConfig } from '../config/index'
import { Monitor } from '../observe/monitor'
import { monitorOptionsFromSettings } from '../observe/settings'
import type { AuditLog } from '../store/audit'
import type { IncidentStore } from '../store/incidents'
import type { Alert } from '../store/model'
import { getRedis } from '../store/redis'

export function monitorFromConfig(): Monitor {
  const cfg = getConfig()
  return new Monitor({
    ...monitorOptionsFromSettings(cfg.observe),
    prometheusUrl: cfg.PROMETHEUS_URL,
    redis: getRedis(),
    docker: { socketPath: cfg.DOCKER_SOCKET, label: `${cfg.WATCH_LABEL.key}=${cfg.WATCH_LABEL.value}` },
  })
}

const title = (a: Alert) =>
  a.type === 'container_down' ? `container ${a.resource.name} is down` : `${a.metric} ${a.value ?? '?'} over ${a.threshold ?? '?'} on ${a.resource.name}`

export interface AlertOutcome {
  opened: string[]
  resolved: string[]
  flapping: string[]
  updated: string[]
}

export async function applyAlerts(
  input: { open: Alert[]; resolve: Alert[]; flapping: Alert[]; actor: string },
  deps: { store: IncidentStore; audit: AuditLog },
): Promise<AlertOutcome> {
  const out: AlertOutcome = { opened: [], resolved: [], flapping: [], updated: [] }
  for (const alert of input.open) {
    const { incident, created } = await deps.store.open(alert, { title: title(alert), actor: input.actor })
    if (created) {
      out.opened.push(incident.id)
      await deps.audit.append({ kind: 'incident.opened', actor: input.actor, incidentId: incident.id, resource: alert.resource.name, data: { type: alert.type, fingerprint: alert.fingerprint, value: alert.value, source: alert.source } })
    } else {
      out.updated.push(incident.id)
      await deps.store.update(incident.id, (i) => {
        i.alert = { ...i.alert, value: alert.value, at: alert.at }
      })
    }
  }
  for (const alert of input.flapping) {
    // Flapping: opens and clears again and again. Remediating each time would thrash; a person decides.
    const { incident, created } = await deps.store.open(alert, { title: `[flapping] ${title(alert)}`, actor: input.actor })
    if (!created) continue
    out.flapping.push(incident.id)
    await deps.store.append(incident.id, { stage: 'escalated', actor: input.actor, summary: 'flapping: not remediated again and again; left for a person', data: { approverRole: 'admin' } }, (i) => {
      i.status = 'escalated'
    })
    await deps.audit.append({ kind: 'incident.flapping', actor: input.actor, incidentId: incident.id, resource: alert.resource.name, outcome: 'escalated' })
  }
  for (const alert of input.resolve) {
    // An escalated incident waits for a person, but when its alert clears the problem is gone.
    const last = await deps.store.lastIncidentFor(alert.fingerprint)
    const open = (await deps.store.openIncidentFor(alert.fingerprint)) ?? (last?.status === 'escalated' ? last : null)
    if (!open) continue
    await deps.store.append(open.id, { stage: 'resolved', actor: input.actor, summary: input.actor === 'alertmanager' ? 'Alertmanager reports the alert resolved' : 'the alert has been clear for the hold-down time' }, (i) => {
      i.status = 'resolved'
      i.resolvedAt = new Date().toISOString()
    })
    await deps.audit.append({ kind: 'incident.resolved', actor: input.actor, incidentId: open.id, resource: open.resource.name, outcome: 'alert cleared' })
    out.resolved.push(open.id)
  }
  return out
}
