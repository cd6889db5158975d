/** The node list (./nodes.ts) read from a real Redis: states, forged statuses, open incidents by node. */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, before, beforeEach, describe, it } from 'node:test'
import { startRedis, type TestRedis } from '../../tests/helpers/redis'
import { FLEET_NODES_KEY, FLEET_SEEN_KEY, nodeKeys, type NodeStatus } from '../platform/fleet/keys'
import { IncidentStore } from '../platform/store/incidents'
import type { Alert } from '../platform/store/model'
import { listNodes, type NodeView } from './nodes'

const suffix = randomBytes(3).toString('hex')
const LOCAL = `ctl-${suffix}`
const NOW = Date.parse('2030-01-02T03:04:05.000Z')
const iso = (msAgo: number) => new Date(NOW - msAgo).toISOString()

function status(node: string, over: Partial<NodeStatus> = {}): NodeStatus {
  return {
    node,
    seq: 42,
    pid: 4242,
    startedAt: iso(3_600_000),
    beatAt: iso(2_000),
    heartbeatSeconds: 5,
    engine: { reachable: true, version: '24.0.7' },
    host: { cpuPercent: 12.5, memoryPercent: 40, diskPercent: 71.25 },
    containers: [
      { id: 'c1', name: `web-${node}`, image: 'busybox', state: 'running', status: 'Up 1 hour' },
      { id: 'c2', name: `db-${node}`, image: 'busybox', state: 'exited', status: 'Exited (1)' },
    ],
    ...over,
  }
}

const seen = (state: 'up' | 'down', lastBeatMsAgo: number, incidentId?: string) =>
  JSON.stringify({
    state,
    lastBeatAt: iso(lastBeatMsAgo),
    seq: 42,
    since: iso(lastBeatMsAgo + 60_000),
    ...(incidentId ? { incidentId } : {}),
  })

function alert(fp: string, labels: Record<string, string>, type = 'container_down'): Alert {
  return {
    fingerprint: fp,
    type: type as Alert['type'],
    severity: type === 'node_down' ? 'critical' : 'warning',
    metric: type,
    value: 0,
    threshold: 1,
    resource: { kind: type === 'node_down' ? 'host' : 'container', id: fp, name: `res-${fp}` },
    labels,
    source: 'test',
    at: new Date().toISOString(),
  }
}

const byName = (nodes: NodeView[], name: string) => {
  const n = nodes.find((v) => v.name === name)
  assert.ok(n, `node ${name} listed (got ${nodes.map((v) => v.name).join(', ')})`)
  return n
}

describe('node list (real Redis)', () => {
  let redis: TestRedis
  let store: IncidentStore
  before(async () => {
    redis = await startRedis()
    store = new IncidentStore(redis.client)
  })
  after(() => redis.stop())
  beforeEach(() => redis.client.flushall())

  const register = async (name: string, seenJson: string | null, statusJson: string | null) => {
    await redis.client.sadd(FLEET_NODES_KEY, name)
    if (seenJson !== null) await redis.client.hset(FLEET_SEEN_KEY, name, seenJson)
    if (statusJson !== null) await redis.client.set(nodeKeys(name).status, statusJson)
  }

  it('shows an up node with what its agent published, and the heartbeat age by the controller clock', async () => {
    const name = `up-${suffix}`
    await register(name, seen('up', 7_000), JSON.stringify(status(name)))
    const nodes = await listNodes(redis.client, { localNode: LOCAL, now: NOW })
    const n = byName(nodes, name)
    assert.equal(n.state, 'up')
    assert.equal(n.problem, undefined)
    assert.equal(n.local, false)
    assert.equal(n.lastBeatAt, iso(7_000))
    assert.equal(n.lastBeatAgeSeconds, 7)
    assert.equal(n.beatAt, iso(2_000))
    assert.equal(n.seq, 42)
    assert.deepEqual(n.engine, { reachable: true, version: '24.0.7' })
    assert.deepEqual(n.host, { cpuPercent: 12.5, memoryPercent: 40, diskPercent: 71.25 })
    assert.deepEqual(
      n.containers.map((c) => c.name),
      [`web-${name}`, `db-${name}`],
    )
    assert.equal(n.agent?.pid, 4242)
    // The controller's own host, with no agent of its own, is listed as up and local.
    const local = byName(nodes, LOCAL)
    assert.equal(local.local, true)
    assert.equal(local.state, 'up')
  })

  it('shows a down node, and a registered node never seen as unknown', async () => {
    const down = `down-${suffix}`
    const never = `never-${suffix}`
    await register(down, seen('down', 120_000), JSON.stringify(status(down)))
    await register(never, null, null)
    const nodes = await listNodes(redis.client, { localNode: LOCAL, now: NOW })
    const d = byName(nodes, down)
    assert.equal(d.state, 'down')
    assert.equal(d.lastBeatAgeSeconds, 120)
    assert.equal(d.since, iso(180_000))
    const u = byName(nodes, never)
    assert.equal(u.state, 'unknown')
    assert.equal(u.problem, undefined)
    assert.equal(u.lastBeatAt, null)
    assert.equal(u.engine, null)
  })

  it('flags a status that names another node, or does not parse, as unknown with a problem', async () => {
    const forged = `forged-${suffix}`
    const garbled = `garbled-${suffix}`
    const misshapen = `misshapen-${suffix}`
    await register(forged, seen('up', 1_000), JSON.stringify(status(`victim-${suffix}`)))
    await register(garbled, seen('up', 1_000), '{"node": "garbled')
    await register(misshapen, seen('up', 1_000), JSON.stringify({ ...status(misshapen), containers: 'lots' }))
    // Junk in the registry (any agent may SADD) and an unreadable seen record: shown, never a throw.
    await redis.client.sadd(FLEET_NODES_KEY, '../../etc')
    await register(`badseen-${suffix}`, '{"state":"sideways"}', JSON.stringify(status(`badseen-${suffix}`)))
    const nodes = await listNodes(redis.client, { localNode: LOCAL, now: NOW })

    const f = byName(nodes, forged)
    assert.equal(f.state, 'unknown')
    assert.match(f.problem ?? '', /names another node/)
    assert.match(f.problem ?? '', new RegExp(`victim-${suffix}`))
    // Nothing of the forged status is shown as this node's.
    assert.equal(f.engine, null)
    assert.deepEqual(f.containers, [])

    const g = byName(nodes, garbled)
    assert.equal(g.state, 'unknown')
    assert.match(g.problem ?? '', /not JSON/)
    const m = byName(nodes, misshapen)
    assert.equal(m.state, 'unknown')
    assert.match(m.problem ?? '', /containers/)
    const junk = byName(nodes, '../../etc')
    assert.equal(junk.state, 'unknown')
    assert.match(junk.problem ?? '', /not a node name/)
    const b = byName(nodes, `badseen-${suffix}`)
    assert.equal(b.state, 'unknown')
    assert.match(b.problem ?? '', /record of this node is unreadable/)
  })

  it('groups open incidents by node: labelled, unlabelled (the local node), escalated node_down kept, closed left out', async () => {
    const a = `alpha-${suffix}`
    const z = `zulu-${suffix}`
    const nodeDown = await store.open(alert(`nd-${suffix}`, { node: z }, 'node_down'), { title: 'down', actor: 'test' })
    // Escalated: no longer in the store's open index, but its node's seen record names it.
    await store.update(nodeDown.incident.id, (i) => {
      i.status = 'escalated'
    })
    await register(a, seen('up', 1_000), JSON.stringify(status(a)))
    await register(z, seen('down', 90_000, nodeDown.incident.id), JSON.stringify(status(z)))
    const onAlpha = await store.open(alert(`a1-${suffix}`, { node: a }), { title: 't', actor: 'test' })
    const onLocal = await store.open(alert(`l1-${suffix}`, {}), { title: 't', actor: 'test' })
    const closed = await store.open(alert(`a2-${suffix}`, { node: a }), { title: 't', actor: 'test' })
    await store.update(closed.incident.id, (i) => {
      i.status = 'resolved'
    })
    const orphan = `gone-${suffix}`
    const onOrphan = await store.open(alert(`g1-${suffix}`, { node: orphan }), { title: 't', actor: 'test' })

    const nodes = await listNodes(redis.client, { localNode: LOCAL, now: NOW })
    assert.deepEqual(
      nodes.map((n) => n.name),
      [a, LOCAL, orphan, z].sort(),
      'every node once, sorted by name',
    )
    assert.deepEqual(
      byName(nodes, a).incidents.map((i) => i.id),
      [onAlpha.incident.id],
    )
    const alphaIncident = byName(nodes, a).incidents[0]
    assert.equal(alphaIncident.type, 'container_down')
    assert.equal(alphaIncident.severity, 'warning')
    assert.equal(alphaIncident.status, 'open')
    assert.equal(alphaIncident.resource, `res-a1-${suffix}`)
    assert.deepEqual(
      byName(nodes, LOCAL).incidents.map((i) => i.id),
      [onLocal.incident.id],
    )
    const zulu = byName(nodes, z)
    assert.equal(zulu.state, 'down')
    assert.deepEqual(
      zulu.incidents.map((i) => [i.id, i.type, i.status]),
      [[nodeDown.incident.id, 'node_down', 'escalated']],
    )
    // A node only an incident names is listed, so its incident is not hidden.
    const gone = byName(nodes, orphan)
    assert.equal(gone.state, 'unknown')
    assert.match(gone.problem ?? '', /not a registered node/)
    assert.deepEqual(
      gone.incidents.map((i) => i.id),
      [onOrphan.incident.id],
    )
  })
})
