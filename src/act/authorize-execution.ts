/**
 * Whether the executor may run an incident's decided fix. Events carry no authority: anyone who
 * can put `remediation.approved` into the flow could otherwise run a fix still waiting for a
 * person. So the answer comes from the incident as stored, whoever asks (the ExecuteRemediation
 * step, the container fast path, recovery):
 *
 * - with no approval record, the decision must have routed the fix to `auto`, which the policy
 *   does only for low risk;
 * - with one, it must be `approved`, in time, by someone whose role the risk needs (the role is
 *   recorded when the approval is decided), for exactly the action, parameters and risk decided;
 * - either way, an action aimed at a container must aim at the incident's own container when the
 *   incident is about one, so an analysis (an LLM reading untrusted logs) cannot redirect a fix.
 *
 * Incidents about a host, a filesystem or an endpoint are not containers: a container fix for them
 * (a runaway process inside one) is judged by the rules above and by the action's own watch-label
 * check.
 */
import { isDeepStrictEqual } from 'node:util'
import { getAction } from '../actions/catalog'
import type { ActionDefinition } from '../actions/types'
import { authorize, decidePermission, whoMay } from '../platform/auth/roles'
import { targetMismatch } from '../decide/target'
import type { Decision, Incident } from '../platform/store/model'

// The check lives with the policy, which escalates such a proposal before it reaches the executor.
export { targetMismatch }

export type RefusalCode =
  | 'incident-not-found'
  | 'no-action-decided'
  | 'unknown-action'
  | 'invalid-params'
  | 'not-routed-to-run'
  | 'auto-above-low-risk'
  | 'approval-pending'
  | 'approval-rejected'
  | 'approval-expired'
  | 'approved-after-expiry'
  | 'approver-role-unrecorded'
  | 'approver-role-too-low'
  // The controller's term of the duty that decided it is over (src/platform/lease/).
  | 'fenced'
  | 'approval-differs-from-decision'
  | 'target-not-incident-resource'

export type ExecutionVerdict =
  | {
      allowed: true
      basis: 'auto' | 'approved'
      incident: Incident
      action: ActionDefinition
      params: Record<string, unknown>
    }
  | { allowed: false; code: RefusalCode; reason: string }

type Refusal = Extract<ExecutionVerdict, { allowed: false }>
const refuse = (code: RefusalCode, reason: string): Refusal => ({ allowed: false, code, reason })

export function authorizeExecution(incident: Incident | null): ExecutionVerdict {
  if (!incident) return refuse('incident-not-found', 'no such incident')
  const decision = incident.decision
  if (!decision?.actionId) return refuse('no-action-decided', 'no action was decided for this incident')
  const action = getAction(decision.actionId)
  if (!action) return refuse('unknown-action', `action ${decision.actionId} is not in the catalog`)
  const parsed = action.params.safeParse(decision.params)
  if (!parsed.success)
    return refuse(
      'invalid-params',
      `the decided parameters of ${decision.actionId} are invalid: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
    )

  const basis = incident.approval ? approvedBasis(incident, decision) : autoBasis(decision)
  if (!basis.allowed) return basis
  const mismatch = targetMismatch(incident, decision.actionId, decision.params)
  if (mismatch) return refuse('target-not-incident-resource', mismatch)
  return { allowed: true, basis: basis.basis, incident, action, params: parsed.data as Record<string, unknown> }
}

function autoBasis(decision: Decision): { allowed: true; basis: 'auto' } | Refusal {
  if (decision.route !== 'auto')
    return refuse('not-routed-to-run', `the decision routed this fix to ${decision.route}, not to automatic execution`)
  if (decision.risk !== 'low')
    return refuse(
      'auto-above-low-risk',
      `a ${decision.risk}-risk fix runs only with a person's approval, and none was asked`,
    )
  return { allowed: true, basis: 'auto' }
}

function approvedBasis(incident: Incident, decision: Decision): { allowed: true; basis: 'approved' } | Refusal {
  const approval = incident.approval!
  if (approval.status === 'pending')
    return refuse(
      'approval-pending',
      `the fix waits for ${whoMay(decidePermission(approval.risk, approval.approverRole))} to approve it`,
    )
  if (approval.status === 'rejected')
    return refuse('approval-rejected', `the fix was rejected by ${approval.decidedBy ?? 'a person'}`)
  if (approval.status === 'expired') return refuse('approval-expired', 'the approval request expired with no decision')
  // Approved: by whom, when, and for what.
  if (decision.route !== 'auto' && decision.route !== 'approval')
    return refuse('not-routed-to-run', `the decision routed this fix to ${decision.route}`)
  const decidedMs = Date.parse(approval.decidedAt ?? '')
  if (!(decidedMs <= Date.parse(approval.expiresAt)))
    return refuse(
      'approved-after-expiry',
      `approved at ${approval.decidedAt ?? '(no time)'}, after the request expired at ${approval.expiresAt}`,
    )
  const role = approval.decidedByRole
  if (!role)
    return refuse(
      'approver-role-unrecorded',
      `the approval by ${approval.decidedBy ?? 'someone'} does not record the approver's role`,
    )
  // The stricter of what the decision and the approval record ask (an expired operator-level
  // request is raised to the admins on the approval only).
  const needed = [
    decidePermission(decision.risk, decision.approverRole),
    decidePermission(approval.risk, approval.approverRole),
  ]
  const missing = needed.find((p) => !authorize(role, p))
  if (missing)
    return refuse(
      'approver-role-too-low',
      `approved by ${approval.decidedBy ?? 'someone'} as ${role}; this fix needs ${whoMay(missing)}`,
    )
  if (
    approval.actionId !== decision.actionId ||
    !isDeepStrictEqual(approval.params, decision.params) ||
    approval.risk !== decision.risk
  ) {
    return refuse(
      'approval-differs-from-decision',
      `approved ${approval.actionId} ${JSON.stringify(approval.params)} (${approval.risk} risk), but the decision is ${decision.actionId} ${JSON.stringify(decision.params)} (${decision.risk} risk)`,
    )
  }
  return { allowed: true, basis: 'approved' }
}
