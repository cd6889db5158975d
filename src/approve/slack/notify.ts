/**
 * Slack notifications from the flow (when SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET and SLACK_CHANNEL
 * are set): the approval request, the decision, and the outcome, all on one message per incident.
 * Slack being unreachable never stops the flow: the API and the dashboard still decide.
 */
import { getConfig } from '../../platform/config/index'
import { createSlackMessenger, type SlackMessenger } from './messenger'
import type { IncidentStore } from '../../platform/store/incidents'
import type { Incident } from '../../platform/store/model'

/**
 * Posting needs the bot token and the channel. The signing secret (for the clicks coming back)
 * is checked at start with the other two, then kept in the main process only (src/platform/config/secrets.ts),
 * so a step process never sees it.
 */
export function slackConfigured(): boolean {
  const c = getConfig()
  return !!(c.SLACK_BOT_TOKEN && c.SLACK_CHANNEL)
}

let messenger: SlackMessenger | undefined
function getMessenger(): SlackMessenger | undefined {
  if (!slackConfigured()) return undefined
  const c = getConfig()
  messenger ??= createSlackMessenger({
    botToken: c.SLACK_BOT_TOKEN!,
    channel: c.SLACK_CHANNEL!,
    apiUrl: c.SLACK_API_URL,
  })
  return messenger
}

export async function postApproval(
  incident: Incident,
  store: IncidentStore,
  log: (msg: string, data: Record<string, unknown>) => void,
): Promise<void> {
  const m = getMessenger()
  if (!m || incident.approval?.slack) return
  try {
    const ref = await m.postApprovalRequest(incident)
    await store.update(incident.id, (i) => {
      if (i.approval) i.approval.slack = ref
    })
  } catch (err) {
    log('Slack approval message failed; decide through the API or the dashboard', {
      incidentId: incident.id,
      error: (err as Error).message,
    })
  }
}

export async function notifyDecision(
  incident: Incident,
  decision: { decision: 'approve' | 'reject'; by: string; reason?: string },
): Promise<void> {
  const m = getMessenger()
  const ref = incident.approval?.slack
  if (!m || !ref) return
  await m.updateDecision(ref, decision, incident).catch(() => {})
}

export async function notifyOutcome(
  incident: Incident,
  outcome: { status: 'resolved' | 'failed' | 'rolled_back' | 'escalated'; summary: string },
): Promise<void> {
  const m = getMessenger()
  const ref = incident.approval?.slack
  if (!m || !ref) return
  await m.updateOutcome(ref, outcome, incident).catch(() => {})
}
