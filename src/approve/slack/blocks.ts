/** Block Kit messages for approvals: what happened, the evidence, the proposed fix, the risk, who may approve. */
import type { Button, KnownBlock, SectionBlock } from '@slack/web-api'
import { decidePermission, whoMay } from '../../platform/auth/roles'
import type { Incident } from '../../platform/store/model'
import { APPROVE_ACTION, DECISION_BLOCK, REJECT_ACTION } from './config'

export interface DecisionInfo {
  decision: 'approve' | 'reject'
  /** `slack:U123`, `user:alice`, `api:key_ab12`... */
  by: string
  reason?: string
  at?: string
}

export interface OutcomeInfo {
  status: 'resolved' | 'failed' | 'rolled_back' | 'escalated'
  summary: string
  at?: string
}

/** A Block Kit block, as Slack's Web API types it. */
export type Block = KnownBlock

/** Slack's three control characters; escaping them keeps text from making links or @-mentions. */
export const escapeText = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')

const clip = (s: string, max: number) => (s.length <= max ? s : `${s.slice(0, max - 1)}…`)
const mrkdwn = (text: string): SectionBlock => ({ type: 'section', text: { type: 'mrkdwn', text: clip(text, 3000) } })
const code = (s: string) => `\`${escapeText(s).replace(/`/g, "'")}\``

/** `slack:U123` becomes a mention; anything else is shown as text. */
export function actorText(by: string): string {
  const m = /^slack:([UW][A-Z0-9]{2,20})$/.exec(by)
  return m ? `<@${m[1]}>` : escapeText(by)
}

function evidenceLines(incident: Incident): string[] {
  const lines: string[] = []
  const a = incident.analysis ?? {}
  for (const key of ['summary', 'rootCause', 'root_cause', 'hypothesis']) {
    if (typeof a[key] === 'string' && a[key]) lines.push(escapeText(a[key] as string))
  }
  const ev = a.evidence
  if (Array.isArray(ev)) {
    for (const e of ev.slice(0, 8)) lines.push(`• ${escapeText(typeof e === 'string' ? e : JSON.stringify(e))}`)
  }
  if (typeof a.confidence === 'number') lines.push(`Confidence ${a.confidence}`)
  const details = incident.alert.details
  if (details && Object.keys(details).length > 0) lines.push(`Details: ${code(JSON.stringify(details))}`)
  return lines
}

function whatHappened(incident: Incident): string {
  const al = incident.alert
  const value = al.value === null ? '' : ` = ${al.value}${al.threshold === null ? '' : ` (threshold ${al.threshold})`}`
  return `*What happened*\n${escapeText(incident.title)}\n${code(al.metric)}${escapeText(value)} on ${escapeText(incident.resource.name)}, seen by ${code(al.source)} at ${escapeText(al.at)}`
}

function proposedFix(incident: Incident): string {
  const d = incident.decision
  if (!d?.actionId) return '*Proposed fix*\nnone: a person has to look at this'
  const params = Object.keys(d.params ?? {}).length ? ` with ${code(JSON.stringify(d.params))}` : ''
  const reasons = d.reasons.slice(0, 6).map((r) => `• ${escapeText(r)}`)
  return [`*Proposed fix*\n${code(d.actionId)}${params}`, ...reasons].join('\n')
}

function decisionText(d: DecisionInfo): string {
  const head = d.decision === 'approve' ? ':white_check_mark: *Approved*' : ':no_entry: *Rejected*'
  return `${head} by ${actorText(d.by)}${d.at ? ` at ${escapeText(d.at)}` : ''}${d.reason ? `: ${escapeText(d.reason)}` : ''}`
}

const OUTCOME_HEAD: Record<OutcomeInfo['status'], string> = {
  resolved: ':large_green_circle: *Fixed*',
  failed: ':red_circle: *The fix failed*',
  rolled_back: ':leftwards_arrow_with_hook: *Rolled back*',
  escalated: ':sos: *Escalated*',
}

/** The on-call Acknowledge button ("I take this incident"); its value is the incident id. */
export const ACKNOWLEDGE_ACTION = 'sentinel_ack'
/** The notification's "Open in Sentinel" link button (a click Slack still sends, to be acknowledged). */
export const OPEN_ACTION = 'sentinel_open'
/** The actions block that holds Acknowledge alone (when there are no approval buttons beside it). */
export const ACKNOWLEDGE_BLOCK = 'sentinel_acknowledge'

export function acknowledgeButton(incidentId: string): Button {
  return {
    type: 'button',
    action_id: ACKNOWLEDGE_ACTION,
    text: { type: 'plain_text', text: 'Acknowledge', emoji: true },
    value: incidentId,
  }
}

/**
 * The whole approval message: with buttons until decided, then the decision and later the outcome.
 * `acknowledge` adds the on-call Acknowledge button: beside Approve and Reject while they are
 * shown, alone in its own actions block after the decision.
 */
export function approvalMessage(
  incident: Incident,
  state: { decision?: DecisionInfo; outcome?: OutcomeInfo; acknowledge?: boolean } = {},
): { text: string; blocks: Block[] } {
  const risk = incident.decision?.risk ?? 'high'
  const needed = decidePermission(risk, incident.decision?.approverRole)
  const blocks: Block[] = [
    {
      type: 'header',
      text: { type: 'plain_text', text: clip(`Approval needed: ${incident.title}`, 150), emoji: true },
    },
    {
      type: 'section',
      fields: [
        `*Incident*\n${code(incident.id)}`,
        `*Resource*\n${escapeText(incident.resource.name)} (${incident.resource.kind})`,
        `*Severity*\n${incident.severity}`,
        `*Risk*\n${risk}`,
      ].map((text) => ({ type: 'mrkdwn', text: clip(text, 2000) })),
    },
    mrkdwn(whatHappened(incident)),
  ]
  const evidence = evidenceLines(incident)
  if (evidence.length) blocks.push(mrkdwn(`*Evidence*\n${evidence.join('\n')}`))
  blocks.push(mrkdwn(proposedFix(incident)))
  blocks.push({
    type: 'context',
    elements: [
      {
        type: 'mrkdwn',
        text: clip(
          `Risk *${risk}*: ${whoMay(needed)} may approve or reject${incident.decision ? ` (rule ${escapeText(incident.decision.rule)})` : ''}.`,
          3000,
        ),
      },
    ],
  })
  if (!state.decision) {
    const approve: Button = {
      type: 'button',
      action_id: APPROVE_ACTION,
      text: { type: 'plain_text', text: 'Approve', emoji: true },
      style: 'primary',
      value: incident.id,
    }
    if (risk === 'high') {
      approve.confirm = {
        title: { type: 'plain_text', text: 'Approve a high-risk fix?' },
        text: {
          type: 'mrkdwn',
          text: clip(
            `Sentinel will run ${code(incident.decision?.actionId ?? 'the fix')} on ${escapeText(incident.resource.name)}.`,
            300,
          ),
        },
        confirm: { type: 'plain_text', text: 'Approve' },
        deny: { type: 'plain_text', text: 'Cancel' },
      }
    }
    blocks.push({
      type: 'actions',
      block_id: DECISION_BLOCK,
      elements: [
        approve,
        {
          type: 'button',
          action_id: REJECT_ACTION,
          text: { type: 'plain_text', text: 'Reject', emoji: true },
          style: 'danger',
          value: incident.id,
        },
        ...(state.acknowledge ? [acknowledgeButton(incident.id)] : []),
      ],
    })
  } else {
    blocks.push(mrkdwn(decisionText(state.decision)))
    if (state.acknowledge)
      blocks.push({ type: 'actions', block_id: ACKNOWLEDGE_BLOCK, elements: [acknowledgeButton(incident.id)] })
  }
  if (state.outcome) {
    blocks.push(
      mrkdwn(
        `${OUTCOME_HEAD[state.outcome.status]}${state.outcome.at ? ` at ${escapeText(state.outcome.at)}` : ''}\n${escapeText(state.outcome.summary)}`,
      ),
    )
  }
  const status = state.outcome
    ? ` - ${state.outcome.status}`
    : state.decision
      ? ` - ${state.decision.decision === 'approve' ? 'approved' : 'rejected'}`
      : ''
  // The fallback text shows in notifications, where Slack reads mentions too.
  return { text: clip(escapeText(`Approval needed (${risk} risk): ${incident.title}${status}`), 3000), blocks }
}

/** A compact message for an update made without the incident at hand. */
export function statusOnlyMessage(
  incidentId: string | undefined,
  state: { decision?: DecisionInfo; outcome?: OutcomeInfo },
): { text: string; blocks: Block[] } {
  const blocks: Block[] = [mrkdwn(incidentId ? `*Incident* ${code(incidentId)}` : '*Sentinel incident*')]
  if (state.decision) blocks.push(mrkdwn(decisionText(state.decision)))
  if (state.outcome) blocks.push(mrkdwn(`${OUTCOME_HEAD[state.outcome.status]}\n${escapeText(state.outcome.summary)}`))
  return {
    text: `Incident${incidentId ? ` ${incidentId}` : ''}: ${state.outcome?.status ?? state.decision?.decision ?? 'update'}`,
    blocks,
  }
}

/** The decision recorded in an incident's timeline, if any (to redraw a message from the incident alone). */
export function decisionFromTimeline(incident: Incident): DecisionInfo | undefined {
  for (let i = incident.timeline.length - 1; i >= 0; i--) {
    const e = incident.timeline[i]
    if (e.stage === 'approved' || e.stage === 'rejected') {
      const reason = typeof e.data?.reason === 'string' ? e.data.reason : undefined
      return { decision: e.stage === 'approved' ? 'approve' : 'reject', by: e.actor, reason, at: e.at }
    }
  }
  return undefined
}
