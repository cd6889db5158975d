/**
 * Where an action's snapshot / execute / verify / rollback runs: here, when its target is on this
 * host's engine, or on the target's node through its agent (src/platform/fleet/channel.ts), which
 * runs the same action module against its own engine. The controller never reaches another host's
 * Docker socket; the agent checks the watch label itself (each container action asserts it), and
 * takes no order that names another node.
 */
import type { ActionContext, ActionDefinition, VerifyResult } from './types'
import { getConfig } from '../platform/config/index'
import { requestOnNode } from '../platform/fleet/channel'
import { getRedis } from '../platform/store/redis'

export type ActionOp = 'snapshot' | 'execute' | 'verify' | 'rollback'

/** True when `node` is this host's (or not named: incidents from before the fleet). */
export function isLocalNode(node: string | undefined): boolean {
  return !node || node === getConfig().NODE_NAME
}

/** The node an incident's alert names (`labels.node`), if any. */
export function nodeOfAlert(alert: { labels?: Record<string, string> }): string | undefined {
  return alert.labels?.node || undefined
}

/** How long a node has to take a request (its agent down or cut off: the action fails, and escalates). */
export function nodeRequestTimeoutMs(): number {
  return getConfig().NODE_ACTION_TIMEOUT_SECONDS * 1000
}

/** Runs one of `action`'s operations where its target lives (ctx.node). */
export async function runActionOp(
  op: ActionOp,
  action: ActionDefinition,
  params: Record<string, unknown>,
  ctx: ActionContext,
  executed?: Record<string, unknown>,
): Promise<Record<string, unknown>> {
  if (isLocalNode(ctx.node)) {
    switch (op) {
      case 'snapshot':
        return action.snapshot(params, ctx)
      case 'execute':
        return action.execute(params, ctx)
      case 'verify':
        return (await action.verify(params, ctx)) as unknown as Record<string, unknown>
      case 'rollback':
        if (!action.rollback) throw new Error(`${action.id} cannot be rolled back`)
        return action.rollback(params, ctx, executed ?? {})
    }
  }
  const cfg = getConfig()
  const value = await requestOnNode(
    getRedis(),
    {
      node: ctx.node!,
      op: 'action',
      from: `${cfg.NODE_NAME}:${ctx.actor}`,
      body: { actionId: action.id, op, params, ctx, ...(executed ? { executed } : {}) },
    },
    // Taken in time, the action may run as long as Docker's own timeout and the reads around it.
    { timeoutMs: nodeRequestTimeoutMs(), runTimeoutMs: (cfg.RESTART_TIMEOUT_SECONDS + 30) * 1000 },
  )
  return (value ?? {}) as Record<string, unknown>
}

/** The verification of an action where its target lives. */
export async function verifyOnNode(
  action: ActionDefinition,
  params: Record<string, unknown>,
  ctx: ActionContext,
): Promise<VerifyResult> {
  return (await runActionOp('verify', action, params, ctx)) as unknown as VerifyResult
}
