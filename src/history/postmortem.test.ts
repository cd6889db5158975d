import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { reply, startFakeOpenRouter, status, hang, type FakeOpenRouter } from '../../tests/helpers/llm-standin'
import { startPostgres, type TestPostgres } from '../../tests/helpers/postgres'
import { startRedis, type TestRedis } from '../../tests/helpers/redis'
import type { Evidence } from '../analyze/evidence/types'
import { AuditLog, type AuditEvent } from '../platform/store/audit'
import { IncidentStore } from '../platform/store/incidents'
import type { Incident } from '../platform/store/model'
import { openPostgres, openSqlite, type SqlClient } from './archive/sql'
import { migrate } from './archive/schema'
import { upsertAuditEntries, upsertIncident } from './archive/writer'
import {
  draftPostmortem,
  postmortemFor,
  postmortemMarkdown,
  postmortemDeps,
  postmortemsOnArchive,
  readPostmortem,
  storePostmortem,
} from './postmortem'

const T0 = Date.parse('2025-05-06T10:00:00.000Z')
const at = (s: number) => new Date(T0 + s * 1000).toISOString()
const SECRET = 'hunter2-very-secret'
// Built at run time: no secret-shaped literal is committed (a fake key, for the redaction checks).
const SK = 'sk-or-' + 'v1-0123456789abcdef0123456789abcdef'
const NOW = new Date(T0 + 3600_000)

const evidence = (): Evidence => ({
  version: 1,
  gatheredAt: at(5),
  alert: {
    type: 'container_down',
    metric: 'container_running',
    value: 0,
    threshold: 1,
    resource: { kind: 'container', id: 'c0ffee000001', name: 'api-gw' },
    at: at(-2),
    thisHost: true,
  },
  container: {
    id: 'c0ffee000001',
    name: 'api-gw',
    exists: true,
    image: 'registry.local/api-gw:1.4.2',
    running: false,
    status: 'exited',
    exitCode: 137,
    oomKilled: true,
    restartCount: 4,
    memoryLimitBytes: 268435456,
  },
  logs: {
    lines: ['starting api-gw', `connecting with password=${SECRET}`, 'heap grew to 250MB'],
    errorLines: ['FATAL: out of memory allocating 64MB buffer', `db url postgres://app:${SECRET}@db:5432/x`],
    linesRead: 180,
  },
  restarts: {
    count: 4,
    previousIncidents: [at(-86400), at(-172800)],
    note: 'restarted 4 times by Docker; 2 earlier incidents on api-gw',
  },
  problems: [],
})

/** A critical container death: restarted by the fast path, verified, resolved. */
function critical(id: string, overrides: Partial<Incident> = {}): Incident {
  return {
    id,
    fingerprint: `container_down:${id}`,
    type: 'container_down',
    severity: 'critical',
    status: 'resolved',
    title: 'Container api-gw died (exit 137, OOM)',
    resource: { kind: 'container', id: 'c0ffee000001', name: 'api-gw' },
    alert: {
      fingerprint: `container_down:${id}`,
      type: 'container_down',
      severity: 'critical',
      metric: 'container_running',
      value: 0,
      threshold: 1,
      resource: { kind: 'container', id: 'c0ffee000001', name: 'api-gw' },
      labels: { container: 'api-gw' },
      source: 'docker:die',
      at: at(-2),
      details: { exitCode: 137, oomKilled: true, apiKey: SK },
    },
    decision: {
      route: 'auto',
      risk: 'low',
      actionId: 'restart_container',
      params: { containerId: 'c0ffee000001' },
      reasons: ['action restart_container is low risk', 'low risk: fix automatically (1/3 in window)'],
      rule: 'risk:low',
      decidedAt: at(0.2),
    },
    actions: [
      {
        actionId: 'restart_container',
        params: { containerId: 'c0ffee000001' },
        status: 'succeeded',
        startedAt: at(0.3),
        finishedAt: at(1.8),
        result: { restarted: true, note: `Authorization: Bearer ${SK}` },
      },
    ],
    analysis: {
      analyser: 'rules',
      fallbackReason: 'no OPENROUTER_API_KEY',
      cause: 'oom_killed',
      root_cause: 'api-gw was killed by the kernel for exceeding its 256 MiB memory limit',
      evidence: ['exit code 137 with OOMKilled=true', 'memory limit 268435456 bytes'],
      confidence: 0.9,
      risk_level: 'low',
      proposed_fix: { action: 'restart_container', params: { containerId: 'c0ffee000001' } },
      evidenceRecord: evidence(),
      runbook: { id: 'oom', title: 'Out of memory', path: 'runbooks/oom.md', action: 'update_memory_limit' },
      analyzedAt: at(6),
    },
    snapshots: [{ containerId: 'c0ffee000001', state: 'exited', restartCount: 4 }],
    timeline: [
      { stage: 'detected', at: at(0), actor: 'sentinel:docker-watcher', summary: 'api-gw died (exit 137, OOM killed)' },
      { stage: 'decided', at: at(0.2), actor: 'sentinel:policy', summary: 'auto (low risk, risk:low)' },
      { stage: 'acted', at: at(1.8), actor: 'sentinel:docker-watcher', summary: 'restart_container succeeded' },
      { stage: 'analyzed', at: at(6), actor: 'step:AnalyzeIncident (rules)', summary: 'rule analyser: OOM killed' },
      { stage: 'verified', at: at(20), actor: 'step:VerifyRemediation', summary: 'api-gw running for 15 s' },
      { stage: 'resolved', at: at(20.1), actor: 'step:VerifyRemediation', summary: 'resolved: the fix held' },
    ],
    openedAt: at(0),
    updatedAt: at(20.1),
    resolvedAt: at(20.1),
    version: 9,
    ...overrides,
  }
}

/** A warning escalated to an admin, closed by hand. */
function escalated(id: string): Incident {
  const base = critical(id)
  return {
    ...base,
    severity: 'warning',
    type: 'memory',
    title: 'Memory of api-gw at 97%',
    decision: {
      route: 'escalate',
      risk: 'high',
      actionId: 'kill_process',
      params: { pid: 4242 },
      approverRole: 'admin',
      reasons: ['action kill_process is not in ALLOWED_ACTIONS (restart_container)'],
      rule: 'guardrail:allow-list',
      decidedAt: at(7),
    },
    actions: [],
    acknowledgement: { by: 'user:alice', at: at(60) },
    timeline: [
      { stage: 'detected', at: at(0), actor: 'sentinel:monitor', summary: 'memory 97% over 90%' },
      { stage: 'decided', at: at(7), actor: 'step:DecideRemediation', summary: 'escalate (high risk)' },
      { stage: 'escalated', at: at(7), actor: 'step:DecideRemediation', summary: 'escalated to an admin' },
      { stage: 'acknowledged', at: at(60), actor: 'user:alice', summary: 'acknowledged by user:alice' },
      { stage: 'resolved', at: at(600), actor: 'key:adm1', summary: 'resolved by hand: scaled the node' },
    ],
    resolvedAt: at(600),
    updatedAt: at(600),
  }
}

const auditOf = (i: Incident): AuditEvent[] => [
  { at: at(0), kind: 'incident.opened', actor: 'sentinel:docker-watcher', incidentId: i.id },
  { at: at(0.2), kind: 'policy.decided', actor: 'sentinel:policy', incidentId: i.id, outcome: 'auto' },
  { at: at(300), kind: 'incident.viewed_logs', actor: 'key:ops42', incidentId: i.id, outcome: 'ok' },
]

const sections = [
  '## Summary',
  '## Impact window',
  '## Detection',
  '## Timeline',
  '## Root cause',
  '## What Sentinel did and why',
  '## Verification',
  '## What a person did',
  '## Follow-ups',
]

describe('postmortem template', () => {
  it('tells the incident from its facts: every timeline entry, the alert, the evidence, the decision, in order', () => {
    const inc = critical('inc_pm_tmpl_1')
    const md = postmortemMarkdown(inc, auditOf(inc), { now: NOW })
    let pos = -1
    for (const s of sections) {
      const p = md.indexOf(`\n${s}\n`)
      assert.ok(p > pos, `${s} in order`)
      pos = p
    }
    assert.match(md, /^# Postmortem: Container api-gw died \(exit 137, OOM\)/)
    for (const e of inc.timeline) {
      const time = e.at.replace('T', ' ').replace(/\.\d+Z$/, ' UTC')
      const row = md.split('\n').find((l) => l.includes(e.summary))
      assert.ok(row, `timeline entry "${e.summary}"`)
      assert.ok(row.includes(time) && row.includes(`| ${e.stage} |`) && row.includes(e.actor), row)
    }
    // Detection: source, metric, value against threshold, time to detect (opened 2 s after the alert).
    assert.match(md, /Source: `docker:die`/)
    assert.match(md, /value 0 against a threshold of 1/)
    assert.match(md, /time to detect: 2 s/)
    // Impact: detection to resolution, 22.1 s.
    assert.match(md, /\| 2025-05-06 09:59:58 UTC \| 2025-05-06 10:00:00 UTC \| 2025-05-06 10:00:20 UTC \| 22 s/)
    // Root cause with the evidence record.
    assert.match(md, /Root cause: api-gw was killed by the kernel/)
    assert.match(md, /exit code 137/)
    assert.match(md, /killed for memory \(OOM\)/)
    assert.match(md, /FATAL: out of memory allocating 64MB buffer/)
    assert.match(md, /Runbook: Out of memory/)
    // What Sentinel did: the decision, its reasons, the action.
    assert.match(md, /\*\*auto\*\*/)
    assert.match(md, /low risk: fix automatically \(1\/3 in window\)/)
    assert.match(md, /\| restart_container \| succeeded \|/)
    assert.match(md, /Snapshots taken before acting \(1\)/)
    assert.match(md, /verified: api-gw running for 15 s/)
    // A person's audit entry, and the derived follow-up about the recurring resource.
    assert.match(md, /audit `incident.viewed_logs` by `key:ops42`/)
    assert.match(md, /has had 2 earlier incident\(s\): investigate/)
    assert.match(md, /- \[ \] The root cause above is confirmed/)
    assert.doesNotMatch(md, /Drafted by/)
  })

  it('says what people did and derives the follow-ups of an escalation', () => {
    const inc = escalated('inc_pm_tmpl_2')
    const md = postmortemMarkdown(inc, [], { now: NOW })
    assert.match(md, /Acknowledged by `user:alice`/)
    assert.match(md, /resolved by `key:adm1`: resolved by hand: scaled the node/)
    assert.match(md, /It was escalated \(rule `guardrail:allow-list`\): review the policy/)
    assert.match(md, /No action ran/)
    assert.doesNotMatch(md, /Sentinel handled it alone/)
  })

  it('redacts secrets wherever they were in the record', () => {
    const inc = critical('inc_pm_tmpl_3')
    const md = postmortemMarkdown(inc, auditOf(inc), { now: NOW })
    assert.ok(!md.includes(SECRET), 'log password')
    assert.ok(!md.includes(SK), 'api key')
    assert.match(md, /\[REDACTED\]/)
    // The record itself is left as it was.
    assert.equal((inc.alert.details as Record<string, unknown>).apiKey, SK)
  })
})

describe('postmortem drafted by the LLM', () => {
  let llm: FakeOpenRouter
  before(async () => {
    llm = await startFakeOpenRouter()
  })
  after(async () => {
    await llm?.close()
  })
  const settings = () => ({ apiKey: 'sk-test-key-000000000000000', baseURL: llm.baseURL, model: 'test/model-1' })

  it('writes only the narrative sections, marked as drafted, from the redacted facts', async () => {
    llm.script(
      reply(
        JSON.stringify({
          summary: 'The api-gw gateway ran out of memory and was restarted within two seconds.',
          root_cause: 'Its 256 MiB limit is too small for the 250MB heap the logs show.',
          follow_ups: 'Raise the memory limit and watch the heap.',
        }),
      ),
    )
    const inc = critical('inc_pm_llm_1')
    const draft = await draftPostmortem(inc, auditOf(inc), { llm: settings(), now: NOW })
    assert.equal(draft.draftedBy, 'llm:test/model-1')
    const md = draft.markdown
    const mark = 'Drafted by test/model-1 from the facts below; check before publishing'
    assert.equal(md.split(mark).length - 1, 3, 'summary, root cause and follow-ups marked')
    assert.match(md, /## Summary\n\nThe api-gw gateway ran out of memory/)
    assert.match(md, /Its 256 MiB limit is too small/)
    // The facts sections are the template's still.
    assert.ok(md.includes('| restart_container | succeeded |'))
    for (const e of inc.timeline) assert.ok(md.includes(e.summary))
    // What was sent: the facts, bounded, redacted.
    assert.equal(llm.requests.length, 1)
    const sent = llm.requests[0]
    assert.ok(sent.raw.includes('api-gw running for 15 s'), 'the timeline is in the facts')
    assert.ok(!sent.raw.includes(SECRET) && !sent.raw.includes(SK), 'no secret sent')
    assert.ok(sent.body.max_tokens > 0 && sent.body.max_tokens <= 2048, `max_tokens ${sent.body.max_tokens}`)
  })

  it('falls back to the template when the model fails or does not answer in time', async () => {
    const inc = critical('inc_pm_llm_2')
    const template = postmortemMarkdown(inc, auditOf(inc), { now: NOW })
    llm.script(status(500))
    const failed = await draftPostmortem(inc, auditOf(inc), { llm: settings(), now: NOW })
    assert.equal(failed.draftedBy, 'template')
    assert.match(failed.fallbackReason ?? '', /500/)
    assert.equal(failed.markdown, template)

    llm.script(reply('I cannot help with that.'))
    const unusable = await draftPostmortem(inc, auditOf(inc), { llm: settings(), now: NOW })
    assert.equal(unusable.draftedBy, 'template')
    assert.equal(unusable.markdown, template)

    llm.script(hang())
    const late = await draftPostmortem(inc, auditOf(inc), { llm: { ...settings(), deadlineMs: 300 }, now: NOW })
    assert.equal(late.draftedBy, 'template')
    assert.match(late.fallbackReason ?? '', /deadline/)
  })

  it('spends from the shared hourly token budget, and stops asking once it is spent', async () => {
    const redis = await startRedis()
    try {
      const deps = postmortemDeps(
        {
          OPENROUTER_API_KEY: 'sk-test-key-000000000000000',
          OPENROUTER_BASE_URL: llm.baseURL,
          OPENROUTER_MODEL: 'test/model-3',
          LLM_DEADLINE_SECONDS: 5,
          LLM_MAX_TOKENS: 8192,
          LLM_PRICE_INPUT_PER_MTOK: 0.55,
          LLM_PRICE_OUTPUT_PER_MTOK: 2.19,
          LLM_HOURLY_TOKEN_BUDGET: 2000,
        },
        redis.client,
      )
      const inc = critical('inc_pm_llm_4')
      llm.script(reply(JSON.stringify({ summary: 'One.' }), { usage: { prompt_tokens: 1500, completion_tokens: 600 } }))
      assert.equal((await draftPostmortem(inc, [], { ...deps, now: NOW })).draftedBy, 'llm:test/model-3')
      assert.equal(await deps.budget!.used(), 2100)
      assert.equal(llm.requests[0].body.max_tokens, 2048)
      const spent = await draftPostmortem(inc, [], { ...deps, now: NOW })
      assert.equal(spent.draftedBy, 'template')
      assert.match(spent.fallbackReason ?? '', /budget spent/)
      assert.equal(llm.requests.length, 1)
    } finally {
      await redis.stop()
    }
  })

  it('uses the template without a key', async () => {
    llm.script(status(500))
    const inc = critical('inc_pm_llm_3')
    const d = await draftPostmortem(inc, [], { llm: null, now: NOW })
    assert.equal(d.draftedBy, 'template')
    assert.equal(llm.requests.length, 0)
  })
})

for (const dialect of ['sqlite', 'postgres'] as const) {
  describe(`postmortems stored in the archive (${dialect})`, () => {
    let dir: string
    let pg: TestPostgres | undefined
    let db: SqlClient
    let llm: FakeOpenRouter
    before(async () => {
      dir = mkdtempSync(path.join(os.tmpdir(), 'sentinel-test-pm-'))
      if (dialect === 'postgres') {
        pg = await startPostgres()
        db = openPostgres(pg.url)
      } else db = openSqlite(path.join(dir, 'history.sqlite'))
      await migrate(db)
      llm = await startFakeOpenRouter()
    })
    after(async () => {
      await db?.close()
      await pg?.stop()
      await llm?.close()
      rmSync(dir, { recursive: true, force: true })
    })

    it('writes one for each closed critical or escalated incident, once', async () => {
      const due = critical('inc_pm_arch_1')
      const escal = escalated('inc_pm_arch_2')
      const warning = critical('inc_pm_arch_3', { severity: 'warning' }) // resolved by itself: none
      const open = critical('inc_pm_arch_4', { status: 'verifying', resolvedAt: undefined })
      await db.transaction(async (tx) => {
        for (const i of [due, escal, warning, open]) await upsertIncident(tx, i)
        await upsertAuditEntries(
          tx,
          auditOf(due).map((e, n) => ({ ...e, entryId: `${T0}-${n}` })),
        )
      })
      llm.script(
        reply(JSON.stringify({ summary: 'Drafted summary one.' })),
        reply(JSON.stringify({ summary: 'Drafted summary two.' })),
      )
      const llmSettings = { apiKey: 'sk-test-key-000000000000000', baseURL: llm.baseURL, model: 'test/model-2' }
      const first = await postmortemsOnArchive(db, [due, escal, warning, open], { llm: llmSettings, now: NOW })
      assert.deepEqual(first.written.map((w) => w.incidentId).sort(), ['inc_pm_arch_1', 'inc_pm_arch_2'])
      assert.ok(first.written.every((w) => w.draftedBy === 'llm:test/model-2'))
      assert.equal(llm.requests.length, 2)
      const stored = await readPostmortem(db, 'inc_pm_arch_1')
      assert.ok(stored)
      assert.equal(stored.draftedBy, 'llm:test/model-2')
      // The archive's audit entries are in it (a person's entry).
      assert.match(stored.markdown, /`key:ops42`/)
      assert.equal(await readPostmortem(db, 'inc_pm_arch_3'), null)
      assert.equal(await readPostmortem(db, 'inc_pm_arch_4'), null)

      // Again (the archiver retrying the same commit): nothing written, the model not asked.
      const again = await postmortemsOnArchive(db, [due, escal, warning, open], { llm: llmSettings, now: NOW })
      assert.deepEqual(again.written, [])
      assert.equal(llm.requests.length, 2)
      assert.deepEqual(await readPostmortem(db, 'inc_pm_arch_1'), stored)
      const rows = await db.all<{ n: number }>('SELECT COUNT(*) AS n FROM postmortems')
      assert.equal(Number(rows[0].n), 2)
      // Nothing due: no query at all is needed, and none is made when the archive is closed.
      const closedDb = {
        ...db,
        all: () => Promise.reject(new Error('queried')),
        run: () => Promise.reject(new Error('queried')),
      }
      assert.deepEqual((await postmortemsOnArchive(closedDb as SqlClient, [warning, open])).written, [])
    })

    it('falls back to the template past the batch deadline, and storePostmortem replaces', async () => {
      const a = critical('inc_pm_arch_5')
      await db.transaction((tx) => upsertIncident(tx, a))
      llm.script(hang())
      const r = await postmortemsOnArchive(db, [a], {
        llm: { apiKey: 'sk-test-key-000000000000000', baseURL: llm.baseURL, model: 'm', deadlineMs: 250 },
        now: NOW,
      })
      assert.equal(r.written[0].draftedBy, 'template')
      assert.match(r.written[0].fallbackReason ?? '', /deadline/)
      await storePostmortem(db, a.id, '# edited by hand\n', 'user:alice')
      const s = await readPostmortem(db, a.id)
      assert.equal(s?.markdown, '# edited by hand\n')
      assert.equal(s?.draftedBy, 'user:alice')
    })
  })
}

describe('the postmortem served', () => {
  let redis: TestRedis
  let dir: string
  let db: SqlClient
  before(async () => {
    redis = await startRedis()
    dir = mkdtempSync(path.join(os.tmpdir(), 'sentinel-test-pm-serve-'))
    db = openSqlite(path.join(dir, 'history.sqlite'))
    await migrate(db)
  })
  after(async () => {
    await db?.close()
    await redis?.stop()
    rmSync(dir, { recursive: true, force: true })
  })

  it('is the stored one, else written now from the archive or Redis, else null', async () => {
    const store = new IncidentStore(redis.client)
    const audit = new AuditLog(redis.client, path.join(dir, 'audit', 'audit.jsonl'))
    const archivedOnly = escalated('inc_pm_serve_1')
    await db.transaction((tx) => upsertIncident(tx, archivedOnly))
    const fromArchive = await postmortemFor(archivedOnly.id, { db, store, audit, now: NOW })
    assert.equal(fromArchive?.stored, false)
    assert.equal(fromArchive?.draftedBy, 'template')
    assert.equal(fromArchive?.markdown, postmortemMarkdown(archivedOnly, [], { now: NOW }))

    await storePostmortem(db, archivedOnly.id, '# stored\n', 'template')
    assert.deepEqual(await postmortemFor(archivedOnly.id, { db, store, audit }), {
      markdown: '# stored\n',
      draftedBy: 'template',
      stored: true,
    })

    // In Redis only (not archived yet), with its audit entries from the audit log; no archive at all.
    const opened = await store.open(critical('inc_x').alert, { title: 'Container api-gw died', actor: 'test' })
    await audit.append({ kind: 'incident.note', actor: 'user:bob', incidentId: opened.incident.id, outcome: 'looked' })
    const live = await postmortemFor(opened.incident.id, { db: null, store, audit })
    assert.equal(live?.stored, false)
    assert.match(live!.markdown, /# Postmortem: Container api-gw died/)
    assert.match(live!.markdown, /audit `incident.note` by `user:bob`/)

    assert.equal(await postmortemFor('inc_none_0', { db, store, audit }), null)
  })
})
