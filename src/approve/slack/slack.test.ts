import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, beforeEach, describe, test } from 'node:test'
import express from 'express'
import { sleep, waitFor } from '../../../tests/helpers/ports'
import {
  blockActionPayload,
  sendSignedInteraction,
  slackSignature,
  startSlackStandIn,
  type SlackStandIn,
} from '../../../tests/helpers/slack-standin'
import type { Incident, RiskLevel } from '../../platform/store/model'
import { createSlackApprovals, type SlackApprovals, type SlackDecision } from './index'
import type { SlackAcknowledgement } from './app'
import {
  canonicalPath,
  checkSlackSignature,
  createReplayCache,
  MAX_AGE_SECONDS,
  MAX_AHEAD_SECONDS,
  replayKey,
} from './verify'

const TOKEN = `xoxb-test-${randomBytes(8).toString('hex')}`
const SECRET = randomBytes(16).toString('hex')
const CHANNEL = 'C0APPROVALS'
const ADMIN = 'U0ADMIN1'
const OPERATOR = 'U0OPER1'
const VIEWER = 'U0VIEW1'

function incident(id: string, risk: RiskLevel, title = `container web-${id} keeps restarting`): Incident {
  const now = new Date().toISOString()
  return {
    id,
    fingerprint: `fp-${id}`,
    type: 'container_down',
    severity: 'critical',
    status: 'awaiting_approval',
    title,
    resource: { kind: 'container', id: `cid-${id}`, name: `web-${id}` },
    alert: {
      fingerprint: `fp-${id}`,
      type: 'container_down',
      severity: 'critical',
      metric: 'container_running',
      value: 0,
      threshold: 1,
      resource: { kind: 'container', id: `cid-${id}`, name: `web-${id}` },
      labels: {},
      source: 'docker-events',
      at: now,
      details: { exitCode: 137, oom: true },
    },
    decision: {
      route: 'approval',
      risk,
      actionId: 'restart-container',
      params: { containerId: `cid-${id}` },
      approverRole: risk === 'high' ? 'admin' : 'operator',
      reasons: ['exit code 137 after OOM', `${risk} risk needs approval`],
      rule: `risk:${risk}`,
      decidedAt: now,
    },
    actions: [],
    analysis: {
      summary: 'The process ran out of memory.',
      evidence: ['RSS reached the 64 MiB limit', 'OOMKilled=true'],
      confidence: 0.8,
    },
    timeline: [],
    openedAt: now,
    updatedAt: now,
    version: 1,
  }
}

const allText = (blocks: any[]): string => JSON.stringify(blocks)

describe('Slack approvals through Bolt, against a Slack stand-in', () => {
  let slack: SlackStandIn
  let approvals: SlackApprovals
  let server: http.Server
  let url: string
  const incidents = new Map<string, Incident>()
  const decisions: SlackDecision[] = []
  const acks: SlackAcknowledgement[] = []
  const logs: string[] = []

  before(async () => {
    slack = await startSlackStandIn({ token: TOKEN })
    approvals = await createSlackApprovals({
      botToken: TOKEN,
      signingSecret: SECRET,
      channel: CHANNEL,
      apiUrl: slack.apiUrl,
      userRoles: `${ADMIN}:admin,${OPERATOR}:operator,${VIEWER}:viewer`,
      getIncident: async (id) => {
        // as the store answers while Redis is unreachable
        if (id === 'inc-store-down') throw new Error('Connection is closed.')
        return incidents.get(id) ?? null
      },
      onDecision: async (d) => {
        const inc = incidents.get(d.incidentId)
        if (!inc || inc.status !== 'awaiting_approval') return { conflict: 'already decided' }
        inc.status = d.decision === 'approve' ? 'remediating' : 'escalated'
        decisions.push(d)
        return { ok: true }
      },
      onAcknowledge: async (a) => {
        if (a.incidentId === 'inc-ack-store-down') throw new Error('Connection is closed.')
        const first = acks.find((x) => x.incidentId === a.incidentId)
        if (first) return { conflict: `already acknowledged by <@${first.by.slice('slack:'.length)}>` }
        acks.push(a)
        return { ok: true }
      },
      log: (level, msg, data) => logs.push(`${level} ${msg} ${JSON.stringify(data ?? {})}`),
    })
    // As the main process will: Slack's router first, then the body parsers the API uses.
    const app = express()
    app.use(approvals.router)
    app.use(express.json())
    app.use(express.urlencoded({ extended: false }))
    app.post('/other', (req, res) => res.json({ parsed: req.body }))
    server = app.listen(0, '127.0.0.1')
    await new Promise((r) => server.once('listening', r))
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/slack/actions`
  })
  after(async () => {
    server.closeAllConnections()
    await new Promise((r) => server.close(r))
    await slack.close()
  })
  beforeEach(() => {
    slack.calls.length = 0
  })

  async function post(id: string, risk: RiskLevel, title?: string) {
    const inc = incident(id, risk, title)
    incidents.set(id, inc)
    const ref = await approvals.messenger.postApprovalRequest(inc)
    return { inc, ref }
  }
  const click = (
    user: string,
    action: 'sentinel_approve' | 'sentinel_reject',
    id: string,
    ref: { channel: string; ts: string },
    extra: Partial<Parameters<typeof sendSignedInteraction>[0]> = {},
  ) =>
    sendSignedInteraction({
      url,
      signingSecret: SECRET,
      payload: blockActionPayload({
        userId: user,
        actionId: action,
        value: id,
        channel: ref.channel,
        messageTs: ref.ts,
        responseUrl: slack.responseUrl(),
      }),
      ...extra,
    })
  const ephemeralsFor = (user: string) => slack.callsTo('chat.postEphemeral').filter((c) => c.args.user === user)
  const ackClick = (user: string, id: string, ref: { channel: string; ts: string }) =>
    sendSignedInteraction({
      url,
      signingSecret: SECRET,
      payload: blockActionPayload({
        userId: user,
        actionId: 'sentinel_ack',
        value: id,
        channel: ref.channel,
        messageTs: ref.ts,
        responseUrl: slack.responseUrl(),
      }),
    })

  test('Acknowledge: an operator takes the incident with a signed click; a second click is told who has it', async () => {
    const { ref } = await post('inc-ack', 'medium')
    slack.calls.length = 0
    assert.equal((await ackClick(OPERATOR, 'inc-ack', ref)).status, 200)
    await waitFor(() => acks.some((a) => a.incidentId === 'inc-ack'), {
      timeoutMs: 10_000,
      what: 'the acknowledgement',
    })
    assert.deepEqual(
      acks.filter((a) => a.incidentId === 'inc-ack'),
      [{ incidentId: 'inc-ack', by: `slack:${OPERATOR}`, role: 'operator' }],
    )
    await sleep(200)
    // The notifier redraws the message from the stored incident: nothing here updates it or says anything.
    assert.equal(slack.callsTo('chat.update').length, 0)
    assert.equal(slack.callsTo('chat.postEphemeral').length, 0)
    assert.ok(logs.some((l) => l.startsWith('info slack: acknowledgement recorded') && l.includes('inc-ack')))

    assert.equal((await ackClick(ADMIN, 'inc-ack', ref)).status, 200)
    await waitFor(() => ephemeralsFor(ADMIN).length > 0, { timeoutMs: 10_000, what: 'the conflict message' })
    assert.equal(
      ephemeralsFor(ADMIN)[0].args.text,
      `Incident \`inc-ack\`: already acknowledged by <@${OPERATOR}>. Nothing was changed.`,
    )
    assert.equal(ephemeralsFor(ADMIN)[0].args.channel, ref.channel)
    assert.equal(acks.filter((a) => a.incidentId === 'inc-ack').length, 1)
    assert.equal(decisions.filter((d) => d.incidentId === 'inc-ack').length, 0, 'acknowledging decides nothing')
  })

  test('Acknowledge: viewers and users without a role are refused, each told why; nothing is recorded', async () => {
    const { ref } = await post('inc-ack-view', 'high')
    slack.calls.length = 0
    const before = acks.length
    await ackClick(VIEWER, 'inc-ack-view', ref)
    await ackClick('U0STRANGER', 'inc-ack-view', ref)
    await ackClick(OPERATOR, 'not a valid id!', ref)
    await waitFor(
      () => ephemeralsFor(VIEWER).length && ephemeralsFor('U0STRANGER').length && ephemeralsFor(OPERATOR).length,
      { timeoutMs: 10_000, what: 'three refusals' },
    )
    assert.equal(
      ephemeralsFor(VIEWER)[0].args.text,
      'Only an operator or an admin may acknowledge incident `inc-ack-view`, and you are a viewer. Nothing was changed.',
    )
    assert.match(
      ephemeralsFor('U0STRANGER')[0].args.text,
      /no Sentinel role, so you cannot acknowledge incident `inc-ack-view`/,
    )
    assert.match(ephemeralsFor(OPERATOR)[0].args.text, /names no valid incident/)
    assert.equal(acks.length, before)
  })

  test('Acknowledge: a failure to record it tells the clicker to try again', async () => {
    const { ref } = await post('inc-ack-store-down', 'medium')
    slack.calls.length = 0
    await ackClick(ADMIN, 'inc-ack-store-down', ref)
    await waitFor(() => ephemeralsFor(ADMIN).length > 0, { timeoutMs: 10_000, what: 'the message to the clicker' })
    assert.match(ephemeralsFor(ADMIN)[0].args.text, /could not record your acknowledgement of `inc-ack-store-down`/)
    assert.ok(logs.some((l) => l.startsWith('error slack: recording an acknowledgement failed')))
  })

  test('postApprovalRequest posts one Block Kit message with the facts and both buttons', async () => {
    const { ref } = await post('inc-post', 'medium', 'web <!channel> & friends down')
    const [call] = slack.callsTo('chat.postMessage')
    assert.equal(call.token, TOKEN)
    assert.equal(call.args.channel, CHANNEL)
    assert.deepEqual(ref, { channel: CHANNEL, ts: ref.ts })
    assert.match(ref.ts, /^\d+\.\d{6}$/)
    const blocks = call.args.blocks as any[]
    assert.equal(blocks[0].type, 'header')
    const text = allText(blocks)
    for (const fact of [
      'What happened',
      'Evidence',
      'RSS reached the 64 MiB limit',
      'Proposed fix',
      'restart-container',
      'exit code 137 after OOM',
      'an operator or an admin may approve',
      '*Risk*\\nmedium',
    ]) {
      assert.ok(text.includes(fact), `message lacks ${fact}`)
    }
    // mrkdwn (and the notification text) would turn <!channel> into a mention; plain_text shows it as typed.
    const mrkdwnTexts = JSON.stringify(blocks.filter((b) => b.type !== 'header'))
    assert.ok(
      !mrkdwnTexts.includes('<!channel>') && mrkdwnTexts.includes('&lt;!channel&gt; &amp; friends'),
      'untrusted text must be escaped',
    )
    assert.ok(!call.args.text.includes('<!channel>'))
    assert.equal(blocks[0].text.type, 'plain_text')
    const actions = blocks.find((b) => b.type === 'actions')
    assert.deepEqual(
      actions.elements.map((e: any) => [e.action_id, e.value, e.style]),
      [
        ['sentinel_approve', 'inc-post', 'primary'],
        ['sentinel_reject', 'inc-post', 'danger'],
      ],
    )
    assert.equal(actions.elements[0].confirm, undefined, 'medium risk needs no confirmation dialog')
  })

  test('an operator approves a medium-risk incident with a real signed click: callback, then the message shows it', async () => {
    const { ref } = await post('inc-med', 'medium')
    const before = decisions.length
    const res = await click(OPERATOR, 'sentinel_approve', 'inc-med', ref)
    assert.equal(res.status, 200)
    await waitFor(() => slack.callsTo('chat.update').length > 0, { timeoutMs: 10_000, what: 'chat.update' })
    assert.deepEqual(decisions.slice(before), [
      { incidentId: 'inc-med', decision: 'approve', by: `slack:${OPERATOR}`, role: 'operator' },
    ])
    const [upd] = slack.callsTo('chat.update')
    assert.equal(upd.args.channel, ref.channel)
    assert.equal(upd.args.ts, ref.ts)
    const blocks = upd.args.blocks as any[]
    assert.equal(
      blocks.find((b) => b.type === 'actions'),
      undefined,
      'buttons must be gone after the decision',
    )
    assert.ok(allText(blocks).includes(`*Approved* by <@${OPERATOR}>`))
    assert.ok(allText(blocks).includes('What happened'), 'the facts stay in the message')

    // A second click (a new, validly signed request) meets the callback's conflict: reported, nothing changes.
    slack.calls.length = 0
    assert.equal((await click(ADMIN, 'sentinel_reject', 'inc-med', ref)).status, 200)
    await waitFor(() => ephemeralsFor(ADMIN).length > 0, { timeoutMs: 10_000, what: 'conflict message' })
    assert.match(ephemeralsFor(ADMIN)[0].args.text, /inc-med.*already decided.*Nothing was changed/)
    assert.equal(decisions.length, before + 1)
    assert.equal(slack.callsTo('chat.update').length, 0)
  })

  test('an operator is refused on a high-risk incident, with an explanation; an admin may decide it', async () => {
    const { ref, inc } = await post('inc-high', 'high')
    const posted = slack.callsTo('chat.postMessage')[0].args.blocks as any[]
    assert.ok(posted.find((b) => b.type === 'actions').elements[0].confirm, 'high risk asks for confirmation')
    assert.ok(allText(posted).includes('an admin may approve'))
    const before = decisions.length
    assert.equal((await click(OPERATOR, 'sentinel_approve', 'inc-high', ref)).status, 200)
    await waitFor(() => ephemeralsFor(OPERATOR).length > 0, { timeoutMs: 10_000, what: 'refusal' })
    const refusal = ephemeralsFor(OPERATOR)[0]
    assert.equal(refusal.args.channel, ref.channel)
    assert.match(
      refusal.args.text,
      /\*high\* risk: only an admin may approve it, and you are an operator\. Nothing was changed\./,
    )
    // The operator may not reject it either.
    assert.equal((await click(OPERATOR, 'sentinel_reject', 'inc-high', ref)).status, 200)
    await waitFor(() => ephemeralsFor(OPERATOR).length > 1, { timeoutMs: 10_000, what: 'second refusal' })
    assert.equal(decisions.length, before)
    assert.equal(inc.status, 'awaiting_approval')
    assert.equal(slack.callsTo('chat.update').length, 0)

    assert.equal((await click(ADMIN, 'sentinel_reject', 'inc-high', ref)).status, 200)
    await waitFor(() => slack.callsTo('chat.update').length > 0, { timeoutMs: 10_000, what: 'chat.update' })
    assert.deepEqual(decisions.slice(before), [
      { incidentId: 'inc-high', decision: 'reject', by: `slack:${ADMIN}`, role: 'admin' },
    ])
    assert.ok(allText(slack.callsTo('chat.update')[0].args.blocks).includes(`*Rejected* by <@${ADMIN}>`))
  })

  test('viewers, users without a role and unknown incidents change nothing', async () => {
    const { ref } = await post('inc-view', 'medium')
    const before = decisions.length
    await click(VIEWER, 'sentinel_approve', 'inc-view', ref)
    await click('U0STRANGER', 'sentinel_approve', 'inc-view', ref)
    await click(ADMIN, 'sentinel_approve', 'inc-missing', ref)
    await waitFor(
      () => ephemeralsFor(VIEWER).length && ephemeralsFor('U0STRANGER').length && ephemeralsFor(ADMIN).length,
      { timeoutMs: 10_000, what: 'three refusals' },
    )
    assert.match(
      ephemeralsFor(VIEWER)[0].args.text,
      /only an operator or an admin may approve it, and you are a viewer/,
    )
    assert.match(ephemeralsFor('U0STRANGER')[0].args.text, /no Sentinel role/)
    assert.match(ephemeralsFor(ADMIN)[0].args.text, /inc-missing` was not found/)
    assert.equal(decisions.length, before)
  })

  test('a click while the store cannot be read tells the user so and changes nothing', async () => {
    const { ref } = await post('inc-store-down', 'medium')
    const before = decisions.length
    const seen = ephemeralsFor(OPERATOR).length
    await click(OPERATOR, 'sentinel_approve', 'inc-store-down', ref)
    await waitFor(() => ephemeralsFor(OPERATOR).length > seen, {
      timeoutMs: 10_000,
      what: 'the message to the clicker',
    })
    assert.match(
      ephemeralsFor(OPERATOR)[seen].args.text,
      /could not read incident `inc-store-down` just now; nothing was changed/,
    )
    assert.equal(decisions.length, before)
    assert.ok(logs.some((l) => l.startsWith('error slack: reading the incident failed')))
  })

  test('when chat.postEphemeral fails, the refusal goes to the response_url', async () => {
    const { ref } = await post('inc-resp', 'high')
    slack.failNext('chat.postEphemeral', 'channel_not_found')
    const before = slack.responseUrlPosts.length
    assert.equal((await click(OPERATOR, 'sentinel_approve', 'inc-resp', ref)).status, 200)
    await waitFor(() => slack.responseUrlPosts.length > before, { timeoutMs: 10_000, what: 'response_url post' })
    const { body } = slack.responseUrlPosts[before]
    assert.equal(body.response_type, 'ephemeral')
    assert.equal(body.replace_original, false)
    assert.match(body.text, /only an admin may approve it/)
  })

  test('forged, tampered, stale, future-dated, replayed and unsigned requests get 401 and change nothing', async () => {
    const { ref, inc } = await post('inc-forge', 'medium')
    slack.calls.length = 0
    const before = decisions.length
    const payload = blockActionPayload({
      userId: ADMIN,
      actionId: 'sentinel_approve',
      value: 'inc-forge',
      channel: ref.channel,
      messageTs: ref.ts,
      responseUrl: slack.responseUrl(),
    })
    const now = Math.floor(Date.now() / 1000)
    const signedOther = new URLSearchParams({ payload: JSON.stringify({ ...payload, actions: [] }) }).toString()

    const cases: [string, Parameters<typeof sendSignedInteraction>[0]][] = [
      ['wrong secret', { url, signingSecret: `${SECRET}x`, payload }],
      ['garbage signature', { url, signingSecret: SECRET, payload, signature: `v0=${'0'.repeat(64)}` }],
      ['signature of another body', { url, signingSecret: SECRET, payload, signedBody: signedOther }],
      ['timestamp 301 s old', { url, signingSecret: SECRET, payload, timestamp: now - 301 }],
      ['timestamp an hour old', { url, signingSecret: SECRET, payload, timestamp: now - 3600 }],
      ['timestamp 10 min ahead', { url, signingSecret: SECRET, payload, timestamp: now + 600 }],
      ['timestamp 2 min ahead', { url, signingSecret: SECRET, payload, timestamp: now + 120 }],
      ['timestamp 70 s ahead', { url, signingSecret: SECRET, payload, timestamp: now + 70 }],
      [
        'v1 signature',
        { url, signingSecret: SECRET, payload, signature: slackSignature(SECRET, now, 'x').replace('v0=', 'v1=') },
      ],
    ]
    for (const [name, opts] of cases) {
      const res = await sendSignedInteraction(opts)
      assert.equal(res.status, 401, name)
    }
    const unsigned = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ payload: JSON.stringify(payload) }),
    })
    assert.equal(unsigned.status, 401, 'no signature headers')

    // A real request replayed: the first is taken, the exact copy is refused.
    const body = new URLSearchParams({ payload: JSON.stringify(payload) }).toString()
    const headers = {
      'content-type': 'application/x-www-form-urlencoded',
      'x-slack-request-timestamp': String(now),
      'x-slack-signature': slackSignature(SECRET, now, body),
    }
    assert.equal((await fetch(url, { method: 'POST', headers, body })).status, 200)
    await waitFor(() => slack.callsTo('chat.update').length > 0, {
      timeoutMs: 10_000,
      what: 'the genuine request to finish',
    })
    inc.status = 'awaiting_approval' // so a replay that got through would be visible as a second decision
    assert.equal((await fetch(url, { method: 'POST', headers, body })).status, 401, 'replay')

    assert.equal(decisions.length, before + 1, 'only the genuine request decided')
    assert.equal(slack.callsTo('chat.update').length, 1)
    assert.equal(slack.callsTo('chat.postEphemeral').length, 0)
    for (const reason of ['replayed', 'stale', 'future'])
      assert.ok(
        logs.some((l) => l.includes(`"reason":"${reason}"`)),
        reason,
      )
    assert.ok(!logs.join('\n').includes(SECRET) && !logs.join('\n').includes(TOKEN), 'secrets in logs')
  })

  test('the same signed click decides once, whatever spelling of the path it is sent to', async () => {
    const { ref, inc } = await post('inc-paths', 'medium')
    slack.calls.length = 0
    const before = decisions.length
    const payload = blockActionPayload({
      userId: OPERATOR,
      actionId: 'sentinel_reject',
      value: 'inc-paths',
      channel: ref.channel,
      messageTs: ref.ts,
      responseUrl: slack.responseUrl(),
    })
    const timestamp = Math.floor(Date.now() / 1000)
    const base = url.replace('/slack/actions', '')
    // The first spelling is not the canonical one: Bolt gets it all the same (the guard hands it on).
    const first = await sendSignedInteraction({
      url: `${base}/SLACK/Actions/`,
      signingSecret: SECRET,
      payload,
      timestamp,
    })
    assert.equal(first.status, 200)
    await waitFor(() => slack.callsTo('chat.update').length > 0, {
      timeoutMs: 10_000,
      what: 'the first click to be decided',
    })
    assert.equal(decisions.length, before + 1)
    inc.status = 'awaiting_approval' // a replay that got through would now decide a second time
    for (const path of [
      '/slack/actions',
      '/slack/actions/',
      '/SLACK/ACTIONS',
      '/slack/actions?retry=1',
      '//slack//actions//',
      '/Slack/Actions',
    ]) {
      const res = await sendSignedInteraction({ url: `${base}${path}`, signingSecret: SECRET, payload, timestamp })
      assert.equal(res.status, 401, `replay on ${path}`)
    }
    // Not a spelling of the endpoint: never handed to Bolt.
    assert.equal(
      (await sendSignedInteraction({ url: `${base}/slack/actions/x`, signingSecret: SECRET, payload, timestamp }))
        .status,
      404,
    )
    await sleep(500)
    assert.equal(decisions.length, before + 1, 'a replay decided again')
    assert.equal(slack.callsTo('chat.postEphemeral').length, 0, 'a replay reached the action handler')
  })

  test('routes after the Slack router still get their body parsers', async () => {
    const res = await fetch(url.replace('/slack/actions', '/other'), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"a":1}',
    })
    assert.deepEqual(await res.json(), { parsed: { a: 1 } })
  })

  test('updateOutcome redraws the message with the decision and the outcome', async () => {
    const { ref, inc } = await post('inc-out', 'medium')
    inc.timeline.push({
      stage: 'approved',
      at: new Date().toISOString(),
      actor: `slack:${OPERATOR}`,
      summary: 'approved',
    })
    await approvals.messenger.updateOutcome(
      ref,
      { status: 'resolved', summary: 'web-inc-out restarted and healthy for 30 s' },
      inc,
    )
    const [upd] = slack.callsTo('chat.update')
    const text = allText(upd.args.blocks)
    assert.ok(text.includes(`*Approved* by <@${OPERATOR}>`))
    assert.ok(text.includes('*Fixed*') && text.includes('healthy for 30 s'))
    assert.equal(
      (upd.args.blocks as any[]).find((b) => b.type === 'actions'),
      undefined,
    )
    await approvals.messenger.updateDecision(ref, { decision: 'reject', by: 'api:key_1', reason: 'not now' })
    assert.match(allText(slack.callsTo('chat.update')[1].args.blocks), /\*Rejected\* by api:key_1: not now/)
  })

  test('verify() checks the bot token with auth.test', async () => {
    assert.deepEqual(await approvals.verify(), { team: 'sentinel-test', user: 'sentinel', botUserId: 'U0SENTINELBOT' })
    assert.equal(slack.callsTo('auth.test')[0].token, TOKEN)
    const wrong = await createSlackApprovals({
      botToken: 'xoxb-wrong',
      signingSecret: SECRET,
      channel: CHANNEL,
      apiUrl: slack.apiUrl,
      userRoles: {},
      getIncident: async () => null,
      onDecision: async () => ({ ok: true }),
    })
    await assert.rejects(wrong.verify(), /invalid_auth/)
  })

  test('Slack API errors surface as errors', async () => {
    slack.failNext('chat.postMessage', 'channel_not_found')
    await assert.rejects(approvals.messenger.postApprovalRequest(incident('inc-err', 'low')), /channel_not_found/)
  })
})

describe('Acknowledge without an onAcknowledge callback', () => {
  test('the click is answered, and the clicker told to use the dashboard or the API', async () => {
    const slack = await startSlackStandIn({ token: TOKEN })
    const approvals = await createSlackApprovals({
      botToken: TOKEN,
      signingSecret: SECRET,
      channel: CHANNEL,
      apiUrl: slack.apiUrl,
      userRoles: `${OPERATOR}:operator`,
      getIncident: async () => null,
      onDecision: async () => ({ ok: true }),
    })
    const app = express()
    app.use(approvals.router)
    const server = app.listen(0, '127.0.0.1')
    await new Promise((r) => server.once('listening', r))
    try {
      const u = `http://127.0.0.1:${(server.address() as AddressInfo).port}/slack/actions`
      const payload = blockActionPayload({
        userId: OPERATOR,
        actionId: 'sentinel_ack',
        value: 'inc_x_1',
        channel: CHANNEL,
        messageTs: '1.000001',
        responseUrl: slack.responseUrl(),
      })
      assert.equal((await sendSignedInteraction({ url: u, signingSecret: SECRET, payload })).status, 200)
      await waitFor(() => slack.callsTo('chat.postEphemeral').length > 0, { timeoutMs: 10_000, what: 'the answer' })
      assert.match(
        slack.callsTo('chat.postEphemeral')[0].args.text,
        /cannot take acknowledgements from Slack here; use the dashboard or POST \/api\/incidents\/inc_x_1\/ack/,
      )
    } finally {
      server.closeAllConnections()
      await new Promise((r) => server.close(r))
      await slack.close()
    }
  })
})

describe("Bolt's own signature check (what the guard sits in front of)", () => {
  test('Bolt alone answers 401 to a forged signature and to a timestamp over 5 minutes old', async () => {
    const slack = await startSlackStandIn({ token: TOKEN })
    let called = 0
    const approvals = await createSlackApprovals({
      botToken: TOKEN,
      signingSecret: SECRET,
      channel: CHANNEL,
      apiUrl: slack.apiUrl,
      userRoles: {},
      getIncident: async () => null,
      onDecision: async () => ({ ok: true as const, n: called++ }),
    })
    const app = express()
    app.use(approvals.receiver.router) // no guard
    const server = app.listen(0, '127.0.0.1')
    await new Promise((r) => server.once('listening', r))
    try {
      const u = `http://127.0.0.1:${(server.address() as AddressInfo).port}/slack/actions`
      const payload = blockActionPayload({
        userId: ADMIN,
        actionId: 'sentinel_approve',
        value: 'x',
        channel: CHANNEL,
        messageTs: '1.000001',
        responseUrl: slack.responseUrl(),
      })
      assert.equal((await sendSignedInteraction({ url: u, signingSecret: 'wrong', payload })).status, 401)
      assert.equal(
        (
          await sendSignedInteraction({
            url: u,
            signingSecret: SECRET,
            payload,
            timestamp: Math.floor(Date.now() / 1000) - 301,
          })
        ).status,
        401,
      )
      assert.equal((await sendSignedInteraction({ url: u, signingSecret: SECRET, payload })).status, 200)
      // What Bolt lets through on its own, and the guard must not: a click stamped 2 minutes ahead,
      // and the same signed click again on other spellings of the path (Express's routing).
      const timestamp = Math.floor(Date.now() / 1000) + 120
      for (const path of ['/slack/actions', '/slack/actions/', '/SLACK/ACTIONS']) {
        assert.equal(
          (
            await sendSignedInteraction({
              url: u.replace('/slack/actions', path),
              signingSecret: SECRET,
              payload,
              timestamp,
            })
          ).status,
          200,
          path,
        )
      }
      assert.equal(called, 0)
    } finally {
      server.closeAllConnections()
      await new Promise((r) => server.close(r))
      await slack.close()
    }
  })

  test('a body parser mounted in front of the Slack router is detected, not silently trusted', async () => {
    const approvals = await createSlackApprovals({
      botToken: TOKEN,
      signingSecret: SECRET,
      channel: CHANNEL,
      apiUrl: 'http://127.0.0.1:9/api/',
      userRoles: {},
      getIncident: async () => null,
      onDecision: async () => ({ ok: true }),
    })
    const app = express()
    app.use(express.urlencoded({ extended: false }))
    app.use(approvals.router)
    const server = app.listen(0, '127.0.0.1')
    await new Promise((r) => server.once('listening', r))
    try {
      const u = `http://127.0.0.1:${(server.address() as AddressInfo).port}/slack/actions`
      const payload = blockActionPayload({
        userId: ADMIN,
        actionId: 'sentinel_approve',
        value: 'x',
        channel: CHANNEL,
        messageTs: '1.000001',
        responseUrl: 'http://127.0.0.1:9/',
      })
      assert.equal((await sendSignedInteraction({ url: u, signingSecret: SECRET, payload })).status, 500)
    } finally {
      server.closeAllConnections()
      await new Promise((r) => server.close(r))
    }
  })
})

describe("a raw body read in front of the Slack router (as the main process's front door does)", () => {
  test('is checked like a streamed one: taken once, its replay and a forgery refused', async () => {
    const slack = await startSlackStandIn({ token: TOKEN })
    const decided: SlackDecision[] = []
    const inc = incident('inc-door', 'medium')
    const approvals = await createSlackApprovals({
      botToken: TOKEN,
      signingSecret: SECRET,
      channel: CHANNEL,
      apiUrl: slack.apiUrl,
      userRoles: `${OPERATOR}:operator`,
      getIncident: async (id) => (id === inc.id ? inc : null),
      onDecision: async (d) => {
        decided.push(d)
        return { ok: true }
      },
    })
    const app = express()
    // The door: reads the whole stream, hands the bytes on, and marks the body read for later parsers.
    app.use((req, _res, next) => {
      const chunks: Buffer[] = []
      req.on('data', (c: Buffer) => chunks.push(c))
      req.on('end', () => {
        ;(req as unknown as { rawBody: Buffer; _body: boolean }).rawBody = Buffer.concat(chunks)
        ;(req as unknown as { _body: boolean })._body = true
        next()
      })
    })
    app.use(approvals.router)
    const server = app.listen(0, '127.0.0.1')
    await new Promise((r) => server.once('listening', r))
    try {
      const u = `http://127.0.0.1:${(server.address() as AddressInfo).port}/slack/actions`
      const payload = blockActionPayload({
        userId: OPERATOR,
        actionId: 'sentinel_approve',
        value: inc.id,
        channel: CHANNEL,
        messageTs: '1.000001',
        responseUrl: slack.responseUrl(),
      })
      const timestamp = Math.floor(Date.now() / 1000)
      assert.equal((await sendSignedInteraction({ url: u, signingSecret: 'wrong', payload })).status, 401)
      assert.equal((await sendSignedInteraction({ url: u, signingSecret: SECRET, payload, timestamp })).status, 200)
      await waitFor(() => decided.length > 0, { timeoutMs: 10_000, what: 'the decision' })
      assert.equal(
        (await sendSignedInteraction({ url: `${u}/`, signingSecret: SECRET, payload, timestamp })).status,
        401,
      )
      await sleep(300)
      assert.equal(decided.length, 1)
    } finally {
      server.closeAllConnections()
      await new Promise((r) => server.close(r))
      await slack.close()
    }
  })
})

describe('the signature guard, piece by piece', () => {
  const signed = (ts: number, body = 'payload=%7B%7D') => ({
    'x-slack-request-timestamp': String(ts),
    'x-slack-signature': slackSignature(SECRET, ts, body),
  })
  test('a timestamp may be up to 5 minutes old and up to a minute ahead', () => {
    const now = Date.parse('2025-06-01T12:00:00Z')
    const t = now / 1000
    const at = (ts: number) => checkSlackSignature(SECRET, signed(ts), 'payload=%7B%7D', now)
    assert.deepEqual(at(t), { ok: true })
    assert.deepEqual(at(t - MAX_AGE_SECONDS), { ok: true })
    assert.deepEqual(at(t - MAX_AGE_SECONDS - 1), { ok: false, reason: 'stale' })
    assert.deepEqual(at(t + MAX_AHEAD_SECONDS), { ok: true })
    assert.deepEqual(at(t + MAX_AHEAD_SECONDS + 1), { ok: false, reason: 'future' })
    assert.deepEqual(at(t + 120), { ok: false, reason: 'future' })
    assert.equal(MAX_AHEAD_SECONDS, 60)
  })
  test('every spelling of a path a router would take for the endpoint is the endpoint', () => {
    for (const p of [
      '/slack/actions',
      '/slack/actions/',
      '/SLACK/ACTIONS',
      '/Slack/Actions//',
      '//slack//actions',
      '/slack/actions?a=1',
      '/slack/actions/?a=/b/',
      '/slack/actions#f',
    ]) {
      assert.equal(canonicalPath(p), '/slack/actions', p)
    }
    for (const p of ['/slack/actions/x', '/slack/action', '/slackactions', '/slack/%61ctions'])
      assert.notEqual(canonicalPath(p), '/slack/actions', p)
    assert.equal(canonicalPath('/'), '/')
  })
  test('the replay key is what the signature covers: timestamp and body, nothing else', () => {
    assert.equal(replayKey('1700000000', 'a=1'), replayKey('1700000000', Buffer.from('a=1')))
    assert.notEqual(replayKey('1700000000', 'a=1'), replayKey('1700000001', 'a=1'))
    assert.notEqual(replayKey('1700000000', 'a=1'), replayKey('1700000000', 'a=2'))
  })
  test('the replay cache remembers a request for as long as its timestamp could pass', () => {
    const cache = createReplayCache()
    const t0 = Date.parse('2025-06-01T12:00:00Z')
    assert.equal(cache.firstUse('k', t0), true)
    assert.equal(cache.firstUse('k', t0 + (MAX_AGE_SECONDS + MAX_AHEAD_SECONDS) * 1000 - 1), false)
    assert.equal(cache.firstUse('k', t0 + (MAX_AGE_SECONDS + MAX_AHEAD_SECONDS) * 1000 + 1), true)
  })
})
