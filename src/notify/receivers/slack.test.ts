import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import { incidentFixture, never, notificationFor, readerOf, rejection } from '../../../tests/helpers/receiver-fixtures'
import { startRedis, type TestRedis } from '../../../tests/helpers/redis'
import { startSlackStandIn, type SlackStandIn } from '../../../tests/helpers/slack-standin'
import { ACKNOWLEDGE_ACTION, approvalMessage } from '../../approve/slack/blocks'
import { APPROVE_ACTION, REJECT_ACTION } from '../../approve/slack/config'
import type { Incident } from '../../platform/store/model'
import { DeliveryError } from '../types'
import { createSlackReceiver, SLACK_REF_TTL_SECONDS, slackConfig, slackIncidentMessage, slackRefKey } from './slack'

const TOKEN = `xoxb-test-${randomBytes(8).toString('hex')}`
const CHANNEL = 'C0ONCALL'

/** Every button's action_id in a message's blocks. */
const buttons = (blocks: any[] | undefined): string[] =>
  (blocks ?? []).filter((b) => b.type === 'actions').flatMap((b) => b.elements.map((e: any) => e.action_id))
const textOf = (blocks: any[] | undefined) => JSON.stringify(blocks ?? [])

function awaitingApproval(over: Partial<Incident> = {}): Incident {
  const now = new Date().toISOString()
  return incidentFixture({
    status: 'awaiting_approval',
    decision: {
      route: 'approval',
      risk: 'medium',
      actionId: 'restart-container',
      params: {},
      approverRole: 'operator',
      reasons: ['restarts fix this'],
      rule: 'container-down',
      decidedAt: now,
    },
    approval: {
      status: 'pending',
      approverRole: 'operator',
      risk: 'medium',
      actionId: 'restart-container',
      params: {},
      requestedAt: now,
      expiresAt: new Date(Date.now() + 3_600_000).toISOString(),
    },
    ...over,
  })
}

describe('Slack receiver: one message per incident, updated in place and threaded', () => {
  let redis: TestRedis
  let slack: SlackStandIn
  const receiver = (name = 'slack-test', extra: Record<string, unknown> = {}) =>
    createSlackReceiver(
      name,
      slackConfig.parse({ channel: CHANNEL, token: { env: 'SLACK_TOKEN_T' }, api_url: slack.apiUrl, ...extra }),
      { redis: redis.client, secret: readerOf({ SLACK_TOKEN_T: TOKEN }) },
    )
  const postsTo = (ts?: string) =>
    slack.callsTo('chat.postMessage').filter((c) => (ts ? c.args.thread_ts === ts : !c.args.thread_ts))

  before(async () => {
    redis = await startRedis()
    slack = await startSlackStandIn({ token: TOKEN })
  })
  after(async () => {
    await slack.close()
    await redis.stop()
  })

  it('posts the message on the first notification, keeps its place in Redis for 30 days, and replies in its thread', async () => {
    const i = incidentFixture({ status: 'open' })
    const n = notificationFor(i, 'opened', { url: `https://sentinel.example/incidents/${i.id}` })
    const roots = postsTo().length
    await receiver().send(n, never())
    assert.equal(postsTo().length, roots + 1)
    const root = slack.messages.filter((m) => !m.thread_ts).at(-1)!
    assert.equal(root.channel, CHANNEL)
    assert.match(textOf(root.blocks), /container web-1 is down/)
    assert.deepEqual(buttons(root.blocks), [ACKNOWLEDGE_ACTION, 'sentinel_open'])
    const ack = root
      .blocks!.flatMap((b: any) => (b.type === 'actions' ? b.elements : []))
      .find((e: any) => e.action_id === ACKNOWLEDGE_ACTION)
    assert.equal(ack.value, i.id)
    assert.ok(textOf(root.blocks).includes('nobody has taken it yet'))

    const key = slackRefKey('slack-test', i.id)
    assert.deepEqual(JSON.parse((await redis.client.get(key))!), { channel: CHANNEL, ts: root.ts })
    const ttl = await redis.client.ttl(key)
    assert.ok(ttl > SLACK_REF_TTL_SECONDS - 60 && ttl <= SLACK_REF_TTL_SECONDS)

    const replies = slack.replies(CHANNEL, root.ts)
    assert.equal(replies.length, 1)
    assert.match(replies[0].text!, /Opened/)
    assert.deepEqual(replies[0].metadata, {
      event_type: 'sentinel_notification',
      event_payload: { key: n.key, kind: 'opened', level: 1, incident_id: i.id },
    })
  })

  it('later notifications update the same message (Acknowledge goes once taken or closed) and add thread replies', async () => {
    const i = incidentFixture({ status: 'open' })
    const r = receiver()
    await r.send(notificationFor(i, 'opened'), never())
    const root = slack.messages.filter((m) => !m.thread_ts).at(-1)!
    const rootsBefore = postsTo().length

    await r.send(notificationFor({ ...i, status: 'escalated' }, 'escalated'), never())
    await r.send(notificationFor({ ...i, status: 'escalated' }, 'repeat', { level: 2 }), never())
    assert.deepEqual(buttons(slack.message(CHANNEL, root.ts)!.blocks), [ACKNOWLEDGE_ACTION])
    assert.ok(textOf(slack.message(CHANNEL, root.ts)!.blocks).includes('level 2'))

    const acked = {
      ...i,
      status: 'escalated' as const,
      acknowledgement: { by: 'slack:U0ALICE1', at: new Date().toISOString() },
    }
    await r.send(notificationFor(acked, 'acknowledged'), never())
    const afterAck = slack.message(CHANNEL, root.ts)!
    assert.deepEqual(buttons(afterAck.blocks), [], 'no Acknowledge once someone took it')
    assert.ok(textOf(afterAck.blocks).includes('taken by <@U0ALICE1>'))

    await r.send(
      notificationFor({ ...acked, status: 'resolved', resolvedAt: new Date().toISOString() }, 'resolved'),
      never(),
    )
    const last = slack.message(CHANNEL, root.ts)!
    assert.equal(last.updates, 4)
    assert.ok(textOf(last.blocks).includes('Resolved'))
    assert.equal(postsTo().length, rootsBefore, 'no second message in the channel')
    assert.deepEqual(
      slack.replies(CHANNEL, root.ts).map((m) => m.metadata.event_payload.kind),
      ['opened', 'escalated', 'repeat', 'acknowledged', 'resolved'],
    )
    assert.match(slack.replies(CHANNEL, root.ts)[3].text!, /Acknowledged\* by <@U0ALICE1>/)
  })

  it('a notification delivered twice (a retry) updates again but posts its thread reply once', async () => {
    const i = incidentFixture()
    const r = receiver()
    const n = notificationFor(i, 'escalated')
    await r.send(n, never())
    await r.send(n, never())
    const root = slack.messages.filter((m) => !m.thread_ts).at(-1)!
    assert.equal(slack.replies(CHANNEL, root.ts).length, 1)
    assert.equal(slack.message(CHANNEL, root.ts)!.updates, 1)
  })

  it('updates the approval message an incident already has, with Acknowledge beside Approve and Reject', async () => {
    const approvalChannel = 'C0APPROVALS'
    const i0 = awaitingApproval()
    // The approval message, as src/approve/slack posts it.
    const approvalPost = await fetch(`${slack.apiUrl}chat.postMessage`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ channel: approvalChannel, ...approvalMessage(i0) }),
    }).then((res) => res.json() as Promise<any>)
    const i = { ...i0, approval: { ...i0.approval!, slack: { channel: approvalChannel, ts: approvalPost.ts } } }
    const roots = postsTo().length
    await receiver().send(notificationFor(i, 'approval_requested'), never())
    assert.equal(postsTo().length, roots, 'no second message')
    const m = slack.message(approvalChannel, approvalPost.ts)!
    assert.equal(m.updates, 1)
    assert.deepEqual(buttons(m.blocks), [APPROVE_ACTION, REJECT_ACTION, ACKNOWLEDGE_ACTION])
    assert.ok(textOf(m.blocks).includes('Awaiting approval'))
    assert.equal(slack.replies(approvalChannel, approvalPost.ts).length, 1)
    assert.deepEqual(JSON.parse((await redis.client.get(slackRefKey('slack-test', i.id)))!), {
      channel: approvalChannel,
      ts: approvalPost.ts,
    })

    // Once approved, the decision shows and Acknowledge stays on its own while nobody has taken it.
    const approved: Incident = {
      ...i,
      status: 'remediating',
      approval: { ...i.approval, status: 'approved' },
      timeline: [
        ...i.timeline,
        { stage: 'approved', at: new Date().toISOString(), actor: 'slack:U0OPER1', summary: 'approved' },
      ],
    }
    await receiver().send(notificationFor(approved, 'escalated'), never())
    const after = slack.message(approvalChannel, approvalPost.ts)!
    assert.deepEqual(buttons(after.blocks), [ACKNOWLEDGE_ACTION])
    assert.match(textOf(after.blocks), /Approved\* by <@U0OPER1>/)
  })

  it('a message deleted in Slack is posted again, and the new place is kept', async () => {
    const i = incidentFixture()
    const r = receiver()
    await r.send(notificationFor(i, 'opened'), never())
    const first = slack.messages.filter((m) => !m.thread_ts).at(-1)!
    slack.deleteMessage(CHANNEL, first.ts)
    await r.send(notificationFor(i, 'escalated'), never())
    const second = slack.messages.filter((m) => !m.thread_ts).at(-1)!
    assert.notEqual(second.ts, first.ts)
    assert.deepEqual(JSON.parse((await redis.client.get(slackRefKey('slack-test', i.id)))!), {
      channel: CHANNEL,
      ts: second.ts,
    })
    assert.equal(slack.replies(CHANNEL, second.ts).length, 1)
  })

  it('when another delivery stored its message first, the one just posted is deleted and the stored one updated', async () => {
    const i = incidentFixture()
    const other = await fetch(`${slack.apiUrl}chat.postMessage`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ channel: CHANNEL, text: 'the other delivery' }),
    }).then((res) => res.json() as Promise<any>)
    const key = slackRefKey('slack-race', i.id)
    // The other delivery stores its place between this one's read and its SET NX.
    const original = redis.client.get.bind(redis.client)
    let first = true
    ;(redis.client as any).get = async (k: string) => {
      const v = await original(k)
      if (k === key && first) {
        first = false
        await redis.client.set(key, JSON.stringify({ channel: CHANNEL, ts: other.ts }))
      }
      return v
    }
    try {
      await receiver('slack-race').send(notificationFor(i, 'opened'), never())
    } finally {
      ;(redis.client as any).get = original
    }
    const mine = slack.messages.filter((m) => !m.thread_ts).at(-1)!
    assert.equal(mine.deleted, true)
    assert.equal(slack.message(CHANNEL, other.ts)!.updates, 1)
    assert.equal(slack.replies(CHANNEL, other.ts).length, 1)
  })

  it('ratelimited (HTTP 429) is retryable after its Retry-After; invalid_auth is permanent; neither shows the token', async () => {
    const r = receiver()
    slack.failNext('chat.postMessage', 'ratelimited', 1, { status: 429, retryAfter: 9 })
    const e1 = await rejection<DeliveryError>(r.send(notificationFor(incidentFixture(), 'opened'), never()))
    assert.ok(e1 instanceof DeliveryError, String(e1))
    assert.equal(e1.permanent, false)
    assert.equal(e1.retryAfterMs, 9000)
    assert.match(e1.message, /chat\.postMessage: ratelimited/)

    slack.failNext('chat.update', 'internal_error', 1)
    const i = incidentFixture()
    await r.send(notificationFor(i, 'opened'), never())
    const e2 = await rejection<DeliveryError>(r.send(notificationFor(i, 'escalated'), never()))
    assert.equal(e2.permanent, false)

    slack.failNext('chat.postMessage', 'channel_not_found', 1)
    const e3 = await rejection<DeliveryError>(r.send(notificationFor(incidentFixture(), 'opened'), never()))
    assert.equal(e3.permanent, true)

    const wrong = `xoxb-wrong-${randomBytes(6).toString('hex')}`
    const bad = createSlackReceiver(
      'slack-bad',
      slackConfig.parse({ channel: CHANNEL, token: { env: 'T' }, api_url: slack.apiUrl }),
      {
        redis: redis.client,
        secret: readerOf({ T: wrong }),
      },
    )
    const e4 = await rejection<DeliveryError>(bad.send(notificationFor(incidentFixture(), 'opened'), never()))
    assert.equal(e4.permanent, true)
    assert.match(e4.message, /invalid_auth/)
    for (const e of [e1, e2, e3, e4]) assert.ok(!e.message.includes(TOKEN) && !e.message.includes(wrong))
  })

  it('Slack down is retryable', async () => {
    const r = createSlackReceiver(
      'slack-down',
      slackConfig.parse({ channel: CHANNEL, token: { env: 'T' }, api_url: 'http://127.0.0.1:9/api/' }),
      {
        redis: redis.client,
        secret: readerOf({ T: TOKEN }),
      },
    )
    const err = await rejection<DeliveryError>(r.send(notificationFor(incidentFixture(), 'opened'), never()))
    assert.ok(err instanceof DeliveryError, String(err))
    assert.equal(err.permanent, false)
  })

  it('a missing token fails at construction; the token defaults to SLACK_BOT_TOKEN; the settings are strict', () => {
    assert.throws(
      () =>
        createSlackReceiver('slack-notoken', slackConfig.parse({ channel: CHANNEL }), {
          redis: redis.client,
          secret: readerOf({}),
        }),
      /slack receiver "slack-notoken": token: environment variable SLACK_BOT_TOKEN is not set/,
    )
    assert.deepEqual(slackConfig.parse({ channel: CHANNEL }).token, { env: 'SLACK_BOT_TOKEN' })
    assert.equal(slackConfig.safeParse({ channel: CHANNEL, api_url: 'ftp://x' }).success, false)
    assert.equal(slackConfig.safeParse({ channel: CHANNEL, webhook: 'x' }).success, false)
    assert.equal(slackConfig.safeParse({}).success, false)
  })

  it('the message of a closed incident has no buttons; its text is escaped', () => {
    const i = incidentFixture({ status: 'resolved', title: '<!channel> & <@U123>' })
    const m = slackIncidentMessage(notificationFor(i, 'resolved'))
    assert.deepEqual(buttons(m.blocks), [])
    assert.ok(!m.text.includes('<!channel>'))
    assert.ok(m.text.includes('&lt;!channel&gt; &amp; &lt;@U123&gt;'))
  })
})
