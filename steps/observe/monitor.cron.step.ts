import type { CronConfig } from 'motia'
import type { CronStep } from '../../src/platform/events/steps'
import { TOPICS } from '../../src/platform/events/topics'
import { applyAlerts, monitorFromConfig } from '../../src/observe/intake'
import { getConfig } from '../../src/platform/config/index'
import { AuditLog } from '../../src/platform/store/audit'
import { IncidentStore } from '../../src/platform/store/incidents'
import { getRedis } from '../../src/platform/store/redis'
import { firstInCronSlot } from '../../src/platform/lease/cron-slot'
import { publishToStream } from '../../src/platform/stream/publish'
import { RecentReadings } from '../../src/observe/recent-readings'

export const config = {
  type: 'cron',
  name: 'MonitorInfrastructure',
  description:
    'Reads CPU, memory, disk and latency (Prometheus, or the own collectors), scores every series for anomalies, and opens an incident per alert that holds for its `for` time',
  // MONITOR_CRON from the configuration (the environment or .env), validated at start; read when Motia loads the step.
  cron: getConfig().MONITOR_CRON,
  emits: [TOPICS.opened],
  flows: ['sentinel'],
} satisfies CronConfig

export const handler: CronStep<typeof config> = async ({ emit, logger }) => {
  // Every controller's Motia fires this: the first to reach this slot runs it (cron-slot.ts).
  if (!(await firstInCronSlot(getRedis(), config.name, config.cron))) return
  const monitor = monitorFromConfig()
  const tick = await monitor.tick()
  if (tick.switched)
    logger.warn('monitoring source changed', { source: tick.source.source, reason: tick.source.reason })
  await publishToStream(getRedis(), 'metrics', { readings: tick.readings, source: tick.source.source, at: tick.at })
  // The last hour, for the dashboard's charts on load (GET /api/readings/recent); never holds up the alerts.
  await new RecentReadings(getRedis())
    .record(tick.readings)
    .catch((err) => logger.warn('recent readings not recorded', { error: (err as Error).message }))
  const out = await applyAlerts(
    { open: tick.toOpen, resolve: tick.toResolve, flapping: tick.flapping, actor: 'step:MonitorInfrastructure' },
    { store: new IncidentStore(), audit: new AuditLog() },
  )
  for (const incidentId of out.opened) await emit({ topic: TOPICS.opened, data: { incidentId } })
  if (tick.anomaly?.skipped) logger.warn('anomaly scoring skipped', { why: tick.anomaly.skipped })
  logger.info('monitor tick', {
    source: tick.source.source,
    readings: tick.readings.length,
    pending: tick.pending.length,
    anomalous: tick.anomaly?.alerts.map((a) => a.details?.series) ?? [],
    ...out,
  })
}
