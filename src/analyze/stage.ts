/**
 * The AnalyzeIncident step's work, kept here so the step file is a thin wrapper and the logic is
 * testable without Motia: the incident is `analyzing` while its root cause is worked out (an
 * incident decided already, by the container fast path, only gets the analysis as enrichment),
 * then the analysis is recorded.
 */
import { ACTIONS } from '../actions/catalog'
import { getConfig } from '../platform/config/index'
import { isTerminal, recordAnalysis, startAnalysis } from '../platform/store/lifecycle'
import type { Incident } from '../platform/store/model'
import { stores } from '../platform/store/stores'
import { metricsRecorder } from '../platform/telemetry/metrics'
import { analysisSettings } from './analysis'
import { analyzeIncident, UNWATCHED_FALLBACK } from './index'
import { boundEvidence } from './evidence/bound'
import { evidenceProviders } from './evidence/providers'
import { catalogFromActions } from './llm/catalog'
import { recallSimilar } from './memory'
import { metricHistory } from './metric-history'
import { runbooksDirOf } from './runbooks/index'

const FACTS_LIMIT = 4000

function fallbackMetricReason(reason: string | undefined): string {
  if (reason?.startsWith('no OPENROUTER')) return 'no_key'
  if (reason?.startsWith(UNWATCHED_FALLBACK)) return 'unwatched_container'
  return reason?.includes('budget') ? 'budget' : 'llm_failed'
}

/** Analyses the incident and stores the result. Returns whether the policy should decide next. */
export async function analyzeStage(
  incidentId: string,
  actor: string,
): Promise<{ incident: Incident; decideNext: boolean }> {
  const { redis, store, audit } = stores()
  let incident = await store.get(incidentId)
  if (!incident) throw new Error(`incident ${incidentId} not found`)
  if (incident.analysis) return { incident, decideNext: !incident.decision && !isTerminal(incident) }
  // Shown as analysing until decided; a retry of this step finds it so already.
  if (incident.status === 'open' && !incident.decision)
    incident = await store.update(incidentId, (i) => startAnalysis(i))
  const analysed = incident
  const cfg = getConfig()
  const settings = analysisSettings(cfg)
  const nodeInstance = cfg.observe.NODE_INSTANCE
  const result = await analyzeIncident(analysed, {
    catalog: catalogFromActions(ACTIONS),
    llm: settings.llm,
    hourlyTokenBudget: settings.hourlyTokenBudget,
    redis,
    rules: {
      sandboxDir: settings.sandboxDir,
      ...(nodeInstance ? { nodeInstance } : {}),
      // A latency alert on one of these gets one fresh probe (the configured target, never the alert's URL).
      probeTargets: cfg.observe.PROBE_TARGETS,
      probeTimeoutMs: cfg.observe.PROBE_TIMEOUT_MS,
      ...evidenceProviders(redis, store, { nodeInstance }),
    },
    history: () => metricHistory(analysed.alert, cfg, redis),
    runbooksDir: runbooksDirOf(cfg),
    recall: (cause) => recallSimilar(store, analysed, { cause }),
  })
  const m = metricsRecorder(redis)
  for (const a of result.attempts ?? []) {
    await m.llmCall({
      model: result.model ?? settings.llm?.model ?? 'unknown',
      outcome: a.ok ? 'ok' : 'error',
      seconds: a.ms / 1000,
      ...(a.ok && result.tokens
        ? { promptTokens: result.tokens.prompt, completionTokens: result.tokens.completion }
        : {}),
      ...(a.ok ? {} : { reason: (a.error ?? 'error').split(':')[0].slice(0, 40) }),
    })
  }
  if (result.analyser === 'rules') await m.analyserFallback({ reason: fallbackMetricReason(result.fallbackReason) })
  const facts = JSON.stringify(result.facts ?? {})
  const analysis = {
    ...result,
    facts: facts.length > FACTS_LIMIT ? { truncated: true, preview: facts.slice(0, FACTS_LIMIT) } : result.facts,
    // Bounded when gathered; bounded again here, as what is stored must hold whatever produced it.
    evidenceRecord: boundEvidence(result.evidenceRecord),
  }
  const updated = await store.update(incidentId, (i) =>
    recordAnalysis(i, analysis as unknown as Record<string, unknown>, {
      actor: result.analyser === 'llm' ? `${actor} (llm)` : `${actor} (rules)`,
      summary: `${result.analyser === 'llm' ? 'LLM' : 'rule analyser'}: ${result.root_cause}`,
      data: {
        analyser: result.analyser,
        ...(result.fallbackReason ? { fallbackReason: result.fallbackReason } : {}),
        cause: result.cause,
        risk: result.risk_level,
        confidence: result.confidence,
        proposedFix: result.proposed_fix,
        ...(result.tokens ? { tokens: result.tokens } : {}),
        ...(result.costUsd !== undefined ? { costUsd: result.costUsd } : {}),
      },
    }),
  )
  await audit.append({
    kind: 'incident.analyzed',
    actor,
    incidentId,
    resource: analysed.resource.name,
    outcome: result.analyser,
    data: {
      fallbackReason: result.fallbackReason,
      cause: result.cause,
      proposedFix: result.proposed_fix,
      risk: result.risk_level,
      confidence: result.confidence,
      tokens: result.tokens,
      costUsd: result.costUsd,
    },
  })
  return { incident: updated, decideNext: !updated.decision && !isTerminal(updated) }
}
