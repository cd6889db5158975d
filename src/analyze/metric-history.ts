/**
 * The recent history of the metric behind an alert, for the analysis: a Prometheus range query of
 * the alert's own PromQL when it came from Prometheus, else the collectors' ring buffer in Redis.
 */
import type { Redis } from 'ioredis'
import { RedisReadingHistory } from '../observe/collectors/ring-buffer'
import type { SentinelConfig } from '../platform/config/index'
import { PrometheusClient } from '../platform/prometheus/client'
import type { Alert } from '../platform/store/model'

const WINDOW_MS = 30 * 60_000

export async function metricHistory(
  alert: Alert,
  cfg: Pick<SentinelConfig, 'PROMETHEUS_URL'>,
  redis: Redis,
): Promise<Array<[number, number]>> {
  const details = (alert.details ?? {}) as { series?: string; readingSource?: string }
  if (details.readingSource === 'prometheus' && cfg.PROMETHEUS_URL && alert.source) {
    try {
      const end = Date.now()
      const series = await new PrometheusClient({ url: cfg.PROMETHEUS_URL, timeoutMs: 3000 }).queryRange(alert.source, {
        start: end - WINDOW_MS,
        end,
        stepSeconds: 30,
      })
      if (series[0]?.points.length) return series[0].points
    } catch {
      // Prometheus gone since the alert: fall back to what the collectors kept.
    }
  }
  if (!details.series) return []
  const points = await new RedisReadingHistory(redis, 120, 'sentinel:observe:history:').get(details.series)
  return points.map((p) => [Date.parse(p.at), p.value])
}
