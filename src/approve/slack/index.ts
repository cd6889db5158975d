/**
 * Slack approvals. Import `createSlackMessenger` to post and update messages (light), and
 * `createSlackApprovals` in the main process to receive button clicks (loads Bolt on call).
 */
export * from './config'
export * from './blocks'
export {
  createSlackMessenger,
  type SlackMessageRef,
  type SlackMessenger,
  type SlackMessengerOptions,
} from './messenger'
export {
  createSlackApprovals,
  type SlackApprovals,
  type SlackApprovalsOptions,
  type SlackDecision,
  type DecisionResult,
} from './app'
export { checkSlackSignature, createSignatureGuard, MAX_AGE_SECONDS, MAX_AHEAD_SECONDS } from './verify'
