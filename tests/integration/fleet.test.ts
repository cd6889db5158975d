/**
 * @exclusive: it starts private Docker engines (vfs, an image imported into each), the heaviest
 * load in the suite; alone, it neither slows the browser tests beside it nor is slowed by them.
 *
 * The fleet, end to end with real parts: three Docker engines (each its own dockerd, socket, data
 * root and network namespace) stand for three hosts, each with its own node agent process, and one
 * controller (a real Sentinel) on one Redis. A watched container killed on each node is healed by
 * that node's agent through the controller's flow; an unlabelled one is left alone; a stopped
 * agent opens node_down and its return resolves it; a message claiming another node is refused.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import { FLEET_SEEN_KEY, nodeKeys } from '../../src/platform/fleet/keys'
import { startAgent, type TestAgent } from '../helpers/agent'
import { TEST_IMAGE } from '../helpers/docker'
import { startPrivateDockerd, type PrivateDockerd } from '../helpers/dockerd'
import { waitFor } from '../helpers/ports'
import { startRedis, type TestRedis } from '../helpers/redis'
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy'
import { existsSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { startSentinel, WATCH_ARG, type SentinelInstance } from '../helpers/sentinel'

const RUN = randomBytes(3).toString('hex')
const HEARTBEAT_S = 1
const DOWN_AFTER_S = 4

interface TestNode {
  name: string
  engine: PrivateDockerd
  agent: TestAgent
  watched: string
  unwatched: string
}

async function containerState(engine: PrivateDockerd, name: string) {
  const out = await engine.docker('inspect', '--format', '{{json .State}}', name)
  return JSON.parse(out) as { Running: boolean; StartedAt: string; Pid: number }
}

/** A stream entry's flat field list as an object. */
function fieldsOf(flat: string[]): Record<string, string> {
  const out: Record<string, string> = {}
  for (let k = 0; k + 1 < flat.length; k += 2) out[flat[k]] = flat[k + 1]
  return out
}

describe('a fleet of three nodes, one controller', { timeout: 300_000 }, () => {
  let redis: TestRedis
  let sentinel: SentinelInstance
  // Node 2's agent reaches Redis through a relay the offline test cuts.
  let relay: TcpProxy
  const nodes: TestNode[] = []

  before(async () => {
    redis = await startRedis()
    const env = {
      NODE_NAME: `ctl-${RUN}`,
      AGENT_HEARTBEAT_SECONDS: String(HEARTBEAT_S),
      NODE_DOWN_AFTER_SECONDS: String(DOWN_AFTER_S),
      NODE_ACTION_TIMEOUT_SECONDS: '10',
    }
    const engines = await Promise.all([0, 1, 2].map(() => startPrivateDockerd()))
    sentinel = await startSentinel({ redisPort: redis.port, env })
    relay = await startTcpProxy(redis.port)
    for (let i = 0; i < 3; i++) {
      const name = `node${i}-${RUN}`
      const engine = engines[i]
      const watched = `fleet-w${i}-${RUN}`
      const unwatched = `fleet-u${i}-${RUN}`
      const idle = ['sh', '-c', 'trap "exit 0" TERM; while true; do sleep 0.2; done']
      await engine.docker(
        'run',
        '-d',
        '--network',
        'none',
        '--name',
        watched,
        '--label',
        WATCH_ARG,
        TEST_IMAGE,
        ...idle,
      )
      await engine.docker('run', '-d', '--network', 'none', '--name', unwatched, TEST_IMAGE, ...idle)
      const agent = await startAgent({
        node: name,
        redisPort: i === 2 ? relay.port : redis.port,
        socket: engine.socket,
        env: { AGENT_HEARTBEAT_SECONDS: String(HEARTBEAT_S), NODE_DOWN_AFTER_SECONDS: String(DOWN_AFTER_S) },
      })
      nodes.push({ name, engine, agent, watched, unwatched })
    }
    // Every node is up, as the controller judges it.
    await waitFor(
      async () => {
        const seen = await redis.client.hgetall(FLEET_SEEN_KEY)
        return nodes.every((n) => seen[n.name] && JSON.parse(seen[n.name]).state === 'up')
      },
      { timeoutMs: 60_000, what: 'the three nodes to be up' },
    )
    // And each node's start-up sweep (a listing of its dead watched containers) is answered, so no
    // sweep reads a container the tests kill.
    await waitFor(
      async () => {
        for (const n of nodes) {
          const entries = await redis.client.xrange(nodeKeys(n.name).requests, '-', '+')
          const list = entries.map(([, f]) => fieldsOf(f)).find((f) => f.op === 'list')
          if (!list || !(await redis.client.exists(nodeKeys(n.name).result(list.id)))) return false
        }
        return true
      },
      { timeoutMs: 60_000, what: "the nodes' start-up sweeps" },
    )
  })

  after(async () => {
    for (const n of nodes) await n.agent.cleanup()
    await relay?.close()
    await sentinel?.cleanup()
    for (const n of nodes) {
      await n.engine.docker('rm', '-f', n.watched, n.unwatched).catch(() => {})
      await n.engine.remove()
    }
    await redis?.stop()
  })

  it('heals a killed watched container on each node through that node, and leaves unlabelled ones alone', async () => {
    const before = await Promise.all(nodes.map((n) => containerState(n.engine, n.watched)))
    // Where each node's request stream stood before the deaths (the ids are the stream's own).
    const requestsFrom = await Promise.all(
      nodes.map(
        async (n) => (await redis.client.xrevrange(nodeKeys(n.name).requests, '+', '-', 'COUNT', 1))[0]?.[0] ?? '0',
      ),
    )
    for (const n of nodes) {
      await n.engine.docker('kill', n.watched)
      await n.engine.docker('kill', n.unwatched)
    }
    for (const [i, n] of nodes.entries()) {
      await waitFor(
        async () => {
          const s = await containerState(n.engine, n.watched)
          return s.Running && s.StartedAt !== before[i].StartedAt
        },
        { timeoutMs: 60_000, what: `${n.watched} on ${n.name} to run again` },
      )
    }
    // Each incident names its node and resolves after the node's agent verified the restart.
    for (const n of nodes) {
      let incident: any
      await waitFor(
        async () => {
          const r = await sentinel.get(`/api/incidents?view=full&resource=${n.watched}`)
          incident = r.body.incidents?.[0]
          return incident?.status === 'resolved'
        },
        { timeoutMs: 60_000, what: `the incident of ${n.watched} to resolve` },
      ).catch((err) => {
        throw new Error(
          `${(err as Error).message}: ${JSON.stringify(incident?.timeline)}\n${sentinel.output().slice(-4000)}`,
        )
      })
      assert.equal(incident.alert.labels.node, n.name)
      const full = (await sentinel.get(`/api/incidents/${incident.id}`)).body
      const executed = full.actions.find((a: any) => a.actionId === 'restart_container')
      assert.ok(executed, 'restart_container ran')
      assert.equal(executed.status, 'succeeded')
      assert.equal(executed.result.performed, 'start')
      // The death came with the agent's own inspect: the controller decided and took the snapshot
      // from it, asking the node for neither (one round trip each, which a burst of deaths waits on).
      const snapshot = full.snapshots?.find((x: any) => x.actionId === 'restart_container')?.before
      assert.equal(snapshot?.state, 'exited', JSON.stringify(full.snapshots))
      assert.equal(snapshot?.container, n.watched)
      const i = nodes.indexOf(n)
      const asked = (await redis.client.xrange(nodeKeys(n.name).requests, `(${requestsFrom[i]}`, '+')).map(([, f]) => {
        const fields = fieldsOf(f)
        return fields.op === 'action' ? `action:${JSON.parse(fields.body ?? '{}').op}` : fields.op
      })
      assert.ok(asked.includes('action:execute'), `the restart was asked of the node: ${asked}`)
      assert.ok(!asked.includes('inspect') && !asked.includes('action:snapshot'), `asked of ${n.name}: ${asked}`)
      // The agent ran it: its actor names the node.
      const audit = (await sentinel.get(`/api/audit?incident=${incident.id}`)).body
      const acted = audit.events.find((e: any) => e.kind === 'action.executed')
      assert.equal(acted?.node, n.name, 'the audit names the node')
      assert.equal(audit.events.find((e: any) => e.kind === 'incident.opened')?.node, n.name)
    }
    // The unlabelled containers stay down, with no incident.
    for (const n of nodes) {
      assert.equal((await containerState(n.engine, n.unwatched)).Running, false)
      const r = await sentinel.get(`/api/incidents?resource=${n.unwatched}`)
      assert.equal(r.body.incidents.length, 0, `no incident for ${n.unwatched}`)
    }
  })

  it('opens node_down when an agent stops beating and resolves it when it returns', async () => {
    const n = nodes[1]
    await n.agent.stop()
    const stoppedAt = Date.now()
    let incident: any
    await waitFor(
      async () => {
        const r = await sentinel.get(`/api/incidents?view=full&type=node_down&resource=${n.name}`)
        incident = r.body.incidents?.[0]
        return Boolean(incident)
      },
      { timeoutMs: (DOWN_AFTER_S + 5) * 1000 + 5000, what: `node_down for ${n.name}` },
    )
    const openedAfterS = (Date.now() - stoppedAt) / 1000
    assert.equal(incident.status, 'escalated')
    assert.equal(incident.severity, 'critical')
    assert.equal(incident.alert.labels.node, n.name)
    assert.ok(incident.alert.details.lastBeatAt, 'says when the last beat came')
    assert.ok(
      incident.alert.details.containers.some((c: any) => c.name === n.watched),
      'says what the node ran',
    )
    // The node's record says down (written just after its incident opens); the other nodes stay up.
    await waitFor(async () => JSON.parse((await redis.client.hget(FLEET_SEEN_KEY, n.name))!).state === 'down', {
      timeoutMs: 5000,
      what: `${n.name} recorded down`,
    })
    const seen = await redis.client.hgetall(FLEET_SEEN_KEY)
    assert.equal(JSON.parse(seen[nodes[0].name]).state, 'up')
    await n.agent.start()
    await waitFor(async () => (await sentinel.get(`/api/incidents/${incident.id}`)).body.status === 'resolved', {
      timeoutMs: 30_000,
      what: 'node_down to resolve when the agent beats again',
    })
    assert.ok(openedAfterS <= DOWN_AFTER_S + 5 + 5, `opened ${openedAfterS} s after the stop`)
  })

  it('refuses a message on one node stream that claims another node', async () => {
    const [a, b] = nodes
    const fake = {
      Type: 'container',
      Action: 'die',
      Actor: { ID: 'f'.repeat(64), Attributes: { name: 'forged', 'sentinel.watch': WATCH_ARG.split('=')[1] } },
      time: Math.floor(Date.now() / 1000),
      timeNano: Date.now() * 1e6,
    }
    await redis.client.xadd(
      nodeKeys(a.name).events,
      '*',
      'kind',
      'docker',
      'node',
      b.name,
      'data',
      JSON.stringify(fake),
    )
    await waitFor(
      async () => {
        const r = await sentinel.get(`/api/audit?limit=1000`)
        return r.body.events.some((e: any) => e.kind === 'fleet.refused' && e.data?.claims === b.name)
      },
      { timeoutMs: 20_000, what: 'the forged message to be refused and audited' },
    )
    const r = await sentinel.get(`/api/incidents?resource=forged`)
    assert.equal(r.body.incidents.length, 0, 'no incident from a forged message')
  })

  it('a node cut off from Redis restarts its crashed container alone, and the incident appears once after', async () => {
    const n = nodes[2]
    const journalDir = path.join(n.agent.dataDir, 'agent', n.name)
    // The controller has sent the node its policy (at once when it started following it).
    await waitFor(async () => existsSync(path.join(journalDir, 'policy.json')), {
      timeoutMs: 30_000,
      what: 'the offline policy on the node',
    })
    const before = await containerState(n.engine, n.watched)
    const incidentsBefore = (await sentinel.get(`/api/incidents?view=full&resource=${n.watched}`)).body.incidents
    await relay.cut()
    try {
      await n.engine.docker('kill', n.watched)
      await waitFor(
        async () => {
          const s = await containerState(n.engine, n.watched)
          return s.Running && s.StartedAt !== before.StartedAt
        },
        { timeoutMs: 30_000, what: `${n.watched} restarted by its agent while cut off` },
      )
      const journal = readFileSync(path.join(journalDir, 'offline-actions.jsonl'), 'utf8').trim().split('\n')
      const entry = JSON.parse(journal.at(-1)!)
      assert.equal(entry.outcome, 'restarted')
      assert.equal(entry.name, n.watched)
      // Nothing reached the controller meanwhile.
      const during = (await sentinel.get(`/api/incidents?view=full&resource=${n.watched}`)).body.incidents
      assert.equal(during.length, incidentsBefore.length)
    } finally {
      await relay.restore()
    }
    let incidents: any[] = []
    await waitFor(
      async () => {
        incidents = (await sentinel.get(`/api/incidents?view=full&resource=${n.watched}`)).body.incidents
        const fresh = incidents.filter((i) => !incidentsBefore.some((b: any) => b.id === i.id))
        return fresh.length === 1 && fresh[0].status === 'resolved'
      },
      { timeoutMs: 60_000, what: 'the offline incident uploaded, verified and resolved' },
    )
    const fresh = incidents.filter((i) => !incidentsBefore.some((b: any) => b.id === i.id))
    assert.equal(fresh.length, 1, 'one incident, not two')
    const inc = fresh[0]
    assert.equal(inc.alert.labels.node, n.name)
    assert.equal(inc.alert.details.handledOffline, true)
    assert.ok(
      inc.timeline.some((t: any) => /handled offline/.test(t.summary)),
      'the timeline says it was handled offline',
    )
    assert.equal(inc.actions.filter((a: any) => a.actionId === 'restart_container').length, 1, 'restarted once')
    // Uploaded once: a second upload attempt finds nothing pending.
    const uploaded = readFileSync(path.join(journalDir, 'offline-uploaded.jsonl'), 'utf8').trim().split('\n')
    assert.equal(uploaded.filter((l) => JSON.parse(l).incidentId === inc.id).length, 1)
  })
})
