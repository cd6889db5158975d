/**
 * The archive's columns of an incident, derived from its stored document in one place, so the
 * history filters, the reports and their tests agree on what "fixed automatically", "escalated"
 * or "time to resolve" mean.
 */
import os from 'node:os'
import { isClosed } from '../../platform/store/lifecycle'
import type { Incident } from '../../platform/store/model'

export interface IncidentRow {
  id: string
  version: number
  fingerprint: string
  type: string
  severity: string
  status: string
  title: string
  resource_kind: string
  resource_id: string
  resource_name: string
  /** The host the incident happened on: the alert's `node` (or `instance` host) label, else this host. */
  node: string
  /** When the problem was observed (the alert's time), ms. */
  detected_at: number | null
  opened_at: number
  updated_at: number
  resolved_at: number | null
  /** When it stopped being worked on: resolved, or closed otherwise (suppressed). */
  closed_at: number | null
  analyser: string | null
  cause: string | null
  root_cause: string | null
  confidence: number | null
  route: string | null
  risk: string | null
  action_id: string | null
  last_action_status: string | null
  /** Resolved by an action that succeeded with nobody approving it. */
  auto_fixed: 0 | 1
  /** Handed to a person at some point (escalated now, or in its timeline). */
  escalated: 0 | 1
  /** A fix was rolled back. */
  rolled_back: 0 | 1
  approval_status: string | null
  /** From the approval request to the decision: the time people spent on it. */
  approval_wait_ms: number | null
  test: 0 | 1
  doc: string
}

const ms = (iso: string | undefined | null): number | null => {
  if (!iso) return null
  const t = Date.parse(iso)
  return Number.isFinite(t) ? t : null
}

const str = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : v == null ? null : String(v))

/** The host of an `instance` label (host:port), or the label as given. */
const hostOf = (instance: string) => instance.replace(/:\d+$/, '')

export function nodeOf(incident: Incident, fallback: string = os.hostname()): string {
  const labels = incident.alert?.labels ?? {}
  const details = (incident.alert?.details ?? {}) as Record<string, unknown>
  const candidate = labels.node ?? (typeof details.node === 'string' ? details.node : undefined) ?? labels.nodename
  if (candidate) return candidate
  if (incident.resource.kind === 'host' && incident.resource.name) return incident.resource.name
  if (labels.instance) return hostOf(labels.instance)
  return fallback
}

export function incidentRow(incident: Incident, opts: { node?: string } = {}): IncidentRow {
  const analysis = (incident.analysis ?? {}) as Record<string, unknown>
  const actions = incident.actions ?? []
  const timeline = incident.timeline ?? []
  const approval = incident.approval
  const resolvedAt = ms(incident.resolvedAt) ?? (incident.status === 'resolved' ? ms(incident.updatedAt) : null)
  const closedAt = resolvedAt ?? (isClosed(incident) ? ms(incident.updatedAt) : null)
  const succeeded = actions.some((a) => a.status === 'succeeded')
  const confidence = typeof analysis.confidence === 'number' ? analysis.confidence : null
  return {
    id: incident.id,
    version: incident.version,
    fingerprint: incident.fingerprint,
    type: incident.type,
    severity: incident.severity,
    status: incident.status,
    title: incident.title,
    resource_kind: incident.resource.kind,
    resource_id: incident.resource.id,
    resource_name: incident.resource.name,
    node: opts.node ?? nodeOf(incident),
    detected_at: ms(incident.alert?.at),
    opened_at: ms(incident.openedAt) ?? 0,
    updated_at: ms(incident.updatedAt) ?? 0,
    resolved_at: incident.status === 'resolved' ? resolvedAt : null,
    closed_at: closedAt,
    analyser: str(analysis.analyser),
    cause: str(analysis.cause),
    root_cause: str(analysis.root_cause),
    confidence,
    route: incident.decision?.route ?? null,
    risk: incident.decision?.risk ?? null,
    action_id: incident.decision?.actionId ?? actions.at(-1)?.actionId ?? null,
    last_action_status: actions.at(-1)?.status ?? null,
    auto_fixed: incident.status === 'resolved' && succeeded && !approval ? 1 : 0,
    escalated: incident.status === 'escalated' || timeline.some((e) => e.stage === 'escalated') ? 1 : 0,
    rolled_back:
      actions.some((a) => a.status === 'rolled_back') || timeline.some((e) => e.stage === 'rolled_back') ? 1 : 0,
    approval_status: approval?.status ?? null,
    approval_wait_ms:
      approval?.decidedAt && ms(approval.decidedAt) !== null && ms(approval.requestedAt) !== null
        ? Math.max(0, ms(approval.decidedAt)! - ms(approval.requestedAt)!)
        : null,
    test: incident.test ? 1 : 0,
    doc: JSON.stringify(incident),
  }
}
