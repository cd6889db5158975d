/**
 * Root-cause analysis of one incident: the LLM when a key is set and the hourly budget allows,
 * the deterministic rules otherwise or when the LLM fails. The rule analyser always runs first:
 * the evidence record it gathers (exit code, OOM flag, logs, history, processes, sandbox, probes,
 * other incidents) goes into the LLM prompt and is kept with the analysis, and its answer is ready
 * should the LLM fail. Every answer names a cause label (./causes).
 */
import type { Redis } from 'ioredis'
// Static imports: Motia compiles a step's project imports only when they are static.
import { analyseWithLlm, type LlmOptions } from './llm/analyser'
import { TokenBudget } from './llm/budget'
import type { CatalogEntry } from './llm/catalog'
import type { ProposedFix } from './llm/schema'
import type { Alert, Incident, RiskLevel } from '../platform/store/model'
import { isCause, type Cause } from './causes'
import type { Evidence } from './evidence/types'
import { applyGuidance, gatherGuidance, type GuidanceDeps } from './guidance'
import type { PastIncident } from './memory'
import { analyseWithRules, type RuleAnalysis, type RuleOptions } from './rules/index'
import type { RunbookCitation } from './runbooks/index'

export { CAUSES, CAUSE_IDS, isCause, type Cause } from './causes'
export type { Evidence } from './evidence/types'
export type { FaultVerdict } from './rules/faults/types'
export { FAULT_RULES, RULE_CAUSES } from './rules/faults/index'

export interface AnalyzeDeps extends GuidanceDeps {
  catalog: CatalogEntry[]
  /** LLM settings; without apiKey the rules answer. */
  llm?: Omit<LlmOptions, 'apiKey' | 'budget'> & { apiKey?: string }
  /** For the hourly token budget; without it the budget is not enforced. */
  redis?: Pick<Redis, 'get' | 'multi'>
  /** Tokens per UTC hour across all processes. Default 200 000; 0 stops LLM calls. */
  hourlyTokenBudget?: number
  budgetKeyPrefix?: string
  /** The metric's recent history, [ms, value], or a function fetching it. */
  history?: Array<[number, number]> | (() => Promise<Array<[number, number]>>)
  /** Log text to use instead of the container logs the rule analyser reads. */
  logs?: string
  rules?: RuleOptions
}

export interface AnalysisAttempt {
  ok: boolean
  error?: string
  ms: number
}

export interface AnalysisResult {
  analyser: 'llm' | 'rules'
  fallbackReason?: string
  /** The cause label (./causes): the rules', or the LLM's (see llmCause). */
  cause: Cause
  root_cause: string
  evidence: string[]
  proposed_fix: ProposedFix | null
  risk_level: RiskLevel
  confidence: number
  reasoning?: string
  tokens?: { prompt: number; completion: number; total: number }
  costUsd?: number
  model?: string
  attempts: AnalysisAttempt[]
  /** What the rule analyser gathered (kept with the incident as its evidence record). */
  facts?: Record<string, unknown>
  /** The bounded evidence record the rule analyser gathered (./evidence), shown under "evidence" and given to the LLM. */
  evidenceRecord: Evidence
  /** The team's runbook that matched (./runbooks): cited in the evidence, its action preferred. */
  runbook?: RunbookCitation
  /** The resource's most similar past incidents (./memory), as the analysis was told them. */
  similar?: PastIncident[]
  analyzedAt: string
}

/**
 * The LLM's cause when it gave a known one; else the rules' cause when the LLM proposed the same
 * action (or, like them, none), since it then agrees with their reading; else unknown.
 */
export function llmCause(
  answer: { cause?: unknown; proposed_fix: ProposedFix | null },
  rules: Pick<RuleAnalysis, 'cause' | 'proposed_fix'>,
): Cause {
  if (isCause(answer.cause)) return answer.cause
  return (answer.proposed_fix?.action ?? null) === (rules.proposed_fix?.action ?? null) ? rules.cause : 'unknown'
}

export const DEFAULT_HOURLY_TOKEN_BUDGET = 200_000
/** The fallback reason when the alert names a container without the watch label. */
export const UNWATCHED_FALLBACK = 'the alert names a container Sentinel does not watch'

export async function analyzeIncident(incident: Incident | Alert, deps: AnalyzeDeps): Promise<AnalysisResult> {
  // The metric's history is read once, for the evidence record and the prompt both.
  let pending: Promise<Array<[number, number]>> | undefined
  const history = () =>
    (pending ??= typeof deps.history === 'function' ? deps.history() : Promise.resolve(deps.history ?? []))
  const rules = await analyseWithRules(incident, {
    ...deps.rules,
    ...(deps.history && !deps.rules?.history ? { history } : {}),
  })
  // Nothing is asked about a container Sentinel does not watch: the LLM could only propose to act
  // on it, and nothing about it may be read (nor recalled, nor matched with a runbook).
  const guidance = rules.unwatchedContainer
    ? { similar: [], problems: [] }
    : await gatherGuidance(incident, rules.cause, deps)
  const guided = {
    ...(guidance.runbook ? { runbook: guidance.runbook } : {}),
    ...(guidance.similar.length ? { similar: guidance.similar } : {}),
  }
  const fromRules = (fallbackReason: string, extra: Partial<AnalysisResult> = {}): AnalysisResult => ({
    analyser: 'rules',
    fallbackReason,
    cause: rules.cause,
    ...applyGuidance(
      {
        root_cause: rules.root_cause,
        evidence: rules.evidence,
        proposed_fix: rules.proposed_fix,
        risk_level: rules.risk_level,
      },
      guidance,
      rules.evidenceRecord,
    ),
    confidence: rules.confidence,
    attempts: [],
    facts: rules.facts,
    evidenceRecord: rules.evidenceRecord,
    ...guided,
    analyzedAt: new Date().toISOString(),
    ...extra,
  })

  if (rules.unwatchedContainer) return fromRules(`${UNWATCHED_FALLBACK} (${rules.unwatchedContainer})`)

  const apiKey = deps.llm?.apiKey
  if (!apiKey) return fromRules('no OPENROUTER_API_KEY')

  const limit = deps.hourlyTokenBudget ?? DEFAULT_HOURLY_TOKEN_BUDGET
  const budget = deps.redis
    ? new TokenBudget(deps.redis, { tokensPerHour: limit, keyPrefix: deps.budgetKeyPrefix })
    : undefined
  if (limit <= 0) return fromRules('LLM token budget is 0')

  let points: Array<[number, number]> = []
  try {
    points = await history()
  } catch {
    // The analysis goes on without the history; the prompt says none was available.
  }

  const outcome = await analyseWithLlm(
    {
      incident,
      history: points,
      logs: deps.logs ?? rules.logs,
      facts: rules.facts,
      evidence: rules.evidenceRecord,
      ...guided,
      catalog: deps.catalog,
    },
    { ...deps.llm, apiKey, budget },
  )
  const usage = {
    tokens: {
      prompt: outcome.tokens.promptTokens,
      completion: outcome.tokens.completionTokens,
      total: outcome.tokens.totalTokens,
    },
    costUsd: outcome.costUsd,
    model: outcome.model,
    attempts: outcome.attempts.map(({ ok, error, ms }) => ({ ok, ms, ...(error ? { error } : {}) })),
  }
  if (!outcome.ok) {
    const reason = outcome.budgetExhausted
      ? `${outcome.error} (limit ${limit} tokens per hour)`
      : `LLM failed after ${outcome.attempts.length} attempt(s): ${outcome.error}`
    return fromRules(reason, usage)
  }
  return {
    analyser: 'llm',
    ...applyGuidance(outcome.analysis, guidance, rules.evidenceRecord),
    cause: llmCause(outcome.analysis, rules),
    ...(outcome.reasoning ? { reasoning: outcome.reasoning } : {}),
    ...usage,
    facts: rules.facts,
    evidenceRecord: rules.evidenceRecord,
    ...guided,
    analyzedAt: new Date().toISOString(),
  }
}
