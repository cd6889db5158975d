/** The shapes Sentinel stores and passes between steps. */
import type { IncidentStatus, TIMELINE_STAGES } from './lifecycle'

/** The statuses, their groups and the moves between them are defined once, in ./lifecycle. */
export type { IncidentStatus }
export type TimelineStage = (typeof TIMELINE_STAGES)[number]

export type AlertType =
  | 'container_down'
  | 'container_unhealthy'
  | 'memory'
  | 'cpu'
  | 'disk'
  | 'latency'
  | 'anomaly'
  // A node agent stopped beating (src/fleet/heartbeats.ts): escalated, no automatic fix for a lost host.
  | 'node_down'
  // A watched Swarm service runs fewer tasks than desired, or its tasks crash-loop (src/observe/swarm-services.ts).
  | 'service_degraded'

export type Severity = 'critical' | 'warning' | 'info'
export type RiskLevel = 'low' | 'medium' | 'high'

export interface ResourceRef {
  kind: 'container' | 'host' | 'filesystem' | 'endpoint' | 'series' | 'service'
  /** Stable identity: container id, host name, mount point, URL, series key. */
  id: string
  /** Human name: container name, host, mount... */
  name: string
}

export interface Alert {
  fingerprint: string
  type: AlertType
  severity: Severity
  metric: string
  value: number | null
  threshold: number | null
  resource: ResourceRef
  labels: Record<string, string>
  /** The PromQL, collector or event that produced it. */
  source: string
  /** ISO time of the observation. */
  at: string
  /** Free-form facts from the source (exit code, OOM flag, signal...). */
  details?: Record<string, unknown>
}

export interface TimelineEntry {
  stage: TimelineStage
  at: string
  /** Who or what acted: `sentinel:docker-watcher`, `step:VerifyRemediation`, `user:alice`... */
  actor: string
  summary: string
  data?: Record<string, unknown>
}

export interface Decision {
  route: 'auto' | 'approval' | 'escalate' | 'shadow' | 'defer'
  risk: RiskLevel
  actionId: string | null
  params: Record<string, unknown>
  /** Who may approve when route is 'approval'. */
  approverRole?: 'operator' | 'admin'
  /** Why: the inputs, the rule and the guardrail that decided. */
  reasons: string[]
  rule: string
  decidedAt: string
}

export interface ActionRecord {
  actionId: string
  params: Record<string, unknown>
  status: 'started' | 'succeeded' | 'failed' | 'skipped' | 'rolled_back'
  startedAt: string
  finishedAt?: string
  result?: Record<string, unknown>
  error?: string
}

export interface Approval {
  /** withdrawn: the incident closed (resolved, left alone) while the request was pending. */
  status: 'pending' | 'approved' | 'rejected' | 'expired' | 'withdrawn'
  /** The lowest role that may decide. */
  approverRole: 'operator' | 'admin'
  risk: RiskLevel
  actionId: string | null
  params: Record<string, unknown>
  requestedAt: string
  expiresAt: string
  decidedBy?: string
  decidedAt?: string
  /** When and why a pending request was withdrawn (status withdrawn). */
  withdrawnAt?: string
  /** The decider's role when the decision was made: the executor checks it against the risk. */
  decidedByRole?: 'viewer' | 'operator' | 'admin'
  reason?: string
  /** The approver's note, as given with the approval (POST /api/incidents/:id/approve `{ comment }`). */
  comment?: string
  /** Where the Slack message is, to update it. */
  slack?: { channel: string; ts: string }
  /** kill_process: the command line of the process `params.pid` named when the approval was requested (redacted). */
  command?: string
}

export interface Incident {
  id: string
  fingerprint: string
  type: AlertType
  severity: Severity
  status: IncidentStatus
  title: string
  resource: ResourceRef
  alert: Alert
  decision?: Decision
  approval?: Approval
  actions: ActionRecord[]
  analysis?: Record<string, unknown>
  snapshots?: Record<string, unknown>[]
  timeline: TimelineEntry[]
  openedAt: string
  updatedAt: string
  resolvedAt?: string
  /** Who took the incident and when (the lifecycle's acknowledge): it stops re-paging. */
  acknowledgement?: { by: string; at: string }
  test?: boolean
  /** Incremented on every write; the store's compare-and-set checks it. */
  version: number
}

/**
 * The container an alert is about: its resource, else a label or detail naming one. A disk alert
 * is about a filesystem, whatever container label it carries.
 */
/** The alert an analysis reads: the incident's own, or the bare alert when there is no incident yet. */
export function alertOf(input: Incident | Alert): Alert {
  return 'alert' in input && input.alert ? input.alert : (input as Alert)
}

export function containerRef(alert: Alert): string | undefined {
  if (alert.type === 'disk') return undefined
  if (alert.resource.kind === 'container' && alert.resource.id) return alert.resource.id
  const d = alert.details ?? {}
  const candidates = [
    d.containerId,
    d.container,
    alert.labels.container_id,
    alert.labels.containerId,
    alert.labels.container,
    alert.labels.name,
  ]
  const found = candidates.find((c) => typeof c === 'string' && /^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(c))
  return found as string | undefined
}
