/**
 * Approvals in Slack: a Bolt app whose ExpressReceiver takes button clicks at /slack/actions
 * (Approve / Reject, and the on-call Acknowledge).
 * The main process mounts `router` on its Express app before any body parser (the signature is over
 * the raw body). Bolt is loaded here only, lazily, so nothing else pays for it.
 */
import type { App, ExpressReceiver, Logger, LogLevel } from '@slack/bolt'
import type { RequestHandler } from 'express'
import { authorize, decidePermission, isRole, whoMay, type Role } from '../../platform/auth/roles'
import { ACKNOWLEDGE_ACTION, OPEN_ACTION } from './blocks'
import type { Incident } from '../../platform/store/model'
import { normalizeApiUrl, parseSlackUserRoles } from '../../platform/config/slack'
import { APPROVE_ACTION, REJECT_ACTION, SLACK_ACTIONS_ENDPOINT } from './config'
import { createSlackMessenger, type SlackMessenger } from './messenger'
import { createSignatureGuard, type GuardFailure, type ReplayStore } from './verify'

export type DecisionResult = { ok: true } | { conflict: string }

export interface SlackDecision {
  incidentId: string
  decision: 'approve' | 'reject'
  by: string
  role: Role
}

/** An Acknowledge click by a Slack user whose role may acknowledge. */
export interface SlackAcknowledgement {
  incidentId: string
  by: string
  role: Role
}

export type SlackLog = (level: 'info' | 'warn' | 'error', msg: string, data?: Record<string, unknown>) => void

export interface SlackApprovalsOptions {
  botToken: string
  signingSecret: string
  channel: string
  /** Slack's Web API base (default https://slack.com/api/); a local stand-in in tests. */
  apiUrl?: string
  /** Slack user id → role, or the SLACK_USER_ROLES text. Users not listed may not decide. */
  userRoles: Record<string, Role> | string
  endpoint?: string
  /** Reads the incident a button names (for its risk); null when there is none. */
  getIncident(id: string): Promise<Incident | null>
  /** Applies the decision; answers {conflict} when the incident was already decided. */
  onDecision(d: SlackDecision): Promise<DecisionResult>
  /**
   * Records an acknowledgement (the Acknowledge button); answers {conflict} when the incident is
   * acknowledged already, closed or unknown. Without it, a click is answered that Slack cannot
   * acknowledge here.
   */
  onAcknowledge?(a: SlackAcknowledgement): Promise<DecisionResult>
  log?: SlackLog
  /** For tests of the timestamp window. */
  now?: () => number
  /** Where accepted requests are remembered against replays (Redis in Sentinel). Default: memory. */
  replay?: ReplayStore
}

export interface SlackApprovals {
  app: App
  receiver: ExpressReceiver
  /** Mount on the main Express app before body parsers: `app.use(slack.router)`. */
  router: RequestHandler
  messenger: SlackMessenger
  endpoint: string
  /** Checks the bot token with auth.test (call at start to log a clear problem early); throws when Slack refuses. */
  verify(): Promise<{ team: string; user: string; botUserId: string }>
}

const INCIDENT_ID = /^[A-Za-z0-9_.:-]{1,128}$/

function boltLogger(log: SlackLog | undefined): Logger {
  // Type-only: Bolt is loaded lazily, so its LogLevel enum is named by its value here ('info' is LogLevel.INFO).
  let level = 'info' as LogLevel
  const emit =
    (lvl: 'info' | 'warn' | 'error') =>
    (...msg: unknown[]) =>
      log?.(lvl, `slack: ${msg.map(String).join(' ')}`)
  return {
    debug: () => {},
    info: emit('info'),
    warn: emit('warn'),
    error: emit('error'),
    setLevel: (l) => (level = l),
    getLevel: () => level,
    setName: () => {},
  }
}

export async function createSlackApprovals(opts: SlackApprovalsOptions): Promise<SlackApprovals> {
  for (const [name, v] of [
    ['botToken (SLACK_BOT_TOKEN)', opts.botToken],
    ['signingSecret (SLACK_SIGNING_SECRET)', opts.signingSecret],
    ['channel (SLACK_CHANNEL)', opts.channel],
  ] as const) {
    if (!v) throw new Error(`Slack approvals: ${name} is required`)
  }
  const userRoles = typeof opts.userRoles === 'string' ? parseSlackUserRoles(opts.userRoles) : opts.userRoles
  const apiUrl = normalizeApiUrl(opts.apiUrl)
  const endpoint = opts.endpoint ?? SLACK_ACTIONS_ENDPOINT
  const log = opts.log
  const { App, ExpressReceiver } = await import('@slack/bolt')
  const logger = boltLogger(log)

  const receiver = new ExpressReceiver({
    signingSecret: opts.signingSecret,
    endpoints: { actions: endpoint },
    logger,
    // Acknowledge at once (Slack wants an answer within 3 s); the decision continues after.
    processBeforeResponse: false,
  })
  // Given a bare token, Bolt calls auth.test in its constructor and keeps that promise for good: a Slack
  // hiccup at start would be an unhandled rejection and leave every later click unauthorized. Our own
  // authorize just hands over the token; verify() checks it when the caller wants to.
  const app = new App({
    authorize: async () => ({ botToken: opts.botToken }),
    receiver,
    logger,
    clientOptions: { slackApiUrl: apiUrl, retryConfig: { retries: 2, factor: 1.5, minTimeout: 200 } },
  })
  const messenger = createSlackMessenger({ botToken: opts.botToken, channel: opts.channel, apiUrl })

  /**
   * What every button click starts with: who clicked where, a way to answer the clicker alone
   * (chat.postEphemeral, or the click's response_url when that fails), and the checks that need no
   * incident (a valid incident id, a role). Null when the click was answered already.
   */
  type Click = Parameters<Parameters<typeof app.action>[1]>[0]
  const clickFrom = async ({ body, action, client, respond }: Click, verb: string) => {
    if (body.type !== 'block_actions' || action.type !== 'button') return null
    const user = body.user.id
    const channel = body.channel?.id ?? body.container?.channel_id
    const ts = body.message?.ts ?? body.container?.message_ts
    const incidentId = action.value ?? ''
    const tell = async (text: string) => {
      try {
        if (!channel) throw new Error('no channel in the payload')
        await client.chat.postEphemeral({ channel, user, text })
      } catch (err) {
        try {
          await respond({ response_type: 'ephemeral', replace_original: false, text })
        } catch (err2) {
          log?.('warn', 'slack: could not tell the user', {
            error: (err as Error).message,
            fallback: (err2 as Error).message,
          })
        }
      }
    }
    if (!INCIDENT_ID.test(incidentId)) {
      await tell('This button names no valid incident; nothing was changed.')
      return null
    }
    const role = userRoles[user]
    if (!isRole(role)) {
      log?.('warn', `slack: ${verb} by a user without a role refused`, { user, incidentId })
      await tell(`You have no Sentinel role, so you cannot ${verb} incident \`${incidentId}\`. Nothing was changed.`)
      return null
    }
    const roleName = role === 'viewer' ? 'a viewer' : `an ${role}`
    return { user, channel, ts, incidentId, tell, role, roleName, by: `slack:${user}` }
  }

  app.action(new RegExp(`^(${APPROVE_ACTION}|${REJECT_ACTION})$`), async (args) => {
    await args.ack()
    const decision = (args.action as { action_id?: string }).action_id === APPROVE_ACTION ? 'approve' : 'reject'
    const click = await clickFrom(args, decision)
    if (!click) return
    const { channel, ts, incidentId, tell, role, roleName, by, user } = click
    let incident: Awaited<ReturnType<typeof opts.getIncident>>
    try {
      incident = await opts.getIncident(incidentId)
    } catch (err) {
      // Redis unreachable, typically: the clicker hears it instead of a silent button.
      log?.('error', 'slack: reading the incident failed', { incidentId, error: (err as Error).message })
      return tell(
        `Sentinel could not read incident \`${incidentId}\` just now; nothing was changed. Please try again in a moment or use the dashboard.`,
      )
    }
    if (!incident) return tell(`Incident \`${incidentId}\` was not found; nothing was changed.`)
    const risk = incident.decision?.risk ?? 'high'
    const needed = decidePermission(risk, incident.decision?.approverRole)
    if (!authorize(role, needed)) {
      log?.('info', 'slack: decision refused for the role', { user, role, incidentId, risk })
      return tell(
        `Incident \`${incidentId}\` is *${risk}* risk: only ${whoMay(needed)} may ${decision} it, and you are ${roleName}. Nothing was changed.`,
      )
    }
    let result: DecisionResult
    try {
      result = await opts.onDecision({ incidentId, decision, by, role })
    } catch (err) {
      log?.('error', 'slack: applying a decision failed', { incidentId, error: (err as Error).message })
      return tell(
        `Sentinel could not record your decision on \`${incidentId}\`: please try again or use the dashboard.`,
      )
    }
    if ('conflict' in result) return tell(`Incident \`${incidentId}\`: ${result.conflict}. Nothing was changed.`)
    log?.('info', 'slack: decision recorded', { incidentId, decision, by, role })
    if (channel && ts) {
      try {
        await messenger.updateDecision({ channel, ts }, { decision, by, at: new Date().toISOString() }, incident)
      } catch (err) {
        log?.('warn', 'slack: could not update the approval message', { incidentId, error: (err as Error).message })
      }
    }
  })
  // Acknowledge: the clicking user's role comes from the same user → role map as approvals, and
  // taking an incident needs an operator (any incident: it changes nothing Sentinel does). The
  // message itself is redrawn by the notifier once the acknowledgement is stored; here the click
  // is answered, and only a refusal or a conflict is said, to the clicker alone.
  app.action(ACKNOWLEDGE_ACTION, async (args) => {
    await args.ack()
    const click = await clickFrom(args, 'acknowledge')
    if (!click) return
    const { incidentId, tell, role, roleName, by, user } = click
    if (!authorize(role, 'acknowledge')) {
      log?.('info', 'slack: acknowledgement refused for the role', { user, role, incidentId })
      return tell(
        `Only ${whoMay('acknowledge')} may acknowledge incident \`${incidentId}\`, and you are ${roleName}. Nothing was changed.`,
      )
    }
    if (!opts.onAcknowledge)
      return tell(
        `Sentinel cannot take acknowledgements from Slack here; use the dashboard or POST /api/incidents/${incidentId}/ack. Nothing was changed.`,
      )
    let result: DecisionResult
    try {
      result = await opts.onAcknowledge({ incidentId, by, role })
    } catch (err) {
      log?.('error', 'slack: recording an acknowledgement failed', { incidentId, error: (err as Error).message })
      return tell(
        `Sentinel could not record your acknowledgement of \`${incidentId}\`: please try again or use the dashboard.`,
      )
    }
    if ('conflict' in result) return tell(`Incident \`${incidentId}\`: ${result.conflict}. Nothing was changed.`)
    log?.('info', 'slack: acknowledgement recorded', { incidentId, by, role })
  })
  // The notification's "Open in Sentinel" link button: Slack sends a click for link buttons too,
  // and shows the user an error unless it is acknowledged.
  app.action(OPEN_ACTION, async ({ ack }) => {
    await ack()
  })
  app.error(async (err) => {
    log?.('error', 'slack: handler error', { error: err.message })
  })

  // Bolt's router is reachable only through the guard: it sees no request the guard has not
  // checked for signature, time and replay, whatever spelling of the path it was sent to.
  const router: SlackApprovals['router'] = createSignatureGuard({
    signingSecret: opts.signingSecret,
    endpoint,
    handler: receiver.router,
    now: opts.now,
    replay: opts.replay,
    onReject: (reason: GuardFailure) =>
      log?.(reason === 'body_consumed' ? 'error' : 'warn', 'slack: request refused', { reason }),
  })
  const verify = async () => {
    const res = await (await messenger.client()).auth.test()
    return { team: String(res.team ?? ''), user: String(res.user ?? ''), botUserId: String(res.user_id ?? '') }
  }
  return { app, receiver, router, messenger, endpoint, verify }
}
