/**
 * A watched container that dies again while its incident is open, through ContainerEventHandler
 * against real dockerd and Redis, with the die events Docker itself reported: after the incident's
 * restart ran, the container is restarted again under the same incident (once per death, however
 * often the event is delivered); before it ran, the death is merged and the fix still to run
 * covers it; over the rate limit, the incident is escalated instead.
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
import type { DockerEvent } from '../platform/docker/events'
import { AuditLog } from '../platform/store/audit'
import { ExecutionStore } from '../platform/store/executions'
import { IncidentStore } from '../platform/store/incidents'
import type { Incident } from '../platform/store/model'
import { closeRedis } from '../platform/store/redis'
import { ContainerEventHandler, type ContainerEventDeps, incidentIdForEvent } from './container-events'

describe('a watched container that dies again while its incident is open', () => {
  let redis: TestRedis
  let dir: string
  let store: IncidentStore
  let audit: AuditLog
  let handler: ContainerEventHandler
  const handlers: ContainerEventHandler[] = []
  const names: string[] = []

  const makeHandler = (config = getConfig()) => {
    const deps: ContainerEventDeps = {
      config,
      store,
      executions: new ExecutionStore(redis.client),
      audit,
      emit: async () => {},
      log: () => {},
    }
    const h = new ContainerEventHandler(deps)
    handlers.push(h)
    return h
  }

  before(async () => {
    redis = await startRedis()
    dir = mkdtempSync(path.join(os.tmpdir(), 'sentinel-test-died-again-'))
    // the policy's rate limits and the remediation slots use the process's own Redis client
    process.env.REDIS_PORT = String(redis.port)
    process.env.DATA_DIR = dir
    resetConfigCache()
    store = new IncidentStore(redis.client)
    audit = new AuditLog(redis.client, path.join(dir, 'audit.jsonl'))
    handler = makeHandler()
  })
  after(async () => {
    for (const h of handlers) h.stop()
    await removeContainers(...names)
    await closeRedis()
    await redis.stop()
    rmSync(dir, { recursive: true, force: true })
  })

  async function watched(prefix: string): Promise<{ name: string; id: string }> {
    const name = uniqueName(prefix)
    names.push(name)
    return { name, id: await runContainer(name, { labels: { [LABEL_KEY]: 'true' } }) }
  }

  /** Kills the main process from the host (a crash) and returns the die event Docker reported for it. */
  async function crash(c: { name: string; id: string }): Promise<DockerEvent> {
    const since = Date.parse((await state(c.name)).StartedAt)
    await killMainProcess(c.name)
    return waitFor(
      async () => {
        if ((await state(c.name)).Running) return null
        const out = await docker(
          'events',
          '--since',
          (since / 1000).toFixed(3),
          '--until',
          (Date.now() / 1000).toFixed(3),
          '--filter',
          `container=${c.id}`,
          '--filter',
          'event=die',
          '--format',
          '{{json .}}',
        )
        const last = out.split('\n').filter(Boolean).at(-1)
        return last ? (JSON.parse(last) as DockerEvent) : null
      },
      { timeoutMs: 10_000, what: `the die event of ${c.name}` },
    )
  }

  const incidentsOf = async (id: string) =>
    (await store.list({ limit: 500 })).filter((i) => i.resource.id === id && i.type === 'container_down')
  const notesFor = (i: Incident, deathId: string) =>
    i.timeline.filter((t) => t.stage === 'note' && t.data?.deathId === deathId)
  const auditFor = (kind: string, deathId: string) =>
    audit.readFile().filter((e) => e.kind === kind && e.data?.deathId === deathId)

  it('restarts it again under the same incident, once per death, however often the event is delivered', async () => {
    const c = await watched('again')
    const first = await crash(c)
    await handler.handle(first)
    const afterFix = await state(c.name)
    assert.equal(afterFix.Running, true, 'the first death was healed')
    const [incident] = await incidentsOf(c.id)
    assert.equal(incident.id, incidentIdForEvent(c.id, first.timeNano))
    // No flow runs here: the incident stays `verifying`, as while VerifyRemediation polls.
    assert.equal(incident.status, 'verifying')

    const second = await crash(c)
    const deathId = incidentIdForEvent(c.id, second.timeNano)
    await handler.handle(second)
    const afterRepeat = await state(c.name)
    assert.equal(afterRepeat.Running, true, 'the second death is not swallowed: the container runs again')
    assert.notEqual(afterRepeat.StartedAt, afterFix.StartedAt)

    const all = await incidentsOf(c.id)
    assert.deepEqual(
      all.map((i) => i.id),
      [incident.id],
      'one incident per problem',
    )
    const current = all[0]
    assert.equal(current.status, 'verifying', 'verification goes on and sees the new start')
    const notes = notesFor(current, deathId)
    assert.deepEqual(
      notes.map((n) => n.data?.step),
      ['died', 'acted'],
    )
    assert.match(notes[0].summary, /again after its fix ran; restarting it again under this incident/)
    assert.equal((notes[0].data?.decision as { route?: string }).route, 'auto')
    assert.equal(notes[1].summary, 'restart_container again: start')
    assert.equal((notes[1].data?.before as { state?: string }).state, 'exited')
    assert.equal(auditFor('action.executed', deathId).length, 1)
    assert.equal(auditFor('action.executed', deathId)[0].outcome, 'succeeded')
    assert.equal(auditFor('policy.decided', deathId).length, 1)
    // The rate limit counted it: the first restart and this one.
    const limit = await redis.client.zcard(`sentinel:ratelimit:restart_container:${c.id}`)
    assert.equal(limit, 2)

    // The same events delivered again (a replay, a duplicate): nothing runs, nothing is counted twice.
    await handler.handle(second)
    await handler.handle(first)
    assert.equal((await state(c.name)).StartedAt, afterRepeat.StartedAt, 'not restarted twice')
    const replayed = (await store.get(incident.id))!
    assert.equal(notesFor(replayed, deathId).length, 2)
    assert.equal(replayed.timeline.length, current.timeline.length)
    assert.equal(auditFor('action.executed', deathId).length, 1)
    assert.equal(await redis.client.zcard(`sentinel:ratelimit:restart_container:${c.id}`), 2)
    // A second handler (Sentinel started again) replaying the event does not restart it either.
    await makeHandler().handle(second)
    assert.equal((await state(c.name)).StartedAt, afterRepeat.StartedAt)
    assert.equal((await incidentsOf(c.id)).length, 1)
  })

  it('merges a death that arrives before the fix ran: the fix still to run covers it', async () => {
    const c = await watched('merged')
    const info = await state(c.name)
    // An incident for this container whose fix is still to come (not decided yet).
    const { incident } = await store.open(
      {
        fingerprint: `container_down:${c.id}`,
        type: 'container_down',
        severity: 'critical',
        metric: 'container_running',
        value: 0,
        threshold: 1,
        resource: { kind: 'container', id: c.id, name: c.name },
        labels: {},
        source: 'test',
        at: new Date(Date.parse(info.StartedAt)).toISOString(),
      },
      { title: 'down', actor: 'test' },
    )
    const death = await crash(c)
    const deathId = incidentIdForEvent(c.id, death.timeNano)
    await handler.handle(death)
    await handler.handle(death)
    assert.equal((await state(c.name)).Running, false, 'nothing restarted outside the incident’s own fix')
    const merged = (await store.get(incident.id))!
    assert.equal(merged.status, 'open')
    assert.deepEqual(
      notesFor(merged, deathId).map((n) => n.summary),
      [`container ${c.name} died (exit code 137) again while this incident is open; its fix, still to run, covers it`],
    )
    assert.equal(auditFor('action.executed', deathId).length, 0)
    assert.equal((await incidentsOf(c.id)).length, 1)

    // The incident's own fix then runs (here: recovery resuming it) and brings the container back.
    await handler.resume(merged)
    assert.equal((await state(c.name)).Running, true)
    assert.equal((await store.get(incident.id))!.status, 'verifying')
  })

  it('escalates instead of restarting again once the rate limit is reached, and then only notes', async () => {
    const limited = makeHandler({ ...getConfig(), RATE_LIMIT_MAX_ACTIONS: 1 })
    const c = await watched('limited')
    await limited.handle(await crash(c))
    assert.equal((await state(c.name)).Running, true, 'the first death was healed')
    const second = await crash(c)
    const deathId = incidentIdForEvent(c.id, second.timeNano)
    await limited.handle(second)
    await limited.handle(second)

    assert.equal((await state(c.name)).Running, false, 'left down for an admin')
    const [incident, ...others] = await incidentsOf(c.id)
    assert.equal(others.length, 0)
    assert.equal(incident.status, 'escalated')
    const escalated = incident.timeline.filter((t) => t.stage === 'escalated')
    assert.equal(escalated.length, 1)
    assert.match(escalated[0].summary, /again after its fix ran, and rate limit: 1 restart_container/)
    assert.equal(auditFor('incident.escalated', deathId).length, 1)
    assert.equal(auditFor('action.executed', deathId).length, 0)
    assert.equal(auditFor('policy.decided', deathId)[0].outcome, 'approval')
    assert.deepEqual(
      notesFor(incident, deathId).map((n) => n.data?.step),
      ['died'],
    )
  })
})
