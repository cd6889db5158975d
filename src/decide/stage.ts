/**
 * The DecideRemediation step's work, kept here so the step file is a thin wrapper and the logic is
 * testable without Motia, and the one place a decision is saved: the flow and the container fast
 * path (src/act/container-events.ts) both record theirs through saveDecision, which applies the
 * lifecycle's recordDecision (statuses per route, the escalation entry) and audits it.
 */
import { getConfig } from '../platform/config/index'
import type { AuditLog } from '../platform/store/audit'
import type { IncidentStore } from '../platform/store/incidents'
import { isTerminal, recordDecision } from '../platform/store/lifecycle'
import type { Decision, Incident } from '../platform/store/model'
import { stores } from '../platform/store/stores'
import { policyDeps } from './deps'
import { decide } from './index'
import { targetMismatch } from './target'

/**
 * Records the decision on the incident and in the audit log, once: when the incident has one
 * already (a replay, or a decision made elsewhere in between), it is returned as stored and
 * nothing is audited again.
 */
export async function saveDecision(
  deps: { store: IncidentStore; audit: AuditLog },
  incidentId: string,
  decision: Decision,
  actor: string,
): Promise<Incident> {
  let recorded = false
  const incident = await deps.store.update(incidentId, (i) => (recorded = recordDecision(i, decision, actor)))
  if (recorded)
    await deps.audit.append({
      kind: 'policy.decided',
      actor,
      incidentId,
      resource: incident.resource.name,
      outcome: decision.route,
      data: { ...decision },
    })
  return incident
}

/**
 * Runs the policy on the analysed incident and records the decision. `decision` is null when the
 * incident ended before it was decided (its alert cleared, a person closed it): nothing to decide.
 */
export async function decideStage(
  incidentId: string,
  actor: string,
): Promise<{ incident: Incident; decision: Decision | null }> {
  const { store, audit } = stores()
  const cfg = getConfig()
  const incident = await store.get(incidentId)
  if (!incident) throw new Error(`incident ${incidentId} not found`)
  if (incident.decision) return { incident, decision: incident.decision }
  if (isTerminal(incident)) return { incident, decision: null }
  const analysis = (incident.analysis ?? {}) as {
    proposed_fix?: { action: string; params: Record<string, unknown> } | null
    risk_level?: 'low' | 'medium' | 'high'
    confidence?: number
  }
  const proposal = analysis.proposed_fix
    ? { actionId: analysis.proposed_fix.action, params: analysis.proposed_fix.params ?? {} }
    : null
  // A fix aimed at another container than the incident's (an LLM misled by the logs it read) would
  // be refused by the executor; a person looks instead.
  const mismatch = proposal && targetMismatch(incident, proposal.actionId, proposal.params)
  const decision: Decision = mismatch
    ? {
        route: 'escalate',
        risk: 'high',
        actionId: proposal.actionId,
        params: proposal.params,
        approverRole: 'admin',
        rule: 'target-not-incident-resource',
        reasons: [mismatch],
        decidedAt: new Date().toISOString(),
      }
    : await decide(
        { incident, proposal, analysisRisk: analysis.risk_level, confidence: analysis.confidence },
        policyDeps(cfg),
      )
  const updated = await saveDecision({ store, audit }, incidentId, decision, actor)
  return { incident: updated, decision: updated.decision ?? decision }
}
