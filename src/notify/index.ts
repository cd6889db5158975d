/**
 * On-call notifications: the routing file read and its receivers built at start (a bad file or a
 * missing secret stops the start), the notifier started in the main process, and the status that
 * GET /api/notifications and /healthz report.
 */
import type { Redis } from 'ioredis'
import type { SentinelConfig } from '../platform/config/index'
import { CONFIG_VARIABLES } from '../platform/config/index'
import type { Incident } from '../platform/store/model'
import type { MetricsRecorder } from '../platform/telemetry/metrics'
import type { LogFn } from '../platform/telemetry/log'
import { loadNotifyConfig, receiverList, type NotifyConfig } from './config'
import { startNotifier, type Notifier, type SilenceLookup } from './notifier'
import { DeliveryQueue, type Delivery } from './queue'
import { createReceiver, type ReceiverConfig } from './receivers/index'
import { secretReader, secretRefsIn } from './secret'
import type { Receiver, ReceiverDeps } from './types'

export { NotifyConfigError } from './config'

/** The checked configuration and its receivers, built. */
export interface PreparedNotifications {
  config: NotifyConfig
  receivers: Map<string, Receiver>
  /**
   * Environment variables the routing file reads secrets from: the main process reads them and
   * removes them from its environment, so no step process inherits a paging key.
   */
  secretVariables: string[]
}

/**
 * Reads NOTIFY_CONFIG (or the default) and builds every receiver, reading its secrets (a receiver
 * touches neither the network nor Redis until it sends); throws NotifyConfigError naming each
 * problem's line, a missing secret or a malformed key included.
 */
export function prepareNotifications(
  cfg: SentinelConfig,
  deps: ReceiverDeps,
  env: NodeJS.ProcessEnv = process.env,
): PreparedNotifications {
  const secret = secretReader(env)
  const receivers = new Map<string, Receiver>()
  const config = loadNotifyConfig({
    file: cfg.NOTIFY_CONFIG,
    escalateAfterMinutes: cfg.ESCALATE_AFTER_MINUTES,
    slackChannel: cfg.SLACK_CHANNEL,
    slackConfigured: !!(cfg.SLACK_BOT_TOKEN && cfg.SLACK_CHANNEL),
    checkReceiver: (r: ReceiverConfig) => receivers.set(r.name, createReceiver(r, { ...deps, secret })),
  })
  const secretVariables = new Set<string>()
  for (const r of config.receivers)
    for (const [, ref] of secretRefsIn(r))
      if ('env' in ref && !CONFIG_VARIABLES.includes(ref.env)) secretVariables.add(ref.env)
  return { config, receivers, secretVariables: [...secretVariables] }
}

export interface NotificationsStatus {
  enabled: boolean
  why?: string
  source: string
  receivers: { name: string; type: string }[]
  pending: number
  deadLetters: Delivery[]
  recent: Delivery[]
}

export async function notificationsStatus(
  redis: Redis,
  config: NotifyConfig,
  limit = 100,
): Promise<NotificationsStatus> {
  const q = new DeliveryQueue(redis)
  const [pending, deadLetters, recent] = await Promise.all([q.pending(), q.deadLetters(limit), q.recent(limit)])
  return {
    enabled: !!config.route,
    ...(config.off ? { why: config.off } : {}),
    source: config.source,
    receivers: receiverList(config),
    pending,
    deadLetters,
    recent,
  }
}

export function startNotifications(
  prepared: PreparedNotifications,
  deps: {
    redis: Redis
    getIncident(id: string): Promise<Incident | null>
    silences: SilenceLookup
    metrics: Pick<MetricsRecorder, 'notification'>
    log: LogFn
    publicUrl?: string
  },
): Notifier | null {
  if (!prepared.config.route) return null
  return startNotifier({ ...deps, config: prepared.config, receivers: prepared.receivers })
}
