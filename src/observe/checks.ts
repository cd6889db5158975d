/** Thresholds on readings, and the alerts (with stable fingerprints) they raise. */
import { createHash } from 'node:crypto'
import type { Alert, AlertType, ResourceRef } from '../platform/store/model'
import { resourceIdentity, type CheckName, type CheckRule, type Reading } from './types'

export const DEFAULT_CHECKS: Record<CheckName, CheckRule> = {
  memory: { metric: 'memory_used_percent', type: 'memory', threshold: 60, severity: 'warning', enabled: true },
  cpu: { metric: 'cpu_busy_percent', type: 'cpu', threshold: 80, severity: 'warning', enabled: true },
  disk: { metric: 'disk_used_percent', type: 'disk', threshold: 95, severity: 'critical', enabled: true },
  latency: { metric: 'latency_ms', type: 'latency', threshold: 200, severity: 'warning', enabled: true },
  container_memory: {
    metric: 'container_memory_percent',
    type: 'memory',
    threshold: 60,
    severity: 'warning',
    enabled: true,
  },
  container_cpu: { metric: 'container_cpu_percent', type: 'cpu', threshold: 80, severity: 'warning', enabled: true },
}

export type CheckOverrides = Partial<Record<CheckName, Partial<Omit<CheckRule, 'metric' | 'type'>>>>

export function resolveChecks(overrides: CheckOverrides = {}): Record<CheckName, CheckRule> {
  const out = {} as Record<CheckName, CheckRule>
  for (const name of Object.keys(DEFAULT_CHECKS) as CheckName[]) {
    const rule = { ...DEFAULT_CHECKS[name], ...(overrides[name] ?? {}) }
    if (!Number.isFinite(rule.threshold))
      throw new Error(`check ${name}: threshold must be a number, got ${rule.threshold}`)
    out[name] = rule
  }
  for (const name of Object.keys(overrides))
    if (!(name in DEFAULT_CHECKS))
      throw new Error(`unknown check "${name}" (known: ${Object.keys(DEFAULT_CHECKS).join(', ')})`)
  return out
}

/** `<type>:<16 hex>`: hash of the alert type and the resource's identity; the same problem on the same thing always gets the same one. */
export function alertFingerprint(type: AlertType, resource: ResourceRef): string {
  const h = createHash('sha256')
    .update(`${type}\u0000${resource.kind}\u0000${resourceIdentity(resource)}`)
    .digest('hex')
    .slice(0, 16)
  return `${type}:${h}`
}

export interface CheckedReading {
  check: CheckName
  rule: CheckRule
  reading: Reading
  fingerprint: string
  breaching: boolean
}

/** Each reading that has an enabled check, with its fingerprint and whether it breaches. */
export function checkReadings(readings: Reading[], checks: Record<CheckName, CheckRule>): CheckedReading[] {
  const byMetric = new Map<string, [CheckName, CheckRule]>()
  for (const [name, rule] of Object.entries(checks) as [CheckName, CheckRule][])
    if (rule.enabled) byMetric.set(rule.metric, [name, rule])
  const out: CheckedReading[] = []
  for (const reading of readings) {
    const hit = byMetric.get(reading.metric)
    if (!hit) continue
    const [check, rule] = hit
    out.push({
      check,
      rule,
      reading,
      fingerprint: alertFingerprint(rule.type, reading.resource),
      breaching: reading.value > rule.threshold,
    })
  }
  return out
}

export function alertFromCheck(c: CheckedReading): Alert {
  const r = c.reading
  return {
    fingerprint: c.fingerprint,
    type: c.rule.type,
    severity: c.rule.severity,
    metric: r.metric,
    value: r.value,
    threshold: c.rule.threshold,
    resource: r.resource,
    labels: { ...r.labels, check: c.check, source: r.source },
    source: r.query,
    at: r.at,
    details: { check: c.check, unit: r.unit, readingSource: r.source, series: r.series },
  }
}
