/**
 * Root-cause analysis of one incident: the LLM when a key is set and the hourly budget allows,
 * the deterministic rules otherwise or when the LLM fails. The rule analyser always runs first:
 * the facts it gathers (exit code, OOM flag, top processes, log tail) go into the LLM prompt, and
 * its answer is ready should the LLM fail.
 */
import type { Redis } from 'ioredis'
// Static imports: Motia compiles a step's project imports only when they are static.
import { analyseWithLlm, type LlmOptions } from './llm/analyser'
import { TokenBudget } from './llm/budget'
import type { CatalogEntry } from './llm/catalog'
import type { ProposedFix } from './llm/schema'
import type { Alert, Incident, RiskLevel } from '../platform/store/model'
import { analyseWithRules, type RuleOptions } from './rules/index'

export interface AnalyzeDeps {
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
  analyzedAt: string
}

export const DEFAULT_HOURLY_TOKEN_BUDGET = 200_000
/** The fallback reason when the alert names a container without the watch label. */
export const UNWATCHED_FALLBACK = 'the alert names a container Sentinel does not watch'

export async function analyzeIncident(incident: Incident | Alert, deps: AnalyzeDeps): Promise<AnalysisResult> {
  const rules = await analyseWithRules(incident, deps.rules)
  const fromRules = (fallbackReason: string, extra: Partial<AnalysisResult> = {}): AnalysisResult => ({
    analyser: 'rules',
    fallbackReason,
    root_cause: rules.root_cause,
    evidence: rules.evidence,
    proposed_fix: rules.proposed_fix,
    risk_level: rules.risk_level,
    confidence: rules.confidence,
    attempts: [],
    facts: rules.facts,
    analyzedAt: new Date().toISOString(),
    ...extra,
  })

  // Nothing is asked about a container Sentinel does not watch: the LLM could only propose to act
  // on it, and nothing about it may be read.
  if (rules.unwatchedContainer) return fromRules(`${UNWATCHED_FALLBACK} (${rules.unwatchedContainer})`)

  const apiKey = deps.llm?.apiKey
  if (!apiKey) return fromRules('no OPENROUTER_API_KEY')

  const limit = deps.hourlyTokenBudget ?? DEFAULT_HOURLY_TOKEN_BUDGET
  const budget = deps.redis
    ? new TokenBudget(deps.redis, { tokensPerHour: limit, keyPrefix: deps.budgetKeyPrefix })
    : undefined
  if (limit <= 0) return fromRules('LLM token budget is 0')

  let history: Array<[number, number]> = []
  try {
    history = typeof deps.history === 'function' ? await deps.history() : (deps.history ?? [])
  } catch {
    // The analysis goes on without the history; the prompt says none was available.
  }

  const outcome = await analyseWithLlm(
    { incident, history, logs: deps.logs ?? rules.logs, facts: rules.facts, catalog: deps.catalog },
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
    ...outcome.analysis,
    ...(outcome.reasoning ? { reasoning: outcome.reasoning } : {}),
    ...usage,
    facts: rules.facts,
    analyzedAt: new Date().toISOString(),
  }
}
