import { randomBytes } from 'node:crypto'
const LABEL_KEY = `sentinel.unit-${randomBytes(3).toString('hex')}`
process.env.WATCH_LABEL = `${LABEL_KEY}=true`

import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { removeContainers, runContainer, uniqueName } from '../../tests/helpers/docker'
import { startRedis, type TestRedis } from '../../tests/helpers/redis'
import { analyzeStage } from '../analyze/stage'
import { decideStage } from '../decide/stage'
import { triggerTestAlert } from '../observe/trigger'
import { resetConfigCache } from '../platform/config/index'
import { AuditLog } from '../platform/store/audit'
import { IncidentStore } from '../platform/store/incidents'
import { closeRedis } from '../platform/store/redis'
import { escalationSummary, rollbackAndEscalate, verifyIncident, verifyUntilStable, type VerifyDeps } from './verify'

describe('verifyUntilStable', () => {
  it('needs the check to hold for the settle time without a break', async () => {
    const answers = [false, true, false, true, true, true, true, true, true, true, true]
    let n = 0
    const r = await verifyUntilStable(async () => ({ ok: answers[Math.min(n++, answers.length - 1)], detail: 'x' }), {
      timeoutMs: 5000,
      stableMs: 30,
      pollMs: 10,
    })
    assert.equal(r.ok, true)
    assert.ok(n >= 5, 'a break resets the settle time')
  })
  it('fails at the deadline with the last reading', async () => {
    const r = await verifyUntilStable(async () => ({ ok: false, detail: 'container is not_running' }), {
      timeoutMs: 100,
      stableMs: 10,
      pollMs: 10,
    })
    assert.equal(r.ok, false)
    assert.match(r.detail, /not stable within 100 ms: container is not_running/)
  })
  it('treats a check that throws as failing, not as a crash', async () => {
    const r = await verifyUntilStable(
      async () => {
        throw new Error('docker unreachable')
      },
      { timeoutMs: 50, stableMs: 10, pollMs: 10 },
    )
    assert.equal(r.ok, false)
    assert.match(r.detail, /docker unreachable/)
  })
})

describe('verifyIncident on a container incident (real Redis and Docker)', () => {
  let redis: TestRedis
  let dir: string
  const names: string[] = []
  before(async () => {
    redis = await startRedis()
    dir = mkdtempSync(path.join(os.tmpdir(), 'sentinel-test-verify-'))
  })
  after(async () => {
    await removeContainers(...names)
    await redis.stop()
    rmSync(dir, { recursive: true, force: true })
  })

  async function deferredIncidentAbout(
    name: string,
    id: string,
  ): Promise<{ store: IncidentStore; incidentId: string; deps: VerifyDeps }> {
    const store = new IncidentStore(redis.client)
    const { incident } = await store.open(
      {
        fingerprint: `am:${id}`,
        type: 'container_down',
        severity: 'critical',
        metric: 'ContainerDown',
        value: null,
        threshold: null,
        resource: { kind: 'container', id: name, name },
        labels: {},
        source: 'alertmanager',
        at: new Date().toISOString(),
      },
      { title: `container ${name} is down`, actor: 'test' },
    )
    await store.update(incident.id, (i) => {
      i.status = 'verifying'
      i.decision = {
        route: 'defer',
        risk: 'low',
        actionId: null,
        params: {},
        rule: 'no-fix',
        reasons: [],
        decidedAt: new Date().toISOString(),
      }
    })
    return {
      store,
      incidentId: incident.id,
      deps: { store, audit: new AuditLog(redis.client, path.join(dir, 'audit.jsonl')), actor: 'test' },
    }
  }

  it('checks a container that carries the watch label', async () => {
    const name = uniqueName('verify-watched')
    names.push(name)
    const id = await runContainer(name, { labels: { [LABEL_KEY]: 'true' } })
    const { incidentId, deps } = await deferredIncidentAbout(name, id)
    const r = await verifyIncident(incidentId, { timeoutMs: 3000, stableMs: 200 }, deps)
    assert.equal(r.ok, true, r.incident.timeline.at(-1)?.summary)
  })

  it('does not look at a container without the watch label, whatever the incident names', async () => {
    const name = uniqueName('verify-unwatched')
    names.push(name)
    const id = await runContainer(name)
    const { incidentId, deps } = await deferredIncidentAbout(name, id)
    const r = await verifyIncident(incidentId, { timeoutMs: 1000, stableMs: 200 }, deps)
    assert.equal(r.ok, false)
    assert.match(
      r.incident.timeline.at(-1)!.summary,
      /no container carrying the watch label answers to .*nothing was checked/,
    )
  })
})

describe('a test disk alert with nothing to clean (real Redis)', () => {
  let redis: TestRedis
  let dir: string
  before(async () => {
    redis = await startRedis()
    dir = mkdtempSync(path.join(os.tmpdir(), 'sentinel-test-verify-nofix-'))
    // An empty sandbox: the rule analyser finds nothing to clean and proposes no fix.
    for (const s of ['logs', 'temp', 'cache', 'data']) mkdirSync(path.join(dir, 'sandbox', s), { recursive: true })
    Object.assign(process.env, {
      REDIS_PORT: String(redis.port),
      DATA_DIR: dir,
      SANDBOX_DIR: path.join(dir, 'sandbox'),
    })
    delete process.env.OPENROUTER_API_KEY
    resetConfigCache()
  })
  after(async () => {
    await closeRedis()
    await redis.stop()
    rmSync(dir, { recursive: true, force: true })
  })

  it('escalates saying that no fix ran and why, not that a fix did not hold', async () => {
    const store = new IncidentStore(redis.client)
    const deps: VerifyDeps = {
      store,
      audit: new AuditLog(redis.client, path.join(dir, 'audit.jsonl')),
      actor: 'step:VerifyRemediation',
    }
    const opened = await triggerTestAlert({ type: 'disk', resource: '/', value: 97 }, 'key:admin', deps)
    await analyzeStage(opened.id, 'step:AnalyzeIncident')
    const { decision } = await decideStage(opened.id, 'step:DecideRemediation')
    assert.equal(decision?.route, 'defer')
    assert.equal(decision?.actionId, null)
    const verified = await verifyIncident(opened.id, { timeoutMs: 1000, stableMs: 100 }, deps)
    assert.equal(verified.ok, false)
    assert.match(
      verified.incident.timeline.at(-1)!.summary,
      /nothing to verify against: nothing checks a filesystem alert without a fix/,
    )
    // What the RollbackAndEscalate step passes for any failed verification.
    const escalated = await rollbackAndEscalate(
      opened.id,
      { ...deps, actor: 'step:RollbackAndEscalate' },
      'the fix did not hold',
    )
    assert.equal(escalated.status, 'escalated')
    const summary = escalationSummary(escalated) ?? ''
    assert.doesNotMatch(summary, /did not hold|rolled back/)
    assert.match(
      summary,
      /^escalated to an admin: no fix ran \(the analysis proposed none: The sandbox is empty: the space is taken outside it\): nothing checks a filesystem alert without a fix$/,
    )
    assert.equal(escalated.timeline.at(-1)?.data?.fixRan, false)
    assert.deepEqual(escalated.actions, [])
  })
})
