/**
 * The start-up sweep of ContainerEventHandler against real dockerd and Redis: which watched
 * containers found dead it opens incidents for (and heals), and which it leaves alone.
 */
import { randomBytes } from 'node:crypto'
const LABEL_KEY = `sentinel.unit-${randomBytes(3).toString('hex')}`
process.env.WATCH_LABEL = `${LABEL_KEY}=true`

import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { docker, killMainProcess, removeContainers, runContainer, state, uniqueName } from '../../tests/helpers/docker'
import { waitFor } from '../../tests/helpers/ports'
import { startRedis, type TestRedis } from '../../tests/helpers/redis'
import { getConfig, resetConfigCache } from '../platform/config/index'
import { AuditLog } from '../platform/store/audit'
import { ExecutionStore } from '../platform/store/executions'
import { IncidentStore } from '../platform/store/incidents'
import { resolve } from '../platform/store/lifecycle'
import { closeRedis } from '../platform/store/redis'
import { ContainerEventHandler } from './container-events'
import { StoppedOnPurpose } from '../observe/stopped-on-purpose'
import { TOPICS } from '../platform/events/topics'

describe('start-up sweep of watched containers found dead', () => {
  let redis: TestRedis
  let dir: string
  let store: IncidentStore
  let handler: ContainerEventHandler
  const emitted: string[] = []
  const names: string[] = []

  before(async () => {
    redis = await startRedis()
    dir = mkdtempSync(path.join(os.tmpdir(), 'sentinel-test-sweep-'))
    // the policy's rate limits use the process's own Redis client
    process.env.REDIS_PORT = String(redis.port)
    process.env.DATA_DIR = dir
    resetConfigCache()
    store = new IncidentStore(redis.client)
    handler = new ContainerEventHandler({
      config: getConfig(),
      store,
      executions: new ExecutionStore(redis.client),
      audit: new AuditLog(redis.client, path.join(dir, 'audit.jsonl')),
      emit: async (topic, _data, id) => {
        emitted.push(`${topic} ${id}`)
      },
      log: () => {},
    })
  })
  after(async () => {
    handler.stop()
    await removeContainers(...names)
    await closeRedis()
    await redis.stop()
    rmSync(dir, { recursive: true, force: true })
  })

  async function dead(
    prefix: string,
    how: 'crash' | 'stop',
  ): Promise<{ name: string; id: string; finishedMs: number }> {
    const name = uniqueName(prefix)
    names.push(name)
    const id = await runContainer(name, { labels: { [LABEL_KEY]: 'true' } })
    if (how === 'crash') await killMainProcess(name)
    else await docker('stop', '-t', '5', name)
    const s = await waitFor(
      async () => {
        const st = await state(name)
        return st.Running ? null : st
      },
      { timeoutMs: 10_000, what: `${name} to be down` },
    )
    return { name, id, finishedMs: Date.parse(s.FinishedAt) }
  }

  it('heals a crash in the gap, leaves a clean stop, a death before the gap and a death already handled alone', async () => {
    // Died before the gap: a previous run's position was past this death.
    const early = await dead('sweep-early', 'crash')
    const gap = { fromMs: early.finishedMs + 1, toMs: 0 }
    const crashed = await dead('sweep-crashed', 'crash')
    const stopped = await dead('sweep-stopped', 'stop')
    const handled = await dead('sweep-handled', 'crash')
    // A previous run saw this death, and a person closed its incident with the container left down.
    const { incident } = await store.open(
      {
        fingerprint: `container_down:${handled.id}`,
        type: 'container_down',
        severity: 'critical',
        metric: 'container_running',
        value: 0,
        threshold: 1,
        resource: { kind: 'container', id: handled.id, name: handled.name },
        labels: {},
        source: 'docker events (die)',
        at: new Date(handled.finishedMs).toISOString(),
      },
      { title: 'died', actor: 'test' },
    )
    await store.update(incident.id, (i) =>
      resolve(i, { actor: 'test', summary: 'closed by a person: kept down on purpose' }),
    )
    gap.toMs = Date.now() + 1000
    const result = await handler.sweepDead(gap)
    assert.deepEqual(result.opened, [crashed.name])
    assert.deepEqual(result.leftAlone, [stopped.name])
    // Other intakes (Alertmanager) learn that the clean exit was taken for a stop.
    assert.match((await new StoppedOnPurpose(redis.client).get(stopped.id))?.how ?? '', /clean exit/)
    assert.equal(await new StoppedOnPurpose(redis.client).get(crashed.id), null)

    assert.equal((await state(crashed.name)).Running, true, 'the crash found at start-up was healed')
    const [opened] = (await store.list({ limit: 100 })).filter((i) => i.resource.name === crashed.name)
    assert.equal(opened.alert.source, 'docker inspect (found dead at start-up)')
    assert.ok(
      emitted.some((e) => e.startsWith(`${TOPICS.acted} `)),
      `flow events: ${emitted.join(', ')}`,
    )
    for (const left of [stopped, handled, early])
      assert.equal((await state(left.name)).Running, false, `${left.name} stays down`)
    assert.equal(
      (await store.list({ limit: 100 })).filter((i) => i.resource.name === handled.name).length,
      1,
      'no second incident for a death already handled',
    )
    assert.equal((await store.list({ limit: 100 })).filter((i) => i.resource.name === early.name).length, 0)

    // Sweeping the same gap again (another start) opens nothing new.
    assert.deepEqual(await handler.sweepDead(gap), { opened: [], leftAlone: [stopped.name] })
  })
})
