/** The interface every remediation action implements. Each action lives in its own folder. */
import type { z } from 'zod'
import type { RiskLevel } from '../store/model'

export interface ActionContext {
  incidentId: string
  /** Who runs it: `sentinel:fast-path`, `step:ExecuteRemediation`, `user:alice`. */
  actor: string
  /** When the problem was observed; an action already done after this time is not done again. */
  since?: string
}

export interface VerifyResult {
  ok: boolean
  detail: string
  data?: Record<string, unknown>
}

export interface ActionDefinition<P extends Record<string, unknown> = Record<string, unknown>> {
  id: string
  risk: RiskLevel
  description: string
  params: z.ZodType<P>
  /** What the action will change and the readings it should improve, taken before it runs. */
  snapshot(params: P, ctx: ActionContext): Promise<Record<string, unknown>>
  execute(params: P, ctx: ActionContext): Promise<Record<string, unknown>>
  verify(params: P, ctx: ActionContext): Promise<VerifyResult>
  /** Undoes execute where that is possible; absent when the action cannot be undone. */
  rollback?(params: P, ctx: ActionContext, executed: Record<string, unknown>): Promise<Record<string, unknown>>
}
