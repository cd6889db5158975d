/**
 * The names Slack approvals use on the wire. The Slack settings themselves (SLACK_USER_ROLES,
 * SLACK_API_URL) are read and validated with the rest of the configuration:
 * src/platform/config/slack.ts.
 */
export const SLACK_ACTIONS_ENDPOINT = '/slack/actions'
export const APPROVE_ACTION = 'sentinel_approve'
export const REJECT_ACTION = 'sentinel_reject'
export const DECISION_BLOCK = 'sentinel_decision'
