/**
 * An incident's summary: what a list shows (identity, state, resource, the alert's reading, the
 * decision and approval in brief), without the timeline, analysis, snapshots and action results
 * that make a full incident ~4 KB. The store writes it beside the incident in the same atomic
 * write, so a page of 50 is read and sent as stored text: the incident list is the API's most
 * frequent call, and at 50 clients a full-document page (~210 KB) costs more to move than a
 * 2-core host has (see bench/api).
 */
import { groupOf, type StatusGroup } from './lifecycle'
import type { Incident } from './model'

export type IncidentSummary = Pick<
  Incident,
  | 'id'
  | 'fingerprint'
  | 'type'
  | 'severity'
  | 'status'
  | 'title'
  | 'resource'
  | 'openedAt'
  | 'updatedAt'
  | 'resolvedAt'
  | 'acknowledgement'
  | 'test'
  | 'version'
> & {
  view: 'summary'
  /** Who has the incident now (./lifecycle STATUS_GROUPS): active, needs_person or closed. */
  statusGroup: StatusGroup
  alert: Pick<Incident['alert'], 'metric' | 'value' | 'threshold' | 'source' | 'at'>
  decision?: { route: string; risk: string; actionId: string | null; approverRole?: string }
  approval?: {
    status: string
    approverRole: string
    risk: string
    actionId: string | null
    requestedAt: string
    expiresAt: string
    decidedBy?: string
    decidedAt?: string
  }
  analysis?: { analyser?: unknown; rootCause?: string; confidence?: unknown; cause?: string }
  lastAction?: { actionId: string; status: string }
}

const ROOT_CAUSE_CHARS = 200

export function incidentSummary(i: Incident): IncidentSummary {
  const a = i.analysis as
    { analyser?: unknown; root_cause?: unknown; confidence?: unknown; cause?: unknown } | undefined
  const last = i.actions.at(-1)
  return {
    view: 'summary',
    id: i.id,
    fingerprint: i.fingerprint,
    type: i.type,
    severity: i.severity,
    status: i.status,
    statusGroup: groupOf(i.status),
    title: i.title,
    resource: i.resource,
    openedAt: i.openedAt,
    updatedAt: i.updatedAt,
    ...(i.resolvedAt ? { resolvedAt: i.resolvedAt } : {}),
    ...(i.acknowledgement ? { acknowledgement: i.acknowledgement } : {}),
    ...(i.test ? { test: true } : {}),
    version: i.version,
    alert: {
      metric: i.alert.metric,
      value: i.alert.value,
      threshold: i.alert.threshold,
      source: i.alert.source,
      at: i.alert.at,
    },
    ...(i.decision
      ? {
          decision: {
            route: i.decision.route,
            risk: i.decision.risk,
            actionId: i.decision.actionId,
            ...(i.decision.approverRole ? { approverRole: i.decision.approverRole } : {}),
          },
        }
      : {}),
    ...(i.approval
      ? {
          approval: {
            status: i.approval.status,
            approverRole: i.approval.approverRole,
            risk: i.approval.risk,
            actionId: i.approval.actionId,
            requestedAt: i.approval.requestedAt,
            expiresAt: i.approval.expiresAt,
            ...(i.approval.decidedBy ? { decidedBy: i.approval.decidedBy, decidedAt: i.approval.decidedAt } : {}),
          },
        }
      : {}),
    ...(a
      ? {
          analysis: {
            analyser: a.analyser,
            ...(typeof a.root_cause === 'string' ? { rootCause: a.root_cause.slice(0, ROOT_CAUSE_CHARS) } : {}),
            confidence: a.confidence,
            ...(typeof a.cause === 'string' ? { cause: a.cause } : {}),
          },
        }
      : {}),
    ...(last ? { lastAction: { actionId: last.actionId, status: last.status } } : {}),
  }
}
