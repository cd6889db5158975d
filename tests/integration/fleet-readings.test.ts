/**
 * A node's host readings reach the controller's monitor: a real node agent (in this process, on
 * this host's engine) beats its status with its collector's readings into a real Redis, the
 * controller's heartbeat judge finds it up, and the Monitor (local collectors as its source) checks
 * the node's CPU, memory and filesystems like its own: an alert over a threshold names the node
 * (labels.node, so the fix runs there) and the node's own host or filesystem. A node judged down
 * contributes nothing, and a status that speaks of another host is refused.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { NodeAgent } from '../../src/fleet/agent'
import { NodeHeartbeats } from '../../src/fleet/heartbeats'
import { fleetHostReadings } from '../../src/observe/fleet-readings'
import { Monitor } from '../../src/observe/monitor'
import { loadConfig } from '../../src/platform/config/index'
import { FLEET_NODES_KEY, FLEET_SEEN_KEY, nodeKeys } from '../../src/platform/fleet/keys'
import { AuditLog } from '../../src/platform/store/audit'
import { IncidentStore } from '../../src/platform/store/incidents'
import { startRedis, type TestRedis } from '../helpers/redis'

const RUN = randomBytes(3).toString('hex')
const NODE = `readings-${RUN}`
const CONTROLLER = `controller-${RUN}`

describe("a node's host readings in the controller's monitor", () => {
  let redis: TestRedis
  let dir: string
  let agent: NodeAgent
  let heartbeats: NodeHeartbeats
  const quiet = () => {}

  before(async () => {
    redis = await startRedis()
    dir = mkdtempSync(path.join(os.tmpdir(), 'sentinel-test-fleet-readings-'))
    const config = loadConfig(
      { SENTINEL_ROLE: 'agent', NODE_NAME: NODE, REDIS_PORT: String(redis.port), DATA_DIR: dir },
      process.cwd(),
    )
    agent = new NodeAgent({ config, redis: redis.client, log: quiet })
    heartbeats = new NodeHeartbeats({
      redis: redis.client,
      store: new IncidentStore(redis.client),
      audit: new AuditLog(redis.client, path.join(dir, 'audit.jsonl')),
      localNode: CONTROLLER,
      downAfterMs: 15_000,
      log: quiet,
    })
  })
  after(async () => {
    await redis?.stop()
    if (dir) rmSync(dir, { recursive: true, force: true })
  })

  const monitor = (threshold: number) =>
    new Monitor({
      host: { instance: CONTROLLER, sampleMs: 100 },
      docker: false,
      history: false,
      checks: { cpu: { threshold }, memory: { threshold }, disk: { threshold } },
      fleetReadings: async () => (await fleetHostReadings(redis.client, CONTROLLER)).readings,
    })

  it("checks an up node's CPU, memory and filesystems like this host's, naming the node", async () => {
    // Registered as agent.start() does it (without its event watcher: only the beat matters here),
    // not judged yet: nothing from the node.
    await redis.client.sadd(FLEET_NODES_KEY, NODE)
    await agent.beat()
    assert.deepEqual((await fleetHostReadings(redis.client, CONTROLLER)).readings, [])
    await heartbeats.tick()
    assert.equal(JSON.parse((await redis.client.hget(FLEET_SEEN_KEY, NODE))!).state, 'up')

    const { readings } = await fleetHostReadings(redis.client, CONTROLLER)
    const metrics = new Set(readings.map((r) => r.metric))
    for (const m of ['cpu_busy_percent', 'memory_used_percent', 'disk_used_percent'])
      assert.ok(metrics.has(m as never), m)
    for (const r of readings) {
      assert.equal(r.labels.node, NODE)
      assert.ok(r.resource.id === NODE || r.resource.id.startsWith(`${NODE}:`), r.resource.id)
    }

    // Every threshold at -1: each of the node's readings is over it, as are this host's.
    const { alerts } = await monitor(-1).tick()
    const nodeAlerts = alerts.filter((a) => a.labels.node === NODE)
    assert.deepEqual(new Set(nodeAlerts.map((a) => a.type)), new Set(['cpu', 'memory', 'disk']))
    assert.ok(nodeAlerts.every((a) => a.resource.id === NODE || a.resource.id.startsWith(`${NODE}:`)))
    assert.ok(
      alerts.some((a) => a.resource.id === CONTROLLER && !a.labels.node),
      "this host's own alerts stay",
    )
    // Two hosts, two fingerprints for the same check.
    const cpu = alerts.filter((a) => a.type === 'cpu')
    assert.equal(new Set(cpu.map((a) => a.fingerprint)).size, cpu.length)
  })

  it('refuses readings about another host, and ignores a node judged down', async () => {
    const status = JSON.parse((await redis.client.get(nodeKeys(NODE).status))!)
    status.hostReadings.push(
      { ...status.hostReadings[0], resource: { kind: 'host', id: CONTROLLER, name: CONTROLLER } },
      { ...status.hostReadings[0], resource: { kind: 'filesystem', id: 'elsewhere:/', name: '/' } },
    )
    await redis.client.set(nodeKeys(NODE).status, JSON.stringify(status))
    const r = await fleetHostReadings(redis.client, CONTROLLER)
    assert.equal(r.refused.length, 2, r.refused.join('; '))
    assert.ok(r.readings.every((x) => x.resource.id === NODE || x.resource.id.startsWith(`${NODE}:`)))

    // No beat for longer than the down time: judged down, its readings no longer count.
    await heartbeats.tick(Date.now() + 60_000)
    assert.equal(JSON.parse((await redis.client.hget(FLEET_SEEN_KEY, NODE))!).state, 'down')
    assert.deepEqual((await fleetHostReadings(redis.client, CONTROLLER)).readings, [])
  })
})
