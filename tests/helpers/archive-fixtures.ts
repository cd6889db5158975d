/**
 * Incidents driven through the lifecycle by the real IncidentStore (open, analysis, decision,
 * approval, action with its snapshot, verification, resolution...), and what the archive holds of
 * them, for the archiver, retention and archive crash tests.
 */
import assert from 'node:assert/strict'
import type { Redis } from 'ioredis'
import { incidentKeys, IncidentStore } from '../../src/platform/store/incidents'
import {
  note,
  recordActionResult,
  recordAnalysis,
  recordApprovalDecision,
  recordDecision,
  recordVerification,
  requestApproval,
  resolve,
  startAnalysis,
  startRemediation,
  suppress,
} from '../../src/platform/store/lifecycle'
import type { Alert, Decision, Incident } from '../../src/platform/store/model'
import type { SqlClient } from '../../src/history/archive/sql'

/** How an incident goes: fixed automatically; approved then failed (escalated); escalated then suppressed; left open. */
export const SHAPES = ['auto_fixed', 'approved_failed', 'escalated_suppressed', 'open'] as const
export type Shape = (typeof SHAPES)[number]

export const alertFor = (fingerprint: string, name = fingerprint): Alert => ({
  fingerprint,
  type: 'container_down',
  severity: 'critical',
  metric: 'container_running',
  value: 0,
  threshold: 1,
  resource: { kind: 'container', id: `id-${name}`, name },
  labels: { node: 'node-a' },
  source: 'test',
  at: new Date().toISOString(),
})

const decision = (route: Decision['route']): Decision => ({
  route,
  risk: route === 'auto' ? 'low' : 'medium',
  actionId: route === 'escalate' ? null : 'restart_container',
  params: { container: 'web' },
  ...(route === 'approval' ? { approverRole: 'operator' as const } : {}),
  rule: `test:${route}`,
  reasons: [`because ${route}`],
  decidedAt: new Date().toISOString(),
})

const actor = 'test'

/** Opens an incident for `fingerprint` and takes it through `shape`; returns its last stored version. */
export async function driveIncident(
  store: IncidentStore,
  shape: Shape,
  fingerprint: string,
  resourceName?: string,
): Promise<Incident> {
  const { incident } = await store.open(alertFor(fingerprint, resourceName), { title: `${fingerprint} died`, actor })
  const id = incident.id
  const now = () => new Date().toISOString()
  const act = (ok: boolean) => (i: Incident) =>
    ok
      ? recordActionResult(i, {
          actionId: 'restart_container',
          params: { container: 'web' },
          actor,
          ok: true,
          result: { performed: 'restarted' },
        })
      : recordActionResult(i, {
          actionId: 'restart_container',
          params: { container: 'web' },
          actor,
          ok: false,
          error: 'no such container',
        })
  const remediate = (i: Incident) =>
    startRemediation(i, {
      actionId: 'restart_container',
      params: { container: 'web' },
      snapshot: { state: 'exited', exitCode: 137 },
      startedAt: now(),
    })
  switch (shape) {
    case 'auto_fixed':
      await store.update(id, (i) => startAnalysis(i))
      await store.update(id, (i) =>
        recordAnalysis(
          i,
          { analyser: 'rules', cause: 'oom', root_cause: 'the OOM killer ended it', confidence: 0.9 },
          { actor, summary: 'oom' },
        ),
      )
      await store.update(id, (i) => recordDecision(i, decision('auto'), actor))
      await store.update(id, remediate)
      await store.update(id, act(true))
      await store.update(id, (i) => recordVerification(i, { actor, summary: 'running again' }))
      return store.update(id, (i) => resolve(i, { actor, summary: 'fixed' }))
    case 'approved_failed':
      await store.update(id, (i) => recordDecision(i, decision('approval'), actor))
      await store.update(id, (i) =>
        requestApproval(
          i,
          {
            status: 'pending',
            approverRole: 'operator',
            risk: 'medium',
            actionId: 'restart_container',
            params: { container: 'web' },
            requestedAt: now(),
            expiresAt: new Date(Date.now() + 600_000).toISOString(),
          },
          actor,
        ),
      )
      await store.update(id, (i) =>
        recordApprovalDecision(i, { decision: 'approve', by: 'user:ops', role: 'operator', comment: 'go' }),
      )
      await store.update(id, remediate)
      return store.update(id, act(false))
    case 'escalated_suppressed':
      await store.update(id, (i) => recordDecision(i, decision('escalate'), actor))
      await store.update(id, (i) => note(i, { actor, summary: 'looked at it' }))
      return store.update(id, (i) => suppress(i, { actor, summary: 'removed on purpose' }))
    case 'open':
      return store.update(id, (i) => note(i, { actor, summary: 'still open' }))
  }
}

/** The incidents Redis holds now, by id. */
export async function redisIncidents(redis: Redis): Promise<Map<string, Incident>> {
  const ids = await redis.zrange(incidentKeys.byTime, 0, -1)
  const out = new Map<string, Incident>()
  for (let i = 0; i < ids.length; i += 500) {
    const page = ids.slice(i, i + 500)
    const raws = await redis.mget(page.map(incidentKeys.doc))
    raws.forEach((raw) => {
      if (raw) {
        const doc = JSON.parse(raw) as Incident
        out.set(doc.id, doc)
      }
    })
  }
  return out
}

/** Counts of one incident's parts: in its document, or as rows of the archive's child tables. */
export interface Parts {
  timeline: number
  actions: number
  snapshots: number
  approvals: number
}

export const partsOf = (doc: Incident): Parts => ({
  timeline: doc.timeline.length,
  actions: doc.actions.length,
  snapshots: doc.snapshots?.length ?? 0,
  approvals: doc.approval ? 1 : 0,
})

/** Every archived incident: how many rows it has (must be 1), its version, and its child rows counted. */
export async function archivedCounts(
  db: SqlClient,
): Promise<Map<string, { rows: number; version: number; parts: Parts }>> {
  const out = new Map<string, { rows: number; version: number; parts: Parts }>()
  for (const r of await db.all<{ id: string; n: number; version: number }>(
    'SELECT id, COUNT(*) AS n, MAX(version) AS version FROM incidents GROUP BY id',
  ))
    out.set(r.id, {
      rows: Number(r.n),
      version: Number(r.version),
      parts: { timeline: 0, actions: 0, snapshots: 0, approvals: 0 },
    })
  const tables: [keyof Parts, string][] = [
    ['timeline', 'incident_timeline'],
    ['actions', 'incident_actions'],
    ['snapshots', 'incident_snapshots'],
    ['approvals', 'incident_approvals'],
  ]
  for (const [part, table] of tables)
    for (const r of await db.all<{ id: string; n: number }>(
      `SELECT incident_id AS id, COUNT(*) AS n FROM ${table} GROUP BY incident_id`,
    )) {
      const entry = out.get(r.id)
      assert.ok(entry, `${table} has rows of ${r.id}, which is not archived`)
      entry.parts[part] = Number(r.n)
    }
  return out
}

/** Asserts the archive holds each document once, at its version, with all its parts. */
export async function assertArchived(db: SqlClient, docs: Iterable<Incident>): Promise<void> {
  const counts = await archivedCounts(db)
  for (const doc of docs) {
    const got = counts.get(doc.id)
    assert.ok(got, `${doc.id} is archived`)
    assert.equal(got.rows, 1, `${doc.id} archived once`)
    assert.equal(got.version, doc.version, `${doc.id} archived at its latest version`)
    assert.deepEqual(got.parts, partsOf(doc), `${doc.id}: its parts`)
  }
}
