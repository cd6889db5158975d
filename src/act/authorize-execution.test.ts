/**
 * The executor's authorisation, through remediate() against real Redis and dockerd: every reason
 * to refuse leaves the container down, takes no execution claim, changes nothing on the incident
 * and is audited as `action.refused`; the allowed cases (an automatic low-risk fix, a fix approved
 * by a person of the role its risk needs) start the container.
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
import { Approvals } from '../approve/approvals'
import { AuditLog } from '../platform/store/audit'
import { ExecutionStore } from '../platform/store/executions'
import { IncidentStore } from '../platform/store/incidents'
import type { Decision, Incident } from '../platform/store/model'
import type { RefusalCode } from './authorize-execution'
import { remediate } from './remediate'

interface Container {
  id: string
  name: string
}

describe('authorizeExecution, through remediate() (real Redis and Docker)', () => {
  let redis: TestRedis
  let dir: string
  let store: IncidentStore
  let executions: ExecutionStore
  let audit: AuditLog
  let approvals: Approvals
  /** Dead and watched: every refused fix aims at it, and it must stay down. */
  let victim: Container
  let victimStartedAt: string
  const names: string[] = []

  async function deadWatched(prefix: string): Promise<Container> {
    const name = uniqueName(prefix)
    names.push(name)
    const id = await runContainer(name, { labels: { [LABEL_KEY]: 'true' } })
    await docker('kill', name)
    return { id, name }
  }

  before(async () => {
    redis = await startRedis()
    dir = mkdtempSync(path.join(os.tmpdir(), 'sentinel-test-authorize-'))
    store = new IncidentStore(redis.client)
    executions = new ExecutionStore(redis.client)
    audit = new AuditLog(redis.client, path.join(dir, 'audit.jsonl'))
    approvals = new Approvals(store, redis.client)
    victim = await deadWatched('authz-victim')
    victimStartedAt = (await state(victim.name)).StartedAt
  })
  after(async () => {
    await removeContainers(...names)
    await redis.stop()
    rmSync(dir, { recursive: true, force: true })
  })

  const run = (incidentId: string) =>
    remediate(incidentId, { store, executions, audit, actor: 'test', leaseMs: 15_000 })

  let n = 0
  async function incidentAbout(c: Container, decision?: Partial<Decision>): Promise<string> {
    const { incident } = await store.open(
      {
        fingerprint: `container_down:${c.id}:${n++}`,
        type: 'container_down',
        severity: 'critical',
        metric: 'container_running',
        value: 0,
        threshold: 1,
        resource: { kind: 'container', id: c.id, name: c.name },
        labels: {},
        source: 'test',
        at: new Date().toISOString(),
      },
      { title: `${c.name} is down`, actor: 'test' },
    )
    if (decision) {
      await store.update(incident.id, (i) => {
        i.decision = {
          route: 'auto',
          risk: 'low',
          actionId: 'restart_container',
          params: { containerId: c.id },
          rule: 'test',
          reasons: ['test'],
          decidedAt: new Date().toISOString(),
          ...decision,
        }
        if (i.decision.route === 'auto') i.status = 'remediating'
      })
    }
    return incident.id
  }

  /** An incident whose fix waits for a person, as the RequestApproval step leaves it. */
  async function awaitingApproval(c: Container, risk: 'medium' | 'high', ttlMs = 60_000): Promise<string> {
    const approverRole = risk === 'high' ? 'admin' : 'operator'
    const id = await incidentAbout(c, { route: 'approval', risk, approverRole })
    await approvals.request(id, (await store.get(id))!.decision!, ttlMs, 'test')
    return id
  }

  async function change(id: string, mutate: (i: Incident) => void): Promise<void> {
    await store.update(id, mutate)
  }

  async function assertRefused(id: string, code: RefusalCode): Promise<void> {
    const before = await store.get(id)
    const outcome = await run(id)
    assert.equal(outcome.kind, 'refused', `${code}: ${JSON.stringify(outcome)}`)
    if (outcome.kind === 'refused') assert.equal(outcome.code, code, outcome.reason)
    assert.equal(await executions.get(id, 'restart_container'), null, `${code}: no execution claim`)
    assert.equal((await store.get(id))?.version, before?.version, `${code}: the incident is left as it was`)
    const events = (await audit.read(500, id)).filter((e) => e.kind === 'action.refused')
    assert.equal(events.length, 1, `${code}: one audit event`)
    assert.equal(events[0].outcome, code)
    assert.ok(typeof events[0].data?.reason === 'string' && (events[0].data.reason as string).length > 0)
    const s = await state(victim.name)
    assert.equal(s.Running, false, `${code}: the container stays down`)
    assert.equal(s.StartedAt, victimStartedAt)
  }

  describe('refuses', () => {
    it('an incident that does not exist (a forged event), without throwing', async () => {
      await assertRefused(`inc_forged_${randomBytes(4).toString('hex')}`, 'incident-not-found')
    })

    it('an incident with no action decided', async () => {
      await assertRefused(await incidentAbout(victim), 'no-action-decided')
      await assertRefused(
        await incidentAbout(victim, { route: 'defer', actionId: null, params: {} }),
        'no-action-decided',
      )
    })

    it('an action outside the catalog, or parameters the action does not accept', async () => {
      await assertRefused(await incidentAbout(victim, { actionId: 'format_disk' }), 'unknown-action')
      await assertRefused(await incidentAbout(victim, { params: { containerId: '../../etc' } }), 'invalid-params')
    })

    it('a decision that did not route the fix to run: waiting for approval, shadow mode, escalated', async () => {
      for (const route of ['approval', 'shadow', 'escalate'] as const) {
        await assertRefused(
          await incidentAbout(victim, { route, risk: 'medium', approverRole: 'operator' }),
          'not-routed-to-run',
        )
      }
    })

    it('an automatic route above low risk', async () => {
      await assertRefused(await incidentAbout(victim, { route: 'auto', risk: 'medium' }), 'auto-above-low-risk')
    })

    it('an approval still pending, rejected, or expired', async () => {
      await assertRefused(await awaitingApproval(victim, 'medium'), 'approval-pending')

      const rejected = await awaitingApproval(victim, 'medium')
      assert.equal(
        (await approvals.decide(rejected, { decision: 'reject', by: 'user:ops', role: 'operator', reason: 'not now' }))
          .kind,
        'ok',
      )
      await assertRefused(rejected, 'approval-rejected')

      const expired = await awaitingApproval(victim, 'high', 10)
      await approvals.expireDue(Date.now() + 50, 60_000, 'test')
      assert.equal((await store.get(expired))?.approval?.status, 'expired')
      await assertRefused(expired, 'approval-expired')
    })

    it('an approval recorded after its expiry, or without the approver role', async () => {
      const late = await awaitingApproval(victim, 'medium')
      assert.equal((await approvals.decide(late, { decision: 'approve', by: 'user:ops', role: 'operator' })).kind, 'ok')
      await change(late, (i) => {
        i.approval!.expiresAt = new Date(Date.parse(i.approval!.decidedAt!) - 1000).toISOString()
      })
      await assertRefused(late, 'approved-after-expiry')

      // As an approval decided before the role was recorded reads.
      const unrecorded = await awaitingApproval(victim, 'medium')
      assert.equal(
        (await approvals.decide(unrecorded, { decision: 'approve', by: 'user:ops', role: 'operator' })).kind,
        'ok',
      )
      await change(unrecorded, (i) => {
        delete i.approval!.decidedByRole
      })
      await assertRefused(unrecorded, 'approver-role-unrecorded')
    })

    it('an approver whose role is below what the risk needs', async () => {
      // An operator's approval of a high-risk fix (Approvals.decide refuses it; a record saying so is refused here too).
      const high = await awaitingApproval(victim, 'high')
      assert.deepEqual(await approvals.decide(high, { decision: 'approve', by: 'user:ops', role: 'operator' }), {
        kind: 'forbidden',
        needed: 'admin',
      })
      await change(high, (i) => {
        Object.assign(i.approval!, {
          status: 'approved',
          decidedBy: 'user:ops',
          decidedByRole: 'operator',
          decidedAt: new Date().toISOString(),
        })
        i.decision = { ...i.decision!, route: 'auto' }
      })
      await assertRefused(high, 'approver-role-too-low')

      // An operator-level request raised to the admins (expired meanwhile), then approved by an operator.
      const raised = await awaitingApproval(victim, 'medium')
      assert.equal(
        (await approvals.decide(raised, { decision: 'approve', by: 'user:ops', role: 'operator' })).kind,
        'ok',
      )
      await change(raised, (i) => {
        i.approval!.approverRole = 'admin'
      })
      await assertRefused(raised, 'approver-role-too-low')

      const viewer = await awaitingApproval(victim, 'medium')
      await change(viewer, (i) => {
        Object.assign(i.approval!, {
          status: 'approved',
          decidedBy: 'key:viewer',
          decidedByRole: 'viewer',
          decidedAt: new Date().toISOString(),
        })
      })
      await assertRefused(viewer, 'approver-role-too-low')
    })

    it('a decision that is not the one approved: other parameters, action or risk', async () => {
      for (const swap of [
        (d: Decision) => ({ ...d, params: { containerId: victim.name } }),
        (d: Decision) => ({
          ...d,
          actionId: 'update_memory_limit',
          params: { containerId: victim.id, memoryBytes: 64 * 1024 * 1024 },
        }),
        (d: Decision) => ({ ...d, risk: 'low' as const }),
      ]) {
        const id = await awaitingApproval(victim, 'medium')
        assert.equal((await approvals.decide(id, { decision: 'approve', by: 'user:ops', role: 'operator' })).kind, 'ok')
        await change(id, (i) => {
          i.decision = swap(i.decision!)
        })
        await assertRefused(id, 'approval-differs-from-decision')
      }
    })

    it('a fix aimed at another container than the incident is about', async () => {
      const other = await deadWatched('authz-other')
      const otherStartedAt = (await state(other.name)).StartedAt
      await assertRefused(
        await incidentAbout(victim, { params: { containerId: other.id } }),
        'target-not-incident-resource',
      )
      await assertRefused(
        await incidentAbout(victim, { params: { containerId: other.name } }),
        'target-not-incident-resource',
      )
      // Approved by a person, still not that container.
      const approved = await incidentAbout(victim, {
        route: 'approval',
        risk: 'medium',
        approverRole: 'operator',
        params: { containerId: other.id },
      })
      await approvals.request(approved, (await store.get(approved))!.decision!, 60_000, 'test')
      assert.equal(
        (await approvals.decide(approved, { decision: 'approve', by: 'user:ops', role: 'operator' })).kind,
        'ok',
      )
      await assertRefused(approved, 'target-not-incident-resource')
      assert.equal((await state(other.name)).StartedAt, otherStartedAt, 'the other container stays down too')
    })
  })

  describe('allows', () => {
    async function assertExecuted(id: string, c: Container): Promise<void> {
      const outcome = await run(id)
      assert.equal(outcome.kind, 'executed', JSON.stringify(outcome))
      assert.equal((await state(c.name)).Running, true)
      assert.equal((await executions.get(id, 'restart_container'))?.status, 'succeeded')
      assert.equal((await audit.read(500, id)).filter((e) => e.kind === 'action.refused').length, 0)
    }

    it('a low-risk fix routed to run automatically, aimed at the incident container by id, name or short id', async () => {
      for (const ref of [(c: Container) => c.id, (c: Container) => c.name, (c: Container) => c.id.slice(0, 12)]) {
        const c = await deadWatched('authz-auto')
        await assertExecuted(await incidentAbout(c, { params: { containerId: ref(c) } }), c)
      }
    })

    it('a medium-risk fix approved by an operator, and a high-risk one approved by an admin', async () => {
      const medium = await deadWatched('authz-medium')
      const m = await awaitingApproval(medium, 'medium')
      assert.equal((await approvals.decide(m, { decision: 'approve', by: 'user:ops', role: 'operator' })).kind, 'ok')
      assert.equal((await store.get(m))?.approval?.decidedByRole, 'operator')
      await assertExecuted(m, medium)

      const high = await deadWatched('authz-high')
      const h = await awaitingApproval(high, 'high')
      assert.equal((await approvals.decide(h, { decision: 'approve', by: 'user:root', role: 'admin' })).kind, 'ok')
      await assertExecuted(h, high)
    })

    it('a finished incident is not refused but not run again either', async () => {
      const c = await deadWatched('authz-done')
      const id = await incidentAbout(c, {})
      await assertExecuted(id, c)
      await change(id, (i) => {
        i.status = 'resolved'
      })
      assert.equal((await run(id)).kind, 'not-applicable')
    })
  })
})
