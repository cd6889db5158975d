/**
 * The observation settings (probes, thresholds, alert timing, anomaly scoring, disk filters), read
 * and validated with the rest of the configuration into `SentinelConfig.observe`.
 * src/observe/settings.ts turns them into the Monitor's options.
 */
import { z } from 'zod'
import { bool, list, num, optionalString, parsed } from './fields'

// Pseudo and per-container filesystems: their "fullness" says nothing about the host's disks.
export const DEFAULT_EXCLUDED_FS_TYPES = [
  'tmpfs',
  'devtmpfs',
  'overlay',
  'squashfs',
  'nsfs',
  'proc',
  'sysfs',
  'cgroup',
  'cgroup2',
  'autofs',
  'ramfs',
  'fuse.lxcfs',
]

/** The URL without user:password, for labels and logs. */
export function publicUrl(target: string): string {
  try {
    const u = new URL(target)
    u.username = ''
    u.password = ''
    return u.toString()
  } catch {
    return target
  }
}

/** Parses PROBE_TARGETS: comma-separated http(s) URLs. Throws naming the bad entry. */
export function parseProbeTargets(value: string | undefined): string[] {
  if (!value || !value.trim()) return []
  return value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((s) => {
      let u: URL
      try {
        u = new URL(s)
      } catch {
        throw new Error(`PROBE_TARGETS: "${publicUrl(s)}" is not a URL`)
      }
      if (u.protocol !== 'http:' && u.protocol !== 'https:')
        throw new Error(`PROBE_TARGETS: "${publicUrl(s)}" is not http(s)`)
      return s
    })
}

export const observeEnvSchema = z.object({
  PROBE_TARGETS: parsed('PROBE_TARGETS', parseProbeTargets),
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
  // Empty, as in .env.example: the built-in list.
  DISK_EXCLUDE_FSTYPES: list(DEFAULT_EXCLUDED_FS_TYPES),
  NODE_INSTANCE: optionalString,
})

export type ObserveSettings = z.infer<typeof observeEnvSchema>

export class ObserveSettingsError extends Error {
  constructor(public readonly problems: string[]) {
    super(`Invalid observation settings:\n${problems.map((p) => `  - ${p}`).join('\n')}`)
    this.name = 'ObserveSettingsError'
  }
}

/** The observation settings alone (loadConfig reads them with everything else). */
export function loadObserveSettings(env: Record<string, string | undefined>): ObserveSettings {
  const r = observeEnvSchema.safeParse(env)
  if (!r.success) throw new ObserveSettingsError(r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`))
  return r.data
}
