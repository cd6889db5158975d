/**
 * @exclusive: it starts private Docker engines (vfs, an image imported into each), the heaviest
 * load in the suite; alone, it neither slows the browser tests beside it nor is slowed by them.
 *
 * Remote diagnostic commands end to end with real parts: a controller (a real Sentinel), one node
 * (its own dockerd) with its agent, one Redis. An admin runs a named command in a watched container
 * on the node: its output reaches the admin's live stream while the command still runs (and never a
 * viewer's), and the audit keeps its exit code, duration and output. What is wrong is named: an
 * unknown command, an unwatched container, an unknown or down node; an operator may not run one.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import { FLEET_SEEN_KEY } from '../../src/platform/fleet/keys'
import { connectSse, type SseConnection } from '../../src/platform/stream/sse-client'
import { startAgent, type TestAgent } from '../helpers/agent'
import { TEST_IMAGE } from '../helpers/docker'
import { startPrivateDockerd, type PrivateDockerd } from '../helpers/dockerd'
import { waitFor } from '../helpers/ports'
import { startRedis, type TestRedis } from '../helpers/redis'
import { startSentinel, type TestRole, WATCH_ARG, type SentinelInstance } from '../helpers/sentinel'

const RUN = randomBytes(3).toString('hex')
const HEARTBEAT_S = 1
const DOWN_AFTER_S = 4
const NODE = `cmdnode-${RUN}`
const GO_FILE = `/tmp/go-${RUN}`
// The command prints a line, then waits for the test to let it go: its first line can only reach
// the stream before the answer if output is streamed as it is produced.
const NODE_COMMANDS = JSON.stringify({
  'wait-for-go': ['sh', '-c', `echo first-line; while [ ! -e ${GO_FILE} ]; do sleep 0.1; done; echo second-line >&2`],
  ps: ['ps'],
})

type Event = { kind: string; node?: string; resource?: string; actor?: string; outcome?: string; data?: any }
const auditEvents = (c: SseConnection): Event[] =>
  c.events.filter((e) => e.event === 'audit').map((e) => JSON.parse(e.data) as Event)

describe('remote diagnostic commands on a node', { timeout: 240_000 }, () => {
  let redis: TestRedis
  let sentinel: SentinelInstance
  let engine: PrivateDockerd
  let agent: TestAgent
  const watched = `cmd-w-${RUN}`
  const unwatched = `cmd-u-${RUN}`
  const open: SseConnection[] = []

  const post = (body: unknown, as: TestRole = 'admin', node = NODE) =>
    sentinel.post(`/api/nodes/${node}/commands`, body, as)
  const stream = async (as: TestRole) => {
    const t = await sentinel.post('/api/stream/token', {}, as)
    assert.equal(t.status, 200, JSON.stringify(t.body))
    const c = await connectSse(`${sentinel.url}/api/stream?token=${encodeURIComponent(t.body.token)}`)
    open.push(c)
    assert.equal(c.status, 200)
    return c
  }
  const nodeState = async () => {
    const raw = await redis.client.hget(FLEET_SEEN_KEY, NODE)
    return raw ? (JSON.parse(raw).state as string) : null
  }

  before(async () => {
    redis = await startRedis()
    engine = await startPrivateDockerd()
    sentinel = await startSentinel({
      redisPort: redis.port,
      env: {
        NODE_NAME: `ctl-${RUN}`,
        AGENT_HEARTBEAT_SECONDS: String(HEARTBEAT_S),
        NODE_DOWN_AFTER_SECONDS: String(DOWN_AFTER_S),
        NODE_ACTION_TIMEOUT_SECONDS: '5',
        NODE_COMMANDS,
      },
    })
    const idle = ['sh', '-c', 'trap "exit 0" TERM; while true; do sleep 0.2; done']
    await engine.docker('run', '-d', '--network', 'none', '--name', watched, '--label', WATCH_ARG, TEST_IMAGE, ...idle)
    await engine.docker('run', '-d', '--network', 'none', '--name', unwatched, TEST_IMAGE, ...idle)
    agent = await startAgent({
      node: NODE,
      redisPort: redis.port,
      socket: engine.socket,
      env: {
        AGENT_HEARTBEAT_SECONDS: String(HEARTBEAT_S),
        NODE_DOWN_AFTER_SECONDS: String(DOWN_AFTER_S),
        NODE_COMMANDS,
      },
    })
    // Up by the controller's record, with the watched container in its last status.
    await waitFor(
      async () => {
        if ((await nodeState()) !== 'up') return false
        const nodes = (await sentinel.get('/api/nodes')).body.nodes as {
          name: string
          containers: { name: string }[]
        }[]
        return nodes.some((n) => n.name === NODE && n.containers.some((c) => c.name === watched))
      },
      { timeoutMs: 60_000, what: 'the node to be up with its watched container' },
    )
  })

  after(async () => {
    for (const c of open) c.close()
    await agent?.cleanup()
    await sentinel?.cleanup()
    if (engine) {
      await engine.docker('rm', '-f', watched, unwatched).catch(() => {})
      await engine.remove()
    }
    await redis?.stop()
  })

  it('streams the output to admins as it is produced, answers with the result, and audits it', async () => {
    const admin = await stream('admin')
    const viewer = await stream('viewer')
    const answer = post({ command: 'wait-for-go', container: watched })
    let runId = ''
    await admin
      .waitFor(
        (c) =>
          auditEvents(c).some((e) => {
            if (e.kind !== 'node.command.output' || !String(e.data?.text).includes('first-line')) return false
            runId = e.data.runId
            return true
          }),
        60_000,
        'the first line on the live stream',
      )
      .catch((err) => {
        throw new Error(`${(err as Error).message}\n${agent.output().slice(-2000)}\n${sentinel.output().slice(-2000)}`)
      })
    // The command is still waiting: only now may it finish.
    assert.equal(
      auditEvents(admin).some((e) => e.kind === 'node.command'),
      false,
    )
    await engine.docker('exec', watched, 'touch', GO_FILE)
    const r = await answer
    assert.equal(r.status, 200, JSON.stringify(r.body))
    assert.equal(r.body.runId, runId)
    assert.equal(r.body.node, NODE)
    assert.equal(r.body.container, watched)
    assert.equal(r.body.command, 'wait-for-go')
    assert.equal(r.body.exitCode, 0)
    assert.equal(r.body.timedOut, false)
    assert.equal(r.body.truncated, false)
    assert.equal(typeof r.body.durationMs, 'number')
    assert.equal(r.body.output, 'first-line\nsecond-line\n')
    await admin.waitFor(
      (c) => auditEvents(c).some((e) => e.kind === 'node.command.output' && e.data?.text.includes('second-line')),
      30_000,
      'the second line on the live stream',
    )
    const live = auditEvents(admin).filter((e) => e.kind === 'node.command.output' && e.data.runId === runId)
    assert.ok(live.every((e) => e.node === NODE && e.resource === watched))
    assert.ok(live.some((e) => e.outcome === 'stderr' && e.data.text === 'second-line\n'))
    // The audit entry, as GET /api/audit serves it.
    const audit = (await sentinel.get('/api/audit?limit=50')).body.events as Event[]
    const entry = audit.find((e) => e.kind === 'node.command' && e.data?.runId === runId)
    assert.ok(entry, 'node.command is audited')
    assert.match(entry.actor ?? '', /^key:/)
    assert.equal(entry.node, NODE)
    assert.equal(entry.resource, watched)
    assert.equal(entry.outcome, 'ok')
    assert.equal(entry.data.command, 'wait-for-go')
    assert.equal(entry.data.exitCode, 0)
    assert.equal(entry.data.output, 'first-line\nsecond-line\n')
    assert.equal(entry.data.durationMs, r.body.durationMs)
    // A viewer's stream, open the whole time, carried none of it. The marker: an incident opened
    // after the admin had the run's audit entry reaches the viewer after anything sent before it.
    await admin.waitFor(
      (c) => auditEvents(c).some((e) => e.kind === 'node.command' && e.data?.runId === runId),
      30_000,
      'the audit entry on the live stream',
    )
    const marker = `marker-${RUN}`
    const t = await sentinel.post('/api/trigger-alert', { type: 'cpu', resource: marker, value: 97 }, 'admin')
    assert.equal(t.status, 202, JSON.stringify(t.body))
    await viewer.waitFor(
      (c) => c.events.some((e) => e.event === 'incident.opened' && JSON.parse(e.data).resource?.name === marker),
      30_000,
      'the marker incident on the viewer stream',
    )
    assert.equal(viewer.events.filter((e) => e.event === 'audit').length, 0)
  })

  it('names what is wrong: unknown command, unwatched container, unknown node; an operator may not', async () => {
    const unknown = await post({ command: 'rm-everything', container: watched })
    assert.equal(unknown.status, 400)
    assert.match(unknown.body.message, /unknown command "rm-everything": the known ones are ps, wait-for-go/)
    const argv = await post({ command: 'ps', container: watched, argv: ['rm', '-rf', '/'] })
    assert.equal(argv.status, 400)
    assert.match(argv.body.message, /argv/)
    const notWatched = await post({ command: 'ps', container: unwatched })
    assert.equal(notWatched.status, 404)
    assert.match(
      notWatched.body.message,
      new RegExp(`container ${unwatched} is not a watched container on node ${NODE}`),
    )
    const nowhere = await post({ command: 'ps', container: watched }, 'admin', `nowhere-${RUN}`)
    assert.equal(nowhere.status, 404)
    assert.match(nowhere.body.message, /node nowhere-\w+ is not known/)
    const operator = await post({ command: 'ps', container: watched }, 'operator')
    assert.equal(operator.status, 403)
    // None of these ran anything: only the one run of the first test is in the audit.
    const audit = (await sentinel.get('/api/audit?limit=200')).body.events as Event[]
    assert.equal(audit.filter((e) => e.kind === 'node.command').length, 1)
  })

  it('refuses a node that is down', async () => {
    await agent.stop()
    await waitFor(async () => (await nodeState()) === 'down', {
      timeoutMs: (DOWN_AFTER_S + 10) * 1000,
      what: 'the node to be down',
    })
    const r = await post({ command: 'ps', container: watched })
    assert.equal(r.status, 409)
    assert.match(r.body.message, new RegExp(`node ${NODE} is down: no heartbeat since`))
  })
})
