/**
 * The incident lifecycle: the statuses an incident goes through, how they group, which moves
 * between them are allowed, and the named operations that make them. This is the only code that
 * changes an incident's status or appends to its timeline. The store (./incidents.ts) persists
 * what an operation does, inside its compare-and-set update:
 *
 *   await store.update(id, (i) => recordDecision(i, decision, actor))
 *
 * An operation returns false when there is nothing to do (its effect is there already: a replayed
 * event), so the store writes nothing. A move the lifecycle does not allow throws
 * TransitionRefused and nothing is written: a late or replayed event cannot reopen a resolved
 * incident. The store checks every status change against TRANSITIONS as well, whoever makes it.
 *
 *   open ─► analyzing ─► (decided) ─┬─► remediating ─► verifying ─► resolved
 *                                   ├─► awaiting_approval ─► remediating (approved)
 *                                   ├─► verifying (defer: nothing to run, check it)
 *                                   └─► escalated ─► resolved (a person, or the alert clears)
 *   any status not closed ─► resolved | suppressed; any not terminal ─► escalated
 *
 * The container fast path decides at once (open ─► remediating); its analysis comes afterwards
 * and enriches the incident without moving it.
 */
import type { Alert, Approval, Decision, Incident, TimelineEntry, TimelineStage } from './model'

// ---- Statuses ---------------------------------------------------------------------------------

export const INCIDENT_STATUSES = [
  'open',
  'analyzing',
  'awaiting_approval',
  'remediating',
  'verifying',
  'resolved',
  'escalated',
  'suppressed',
] as const
export type IncidentStatus = (typeof INCIDENT_STATUSES)[number]

/** Who has the incident: Sentinel (active), a person (needs_person), nobody any more (closed). */
export const STATUS_GROUPS = ['active', 'needs_person', 'closed'] as const
export type StatusGroup = (typeof STATUS_GROUPS)[number]

const GROUP_LABELS: Record<StatusGroup, { label: string; description: string }> = {
  active: { label: 'Sentinel is on it', description: 'detected, being analysed, fixed or verified without a person' },
  needs_person: {
    label: 'Needs a person',
    description: 'waiting for an approval, or escalated: nothing more runs by itself',
  },
  closed: { label: 'Closed', description: 'resolved or left alone on purpose; the problem may open a new incident' },
}

interface StatusInfo {
  group: StatusGroup
  label: string
  description: string
  /** No automatic work is left (the store takes it out of the set recovery resumes). */
  terminal: boolean
}

const STATUS_INFO: Record<IncidentStatus, StatusInfo> = {
  open: {
    group: 'active',
    label: 'Open',
    description: 'detected; waiting for its analysis or decision',
    terminal: false,
  },
  analyzing: {
    group: 'active',
    label: 'Analysing',
    description: 'its root cause is being analysed (LLM or rules)',
    terminal: false,
  },
  awaiting_approval: {
    group: 'needs_person',
    label: 'Awaiting approval',
    description: 'the fix waits for an operator or an admin',
    terminal: false,
  },
  remediating: { group: 'active', label: 'Remediating', description: 'the fix is running', terminal: false },
  verifying: {
    group: 'active',
    label: 'Verifying',
    description: 'the fix ran (or none was needed); what raised the alert is checked again',
    terminal: false,
  },
  resolved: {
    group: 'closed',
    label: 'Resolved',
    description: 'the fix held, the alert cleared, or a person closed it',
    terminal: true,
  },
  escalated: {
    group: 'needs_person',
    label: 'Escalated',
    description: 'left for an admin; it holds its problem until a person closes it or the alert clears',
    terminal: true,
  },
  suppressed: {
    group: 'closed',
    label: 'Suppressed',
    description: 'left alone: a container stopped or removed on purpose, or not watched',
    terminal: true,
  },
}

/** Statuses with no automatic work left. */
export const TERMINAL_STATUSES: readonly IncidentStatus[] = INCIDENT_STATUSES.filter((s) => STATUS_INFO[s].terminal)
/** Statuses after which nothing happens to the incident: its fingerprint is free for a new one. */
export const CLOSED_STATUSES: readonly IncidentStatus[] = INCIDENT_STATUSES.filter(
  (s) => STATUS_INFO[s].group === 'closed',
)

/**
 * The moves allowed, from each status. `analyzing → open` is a shadow-mode decision (recorded,
 * nothing runs, the incident stays open for a person). Closed statuses lead nowhere.
 */
export const TRANSITIONS: Readonly<Record<IncidentStatus, readonly IncidentStatus[]>> = {
  open: ['analyzing', 'awaiting_approval', 'remediating', 'verifying', 'escalated', 'resolved', 'suppressed'],
  analyzing: ['open', 'awaiting_approval', 'remediating', 'verifying', 'escalated', 'resolved', 'suppressed'],
  awaiting_approval: ['remediating', 'escalated', 'resolved', 'suppressed'],
  remediating: ['verifying', 'escalated', 'resolved', 'suppressed'],
  verifying: ['escalated', 'resolved', 'suppressed'],
  escalated: ['resolved', 'suppressed'],
  resolved: [],
  suppressed: [],
}

export const groupOf = (status: IncidentStatus): StatusGroup => STATUS_INFO[status]?.group ?? 'active'
export const isTerminal = (incident: Pick<Incident, 'status'>): boolean => TERMINAL_STATUSES.includes(incident.status)
export const isClosed = (incident: Pick<Incident, 'status'>): boolean => CLOSED_STATUSES.includes(incident.status)
export const canTransition = (from: IncidentStatus, to: IncidentStatus): boolean =>
  from === to || (TRANSITIONS[from] ?? []).includes(to)

/** A status change the lifecycle does not allow; nothing was written. */
export class TransitionRefused extends Error {
  readonly code = 'transition_refused'
  constructor(
    readonly incidentId: string,
    readonly from: IncidentStatus,
    readonly to: IncidentStatus,
    readonly operation: string,
  ) {
    const allowed = TRANSITIONS[from]?.length ? TRANSITIONS[from].join(', ') : 'nothing (it is closed)'
    super(
      `incident ${incidentId} is ${from}: ${operation} would make it ${to}, which the lifecycle does not allow (from ${from}: ${allowed})`,
    )
    this.name = 'TransitionRefused'
  }
}

/** Throws TransitionRefused unless the move is allowed (staying is always allowed). */
export function assertTransition(
  incident: Pick<Incident, 'id' | 'status'>,
  to: IncidentStatus,
  operation = 'a status change',
): void {
  if (!canTransition(incident.status, to)) throw new TransitionRefused(incident.id, incident.status, to, operation)
}

function moveTo(i: Incident, to: IncidentStatus, operation: string): void {
  assertTransition(i, to, operation)
  i.status = to
  // Nobody is asked any more to decide a fix for a closed incident: its pending request says so,
  // instead of staying pending in the record (the executor refuses anything but approved anyway).
  if (groupOf(to) === 'closed' && i.approval?.status === 'pending') {
    i.approval.status = 'withdrawn'
    i.approval.withdrawnAt = new Date().toISOString()
  }
}

// ---- Timeline -----------------------------------------------------------------------------------

export const TIMELINE_STAGES = [
  'detected',
  'analyzed',
  'decided',
  'approval_requested',
  'approved',
  'rejected',
  'acted',
  'verified',
  'rolled_back',
  'resolved',
  'escalated',
  'suppressed',
  'acknowledged',
  'note',
] as const

/** What an operation records, besides its stage: who, what and when (default: now). */
export interface EntryInput {
  actor: string
  summary: string
  data?: Record<string, unknown>
  at?: string
}

function push(i: Incident, stage: TimelineStage, e: EntryInput): void {
  const entry: TimelineEntry = { stage, at: e.at ?? new Date().toISOString(), actor: e.actor, summary: e.summary }
  if (e.data !== undefined) entry.data = e.data
  i.timeline.push(entry)
}

// ---- Operations ---------------------------------------------------------------------------------

/** A new incident for the alert: open, with its `detected` entry. */
export function openedIncident(
  alert: Alert,
  init: { id: string; title: string; actor: string; test?: boolean; now?: string },
): Incident {
  const now = init.now ?? new Date().toISOString()
  const incident: Incident = {
    id: init.id,
    fingerprint: alert.fingerprint,
    type: alert.type,
    severity: alert.severity,
    status: 'open',
    title: init.title,
    resource: alert.resource,
    alert,
    actions: [],
    timeline: [],
    openedAt: now,
    updatedAt: now,
    ...(init.test ? { test: true } : {}),
    version: 1,
  }
  push(incident, 'detected', {
    actor: init.actor,
    summary: init.title,
    at: alert.at,
    data: { metric: alert.metric, value: alert.value, threshold: alert.threshold, source: alert.source },
  })
  return incident
}

/**
 * The analysis starts: an open incident nobody has decided yet is `analyzing` until its decision.
 * An incident decided already (the container fast path) or past deciding is only enriched by its
 * analysis: false, nothing moves.
 */
export function startAnalysis(i: Incident): boolean {
  if (i.status !== 'open' || i.decision) return false
  moveTo(i, 'analyzing', 'startAnalysis')
  return true
}

/** The analysis and its `analyzed` entry. The status stays: the decision moves it. */
export function recordAnalysis(i: Incident, analysis: Record<string, unknown>, entry: EntryInput): boolean {
  i.analysis = analysis
  push(i, 'analyzed', entry)
  return true
}

/** The status each route of a decision leads to; null: it stays (shadow: `analyzing` back to `open`). */
export function statusAfterDecision(route: Decision['route']): IncidentStatus | null {
  switch (route) {
    case 'auto':
      return 'remediating'
    case 'approval':
      return 'awaiting_approval'
    case 'escalate':
      return 'escalated'
    case 'defer':
      return 'verifying'
    case 'shadow':
      return null
  }
}

/**
 * The policy's decision, the one implementation for the flow (DecideRemediation) and the
 * container fast path. It used to exist twice, and the copies differed; reconciled here:
 *
 * - every route sets its status at once (statusAfterDecision): `auto` → remediating, `approval` →
 *   awaiting_approval, `escalate` → escalated, `defer` → verifying, `shadow` stays open. The flow
 *   left an approval `open` until the RequestApproval step ran and the fast path left an automatic
 *   fix `open` until the action started: in between, the incident said nothing of what comes next
 *   and the dashboard showed it as untouched.
 * - `escalate` writes an `escalated` entry with the reason, as the flow did: the fast path escalated
 *   (a rate limit hit, a freeze) without one, so the timeline did not say why, and the Slack
 *   outcome, which reads the last `escalated` entry, had nothing to show.
 * - one write: the flow wrote the decision and the escalation in two, so a crash in between left
 *   an escalated incident with no reason.
 *
 * False when the incident has a decision already (a replay). Refused on a terminal incident.
 */
export function recordDecision(i: Incident, decision: Decision, actor: string): boolean {
  if (i.decision) return false
  const next = statusAfterDecision(decision.route) ?? (i.status === 'analyzing' ? 'open' : i.status)
  if (isTerminal(i)) throw new TransitionRefused(i.id, i.status, next, `recordDecision (${decision.route})`)
  moveTo(i, next, `recordDecision (${decision.route})`)
  i.decision = decision
  const at = decision.decidedAt
  push(i, 'decided', {
    actor,
    at,
    summary: `${decision.route} (${decision.risk} risk, ${decision.rule})`,
    data: { ...decision },
  })
  if (decision.route === 'escalate')
    push(i, 'escalated', {
      actor,
      at,
      summary: `escalated to an admin: ${decision.reasons.at(-1) ?? decision.rule}`,
      data: { approverRole: 'admin' },
    })
  return true
}

/** A pending approval for the decided fix: awaiting_approval, with who may decide and until when. False when one is pending already. */
export function requestApproval(i: Incident, approval: Approval, actor: string): boolean {
  if (i.approval?.status === 'pending') return false
  moveTo(i, 'awaiting_approval', 'requestApproval')
  i.approval = approval
  push(i, 'approval_requested', {
    actor,
    at: approval.requestedAt,
    summary: `${approval.actionId ?? 'a decision'} needs approval by ${approval.approverRole === 'admin' ? 'an admin' : 'an operator or an admin'}`,
    data: { approverRole: approval.approverRole, risk: approval.risk, expiresAt: approval.expiresAt },
  })
  return true
}

/** An operator-level approval past its time goes to the admins, with a new expiry; still awaiting approval. */
export function raiseApprovalToAdmins(i: Incident, input: { expiresAt: string; actor: string; at?: string }): boolean {
  if (i.approval?.status !== 'pending' || i.approval.approverRole !== 'operator') return false
  assertTransition(i, 'awaiting_approval', 'raiseApprovalToAdmins')
  i.approval.approverRole = 'admin'
  i.approval.expiresAt = input.expiresAt
  push(i, 'escalated', {
    actor: input.actor,
    at: input.at,
    summary: 'approval expired: escalated to the admins',
    data: { approverRole: 'admin', expiresAt: input.expiresAt },
  })
  return true
}

/** An admin-level approval past its time: expired, and the incident escalated. */
export function expireApproval(i: Incident, input: { actor: string; at?: string }): boolean {
  if (i.approval?.status !== 'pending') return false
  moveTo(i, 'escalated', 'expireApproval')
  i.approval.status = 'expired'
  push(i, 'escalated', {
    actor: input.actor,
    at: input.at,
    summary: 'approval expired with no admin decision; left for an admin',
    data: { approverRole: 'admin' },
  })
  return true
}

/**
 * A person's decision on the pending approval (whether they may is checked by the caller, on
 * this same version): approved → remediating, the approved fix becoming the decision the executor
 * runs; rejected → escalated. Refused when the incident is no longer awaiting approval.
 */
export function recordApprovalDecision(
  i: Incident,
  input: {
    decision: 'approve' | 'reject'
    by: string
    role: 'viewer' | 'operator' | 'admin'
    reason?: string
    comment?: string
    at?: string
  },
): boolean {
  const approve = input.decision === 'approve'
  const to: IncidentStatus = approve ? 'remediating' : 'escalated'
  if (i.approval?.status !== 'pending' || i.status !== 'awaiting_approval')
    throw new TransitionRefused(
      i.id,
      i.status,
      to,
      `recordApprovalDecision (${input.decision}) with the approval ${i.approval?.status ?? 'missing'}`,
    )
  moveTo(i, to, `recordApprovalDecision (${input.decision})`)
  const at = input.at ?? new Date().toISOString()
  i.approval.status = approve ? 'approved' : 'rejected'
  i.approval.decidedBy = input.by
  i.approval.decidedByRole = input.role
  i.approval.decidedAt = at
  if (input.reason) i.approval.reason = input.reason
  if (input.comment) i.approval.comment = input.comment
  push(i, approve ? 'approved' : 'rejected', {
    actor: input.by,
    at,
    summary: approve
      ? `approved by ${input.by}${input.comment ? `: ${input.comment}` : ''}`
      : `rejected by ${input.by}${input.reason ? `: ${input.reason}` : ''}`,
    data: {
      role: input.role,
      ...(input.reason ? { reason: input.reason } : {}),
      ...(input.comment ? { comment: input.comment } : {}),
    },
  })
  if (approve && i.decision)
    i.decision = {
      ...i.decision,
      route: 'auto',
      reasons: [...i.decision.reasons, `approved by ${input.by} (${input.role})`],
    }
  return true
}

/** The claimed action starts: remediating, with the snapshot taken before it and a `started` action record. */
export function startRemediation(
  i: Incident,
  input: { actionId: string; params: Record<string, unknown>; snapshot: Record<string, unknown>; startedAt: string },
): boolean {
  moveTo(i, 'remediating', `startRemediation (${input.actionId})`)
  i.snapshots = [...(i.snapshots ?? []), { actionId: input.actionId, at: input.startedAt, before: input.snapshot }]
  i.actions = i.actions.filter((a) => !(a.actionId === input.actionId && a.status === 'started'))
  i.actions.push({ actionId: input.actionId, params: input.params, status: 'started', startedAt: input.startedAt })
  return true
}

/**
 * What the action did, on its record and in an `acted` entry: succeeded → verifying; failed →
 * escalated, with the reason. An incident that became terminal while the action ran (its alert
 * cleared, a person closed it) keeps its status: the action is recorded as the fact it is.
 */
export function recordActionResult(
  i: Incident,
  input: { actionId: string; params: Record<string, unknown>; actor: string; at?: string } & (
    { ok: true; result: Record<string, unknown> } | { ok: false; error: string }
  ),
): boolean {
  const at = input.at ?? new Date().toISOString()
  const rec = i.actions.find((a) => a.actionId === input.actionId && a.status === 'started')
  if (input.ok) {
    if (rec) Object.assign(rec, { status: 'succeeded', finishedAt: at, result: input.result })
    push(i, 'acted', {
      actor: input.actor,
      at,
      summary: `${input.actionId}: ${String(input.result.performed ?? 'done')}`,
      data: { actionId: input.actionId, params: input.params, result: input.result },
    })
    if (!isTerminal(i)) moveTo(i, 'verifying', `recordActionResult (${input.actionId} succeeded)`)
    return true
  }
  if (rec) Object.assign(rec, { status: 'failed', finishedAt: at, error: input.error })
  push(i, 'acted', {
    actor: input.actor,
    at,
    summary: `${input.actionId} failed: ${input.error}`,
    data: { actionId: input.actionId, error: input.error },
  })
  if (!isTerminal(i)) {
    moveTo(i, 'escalated', `recordActionResult (${input.actionId} failed)`)
    push(i, 'escalated', {
      actor: input.actor,
      at,
      summary: 'the fix failed; an admin must look',
      data: { approverRole: 'admin' },
    })
  }
  return true
}

/** A verification's outcome (`verified` entry, ok or not). The status stays: resolve or escalate follows. */
export function recordVerification(i: Incident, entry: EntryInput): boolean {
  push(i, 'verified', entry)
  return true
}

/** Closed as resolved. False when it is resolved already; refused when suppressed. */
export function resolve(i: Incident, entry: EntryInput): boolean {
  if (i.status === 'resolved') return false
  moveTo(i, 'resolved', 'resolve')
  const at = entry.at ?? new Date().toISOString()
  i.resolvedAt = at
  push(i, 'resolved', { ...entry, at })
  return true
}

/** Left for an admin, with the reason. False when it is escalated already; refused when closed. */
export function escalate(i: Incident, entry: EntryInput): boolean {
  if (i.status === 'escalated') return false
  moveTo(i, 'escalated', 'escalate')
  push(i, 'escalated', entry)
  return true
}

/**
 * A person takes the incident (POST /api/incidents/:id/ack, the Slack or dashboard button): it
 * stops re-paging and the paging services are told. The status does not move: Sentinel's own work
 * (a fix, its verification) goes on. False when it is acknowledged already (the first one owns
 * it) or closed (nothing left to take).
 */
export function acknowledge(i: Incident, entry: EntryInput): boolean {
  if (i.acknowledgement || isClosed(i)) return false
  const at = entry.at ?? new Date().toISOString()
  i.acknowledgement = { by: entry.actor, at }
  push(i, 'acknowledged', { ...entry, at })
  return true
}

/** Left alone on purpose (a container stopped or removed, not watched). False when suppressed already; refused when resolved. */
export function suppress(i: Incident, entry: EntryInput): boolean {
  if (i.status === 'suppressed') return false
  moveTo(i, 'suppressed', 'suppress')
  push(i, 'suppressed', entry)
  return true
}

/** Which executed action: its id, and its start time when several runs of it exist. */
export interface ActionMatch {
  actionId: string
  startedAt?: string
}

const matches = (m: ActionMatch) => (a: Incident['actions'][number]) =>
  a.actionId === m.actionId && (m.startedAt === undefined || a.startedAt === m.startedAt)

/**
 * A rollback's outcome (`rolled_back` entry). When it worked, the action's record says
 * rolled_back (unless claimRollback marked it already). The status stays: a rollback is followed
 * by an escalation, or is a person's act on an incident they handle.
 */
export function recordRollback(i: Incident, input: ActionMatch & EntryInput & { ok: boolean }): boolean {
  if (input.ok) {
    const rec = i.actions.find((a) => matches(input)(a) && a.status === 'succeeded')
    if (rec) rec.status = 'rolled_back'
  }
  push(i, 'rolled_back', { actor: input.actor, summary: input.summary, data: input.data, at: input.at })
  return true
}

/** Claims an executed action for a rollback (its record says rolled_back), so two people rolling back at once roll back once. False when it is not (or no longer) `succeeded`. */
export function claimRollback(i: Incident, match: ActionMatch): boolean {
  const rec = i.actions.find(matches(match))
  if (!rec || rec.status !== 'succeeded') return false
  rec.status = 'rolled_back'
  return true
}

/** Gives a claimed rollback back (the rollback failed): the action stands. */
export function releaseRollback(i: Incident, match: ActionMatch): boolean {
  const rec = i.actions.find(matches(match))
  if (!rec || rec.status !== 'rolled_back') return false
  rec.status = 'succeeded'
  return true
}

/** A fact worth keeping on the timeline that moves nothing (a repeat of the failure, a quarantine purged). */
export function note(i: Incident, entry: EntryInput): boolean {
  push(i, 'note', entry)
  return true
}

// ---- Description --------------------------------------------------------------------------------

export interface LifecycleDescription {
  statuses: {
    id: IncidentStatus
    label: string
    description: string
    group: StatusGroup
    terminal: boolean
    next: IncidentStatus[]
  }[]
  groups: { id: StatusGroup; label: string; description: string; statuses: IncidentStatus[] }[]
  stages: TimelineStage[]
}

/** The lifecycle as plain JSON (statuses, their groups, labels and moves), for the dashboard and the API. */
export function lifecycleDescription(): LifecycleDescription {
  return {
    statuses: INCIDENT_STATUSES.map((id) => ({
      id,
      label: STATUS_INFO[id].label,
      description: STATUS_INFO[id].description,
      group: STATUS_INFO[id].group,
      terminal: STATUS_INFO[id].terminal,
      next: [...TRANSITIONS[id]],
    })),
    groups: STATUS_GROUPS.map((id) => ({
      id,
      ...GROUP_LABELS[id],
      statuses: INCIDENT_STATUSES.filter((s) => STATUS_INFO[s].group === id),
    })),
    stages: [...TIMELINE_STAGES],
  }
}
