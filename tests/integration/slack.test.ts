/**
 * Slack approvals end to end: a real Sentinel posts the approval message through the real
 * WebClient to a local stand-in of Slack's Web API; real signed interactivity requests approve
 * it; forged, stale and under-privileged clicks change nothing.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import { createIdle, removeContainers, uniqueName } from '../helpers/docker'
import { sleep, waitFor } from '../helpers/ports'
import { startRedis, type TestRedis } from '../helpers/redis'
import { type SentinelInstance, startSentinel, WATCH_ARG } from '../helpers/sentinel'
import {
  blockActionPayload,
  sendSignedInteraction,
  type SlackStandIn,
  startSlackStandIn,
} from '../helpers/slack-standin'

describe('Slack approvals', () => {
  let redis: TestRedis
  let sentinel: SentinelInstance
  let slack: SlackStandIn
  const containers: string[] = []
  const token = `xoxb-test-${randomBytes(8).toString('hex')}`
  const signingSecret = randomBytes(16).toString('hex')

  before(async () => {
    redis = await startRedis()
    slack = await startSlackStandIn({ token })
    sentinel = await startSentinel({
      redisPort: redis.port,
      env: {
        CONFIDENCE_THRESHOLD: '1',
        VERIFY_STABLE_SECONDS: '0.5',
        SLACK_BOT_TOKEN: token,
        SLACK_SIGNING_SECRET: signingSecret,
        SLACK_CHANNEL: 'C0SENTINEL',
        SLACK_API_URL: slack.apiUrl,
        SLACK_USER_ROLES: 'U0ADMIN:admin,U0OPS:operator,U0VIEW:viewer',
      },
    })
  })
  after(async () => {
    await removeContainers(...containers)
    await sentinel?.cleanup()
    await slack?.close()
    await redis?.stop()
  })

  it('posts the approval with buttons, refuses forged and stale clicks, and acts on a signed one', async () => {
    const name = uniqueName('slack')
    containers.push(name)
    await createIdle(name, WATCH_ARG)
    const trig = await sentinel.post('/api/trigger-alert', { type: 'container_down', resource: name })
    assert.equal(trig.status, 202)
    const id = trig.body.incidentId as string

    const posted = await waitFor(
      () => slack.callsTo('chat.postMessage').find((c) => JSON.stringify(c.args.blocks ?? []).includes(id)),
      {
        timeoutMs: 30_000,
        what: 'the approval message in Slack',
      },
    )
    assert.equal(posted.token, token)
    assert.equal(posted.args.channel, 'C0SENTINEL')
    const actionIds = JSON.stringify(posted.args.blocks)
    assert.match(actionIds, /sentinel_approve/)
    assert.match(actionIds, /sentinel_reject/)
    const stored = await waitFor(async () => (await sentinel.get(`/api/incidents/${id}`)).body.approval?.slack, {
      timeoutMs: 10_000,
      what: 'the message reference',
    })

    const url = `${sentinel.url}/slack/actions`
    const click = (userId: string) =>
      blockActionPayload({
        userId,
        actionId: 'sentinel_approve',
        value: id,
        channel: stored.channel,
        messageTs: stored.ts,
        responseUrl: slack.responseUrl(userId),
      })

    const forged = await sendSignedInteraction({ url, signingSecret: 'not-the-secret', payload: click('U0ADMIN') })
    assert.equal(forged.status, 401)
    const stale = await sendSignedInteraction({
      url,
      signingSecret,
      payload: click('U0ADMIN'),
      timestamp: Math.floor(Date.now() / 1000) - 600,
    })
    assert.equal(stale.status, 401)
    const viewer = await sendSignedInteraction({ url, signingSecret, payload: click('U0VIEW') })
    assert.equal(viewer.status, 200)
    await sleep(1500)
    assert.equal(
      (await sentinel.get(`/api/incidents/${id}`)).body.approval.status,
      'pending',
      'forged, stale and viewer clicks changed nothing',
    )

    const ok = await sendSignedInteraction({ url, signingSecret, payload: click('U0OPS') })
    assert.equal(ok.status, 200)
    const resolved = await waitFor(
      async () => {
        const r = await sentinel.get(`/api/incidents/${id}`)
        return r.body.status === 'resolved' ? r.body : null
      },
      { timeoutMs: 45_000, what: 'the incident approved in Slack to resolve' },
    )
    assert.equal(resolved.approval.decidedBy, 'slack:U0OPS')
    await waitFor(
      () =>
        slack.callsTo('chat.update').some((c) => c.args.ts === stored.ts && /resolved/i.test(JSON.stringify(c.args))),
      {
        timeoutMs: 15_000,
        what: 'the Slack message to show the outcome',
      },
    )
  })
})
