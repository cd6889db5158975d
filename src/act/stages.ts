/**
 * The stages of the incident flow that run in step processes (analyze → decide → execute), kept
 * here so each step file is a thin wrapper and the logic is testable without Motia.
 */
import { getAction } from '../actions/catalog'
import { ACTIONS } from '../actions/catalog'
import { Approvals } from '../approve/approvals'
import { getConfig } from '../platform/config/index'
import { targetMismatch } from './authorize-execution'
import { remediate, type RemediateOutcome } from './remediate'
import { decide } from '../decide/index'
import { policyDeps, remediationSlots } from '../decide/deps'
import { AuditLog } from '../platform/store/audit'
import { ExecutionStore } from '../platform/store/executions'
import { IncidentStore, isTerminal } from '../platform/store/incidents'
import type { Decision, Incident } from '../platform/store/model'
import { getRedis } from '../platform/store/redis'
import { analyzeIncident, UNWATCHED_FALLBACK } from '../analyze/index'
import { catalogFromActions } from '../analyze/llm/catalog'
import { analysisSettings } from '../analyze/analysis'
import { metricHistory } from '../analyze/metric-history'
import { postApproval } from '../approve/slack/notify'
import { metricsRecorder } from '../platform/telemetry/metrics'

const FACTS_LIMIT = 4000

function stores() {
  const redis = getRedis()
  return { redis, store: new IncidentStore(redis), audit: new AuditLog(redis), executions: new ExecutionStore(redis) }
}

function fallbackMetricReason(reason: string | undefined): string {
  if (reason?.startsWith('no OPENROUTER')) return 'no_key'
  if (reason?.startsWith(UNWATCHED_FALLBACK)) return 'unwatched_container'
  return reason?.includes('budget') ? 'budget' : 'llm_failed'
}

/** Analyses the incident and stores the result. Returns whether the policy should decide next. */
export async function analyzeStage(incidentId: string, actor: string): Promise<{ incident: Incident; decideNext: boolean }> {
  const { redis, store, audit } = stores()
  const incident = await store.get(incidentId)
  if (!incident) throw new Error(`incident ${incidentId} not found`)
  if (incident.analysis) return { incident, decideNext: !incident.decision && !isTerminal(incident) }
  const settings = analysisSettings(getConfig())
  const result = await analyzeIncident(incident, {
    catalog: catalogFromActions(ACTIONS),
    llm: settings.llm,
    hourlyTokenBudget: settings.hourlyTokenBudget,
    redis,
    rules: { sandboxDir: settings.sandboxDir },
    history: () => metricHistory(incident.alert, getConfig(), redis),
  })
  const m = metricsRecorder(redis)
  for (const a of result.attempts ?? []) {
    await m.llmCall({ model: result.model ?? settings.llm?.model ?? 'unknown', outcome: a.ok ? 'ok' : 'error', seconds: a.ms / 1000, ...(a.ok && result.tokens ? { promptTokens: result.tokens.prompt, completionTokens: result.tokens.completion } : {}), ...(a.ok ? {} : { reason: (a.error ?? 'error').split(':')[0].slice(0, 40) }) })
  }
  if (result.analyser === 'rules') await m.analyserFallback({ reason: fallbackMetricReason(result.fallbackReason) })
  const facts = JSON.stringify(result.facts ?? {})
  const analysis = { ...result, facts: facts.length > FACTS_LIMIT ? { truncated: true, preview: facts.slice(0, FACTS_LIMIT) } : result.facts }
  const updated = await store.append(
    incidentId,
    {
      stage: 'analyzed',
      actor: result.analyser === 'llm' ? `${actor} (llm)` : `${actor} (rules)`,
      summary: `${result.analyser === 'llm' ? 'LLM' : 'rule analyser'}: ${result.root_cause}`,
      data: {
        analyser: result.analyser,
        ...(result.fallbackReason ? { fallbackReason: result.fallbackReason } : {}),
        risk: result.risk_level,
        confidence: result.confidence,
        proposedFix: result.proposed_fix,
        ...(result.tokens ? { tokens: result.tokens } : {}),
        ...(result.costUsd !== undefined ? { costUsd: result.costUsd } : {}),
      },
    },
    (i) => {
      i.analysis = analysis as unknown as Record<string, unknown>
    },
  )
  await audit.append({
    kind: 'incident.analyzed',
    actor,
    incidentId,
    resource: incident.resource.name,
    outcome: result.analyser,
    data: { fallbackReason: result.fallbackReason, proposedFix: result.proposed_fix, risk: result.risk_level, confidence: result.confidence, tokens: result.tokens, costUsd: result.costUsd },
  })
  return { incident: updated, decideNext: !updated.decision && !isTerminal(updated) }
}

/** Runs the policy on the analysed incident and records the decision. */
export async function decideStage(incidentId: string, actor: string): Promise<{ incident: Incident; decision: Decision }> {
  const { store, audit } = stores()
  const cfg = getConfig()
  const incident = await store.get(incidentId)
  if (!incident) throw new Error(`incident ${incidentId} not found`)
  if (incident.decision) return { incident, decision: incident.decision }
  const analysis = (incident.analysis ?? {}) as { proposed_fix?: { action: string; params: Record<string, unknown> } | null; risk_level?: 'low' | 'medium' | 'high'; confidence?: number }
  const proposal = analysis.proposed_fix ? { actionId: analysis.proposed_fix.action, params: analysis.proposed_fix.params ?? {} } : null
  // A fix aimed at another container than the incident's (an LLM misled by the logs it read) would
  // be refused by the executor; a person looks instead.
  const mismatch = proposal && targetMismatch(incident, proposal.actionId, proposal.params)
  const decision: Decision = mismatch
    ? { route: 'escalate', risk: 'high', actionId: proposal.actionId, params: proposal.params, approverRole: 'admin', rule: 'target-not-incident-resource', reasons: [mismatch], decidedAt: new Date().toISOString() }
    : await decide({ incident, proposal, analysisRisk: analysis.risk_level, confidence: analysis.confidence }, policyDeps(cfg))
  const updated = await store.append(
    incidentId,
    { stage: 'decided', actor, summary: `${decision.route} (${decision.risk} risk, ${decision.rule})`, data: { ...decision } },
    (i) => {
      i.decision = decision
      if (decision.route === 'escalate') i.status = 'escalated'
      if (decision.route === 'auto') i.status = 'remediating'
      if (decision.route === 'defer') i.status = 'verifying'
    },
  )
  if (decision.route === 'escalate') {
    await store.append(incidentId, { stage: 'escalated', actor, summary: `escalated to an admin: ${decision.reasons.at(-1) ?? decision.rule}`, data: { approverRole: 'admin' } })
  }
  await audit.append({ kind: 'policy.decided', actor, incidentId, resource: incident.resource.name, outcome: decision.route, data: { ...decision } })
  return { incident: updated, decision }
}

export async function requestApprovalStage(incidentId: string, actor: string): Promise<Incident> {
  const { redis, store, audit } = stores()
  const incident = await store.get(incidentId)
  if (!incident?.decision) throw new Error(`incident ${incidentId} has no decision to approve`)
  const updated = await new Approvals(store, redis).request(incidentId, incident.decision, getConfig().APPROVAL_TIMEOUT_SECONDS * 1000, actor)
  await audit.append({ kind: 'approval.requested', actor, incidentId, resource: incident.resource.name, data: { approverRole: updated.approval?.approverRole, actionId: incident.decision.actionId, expiresAt: updated.approval?.expiresAt } })
  await postApproval(updated, store, () => {})
  return (await store.get(incidentId)) ?? updated
}

export async function executeStage(incidentId: string, actor: string): Promise<RemediateOutcome> {
  const { store, audit, executions } = stores()
  const cfg = getConfig()
  const incident = await store.get(incidentId)
  const action = incident?.decision?.actionId ? getAction(incident.decision.actionId) : undefined
  return remediate(incidentId, { store, executions, audit, actor, leaseMs: (cfg.RESTART_TIMEOUT_SECONDS + 5) * 1000 + (action ? 30_000 : 0), slots: remediationSlots(cfg) })
}
