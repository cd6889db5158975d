/**
 * Posting and updating approval messages through Slack's Web API. Light to import: the WebClient
 * is loaded on first use, so step processes that never talk to Slack do not pay for it.
 */
import type { WebClient } from '@slack/web-api'
import type { Incident } from '../../platform/store/model'
import {
  approvalMessage,
  decisionFromTimeline,
  statusOnlyMessage,
  type Block,
  type DecisionInfo,
  type OutcomeInfo,
} from './blocks'
import { normalizeApiUrl } from '../../platform/config/slack'
import { withChildSpan } from '../../platform/telemetry/tracing'

/** Where a message lives; stored on the incident so later steps can update it. */
export interface SlackMessageRef {
  channel: string
  ts: string
}

export interface SlackMessengerOptions {
  botToken: string
  channel: string
  /** Slack's Web API base; a local stand-in in tests. */
  apiUrl?: string
  /** Reuse an existing client (the Bolt app's). */
  client?: WebClient
}

export interface SlackMessenger {
  postApprovalRequest(incident: Incident): Promise<SlackMessageRef>
  /** With the incident the whole message is redrawn; without it, a short status replaces it. */
  updateDecision(ref: SlackMessageRef, decision: DecisionInfo, incident?: Incident): Promise<void>
  /** The decision shown is the one given, else the one in the incident's timeline. */
  updateOutcome(ref: SlackMessageRef, outcome: OutcomeInfo, incident?: Incident, decision?: DecisionInfo): Promise<void>
  client(): Promise<WebClient>
}

export function createSlackMessenger(opts: SlackMessengerOptions): SlackMessenger {
  if (!opts.botToken) throw new Error('Slack: botToken is required (SLACK_BOT_TOKEN)')
  if (!opts.channel) throw new Error('Slack: channel is required (SLACK_CHANNEL)')
  const apiUrl = normalizeApiUrl(opts.apiUrl)
  let client: Promise<WebClient> | undefined = opts.client ? Promise.resolve(opts.client) : undefined
  const getClient = () => {
    client ??= import('@slack/web-api').then(
      // A step must not sit in Slack's default half-hour retry schedule; two quick retries, then fail.
      ({ WebClient, LogLevel }) =>
        new WebClient(opts.botToken, {
          slackApiUrl: apiUrl,
          retryConfig: { retries: 2, factor: 1.5, minTimeout: 200 },
          logLevel: LogLevel.ERROR,
        }),
    )
    return client
  }
  // Each Web API call is a child span of the step's span (a no-op when tracing is off).
  const traced = <T>(
    method: string,
    incident: Incident | undefined,
    attrs: Record<string, string | undefined>,
    call: () => Promise<T>,
  ) =>
    withChildSpan(
      `slack.${method}`,
      { 'incident.id': incident?.id, 'alert.type': incident?.type, 'slack.channel': opts.channel, ...attrs },
      async (span) => {
        const result = await call()
        span.setAttribute('outcome', 'ok')
        return result
      },
    )
  const update = (
    ref: SlackMessageRef,
    msg: { text: string; blocks: Block[] },
    incident: Incident | undefined,
    what: string,
  ) =>
    traced('chat.update', incident, { 'slack.update': what, 'slack.channel': ref.channel }, async () => {
      await (await getClient()).chat.update({ channel: ref.channel, ts: ref.ts, text: msg.text, blocks: msg.blocks })
    })
  return {
    client: getClient,
    postApprovalRequest: (incident) =>
      traced(
        'chat.postMessage',
        incident,
        { action: incident.decision?.actionId ?? undefined, risk: incident.decision?.risk },
        async () => {
          const msg = approvalMessage(incident)
          const res = await (
            await getClient()
          ).chat.postMessage({
            channel: opts.channel,
            text: msg.text,
            blocks: msg.blocks,
            unfurl_links: false,
            unfurl_media: false,
          })
          if (!res.ts || !res.channel) throw new Error('Slack: chat.postMessage answered without channel and ts')
          return { channel: res.channel, ts: res.ts }
        },
      ),
    async updateDecision(ref, decision, incident) {
      await update(
        ref,
        incident ? approvalMessage(incident, { decision }) : statusOnlyMessage(undefined, { decision }),
        incident,
        'decision',
      )
    },
    async updateOutcome(ref, outcome, incident, decision) {
      const d = decision ?? (incident ? decisionFromTimeline(incident) : undefined)
      await update(
        ref,
        incident
          ? approvalMessage(incident, { decision: d, outcome })
          : statusOnlyMessage(undefined, { decision: d, outcome }),
        incident,
        'outcome',
      )
    },
  }
}
