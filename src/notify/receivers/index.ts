/**
 * The receivers a routing file names, Alertmanager style: each entry has a `name` and exactly one
 * type key with that type's settings.
 *
 *   receivers:
 *     - name: oncall-pager
 *       pagerduty: { routing_key: { env: PAGERDUTY_ROUTING_KEY } }
 *     - name: ops-mail
 *       email: { host: smtp.example.com, port: 587, from: sentinel@example.com, to: [ops@example.com] }
 */
import { z } from 'zod'
import type { SecretReader, SecretRef } from '../secret'
import { RECEIVER_TYPES, type Receiver, type ReceiverDeps, type ReceiverType } from '../types'
import { createEmailReceiver, emailConfig } from './email'
import { createOpsgenieReceiver, opsgenieConfig } from './opsgenie'
import { createPagerdutyReceiver, pagerdutyConfig } from './pagerduty'
import { createSlackReceiver, slackConfig } from './slack'
import { createWebhookReceiver, webhookConfig } from './webhook'

/** A receiver's name: it appears in metrics labels and Redis keys. */
export const RECEIVER_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/

export const receiverSchema = z
  .object({
    name: z.string().regex(RECEIVER_NAME, 'letters, digits, "_", "." and "-", starting with a letter or digit'),
    slack: slackConfig.optional(),
    pagerduty: pagerdutyConfig.optional(),
    opsgenie: opsgenieConfig.optional(),
    email: emailConfig.optional(),
    webhook: webhookConfig.optional(),
  })
  .strict()
  .superRefine((r, ctx) => {
    const given = RECEIVER_TYPES.filter((t) => r[t] !== undefined)
    if (given.length !== 1)
      ctx.addIssue({
        code: 'custom',
        message: `a receiver has exactly one of ${RECEIVER_TYPES.join(', ')}${given.length ? ` (found ${given.join(' and ')})` : ''}`,
        path: given.length > 1 ? [given[1]] : [],
      })
  })
export type ReceiverConfig = z.infer<typeof receiverSchema>

/** The type a validated receiver entry configures. */
export const receiverType = (cfg: ReceiverConfig): ReceiverType => {
  const t = RECEIVER_TYPES.find((k) => cfg[k] !== undefined)
  if (!t) throw new Error(`receiver "${cfg.name}" has no type`)
  return t
}

/** The secrets a receiver reads, by field name: `[['routing_key', { env: 'PD_KEY' }]]`. */
export function secretRefsOf(cfg: ReceiverConfig): [string, SecretRef][] {
  if (cfg.slack) return [['token', cfg.slack.token ?? { env: 'SLACK_BOT_TOKEN' }]]
  if (cfg.pagerduty) return [['routing_key', cfg.pagerduty.routing_key]]
  if (cfg.opsgenie) return [['api_key', cfg.opsgenie.api_key]]
  if (cfg.email) return cfg.email.password ? [['password', cfg.email.password]] : []
  if (cfg.webhook) return [['secret', cfg.webhook.secret]]
  return []
}

/** Builds a receiver; reads its secrets now, so a missing one fails the start. */
export function createReceiver(cfg: ReceiverConfig, deps: ReceiverDeps & { secret: SecretReader }): Receiver {
  if (cfg.slack) return createSlackReceiver(cfg.name, cfg.slack, deps)
  if (cfg.pagerduty) return createPagerdutyReceiver(cfg.name, cfg.pagerduty, deps)
  if (cfg.opsgenie) return createOpsgenieReceiver(cfg.name, cfg.opsgenie, deps)
  if (cfg.email) return createEmailReceiver(cfg.name, cfg.email, deps)
  if (cfg.webhook) return createWebhookReceiver(cfg.name, cfg.webhook, deps)
  throw new Error(`receiver "${cfg.name}" has no type (${RECEIVER_TYPES.join(', ')})`)
}
