/** The shapes the observation modules share: readings, their sources and the checks on them. */
import type { AlertType, ResourceRef, Severity } from '../platform/store/model'

export type ReadingSource = 'prometheus' | 'collector' | 'probe'

export type ReadingMetric =
  | 'memory_used_percent'
  | 'cpu_busy_percent'
  | 'disk_used_percent'
  | 'network_bytes_per_second'
  | 'network_errors_per_second'
  | 'latency_ms'
  | 'container_memory_bytes'
  | 'container_memory_percent'
  | 'container_cpu_percent'

export type ReadingUnit = 'percent' | 'bytes' | 'bytes_per_second' | 'errors_per_second' | 'ms'

export interface Reading {
  /** Stable key of the series: metric + resource identity (`disk_used_percent|filesystem|host:/data`). */
  series: string
  metric: ReadingMetric
  value: number
  unit: ReadingUnit
  resource: ResourceRef
  labels: Record<string, string>
  source: ReadingSource
  /** The PromQL, or `collector:<what>` / `probe:<url>`, that produced the value. */
  query: string
  /** ISO time of the observation. */
  at: string
}

export type CheckName = 'memory' | 'cpu' | 'disk' | 'latency' | 'container_memory' | 'container_cpu'

export interface CheckRule {
  metric: ReadingMetric
  /** The alert type raised. */
  type: AlertType
  /** Alert when the value is strictly above this. */
  threshold: number
  severity: Severity
  enabled: boolean
}

/**
 * What identifies a resource across time: a container by its name (a recreated container keeps
 * its name, not its id), anything else by its id.
 */
export const resourceIdentity = (resource: ResourceRef) => (resource.kind === 'container' ? resource.name : resource.id)

export const readingSeries = (metric: ReadingMetric, resource: ResourceRef) =>
  `${metric}|${resource.kind}|${resourceIdentity(resource)}`
