/**
 * The risk policy: routes a proposed fix to automatic execution, an approval, or escalation, and
 * records why. Low risk runs by itself; medium needs an operator or an admin; high needs an admin.
 * Guardrails (allow-list, rate limit, shadow mode) can only make a route stricter.
 */
import { getAction } from '../actions/catalog'
import type { SentinelConfig } from '../platform/config/index'
import type { Decision, Incident, RiskLevel } from '../platform/store/model'
import type { RateLimitResult } from './rate-limit'

const LEVELS: RiskLevel[] = ['low', 'medium', 'high']
export const maxRisk = (...r: (RiskLevel | undefined)[]): RiskLevel =>
  LEVELS[Math.max(...r.filter((x): x is RiskLevel => !!x).map((x) => LEVELS.indexOf(x)), 0)]
export const raiseRisk = (r: RiskLevel): RiskLevel => LEVELS[Math.min(LEVELS.indexOf(r) + 1, LEVELS.length - 1)]

export interface PolicyInput {
  incident: Pick<Incident, 'id' | 'type' | 'resource'>
  proposal: { actionId: string; params: Record<string, unknown> } | null
  /** From the analysis, when there is one. */
  analysisRisk?: RiskLevel
  confidence?: number
}

export interface PolicyDeps {
  config: Pick<
    SentinelConfig,
    'ALLOWED_ACTIONS' | 'SHADOW_MODE' | 'CONFIDENCE_THRESHOLD' | 'RATE_LIMIT_MAX_ACTIONS' | 'RATE_LIMIT_WINDOW_SECONDS'
  >
  /** Counts one execution against the sliding window; called only when the route is automatic. */
  takeRateLimit: (actionId: string, resourceId: string, incidentId: string) => Promise<RateLimitResult>
  /** The active change freeze, described, or null. */
  activeFreeze?: (now: Date) => string | null
  now?: () => Date
  /** An action's risk when it is not the catalog's (policy replay tries other risks); undefined: the catalog's. */
  actionRisk?: (actionId: string) => RiskLevel | undefined
}

export async function decide(input: PolicyInput, deps: PolicyDeps): Promise<Decision> {
  const decidedAt = (deps.now?.() ?? new Date()).toISOString()
  const reasons: string[] = []
  const base = { params: input.proposal?.params ?? {}, decidedAt }

  if (!input.proposal && input.incident.type === 'anomaly') {
    // An anomaly is a statistical signal: with no fix there is no re-measure that says it is over
    // (the tracker resolves it when the series clears). A person looks.
    return {
      ...base,
      route: 'escalate',
      risk: 'medium',
      actionId: null,
      approverRole: 'admin',
      rule: 'anomaly-no-fix',
      reasons: ['anomaly with no known fix: left for a person; it resolves when the series is back to normal'],
    }
  }
  if (!input.proposal) {
    // Nothing to do (the analysis found it fine again, or knows no fix): verify instead of acting;
    // if it is not fine, verification fails and the incident escalates to an admin.
    return {
      ...base,
      route: 'defer',
      risk: 'low',
      actionId: null,
      rule: 'no-fix',
      reasons: ['no fix was proposed: verify instead of acting; escalate if it is not fine'],
    }
  }
  const { actionId } = input.proposal
  /** A fix the policy will not route: high risk, an admin decides. */
  const escalate = (rule: string, reason: string): Decision => ({
    ...base,
    route: 'escalate',
    risk: 'high',
    actionId,
    approverRole: 'admin',
    rule,
    reasons: [reason],
  })
  const action = getAction(actionId)
  if (!action) return escalate('unknown-action', `action ${actionId} is not in the catalog`)
  const allowed = deps.config.ALLOWED_ACTIONS
  if (allowed.length > 0 && !allowed.includes(actionId))
    return escalate('guardrail:allow-list', `action ${actionId} is not in ALLOWED_ACTIONS (${allowed.join(', ')})`)
  const parsed = action.params.safeParse(input.proposal.params)
  if (!parsed.success)
    return escalate(
      'invalid-params',
      `parameters for ${actionId} are invalid: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
    )

  const actionRisk = deps.actionRisk?.(actionId) ?? action.risk
  let risk = maxRisk(actionRisk, input.analysisRisk)
  reasons.push(
    `action ${actionId} is ${actionRisk} risk${actionRisk !== action.risk ? ` (set so; the catalog says ${action.risk})` : ''}${input.analysisRisk ? `; analysis says ${input.analysisRisk}` : ''}`,
  )
  if (input.confidence !== undefined && input.confidence < deps.config.CONFIDENCE_THRESHOLD) {
    risk = raiseRisk(risk)
    reasons.push(`confidence ${input.confidence} is under ${deps.config.CONFIDENCE_THRESHOLD}: risk raised to ${risk}`)
  }

  // A fix is bounded to its incident's target: one that acts on a container (or a service) while the
  // incident is about something else (an analysis reaching sideways) is for an admin.
  const container = (parsed.data as { containerId?: unknown }).containerId
  if (typeof container === 'string' && input.incident.resource.kind !== 'container') {
    risk = 'high'
    reasons.push(
      `${actionId} acts on container ${container} but the incident is about ${input.incident.resource.kind} ${input.incident.resource.name}: an admin decides`,
    )
  }
  const service = (parsed.data as { serviceId?: unknown }).serviceId
  if (typeof service === 'string' && input.incident.resource.kind !== 'service') {
    risk = 'high'
    reasons.push(
      `${actionId} acts on service ${service} but the incident is about ${input.incident.resource.kind} ${input.incident.resource.name}: an admin decides`,
    )
  }

  if (deps.config.SHADOW_MODE) {
    return {
      ...base,
      route: 'shadow',
      risk,
      actionId,
      rule: 'guardrail:shadow-mode',
      reasons: [...reasons, 'shadow mode: recorded, not executed'],
    }
  }
  /** The fix waits for a person of `approverRole` (or above); `why` ends the reasons. */
  const approval = (approverRole: 'operator' | 'admin', atRisk: RiskLevel, rule: string, why: string): Decision => ({
    ...base,
    route: 'approval',
    risk: atRisk,
    actionId,
    approverRole,
    rule,
    reasons: [...reasons, why],
  })
  if (risk === 'medium') return approval('operator', risk, 'risk:medium', 'medium risk needs an operator or an admin')
  if (risk === 'high') return approval('admin', risk, 'risk:high', 'high risk needs an admin')
  const freeze = deps.activeFreeze?.(deps.now?.() ?? new Date())
  if (freeze)
    return approval('operator', risk, 'guardrail:freeze', `change freeze ${freeze}: even a low-risk fix needs approval`)
  const limit = await deps.takeRateLimit(actionId, input.incident.resource.id, input.incident.id)
  if (!limit.allowed) {
    return approval(
      'admin',
      'high',
      'guardrail:rate-limit',
      `rate limit: ${limit.count} ${actionId} on ${input.incident.resource.name} in the last ${limit.windowSeconds} s (max ${limit.max}); escalated instead of acting again`,
    )
  }
  return {
    ...base,
    route: 'auto',
    risk,
    actionId,
    rule: 'risk:low',
    reasons: [...reasons, `low risk: fix automatically (${limit.count}/${limit.max} in window)`],
  }
}
