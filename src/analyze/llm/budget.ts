/**
 * The hourly token budget, kept in Redis so every process shares it: one counter per UTC hour,
 * expiring after two. Past the budget the LLM is not called.
 */
import type { Redis } from 'ioredis'

export interface TokenBudgetOptions {
  tokensPerHour: number
  keyPrefix?: string
  now?: () => number
}

export interface Usage {
  promptTokens: number
  completionTokens: number
  totalTokens: number
}

export interface Pricing {
  /** USD per million prompt (input) tokens. */
  inputPerMillion: number
  /** USD per million completion (output) tokens. */
  outputPerMillion: number
}

export function costUsd(usage: Pick<Usage, 'promptTokens' | 'completionTokens'>, pricing: Pricing): number {
  const cost =
    (usage.promptTokens * pricing.inputPerMillion + usage.completionTokens * pricing.outputPerMillion) / 1_000_000
  return Math.round(cost * 1e8) / 1e8
}

export class TokenBudget {
  private readonly prefix: string
  private readonly now: () => number

  constructor(
    private readonly redis: Pick<Redis, 'get' | 'multi'>,
    private readonly opts: TokenBudgetOptions,
  ) {
    this.prefix = opts.keyPrefix ?? 'sentinel:llm:budget'
    this.now = opts.now ?? Date.now
  }

  /** `<prefix>:<YYYY-MM-DDTHH>` for the current UTC hour. */
  key(kind: 'tokens' | 'usd' = 'tokens'): string {
    return `${this.prefix}:${kind}:${new Date(this.now()).toISOString().slice(0, 13)}`
  }

  async used(): Promise<number> {
    return Number((await this.redis.get(this.key())) ?? 0)
  }

  async remaining(): Promise<number> {
    return Math.max(0, this.opts.tokensPerHour - (await this.used()))
  }

  async exhausted(): Promise<boolean> {
    return (await this.remaining()) <= 0
  }

  /** Adds a call's tokens (and cost) to this hour; returns the hour's total tokens. */
  async record(tokens: number, usd = 0): Promise<number> {
    const tx = this.redis
      .multi()
      .incrby(this.key(), Math.max(0, Math.round(tokens)))
      .expire(this.key(), 7200)
    if (usd > 0) tx.incrbyfloat(this.key('usd'), usd).expire(this.key('usd'), 7200)
    const res = await tx.exec()
    const [err, total] = res?.[0] ?? [new Error('redis transaction aborted'), 0]
    if (err) throw err
    return Number(total)
  }
}
