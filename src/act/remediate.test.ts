/**
 * remediate() with restart_container against real dockerd and Redis: the action is gated by the
 * watch label, claimed once per incident, and a claim left behind by a crash does not restart the
 * container a second time.
 */
import { randomBytes } from 'node:crypto'
const LABEL_KEY = `sentinel.unit-${randomBytes(3).toString('hex')}`
process.env.WATCH_LABEL = `${LABEL_KEY}=true`

import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { docker, removeContainers, runContainer, state, uniqueName } from '../../tests/helpers/docker'
import { startRedis, type TestRedis } from '../../tests/helpers/redis'
import { restartContainer } from '../actions/restart-container/index'
import { NotWatchedError } from '../platform/docker/client'
import { AuditLog } from '../platform/store/audit'
import { ExecutionStore } from '../platform/store/executions'
import { IncidentStore } from '../platform/store/incidents'
import { remediate } from './remediate'
import { Leadership } from '../platform/lease/index'
import { waitFor } from '../../tests/helpers/ports'
import { verifyUntilStable } from '../verify/verify'

describe('remediate + restart_container (real Docker)', () => {
  let redis: TestRedis
  let dir: string
  const names: string[] = []
  before(async () => {
    redis = await startRedis()
    dir = mkdtempSync(path.join(os.tmpdir(), 'sentinel-test-remediate-'))
  })
  after(async () => {
    await removeContainers(...names)
    await redis.stop()
    rmSync(dir, { recursive: true, force: true })
  })

  const deps = () => ({
    store: new IncidentStore(redis.client),
    executions: new ExecutionStore(redis.client),
    audit: new AuditLog(redis.client, path.join(dir, 'audit.jsonl')),
    actor: 'test',
    leaseMs: 15_000,
  })

  async function deadWatchedContainerIncident() {
    const name = uniqueName('remediate')
    names.push(name)
    const id = await runContainer(name, { labels: { [LABEL_KEY]: 'true' } })
    await docker('kill', name)
    const { incident } = await deps().store.open(
      {
        fingerprint: `container_down:${id}`,
        type: 'container_down',
        severity: 'critical',
        metric: 'container_running',
        value: 0,
        threshold: 1,
        resource: { kind: 'container', id, name },
        labels: {},
        source: 'test',
        at: new Date().toISOString(),
      },
      { title: 'died', actor: 'test' },
    )
    await deps().store.update(incident.id, (i) => {
      i.decision = {
        route: 'auto',
        risk: 'low',
        actionId: 'restart_container',
        params: { containerId: id },
        rule: 'test',
        reasons: [],
        decidedAt: new Date().toISOString(),
      }
    })
    return { name, id, incidentId: incident.id }
  }

  it('refuses a container without the watch label', async () => {
    const name = uniqueName('unlabelled')
    names.push(name)
    await runContainer(name)
    await docker('kill', name)
    await assert.rejects(
      restartContainer.execute({ containerId: name }, { incidentId: 'x', actor: 'test' }),
      NotWatchedError,
    )
    assert.equal((await state(name)).Running, false)
  })

  it('starts the dead container once, however often it is asked', async () => {
    const { name, incidentId } = await deadWatchedContainerIncident()
    const first = await remediate(incidentId, deps())
    assert.equal(first.kind, 'executed')
    const afterFirst = await state(name)
    assert.equal(afterFirst.Running, true)
    const again = await remediate(incidentId, deps())
    assert.equal(again.kind, 'already-done')
    assert.equal((await state(name)).StartedAt, afterFirst.StartedAt)
    const v = await verifyUntilStable(
      () => restartContainer.verify({ containerId: name }, { incidentId, actor: 'test' }),
      { timeoutMs: 5000, stableMs: 300 },
    )
    assert.equal(v.ok, true)
    const inc = (await deps().store.get(incidentId))!
    assert.equal(inc.status, 'verifying')
    assert.equal(inc.actions.length, 1)
    assert.equal(inc.snapshots?.length, 1)
  })

  it('does not start it again after a crash between start and the record of it', async () => {
    const { name, id, incidentId } = await deadWatchedContainerIncident()
    // The crash: the claim was written and the container started, but nothing was recorded after.
    const exec = new ExecutionStore(redis.client)
    assert.equal(await exec.claim(incidentId, 'restart_container', 'test'), null)
    await docker('start', id)
    const started = await state(name)
    const outcome = await remediate(incidentId, deps())
    assert.equal(outcome.kind, 'executed')
    if (outcome.kind === 'executed') assert.equal(outcome.result.performed, 'none')
    assert.equal((await state(name)).StartedAt, started.StartedAt)
  })

  it('leaves a claim held by another live worker alone', async () => {
    const { incidentId } = await deadWatchedContainerIncident()
    await new ExecutionStore(redis.client).claim(incidentId, 'restart_container', 'someone-else')
    const outcome = await remediate(incidentId, deps())
    assert.equal(outcome.kind, 'in-progress-elsewhere')
  })
  it("refuses and audits an action whose duty's term is over, and runs it under the new leader's", async () => {
    const { name, incidentId } = await deadWatchedContainerIncident()
    const duty = `engine:test-${randomBytes(3).toString('hex')}`
    const old = new Leadership({ redis: redis.client, controllerId: 'old', leaseMs: 2000, log: () => {} })
    old.add({ name: duty, start: () => {}, stop: () => {} })
    old.start()
    const fresh = new Leadership({ redis: redis.client, controllerId: 'new', leaseMs: 2000, log: () => {} })
    fresh.add({ name: duty, start: () => {}, stop: () => {} })
    try {
      await waitFor(async () => old.isLeading(duty), { timeoutMs: 5000, what: 'the old controller to lead' })
      const oldFence = old.fence(duty)!
      // The old controller gives the duty up (as a lost lease would end it); another takes it.
      await old.stop()
      fresh.start()
      await waitFor(async () => fresh.isLeading(duty), { timeoutMs: 5000, what: 'the new controller to lead' })
      const refused = await remediate(incidentId, { ...deps(), fence: oldFence })
      assert.equal(refused.kind, 'refused')
      assert.equal(refused.kind === 'refused' && refused.code, 'fenced')
      assert.equal((await state(name)).Running, false, 'the fenced controller did not start it')
      const fenced = (await deps().audit.read(100, incidentId)).find((e) => e.kind === 'action.fenced')
      assert.ok(fenced, 'the refusal is audited')
      assert.equal((fenced.data as { token?: number }).token, oldFence.token)
      // Under the new term the action runs, once.
      const ran = await remediate(incidentId, { ...deps(), fence: fresh.fence(duty)! })
      assert.equal(ran.kind, 'executed')
      assert.equal((await state(name)).Running, true)
    } finally {
      await old.stop()
      await fresh.stop()
    }
  })
})
