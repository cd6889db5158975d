/**
 * The LLM analyser: DeepSeek R1 through OpenRouter's OpenAI-compatible chat-completions API,
 * with the official `openai` SDK (imported lazily: most step runs never need it).
 *
 * Retries are ours, not the SDK's (maxRetries 0): at most `maxAttempts` calls with exponential
 * backoff and jitter on timeouts, 429 (Retry-After honoured) and 5xx, and on replies that do not
 * parse. One deadline covers the whole analysis, attempts and waits included.
 */
import { AnalysisParseError, parseReply } from './parse'
import { buildMessages, type LlmInput, type PromptLimits } from './prompt'
import { costUsd, type Pricing, type TokenBudget, type Usage } from './budget'
import type { Analysis } from './schema'
import { withChildSpan } from '../../platform/telemetry/tracing'

export const DEFAULT_BASE_URL = 'https://openrouter.ai/api/v1'
export const DEFAULT_MODEL = 'deepseek/deepseek-r1'
/** DeepSeek R1 list prices in USD per million tokens; override with the pricing option. */
export const DEFAULT_PRICING: Pricing = { inputPerMillion: 0.55, outputPerMillion: 2.19 }

export interface LlmOptions {
  apiKey: string
  baseURL?: string
  model?: string
  /** Ask for a streamed (SSE) reply. Default false. */
  stream?: boolean
  /** The whole analysis, retries included, ends by then. Default 30 000 ms. */
  deadlineMs?: number
  /** Default 3. */
  maxAttempts?: number
  /** One call's limit; by default the time left before the deadline. */
  attemptTimeoutMs?: number
  /** First backoff delay; doubled each retry, plus up to as much again of jitter. Default 500 ms. */
  backoffBaseMs?: number
  backoffMaxMs?: number
  maxTokens?: number
  temperature?: number
  pricing?: Pricing
  budget?: TokenBudget
  limits?: PromptLimits
  /** Cancels the analysis from outside. */
  signal?: AbortSignal
  /** Extra request headers (OpenRouter reads HTTP-Referer and X-Title for attribution). */
  headers?: Record<string, string>
  /** For tests: the jitter source. */
  random?: () => number
}

export interface LlmAttempt {
  ok: boolean
  error?: string
  ms: number
  status?: number
}

interface Common {
  attempts: LlmAttempt[]
  tokens: Usage
  costUsd: number
  model: string
}

export type LlmOutcome =
  | (Common & { ok: true; analysis: Analysis; reasoning?: string })
  | (Common & { ok: false; error: string; budgetExhausted?: boolean })

type OpenAIModule = typeof import('openai')

class AttemptTimeout extends Error {}
class DeadlineReached extends Error {}

const emptyUsage = (): Usage => ({ promptTokens: 0, completionTokens: 0, totalTokens: 0 })

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason)
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    const onAbort = () => {
      clearTimeout(timer)
      reject(signal.reason)
    }
    signal.addEventListener('abort', onAbort, { once: true })
  })
}

/** Seconds (or an HTTP date) from Retry-After, or milliseconds from retry-after-ms. */
export function retryAfterMs(
  headers: { get(name: string): string | null } | undefined | null,
  now = Date.now(),
): number | undefined {
  if (!headers || typeof headers.get !== 'function') return undefined
  const ms = Number.parseFloat(headers.get('retry-after-ms') ?? '')
  if (Number.isFinite(ms) && ms >= 0) return ms
  const raw = headers.get('retry-after')
  if (!raw) return undefined
  const secs = Number.parseFloat(raw)
  if (Number.isFinite(secs) && secs >= 0) return secs * 1000
  const date = Date.parse(raw)
  return Number.isFinite(date) ? Math.max(0, date - now) : undefined
}

interface Reply {
  content: string
  reasoning?: string
  usage?: { prompt_tokens?: number; completion_tokens?: number; total_tokens?: number } | null
}

function messageReasoning(m: unknown): string | undefined {
  const o = m as { reasoning?: unknown; reasoning_content?: unknown } | undefined
  const r = o?.reasoning ?? o?.reasoning_content
  return typeof r === 'string' && r ? r : undefined
}

async function callOnce(
  mod: OpenAIModule,
  opts: LlmOptions,
  messages: ReturnType<typeof buildMessages>,
  signal: AbortSignal,
  timeoutMs: number,
): Promise<Reply> {
  const client = new mod.OpenAI({
    apiKey: opts.apiKey,
    baseURL: opts.baseURL ?? DEFAULT_BASE_URL,
    maxRetries: 0,
    timeout: Math.max(1, timeoutMs),
    defaultHeaders: opts.headers,
  })
  const body = {
    model: opts.model ?? DEFAULT_MODEL,
    messages,
    max_tokens: opts.maxTokens ?? 8192,
    ...(opts.temperature !== undefined ? { temperature: opts.temperature } : {}),
  }
  if (!opts.stream) {
    const completion = await client.chat.completions.create({ ...body, stream: false }, { signal })
    const message = completion.choices?.[0]?.message
    return { content: message?.content ?? '', reasoning: messageReasoning(message), usage: completion.usage }
  }
  const stream = await client.chat.completions.create(
    { ...body, stream: true, stream_options: { include_usage: true } },
    { signal },
  )
  let content = ''
  let reasoning = ''
  let usage: Reply['usage']
  for await (const chunk of stream) {
    const delta = chunk.choices?.[0]?.delta
    if (delta?.content) content += delta.content
    const r = messageReasoning(delta)
    if (r) reasoning += r
    if (chunk.usage) usage = chunk.usage
  }
  return { content, reasoning: reasoning || undefined, usage }
}

/** Analyses one incident with the LLM. Never throws for call or parse failures: see `ok`. */
export async function analyseWithLlm(input: LlmInput, opts: LlmOptions): Promise<LlmOutcome> {
  const model = opts.model ?? DEFAULT_MODEL
  const deadlineMs = opts.deadlineMs ?? 30_000
  const maxAttempts = Math.max(1, opts.maxAttempts ?? 3)
  const base = opts.backoffBaseMs ?? 500
  const backoffMax = opts.backoffMaxMs ?? 8000
  const random = opts.random ?? Math.random
  const pricing = opts.pricing ?? DEFAULT_PRICING
  const started = Date.now()
  const attempts: LlmAttempt[] = []
  const tokens = emptyUsage()
  let spent = 0
  const done = (
    rest:
      { ok: true; analysis: Analysis; reasoning?: string } | { ok: false; error: string; budgetExhausted?: boolean },
  ): LlmOutcome => ({ ...rest, attempts, tokens, costUsd: Math.round(spent * 1e8) / 1e8, model }) as LlmOutcome

  const checkBudget = async (): Promise<string | undefined> => {
    if (!opts.budget) return undefined
    try {
      const remaining = await opts.budget.remaining()
      return remaining <= 0 ? 'hourly LLM token budget spent' : undefined
    } catch (err) {
      // Without the counter the budget cannot be enforced; spending blind is what it exists to stop.
      return `LLM token budget unavailable: ${(err as Error).message}`
    }
  }
  const budgetProblem = await checkBudget()
  if (budgetProblem) return done({ ok: false, error: budgetProblem, budgetExhausted: true })

  const deadline = new AbortController()
  const deadlineTimer = setTimeout(
    () => deadline.abort(new DeadlineReached(`deadline of ${deadlineMs} ms reached`)),
    deadlineMs,
  )
  const outer = opts.signal ? AbortSignal.any([deadline.signal, opts.signal]) : deadline.signal

  let mod: OpenAIModule
  try {
    mod = await import('openai')
  } catch (err) {
    clearTimeout(deadlineTimer)
    return done({ ok: false, error: `openai SDK unavailable: ${(err as Error).message}` })
  }

  const messages = buildMessages(input, opts.limits)
  let lastError = 'no attempt made'
  try {
    for (let n = 1; n <= maxAttempts; n++) {
      const t0 = Date.now()
      const left = deadlineMs - (t0 - started)
      if (left <= 0 || outer.aborted) {
        lastError = `deadline of ${deadlineMs} ms reached`
        break
      }
      const attemptMs = Math.min(left, opts.attemptTimeoutMs ?? left)
      const attemptCtl = new AbortController()
      // An attempt allowed all the time left ends with the deadline, and is reported as such.
      const attemptTimer =
        attemptMs < left
          ? setTimeout(() => attemptCtl.abort(new AttemptTimeout(`attempt timed out after ${attemptMs} ms`)), attemptMs)
          : undefined
      const signal = AbortSignal.any([outer, attemptCtl.signal])
      let retryDelay: number | undefined
      let retryable = true
      const spanAttrs = {
        'gen_ai.system': 'openrouter',
        'gen_ai.request.model': model,
        'llm.attempt': n,
        'llm.stream': Boolean(opts.stream),
      }
      const parsed = await withChildSpan('llm.chat', spanAttrs, async (span) => {
        try {
          const reply = await callOnce(mod, opts, messages, signal, attemptMs + 1000)
          if (reply.usage) {
            const used = {
              promptTokens: reply.usage.prompt_tokens ?? 0,
              completionTokens: reply.usage.completion_tokens ?? 0,
            }
            const total = reply.usage.total_tokens ?? used.promptTokens + used.completionTokens
            tokens.promptTokens += used.promptTokens
            tokens.completionTokens += used.completionTokens
            tokens.totalTokens += total
            const cost = costUsd(used, pricing)
            spent += cost
            span.setAttributes({
              'gen_ai.usage.input_tokens': used.promptTokens,
              'gen_ai.usage.output_tokens': used.completionTokens,
            })
            await opts.budget?.record(total, cost).catch(() => {})
          }
          const result = parseReply(reply.content, reply.reasoning, input.catalog)
          attempts.push({ ok: true, ms: Date.now() - t0 })
          span.setAttribute('outcome', 'ok')
          return result
        } catch (err) {
          const { message, status, retry, after } = classify(mod, err, signal, outer)
          lastError = message
          retryable = retry
          retryDelay = after
          attempts.push({ ok: false, error: message, ms: Date.now() - t0, ...(status ? { status } : {}) })
          span.setAttributes({
            outcome: err instanceof AnalysisParseError ? 'unusable_reply' : 'error',
            'http.response.status_code': status,
            'llm.retryable': retry,
          })
          span.recordError(new Error(message))
          return undefined
        } finally {
          clearTimeout(attemptTimer)
        }
      })
      if (parsed)
        return done({
          ok: true,
          analysis: parsed.analysis,
          ...(parsed.reasoning ? { reasoning: parsed.reasoning } : {}),
        })
      if (!retryable || n === maxAttempts) break
      const remaining = deadlineMs - (Date.now() - started)
      const backoff = Math.min(backoffMax, base * 2 ** (n - 1)) + random() * base
      const wait = retryDelay !== undefined ? retryDelay : backoff
      if (wait >= remaining) {
        lastError +=
          retryDelay !== undefined
            ? ` (Retry-After ${Math.round(retryDelay / 1000)} s is past the deadline)`
            : `; no time left for a retry before the deadline of ${deadlineMs} ms`
        break
      }
      await sleep(wait, outer)
      const problem = await checkBudget()
      if (problem) {
        lastError = `${lastError}; then: ${problem}`
        break
      }
    }
  } catch (err) {
    // Only the backoff sleep throws here: the deadline (or the caller) cut the wait short.
    lastError = `${lastError}; ${(err as Error)?.message ?? String(err)}`
  } finally {
    clearTimeout(deadlineTimer)
  }
  return done({ ok: false, error: lastError })
}

function classify(
  mod: OpenAIModule,
  err: unknown,
  attemptSignal: AbortSignal,
  outer: AbortSignal,
): { message: string; status?: number; retry: boolean; after?: number } {
  if (err instanceof AnalysisParseError) return { message: `unusable reply: ${err.message}`, retry: true }
  if (outer.aborted) {
    const reason = outer.reason as Error | undefined
    return {
      message: reason instanceof DeadlineReached ? reason.message : `cancelled: ${reason?.message ?? 'aborted'}`,
      retry: false,
    }
  }
  if (attemptSignal.aborted || err instanceof mod.APIConnectionTimeoutError) {
    const reason = attemptSignal.reason as Error | undefined
    return { message: reason instanceof AttemptTimeout ? reason.message : 'request timed out', retry: true }
  }
  if (err instanceof mod.APIError && typeof err.status === 'number') {
    const status = err.status
    const message = `HTTP ${status}: ${String(err.message).slice(0, 300)}`
    if (status === 429) return { message, status, retry: true, after: retryAfterMs(err.headers as Headers | undefined) }
    if (status >= 500 || status === 408) return { message, status, retry: true }
    return { message, status, retry: false }
  }
  if (err instanceof mod.APIConnectionError) return { message: `connection failed: ${err.message}`, retry: true }
  // Errors inside an SSE stream (an `error` event, a cut connection) arrive as plain errors.
  return { message: `request failed: ${(err as Error)?.message ?? String(err)}`, retry: true }
}
