/**
 * PagerDuty, through the Events API v2 (https://developer.pagerduty.com/docs/events-API-v2/):
 * one alert per incident, `dedup_key` = the incident id, so PagerDuty groups every event of an
 * incident into one alert and the acknowledge and the resolve find it.
 *
 *   kind                                          event_action
 *   opened, approval_requested, escalated, repeat  trigger
 *   acknowledged                                   acknowledge
 *   resolved                                       resolve
 *
 * Every event carries the full payload (as Alertmanager's does; PagerDuty reads it on a trigger and
 * ignores it otherwise), with the idempotency key in `custom_details.sentinel_idempotency_key`.
 * 202 is delivered; 429 and 5xx are retried (Retry-After honoured); another 4xx is permanent.
 */
import { z } from 'zod'
import { incidentLabels } from '../matchers'
import { secretRef, type SecretReader } from '../secret'
import type { Notification, NotificationKind, Receiver, ReceiverDeps } from '../types'
import type { Incident, Severity } from '../../platform/store/model'
import { checkAnswer, clip, kindHeadline, post } from './common'

export const PAGERDUTY_EVENTS_URL = 'https://events.pagerduty.com/v2/enqueue'

const httpUrl = z.url({ protocol: /^https?$/, error: 'an http(s) URL' })

export const pagerdutyConfig = z
  .object({
    /** The service's Events API v2 integration key (32 characters). */
    routing_key: secretRef,
    /** The Events API endpoint; a stand-in in tests. */
    url: httpUrl.optional(),
  })
  .strict()
export type PagerdutyConfig = z.infer<typeof pagerdutyConfig>

export type PagerdutyAction = 'trigger' | 'acknowledge' | 'resolve'

export const PAGERDUTY_ACTION: Record<NotificationKind, PagerdutyAction> = {
  opened: 'trigger',
  approval_requested: 'trigger',
  escalated: 'trigger',
  repeat: 'trigger',
  acknowledged: 'acknowledge',
  resolved: 'resolve',
}

/** Sentinel's three severities are PagerDuty's critical, warning and info (its `error` is not used). */
export const PAGERDUTY_SEVERITY: Record<Severity, 'critical' | 'error' | 'warning' | 'info'> = {
  critical: 'critical',
  warning: 'warning',
  info: 'info',
}

export const ROUTING_KEY_LENGTH = 32
const SUMMARY_MAX = 1024
const DEDUP_KEY_MAX = 255

function customDetails(n: Notification): Record<string, unknown> {
  const i = n.incident
  return {
    sentinel_idempotency_key: n.key,
    incident_id: i.id,
    kind: n.kind,
    level: n.level,
    status: i.status,
    severity: i.severity,
    type: i.type,
    resource: `${i.resource.name} (${i.resource.kind})`,
    metric: i.alert.metric,
    value: i.alert.value,
    threshold: i.alert.threshold,
    opened_at: i.openedAt,
    ...(i.resolvedAt ? { resolved_at: i.resolvedAt } : {}),
    ...(i.acknowledgement ? { acknowledged_by: i.acknowledgement.by, acknowledged_at: i.acknowledgement.at } : {}),
    ...(i.decision
      ? {
          decision: {
            route: i.decision.route,
            risk: i.decision.risk,
            action: i.decision.actionId,
            rule: i.decision.rule,
          },
        }
      : {}),
    labels: incidentLabels(i),
    ...(n.url ? { url: n.url } : {}),
  }
}

/** The Events API v2 body for one notification. */
export function pagerdutyEvent(routingKey: string, n: Notification): Record<string, unknown> {
  const i: Incident = n.incident
  const labels = incidentLabels(i)
  return {
    routing_key: routingKey,
    event_action: PAGERDUTY_ACTION[n.kind],
    dedup_key: clip(i.id, DEDUP_KEY_MAX),
    payload: {
      summary: clip(`[${kindHeadline(n)}] ${i.title} (${i.resource.name})`, SUMMARY_MAX),
      source: labels.node || i.resource.name,
      severity: PAGERDUTY_SEVERITY[i.severity],
      timestamp: n.at,
      component: i.resource.name,
      group: labels.job || labels.compose_project || i.resource.kind,
      class: i.type,
      custom_details: customDetails(n),
    },
    client: 'Sentinel',
    ...(n.url ? { client_url: n.url, links: [{ href: n.url, text: 'Open the incident in Sentinel' }] } : {}),
  }
}

export function createPagerdutyReceiver(
  name: string,
  cfg: PagerdutyConfig,
  deps: ReceiverDeps & { secret: SecretReader },
): Receiver {
  const what = `pagerduty receiver "${name}"`
  const routingKey = deps.secret(cfg.routing_key, `${what}: routing_key`)
  if (routingKey.length !== ROUTING_KEY_LENGTH)
    throw new Error(
      `${what}: routing_key has ${routingKey.length} characters; a PagerDuty Events API v2 integration key has ${ROUTING_KEY_LENGTH}`,
    )
  const url = cfg.url ?? PAGERDUTY_EVENTS_URL
  return {
    name,
    type: 'pagerduty',
    async send(n, signal) {
      const o = { what, url, secrets: [routingKey] }
      const answer = await post({
        ...o,
        body: JSON.stringify(pagerdutyEvent(routingKey, n)),
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        signal,
      })
      checkAnswer(answer, o)
    },
  }
}
