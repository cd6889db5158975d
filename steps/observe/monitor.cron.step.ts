import type { CronConfig, FlowContext } from 'motia'
import { applyAlerts, monitorFromConfig } from '../../src/flow/observe'
import { AuditLog } from '../../src/store/audit'
import { IncidentStore } from '../../src/store/incidents'
import { getRedis } from '../../src/store/redis'
import { publishToStream } from '../../src/stream/publish'

export const config: CronConfig = {
  type: 'cron',
  name: 'MonitorInfrastructure',
  description: 'Reads CPU, memory, disk and latency (Prometheus, or the own collectors), scores every series for anomalies, and opens an incident per alert that holds for its `for` time',
  // Read when Motia loads the step; MONITOR_CRON is validated at start (six fields allow seconds).
  cron: process.env.MONITOR_CRON || '*/2 * * * *',
  emits: ['incident.opened'],
  flows: ['sentinel'],
}

export const handler = async ({ emit, logger }: FlowContext<{ topic: string; data: { incidentId: string } }>) => {
  const monitor = monitorFromConfig()
  const tick = await monitor.tick()
  if (tick.switched) logger.warn('monitoring source changed', { source: tick.source.source, reason: tick.source.reason })
  await publishToStream(getRedis(), 'metrics', { readings: tick.readings, source: tick.source.source, at: tick.at })
  const out = await applyAlerts({ open: tick.toOpen, resolve: tick.toResolve, flapping: tick.flapping, actor: 'step:MonitorInfrastructure' }, { store: new IncidentStore(), audit: new AuditLog() })
  for (const incidentId of out.opened) await emit({ topic: 'incident.opened', data: { incidentId } })
  if (tick.anomaly?.skipped) logger.warn('anomaly scoring skipped', { why: tick.anomaly.skipped })
  logger.info('monitor tick', { source: tick.source.source, readings: tick.readings.length, pending: tick.pending.length, anomalous: tick.anomaly?.alerts.map((a) => a.details?.series) ?? [], ...out })
}
