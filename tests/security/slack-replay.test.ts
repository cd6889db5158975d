/**
 * Issue #17, point 7, against a real Sentinel whose Slack is a local stand-in: one signed click
 * decides once, whatever spelling of `/slack/actions` it is replayed on, and a click stamped
 * 2 minutes in the future is refused. A restarted Sentinel refuses the replay too (the guard's
 * memory is in Redis). Bolt alone would take both (see src/approve/slack/slack.test.ts);
 * the decision would then be refused as a conflict, so what shows a replay getting through is the
 * action handler running again: a 200 instead of a 401 and an "already rejected" message to the user.
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

const OPERATOR = 'U0OPS'

describe('Slack: replays on other paths and future timestamps', () => {
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
        // Every fix waits for a person.
        CONFIDENCE_THRESHOLD: '1',
        SLACK_BOT_TOKEN: token,
        SLACK_SIGNING_SECRET: signingSecret,
        SLACK_CHANNEL: 'C0SENTINEL',
        SLACK_API_URL: slack.apiUrl,
        SLACK_USER_ROLES: `U0ADMIN:admin,${OPERATOR}:operator`,
      },
    })
  })
  after(async () => {
    await removeContainers(...containers)
    await sentinel?.cleanup()
    await slack?.close()
    await redis?.stop()
  })

  it('refuses a click stamped 2 minutes ahead; takes the genuine click once and refuses it on /slack/actions, /slack/actions/ and /SLACK/ACTIONS, before and after a restart', async () => {
    const name = uniqueName('slack-replay')
    containers.push(name)
    await createIdle(name, WATCH_ARG)
    const trig = await sentinel.post('/api/trigger-alert', { type: 'container_down', resource: name })
    assert.equal(trig.status, 202, JSON.stringify(trig.body))
    const id = trig.body.incidentId as string
    const ref = await waitFor(async () => (await sentinel.get(`/api/incidents/${id}`)).body.approval?.slack, {
      timeoutMs: 30_000,
      what: 'the approval message in Slack',
    })
    const approval = async () => (await sentinel.get(`/api/incidents/${id}`)).body.approval
    const toldOperator = () => slack.callsTo('chat.postEphemeral').filter((c) => c.args.user === OPERATOR)
    const payload = blockActionPayload({
      userId: OPERATOR,
      actionId: 'sentinel_reject',
      value: id,
      channel: ref.channel,
      messageTs: ref.ts,
      responseUrl: slack.responseUrl(OPERATOR),
    })
    const send = (path: string, timestamp: number) =>
      sendSignedInteraction({ url: `${sentinel.url}${path}`, signingSecret, payload, timestamp })

    // Stamped 2 minutes ahead: refused, and the handler never ran (it would have decided).
    const future = await send('/slack/actions', Math.floor(Date.now() / 1000) + 120)
    assert.equal(future.status, 401, 'a click stamped 2 minutes ahead')
    await sleep(1500)
    assert.equal((await approval()).status, 'pending', 'the future-dated click decided')
    assert.equal(toldOperator().length, 0)

    // The genuine click decides.
    const timestamp = Math.floor(Date.now() / 1000)
    assert.equal((await send('/slack/actions', timestamp)).status, 200)
    const decided = await waitFor(async () => ((await approval()).status === 'rejected' ? approval() : null), {
      timeoutMs: 15_000,
      what: 'the click to reject the fix',
    })
    assert.equal(decided.decidedBy, `slack:${OPERATOR}`)
    await waitFor(() => slack.callsTo('chat.update').some((c) => c.args.ts === ref.ts), {
      timeoutMs: 15_000,
      what: 'the Slack message to show the decision',
    })

    // The same bytes, signature and timestamp again, on other spellings of the endpoint.
    for (const path of ['/slack/actions', '/slack/actions/', '/SLACK/ACTIONS']) {
      assert.equal((await send(path, timestamp)).status, 401, `the click replayed on ${path}`)
    }
    // And after a restart: accepted clicks are remembered in Redis, not in the process that took them.
    await sentinel.stop()
    await sentinel.restart()
    assert.equal((await send('/slack/actions', timestamp)).status, 401, 'the click replayed after a restart')
    await sleep(1500)
    assert.deepEqual(
      toldOperator().map((c) => c.args.text),
      [],
      'a replay reached the action handler (it answers a second decision with "already rejected")',
    )
    const audit = await sentinel.get(`/api/audit?incident=${id}`, 'admin')
    assert.equal(audit.status, 200)
    assert.equal(audit.body.events.filter((e: any) => e.kind === 'approval.rejected').length, 1, 'one decision audited')
    assert.equal((await approval()).decidedBy, `slack:${OPERATOR}`)
  })
})
