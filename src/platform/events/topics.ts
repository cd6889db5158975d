/**
 * The topics of Sentinel's flow and their payloads: the only place a topic is spelled. Steps,
 * the main process and tests name a topic through `TOPICS` (tests/steps-contract.test.ts fails on
 * a topic written as a string anywhere else).
 */
import { z } from 'zod'

export const incidentRef = z.object({
  incidentId: z.string().min(1),
  /** Set when recovery re-drove the event after a restart. */
  resumed: z.boolean().optional(),
})
export type IncidentRef = z.infer<typeof incidentRef>

export const TOPICS = {
  opened: 'incident.opened',
  analyzed: 'incident.analyzed',
  remediationApproved: 'remediation.approved',
  acted: 'incident.acted',
  verified: 'incident.verified',
  verificationFailed: 'incident.verification_failed',
  approvalRequested: 'approval.requested',
} as const

/** One of the flow's topics. */
export type Topic = (typeof TOPICS)[keyof typeof TOPICS]

/** Each topic's payload: what its emitters send, and the `input` of the steps subscribed to it. */
export const TOPIC_PAYLOADS = {
  [TOPICS.opened]: incidentRef,
  [TOPICS.analyzed]: incidentRef,
  [TOPICS.remediationApproved]: incidentRef,
  [TOPICS.acted]: incidentRef,
  [TOPICS.verified]: incidentRef,
  [TOPICS.verificationFailed]: incidentRef,
  [TOPICS.approvalRequested]: incidentRef,
} as const satisfies Record<Topic, z.ZodType>

export type TopicPayload<T extends Topic> = z.output<(typeof TOPIC_PAYLOADS)[T]>

/**
 * Topics emitted for a consumer outside the flow's steps (none today): the contract test accepts
 * an emitted topic with no subscribing step only when it is listed here.
 */
export const EXTERNAL_OUTPUTS: readonly Topic[] = []

/** How the main process (Docker fast path, Alertmanager intake, Slack, recovery) puts an event into the flow. */
export type FlowEmit = (topic: Topic, data: TopicPayload<Topic>, traceId: string) => Promise<void>
