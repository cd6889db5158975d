/**
 * The observation settings from the environment, for the step that builds the Monitor. The
 * central config does not declare these (yet): they are read here, validated the same way, and
 * a bad value is an error naming the variable.
 */
import { z } from 'zod'
import { parseProbeTargets } from './collectors/probe'
import { DEFAULT_EXCLUDED_FS_TYPES } from './prometheus-queries'
import type { MonitorOptions } from './monitor'

const num = (fallback: number, min: number, max: number) =>
  z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v.trim() === '') return fallback
      const n = Number(v)
      if (!Number.isFinite(n) || n < min || n > max) {
        ctx.addIssue({ code: 'custom', message: `expected a number from ${min} to ${max}, got "${v}"` })
        return z.NEVER
      }
      return n
    })

const bool = (fallback: boolean) =>
  z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v.trim() === '') return fallback
      const t = v.trim().toLowerCase()
      if (['true', '1', 'yes', 'on'].includes(t)) return true
      if (['false', '0', 'no', 'off'].includes(t)) return false
      ctx.addIssue({ code: 'custom', message: `expected true or false, got "${v}"` })
      return z.NEVER
    })

const list = (fallback: string[]) =>
  z
    .string()
    .optional()
    .transform((v) => (v === undefined ? fallback : v.split(',').map((s) => s.trim()).filter(Boolean)))

export const observeEnvSchema = z.object({
  PROBE_TARGETS: z
    .string()
    .optional()
    .transform((v, ctx) => {
      try {
        return parseProbeTargets(v)
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: (err as Error).message.replace(/^PROBE_TARGETS: /, '') })
        return z.NEVER
      }
    }),
  PROBE_REQUESTS_PER_TICK: num(3, 1, 50),
  PROBE_TIMEOUT_MS: num(5000, 50, 60_000),
  PROBE_WINDOW_SIZE: num(60, 1, 10_000),
  PROMETHEUS_TIMEOUT_MS: num(3000, 100, 60_000),
  THRESHOLD_MEMORY_PERCENT: num(60, 0, 100),
  THRESHOLD_CPU_PERCENT: num(80, 0, 100),
  THRESHOLD_DISK_PERCENT: num(95, 0, 100),
  THRESHOLD_LATENCY_MS: num(200, 0, 3_600_000),
  THRESHOLD_CONTAINER_MEMORY_PERCENT: num(60, 0, 100),
  THRESHOLD_CONTAINER_CPU_PERCENT: num(80, 0, 100_000),
  ALERT_FOR_SECONDS: num(60, 0, 86_400),
  ALERT_HOLD_DOWN_SECONDS: num(120, 0, 86_400),
  ALERT_FLAP_WINDOW_SECONDS: num(1200, 1, 7 * 86_400),
  ALERT_FLAP_THRESHOLD: num(3, 2, 1000),
  ANOMALY_ENABLED: bool(true),
  ANOMALY_THRESHOLD: num(0.5, 0, 1),
  ANOMALY_FOR_SECONDS: num(60, 0, 86_400),
  ANOMALY_BASELINE_POINTS: num(15, 1, 100_000),
  ANOMALY_ADAPT_SECONDS: num(1800, 1, 30 * 86_400),
  ANOMALY_MIN_CHANGE_MS: num(20, 0, 3_600_000),
  ANOMALY_MIN_CHANGE_PERCENT: num(10, 0, 100),
  ANOMALY_MIN_CHANGE_RATIO: num(0.2, 0, 100),
  DISK_EXCLUDE_FSTYPES: list(DEFAULT_EXCLUDED_FS_TYPES),
  NODE_INSTANCE: z
    .string()
    .optional()
    .transform((v) => (v && v.trim() ? v.trim() : undefined)),
})

export type ObserveSettings = z.infer<typeof observeEnvSchema>

export class ObserveSettingsError extends Error {
  constructor(public readonly problems: string[]) {
    super(`Invalid observation settings:\n${problems.map((p) => `  - ${p}`).join('\n')}`)
    this.name = 'ObserveSettingsError'
  }
}

export function loadObserveSettings(env: Record<string, string | undefined> = process.env): ObserveSettings {
  const r = observeEnvSchema.safeParse(env)
  if (!r.success) throw new ObserveSettingsError(r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`))
  return r.data
}

/** Monitor options from the settings; add `redis`, `prometheusUrl` and `docker` from the config. */
export function monitorOptionsFromSettings(s: ObserveSettings): MonitorOptions {
  return {
    prometheusTimeoutMs: s.PROMETHEUS_TIMEOUT_MS,
    queries: { excludeFsTypes: s.DISK_EXCLUDE_FSTYPES },
    host: { excludeFsTypes: s.DISK_EXCLUDE_FSTYPES, ...(s.NODE_INSTANCE ? { instance: s.NODE_INSTANCE } : {}) },
    probes: s.PROBE_TARGETS.length
      ? { targets: s.PROBE_TARGETS, requestsPerTick: s.PROBE_REQUESTS_PER_TICK, timeoutMs: s.PROBE_TIMEOUT_MS, windowSize: s.PROBE_WINDOW_SIZE }
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
          minChange: { ms: s.ANOMALY_MIN_CHANGE_MS, percent: s.ANOMALY_MIN_CHANGE_PERCENT, ratio: s.ANOMALY_MIN_CHANGE_RATIO },
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
