/**
 * The Monitor's options from the observation settings, which the configuration reads and
 * validates (src/platform/config/observe.ts, `SentinelConfig.observe`).
 */
import type { ObserveSettings } from '../platform/config/observe'
import type { MonitorOptions } from './monitor'

/** Monitor options from the settings; add `redis`, `prometheusUrl` and `docker` from the config. */
export function monitorOptionsFromSettings(s: ObserveSettings): MonitorOptions {
  return {
    prometheusTimeoutMs: s.PROMETHEUS_TIMEOUT_MS,
    queries: { excludeFsTypes: s.DISK_EXCLUDE_FSTYPES },
    host: { excludeFsTypes: s.DISK_EXCLUDE_FSTYPES, ...(s.NODE_INSTANCE ? { instance: s.NODE_INSTANCE } : {}) },
    probes: s.PROBE_TARGETS.length
      ? {
          targets: s.PROBE_TARGETS,
          requestsPerTick: s.PROBE_REQUESTS_PER_TICK,
          timeoutMs: s.PROBE_TIMEOUT_MS,
          windowSize: s.PROBE_WINDOW_SIZE,
        }
      : undefined,
    checks: {
      memory: { threshold: s.THRESHOLD_MEMORY_PERCENT },
      cpu: { threshold: s.THRESHOLD_CPU_PERCENT },
      disk: { threshold: s.THRESHOLD_DISK_PERCENT },
      latency: { threshold: s.THRESHOLD_LATENCY_MS },
      container_memory: { threshold: s.THRESHOLD_CONTAINER_MEMORY_PERCENT },
      container_cpu: { threshold: s.THRESHOLD_CONTAINER_CPU_PERCENT },
    },
    anomaly: s.ANOMALY_ENABLED
      ? {
          threshold: s.ANOMALY_THRESHOLD,
          baselinePoints: Math.round(s.ANOMALY_BASELINE_POINTS),
          adaptAfterMs: s.ANOMALY_ADAPT_SECONDS * 1000,
          minChange: {
            ms: s.ANOMALY_MIN_CHANGE_MS,
            percent: s.ANOMALY_MIN_CHANGE_PERCENT,
            ratio: s.ANOMALY_MIN_CHANGE_RATIO,
          },
        }
      : false,
    tracker: {
      forMs: s.ALERT_FOR_SECONDS * 1000,
      forMsByType: { anomaly: s.ANOMALY_FOR_SECONDS * 1000 },
      holdDownMs: s.ALERT_HOLD_DOWN_SECONDS * 1000,
      flapWindowMs: s.ALERT_FLAP_WINDOW_SECONDS * 1000,
      flapThreshold: Math.round(s.ALERT_FLAP_THRESHOLD),
    },
  }
}
