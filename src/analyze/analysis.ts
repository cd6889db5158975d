/** Glue between the analysis modules and the flow: settings from the validated configuration. */
import type { SentinelConfig } from '../platform/config/index'
import type { AnalyzeDeps } from './index'

export function analysisSettings(
  cfg: SentinelConfig,
): Pick<AnalyzeDeps, 'llm' | 'hourlyTokenBudget'> & { sandboxDir: string } {
  return {
    llm: {
      apiKey: cfg.OPENROUTER_API_KEY,
      baseURL: cfg.OPENROUTER_BASE_URL,
      model: cfg.OPENROUTER_MODEL,
      stream: cfg.LLM_STREAM,
      deadlineMs: cfg.LLM_DEADLINE_SECONDS * 1000,
      maxAttempts: cfg.LLM_MAX_ATTEMPTS,
      maxTokens: cfg.LLM_MAX_TOKENS,
      pricing: { inputPerMillion: cfg.LLM_PRICE_INPUT_PER_MTOK, outputPerMillion: cfg.LLM_PRICE_OUTPUT_PER_MTOK },
      headers: { 'X-Title': 'Sentinel' },
    },
    hourlyTokenBudget: cfg.LLM_HOURLY_TOKEN_BUDGET,
    sandboxDir: cfg.SANDBOX_DIR,
  }
}
