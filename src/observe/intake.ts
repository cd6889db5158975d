/**
 * Glue between the monitor and the incident flow: opened alerts become incidents (one per
 * fingerprint), cleared ones resolve them, flapping ones are recorded and left for a person.
 * Alerts about containers Sentinel leaves alone (unwatched, removed, stopped on purpose) are
 * recorded as suppressed incidents and never enter the flow. Used by the monitor cron step and
 * the Alertmanager intake.
 */
import { getConfig } from '../platform/config/index'
import { screenContainerAlerts } from './alert-screen'
import { StoppedOnPurpose } from './stopped-on-purpose'
import { fleetHostReadings } from './fleet-readings'
import { Monitor } from './monitor'
import { monitorOptionsFromSettings } from './settings'
import type { AuditLog } from '../platform/store/audit'
import type { IncidentStore } from '../platform/store/incidents'
import { escalate, isClosed, resolve, suppress } from '../platform/store/lifecycle'
import type { Alert, Incident } from '../platform/store/model'
import { getRedis } from '../platform/store/redis'
import { logTo } from '../platform/telemetry/log'

export function monitorFromConfig(): Monitor {
  const cfg = getConfig()
  return new Monitor({
    ...monitorOptionsFromSettings(cfg.observe),
    prometheusUrl: cfg.PROMETHEUS_URL,
    redis: getRedis(),
    docker: { socketPath: cfg.DOCKER_SOCKET, label: `${cfg.WATCH_LABEL.key}=${cfg.WATCH_LABEL.value}` },
    fleetReadings: async () => {
      const { readings, refused } = await fleetHostReadings(getRedis(), cfg.NODE_NAME)
      if (refused.length) log('warn', 'refused node readings about another host', { refused })
      return readings
    },
  })
}

/** A reading as a person reads it: 97.01, 3.2, 250 (the exact value stays on the alert). */
const shown = (v: number | null | undefined) =>
  typeof v === 'number' && Number.isFinite(v) ? String(Math.round(v * 100) / 100) : '?'

function title(a: Alert): string {
  if (a.type === 'container_down') return `container ${a.resource.name} is down`
  if (a.type === 'anomaly') {
    const d = (a.details ?? {}) as { expectedLow?: number; expectedHigh?: number; score?: number }
    const range =
      d.expectedLow !== undefined && d.expectedHigh !== undefined
        ? `, expected ${d.expectedLow}..${d.expectedHigh}`
        : ''
    return `anomaly: ${a.metric} ${shown(a.value)} on ${a.resource.name}${range}${d.score !== undefined ? ` (score ${d.score})` : ''}`
  }
  return `${a.metric} ${shown(a.value)} over ${shown(a.threshold)} on ${a.resource.name}`
}

export interface AlertOutcome {
  /** New incidents, for the flow. */
  opened: string[]
  resolved: string[]
  flapping: string[]
  updated: string[]
  /** Incidents recorded and left alone (their containers are not Sentinel's to touch): never in the flow. */
  suppressed: string[]
}

const log = logTo('alerts')

export async function applyAlerts(
  input: { open: Alert[]; resolve: Alert[]; flapping: Alert[]; actor: string },
  deps: { store: IncidentStore; audit: AuditLog; stops?: StoppedOnPurpose },
): Promise<AlertOutcome> {
  const out: AlertOutcome = { opened: [], resolved: [], flapping: [], updated: [], suppressed: [] }
  // A storm repeats the same alerts: one read for all fingerprints, one open per new fingerprint,
  // and a write only where the alert changed, all in parallel (one webhook call, one batch).
  const firing = new Map<string, Alert>()
  for (const alert of input.open) {
    // Within one batch the later alert of a fingerprint wins, as it would one by one.
    firing.delete(alert.fingerprint)
    firing.set(alert.fingerprint, alert)
  }
  const screened = await screenContainerAlerts([...firing.values()], {
    stops: deps.stops ?? new StoppedOnPurpose(),
    log: (msg, data) => log('warn', msg, data),
  })
  const held = await deps.store.openIncidentsFor([...firing.keys()])
  const outcomes = await Promise.all(
    screened.map(async ({ alert, leaveAlone }) => {
      const holder = held.get(alert.fingerprint)
      if (holder) return { alert, incident: holder, created: false, suppressed: false }
      if (leaveAlone) return { alert, ...(await recordLeftAlone(alert, leaveAlone, input.actor, deps)), created: false }
      const { incident, created } = await deps.store.open(alert, { title: title(alert), actor: input.actor })
      if (created)
        await deps.audit.append({
          kind: 'incident.opened',
          actor: input.actor,
          incidentId: incident.id,
          resource: alert.resource.name,
          data: { type: alert.type, fingerprint: alert.fingerprint, value: alert.value, source: alert.source },
        })
      return { alert, incident, created, suppressed: false }
    }),
  )
  for (const o of outcomes) (o.suppressed ? out.suppressed : o.created ? out.opened : out.updated).push(o.incident.id)
  await deps.store.updateMany(
    outcomes
      .filter((o) => !o.created && !o.suppressed)
      .map(({ alert, incident }) => ({
        incident,
        mutate: (i) => {
          if (i.alert.value === alert.value && i.alert.at === alert.at) return false
          i.alert = { ...i.alert, value: alert.value, at: alert.at }
        },
      })),
  )
  for (const alert of input.flapping) {
    // Flapping: opens and clears again and again. Remediating each time would thrash; a person decides.
    const { incident, created } = await deps.store.open(alert, {
      title: `[flapping] ${title(alert)}`,
      actor: input.actor,
    })
    if (!created) continue
    out.flapping.push(incident.id)
    await deps.store.update(incident.id, (i) =>
      escalate(i, {
        actor: input.actor,
        summary: 'flapping: not remediated again and again; left for a person',
        data: { approverRole: 'admin' },
      }),
    )
    await deps.audit.append({
      kind: 'incident.flapping',
      actor: input.actor,
      incidentId: incident.id,
      resource: alert.resource.name,
      outcome: 'escalated',
    })
  }
  for (const alert of input.resolve) {
    // An escalated incident waits for a person, but when its alert clears the problem is gone.
    const last = await deps.store.lastIncidentFor(alert.fingerprint)
    const open = (await deps.store.openIncidentFor(alert.fingerprint)) ?? (last?.status === 'escalated' ? last : null)
    if (!open) continue
    // Closed in the meantime (a person, another intake): nothing to resolve.
    let resolved = false
    await deps.store.update(
      open.id,
      (i) =>
        (resolved =
          !isClosed(i) &&
          resolve(i, {
            actor: input.actor,
            summary:
              input.actor === 'alertmanager'
                ? 'Alertmanager reports the alert resolved'
                : 'the alert has been clear for the hold-down time',
          })),
    )
    if (!resolved) continue
    await deps.audit.append({
      kind: 'incident.resolved',
      actor: input.actor,
      incidentId: open.id,
      resource: open.resource.name,
      outcome: 'alert cleared',
    })
    out.resolved.push(open.id)
  }
  return out
}

/**
 * An alert about a container left alone, recorded as a suppressed incident with the reason. A
 * firing alert is sent again and again (Alertmanager's repeat interval): one record per firing.
 */
async function recordLeftAlone(
  alert: Alert,
  reason: string,
  actor: string,
  deps: { store: IncidentStore; audit: AuditLog },
): Promise<{ incident: Incident; suppressed: boolean }> {
  const last = await deps.store.lastIncidentFor(alert.fingerprint)
  if (last?.status === 'suppressed' && last.alert.at === alert.at) return { incident: last, suppressed: true }
  const { incident, created } = await deps.store.open(alert, { title: title(alert), actor })
  // Held meanwhile by an incident opened for the same fingerprint: it is that one's.
  if (!created) return { incident, suppressed: false }
  const suppressed = await deps.store.update(incident.id, (i) =>
    suppress(i, { actor, summary: `left alone: ${reason}`, data: { reason } }),
  )
  await deps.audit.append({
    kind: 'incident.suppressed',
    actor,
    incidentId: incident.id,
    resource: alert.resource.name,
    outcome: 'left alone',
    data: { type: alert.type, fingerprint: alert.fingerprint, reason },
  })
  return { incident: suppressed, suppressed: true }
}
