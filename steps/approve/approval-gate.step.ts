import type { NoopConfig } from 'motia'
import { TOPICS } from '../../src/platform/events/topics'

// The human in the loop: an operator or an admin approves in Slack, the dashboard or the API,
// which emits remediation.approved (or records the rejection).
export const config = {
  type: 'noop',
  name: 'ApprovalGate',
  description: 'A person approves or rejects (Slack buttons, dashboard, POST /api/incidents/:id/approve|reject)',
  virtualSubscribes: [TOPICS.approvalRequested],
  virtualEmits: [{ topic: TOPICS.remediationApproved, label: 'approved' }],
  flows: ['sentinel'],
} satisfies NoopConfig
