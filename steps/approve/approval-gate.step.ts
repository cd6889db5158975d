import type { NoopConfig } from 'motia'

// The human in the loop: an operator or an admin approves in Slack, the dashboard or the API,
// which emits remediation.approved (or records the rejection).
export const config: NoopConfig = {
  type: 'noop',
  name: 'ApprovalGate',
  description: 'A person approves or rejects (Slack buttons, dashboard, POST /api/incidents/:id/approve|reject)',
  virtualSubscribes: ['approval.requested'],
  virtualEmits: [{ topic: 'remediation.approved', label: 'approved' }],
  flows: ['sentinel'],
}
