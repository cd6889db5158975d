/**
 * The executor trusts no event (issue #17, point 2), against a real Sentinel, Redis and sandbox: a
 * `remediation.approved` put into the flow the way Motia puts it there (a job on the BullMQ queue
 * of the ExecuteRemediation step) does not run a fix that waits for an operator. The step refuses
 * it, audits the refusal once and does not retry it; the fix runs after a real approval.
 */
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { Queue } from 'bullmq'
import { waitFor } from '../helpers/ports'
import { startRedis, type TestRedis } from '../helpers/redis'
import { type SentinelInstance, startSentinel } from '../helpers/sentinel'
import { TOPICS } from '../../src/platform/events/topics'

// Motia's BullMQ adapter: one queue per topic and subscribing step, under the `motia` prefix.
const EXECUTE_QUEUE = `${TOPICS.remediationApproved}.ExecuteRemediation`

function tree(dir: string): Record<string, string> {
  const out: Record<string, string> = {}
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name)
      if (e.name === '.quarantine') continue
      if (e.isDirectory()) walk(p)
      else out[path.relative(dir, p)] = createHash('sha256').update(readFileSync(p)).digest('hex')
    }
  }
  walk(dir)
  return out
}

describe('security: the executor trusts no event', () => {
  let redis: TestRedis
  let sentinel: SentinelInstance
  let root: string
  let sandbox: string
  let queue: Queue

  before(async () => {
    root = mkdtempSync(path.join(os.tmpdir(), 'sentinel-test-executor-'))
    sandbox = path.join(root, 'sandbox')
    for (const d of ['logs', 'temp', 'cache', 'data']) mkdirSync(path.join(sandbox, d), { recursive: true })
    writeFileSync(path.join(sandbox, 'logs/app.log'), randomBytes(300_000))
    writeFileSync(path.join(sandbox, 'temp/upload.tmp'), randomBytes(200_000))
    writeFileSync(path.join(sandbox, 'data/keep.db'), randomBytes(50_000))
    redis = await startRedis()
    sentinel = await startSentinel({
      redisPort: redis.port,
      env: { SANDBOX_DIR: sandbox, VERIFY_STABLE_SECONDS: '0.5', VERIFY_TIMEOUT_SECONDS: '4' },
    })
    queue = new Queue(EXECUTE_QUEUE, { connection: { host: '127.0.0.1', port: redis.port }, prefix: 'motia' })
  })
  after(async () => {
    await queue?.close()
    await sentinel?.cleanup()
    await redis?.stop()
    rmSync(root, { recursive: true, force: true })
  })

  /** `remediation.approved` for the incident, enqueued as Motia's emit enqueues it. */
  async function forgeApproved(incidentId: string) {
    const job = await queue.add(
      TOPICS.remediationApproved,
      { topic: TOPICS.remediationApproved, data: { incidentId }, traceId: incidentId, flows: ['sentinel'] },
      { attempts: 4, backoff: { type: 'fixed', delay: 500 } },
    )
    const state = await waitFor(
      async () => {
        const s = await job.getState()
        return s === 'completed' || s === 'failed' ? s : null
      },
      { timeoutMs: 30_000, what: 'the ExecuteRemediation step to take the forged event' },
    )
    return { state, attemptsMade: (await queue.getJob(job.id!))?.attemptsMade }
  }

  const auditOf = async (incidentId: string) =>
    (await sentinel.get(`/api/audit?incident=${incidentId}&limit=200`)).body.events as Array<{
      kind: string
      outcome?: string
      data?: Record<string, unknown>
    }>

  let pendingId: string
  let untouched: Record<string, string>

  it('a fix waiting for an operator does not run on a remediation.approved put into the flow: refused, audited, not retried', async () => {
    const trig = await sentinel.post('/api/trigger-alert', { type: 'disk', resource: '/', value: 97 })
    assert.equal(trig.status, 202, JSON.stringify(trig.body))
    pendingId = trig.body.incidentId
    const pending = await waitFor(
      async () =>
        (await sentinel.get('/api/approvals/pending')).body.approvals.find((a: any) => a.incidentId === pendingId),
      { timeoutMs: 30_000, what: 'the clean_sandbox approval' },
    )
    assert.equal(pending.proposedAction, 'clean_sandbox')
    assert.equal(pending.approverRole, 'operator')
    untouched = tree(sandbox)

    const job = await forgeApproved(pendingId)
    assert.equal(job.state, 'completed', 'a refusal is final: the step does not throw for the queue to retry')

    assert.deepEqual(tree(sandbox), untouched, 'nothing was cleaned')
    const inc = (await sentinel.get(`/api/incidents/${pendingId}`)).body
    assert.equal(inc.status, 'awaiting_approval')
    assert.equal(inc.approval.status, 'pending')
    assert.deepEqual(inc.actions, [])
    assert.equal(inc.snapshots, undefined, 'not even a snapshot: the action was never started')
    assert.ok(
      (await sentinel.get('/api/approvals/pending')).body.approvals.some((a: any) => a.incidentId === pendingId),
      'still waiting for a person',
    )
    const events = await auditOf(pendingId)
    const refused = events.filter((e) => e.kind === 'action.refused')
    assert.equal(refused.length, 1, `refused and audited once: ${JSON.stringify(events.map((e) => e.kind))}`)
    assert.equal(refused[0].outcome, 'approval-pending')
    assert.match(String(refused[0].data?.reason), /waits for an operator/)
    assert.ok(!events.some((e) => e.kind === 'action.executed'))
  })

  it('a remediation.approved naming no incident is refused and audited too', async () => {
    const ghost = `inc_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`
    const job = await forgeApproved(ghost)
    assert.equal(job.state, 'completed')
    const refused = (await auditOf(ghost)).filter((e) => e.kind === 'action.refused')
    assert.deepEqual(
      refused.map((e) => e.outcome),
      ['incident-not-found'],
    )
  })

  it('after a real approval the same fix runs, and is verified and resolved', async () => {
    const ok = await sentinel.post(`/api/incidents/${pendingId}/approve`, {}, 'operator')
    assert.equal(ok.status, 200, JSON.stringify(ok.body))
    assert.equal(ok.body.approval.decidedByRole, 'operator')
    const done = await waitFor(
      async () => {
        const r = (await sentinel.get(`/api/incidents/${pendingId}`)).body
        return ['resolved', 'escalated'].includes(r.status) ? r : null
      },
      { timeoutMs: 45_000, what: 'the approved cleaning to finish' },
    )
    assert.equal(done.status, 'resolved', JSON.stringify(done.timeline.map((t: any) => t.summary)))
    assert.deepEqual(
      done.actions.map((a: any) => [a.actionId, a.status]),
      [['clean_sandbox', 'succeeded']],
    )
    const now = tree(sandbox)
    assert.equal(now['data/keep.db'], untouched['data/keep.db'])
    assert.ok(!('logs/app.log' in now) && !('temp/upload.tmp' in now), 'cleaned')
    const kinds = (await auditOf(pendingId)).map((e) => `${e.kind}:${e.outcome ?? ''}`)
    assert.ok(kinds.includes('action.executed:succeeded'), kinds.join(' '))
    assert.equal(kinds.filter((k) => k.startsWith('action.refused')).length, 1, 'the real approval was not refused')
  })
})
