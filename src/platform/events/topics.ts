/** The topics of Sentinel's flow and their payloads. */
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
