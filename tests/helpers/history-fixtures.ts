/**
 * A fixed set of 40 archived incidents for the history and report tests, written as Incident
 * documents (as Redis holds them) and archived with the archive's own upsert. The table below is
 * the whole data set: the tests' expected figures are counted by hand from it (in their comments),
 * never computed by the code under test.
 *
 * Times: day 0 is Monday 2025-03-03 (UTC); days 0-6 are week 1, days 7-13 week 2. #35 opens one
 * minute before day 0 and #36 exactly at day 14 (both outside [day 0, day 14)); #37-#40 are test
 * incidents.
 *
 * Outcomes and what the archive derives from them (src/history/archive/row.ts):
 * - auto: an action succeeded, nobody approved: resolved, autoFixed
 * - approved: approval approved after `wait` s, the action succeeded: resolved, not autoFixed
 * - rejected: approval rejected after `wait` s: escalated
 * - failed: the action failed: escalated
 * - rollback: the fix was rolled back: escalated, rolledBack
 * - manual: escalated (no action), then resolved by a person: resolved, escalated
 * - open: still open, no analysis, no decision; suppressed: left alone, no analysis, no decision
 */
import type { AlertType, Incident, ResourceRef, Severity } from '../../src/platform/store/model'
import type { SqlClient } from '../../src/history/archive/sql'
import { upsertAuditEntries, upsertIncident } from '../../src/history/archive/writer'

export type Outcome = 'auto' | 'approved' | 'rejected' | 'failed' | 'rollback' | 'manual' | 'open' | 'suppressed'

export interface FixtureSpec {
  n: number
  /** Days after day 0, then hh:mm (UTC). */
  day: number
  time: string
  type: AlertType
  node: string
  severity: Severity
  resource: keyof typeof RESOURCES
  outcome: Outcome
  /** Seconds from the alert to the incident opening (negative: the alert's clock ran ahead); null: no alert time. */
  detect: number | null
  /** Seconds from opening to resolution (resolved outcomes). */
  resolve?: number
  /** Seconds from the approval request to its decision (approved, rejected). */
  wait?: number
  analyser?: 'rules' | 'llm'
  title?: string
  rootCause?: string
  /** The actions run, when not the one of the type (see ACTION_OF). */
  actions?: { actionId: string; status: 'succeeded' | 'failed' | 'rolled_back' }[]
  test?: boolean
}

export const RESOURCES = {
  web: { kind: 'container', id: 'c-web', name: 'web' },
  api: { kind: 'container', id: 'c-api', name: 'api' },
  db: { kind: 'container', id: 'c-db', name: 'db' },
  cache: { kind: 'container', id: 'c-cache', name: 'cache' },
  worker: { kind: 'container', id: 'c-worker', name: 'worker' },
  var: { kind: 'filesystem', id: 'host1:/var', name: '/var' },
  data: { kind: 'filesystem', id: 'host1:/data', name: '/data' },
  shop: { kind: 'endpoint', id: 'https://shop.example/health', name: 'shop-health' },
  testweb: { kind: 'container', id: 'c-test-web', name: 'test-web' },
  testapi: { kind: 'container', id: 'c-test-api', name: 'test-api' },
  tmp: { kind: 'filesystem', id: 'host1:/tmp', name: '/tmp' },
} satisfies Record<string, ResourceRef>

/** The action each type's decision names. */
export const ACTION_OF: Record<string, string> = {
  container_down: 'restart_container',
  memory: 'restart_container',
  cpu: 'renice_process',
  disk: 'clean_disk',
  latency: 'restart_container',
}

const TITLE_OF: Record<string, string> = {
  container_down: 'container exited',
  memory: 'memory above threshold',
  cpu: 'CPU above threshold',
  disk: 'disk almost full',
  latency: 'slow responses',
}

const ROOT_CAUSE_OF: Record<string, string> = {
  container_down: 'the process exited with code 1 after a failed health check',
  memory: 'the kernel OOM killer ended the process',
  cpu: 'a runaway loop kept a core busy',
  disk: 'old logs filled the volume',
  latency: 'the upstream database answered slowly',
}

const CAUSE_OF: Record<string, string> = {
  container_down: 'crash',
  memory: 'oom',
  cpu: 'saturation',
  disk: 'full',
  latency: 'upstream',
}

// prettier-ignore
export const FIXTURES: FixtureSpec[] = [
  // ---- week 1 (2025-03-03 .. 03-09)
  { n: 1, day: 0, time: '01:00', type: 'container_down', node: 'node-a', severity: 'critical', resource: 'web', outcome: 'auto', detect: 10, resolve: 120, analyser: 'rules' },
  { n: 2, day: 0, time: '02:00', type: 'memory', node: 'node-a', severity: 'warning', resource: 'web', outcome: 'auto', detect: 20, resolve: 300, analyser: 'rules' },
  { n: 3, day: 0, time: '05:00', type: 'cpu', node: 'node-b', severity: 'warning', resource: 'api', outcome: 'approved', detect: 30, resolve: 900, wait: 240, analyser: 'llm' },
  { n: 4, day: 0, time: '09:00', type: 'disk', node: 'node-c', severity: 'critical', resource: 'var', outcome: 'failed', detect: 60, analyser: 'rules' },
  { n: 5, day: 1, time: '03:00', type: 'container_down', node: 'node-a', severity: 'critical', resource: 'db', outcome: 'auto', detect: 5, resolve: 60, analyser: 'rules' },
  { n: 6, day: 1, time: '04:30', type: 'latency', node: 'node-b', severity: 'info', resource: 'shop', outcome: 'open', detect: 15 },
  { n: 7, day: 1, time: '12:00', type: 'memory', node: 'node-b', severity: 'warning', resource: 'cache', outcome: 'rollback', detect: 25, analyser: 'llm' },
  { n: 8, day: 2, time: '00:00', type: 'container_down', node: 'node-a', severity: 'critical', resource: 'web', outcome: 'auto', detect: 0, resolve: 180, analyser: 'rules' },
  { n: 9, day: 2, time: '06:00', type: 'cpu', node: 'node-c', severity: 'warning', resource: 'worker', outcome: 'rejected', detect: 40, wait: 600, analyser: 'llm' },
  { n: 10, day: 2, time: '18:00', type: 'memory', node: 'node-a', severity: 'warning', resource: 'web', outcome: 'approved', detect: 35, resolve: 1200, wait: 60, analyser: 'llm' },
  { n: 11, day: 3, time: '01:00', type: 'disk', node: 'node-c', severity: 'warning', resource: 'var', outcome: 'manual', detect: 90, resolve: 3600, analyser: 'rules' },
  { n: 12, day: 3, time: '07:00', type: 'container_down', node: 'node-b', severity: 'critical', resource: 'api', outcome: 'auto', detect: 8, resolve: 240, analyser: 'rules', title: '=HYPERLINK("http://evil.example/?x=1","click, here")' },
  { n: 13, day: 3, time: '23:59', type: 'latency', node: 'node-b', severity: 'warning', resource: 'shop', outcome: 'suppressed', detect: 12 },
  { n: 14, day: 4, time: '10:00', type: 'cpu', node: 'node-a', severity: 'info', resource: 'worker', outcome: 'auto', detect: -50, resolve: 600, analyser: 'llm' },
  { n: 15, day: 4, time: '11:00', type: 'container_down', node: 'node-a', severity: 'critical', resource: 'web', outcome: 'auto', detect: null, resolve: 90, analyser: 'rules' },
  { n: 16, day: 5, time: '02:00', type: 'memory', node: 'node-c', severity: 'critical', resource: 'db', outcome: 'failed', detect: 70, analyser: 'llm', rootCause: 'a connection pool leak held every socket' },
  { n: 17, day: 5, time: '08:00', type: 'container_down', node: 'node-b', severity: 'critical', resource: 'cache', outcome: 'auto', detect: 6, resolve: 150, analyser: 'rules' },
  { n: 18, day: 6, time: '13:00', type: 'disk', node: 'node-a', severity: 'warning', resource: 'data', outcome: 'approved', detect: 100, resolve: 1800, wait: 900, analyser: 'rules' },
  { n: 19, day: 6, time: '23:00', type: 'cpu', node: 'node-b', severity: 'warning', resource: 'api', outcome: 'open', detect: 30 },
  // ---- week 2 (2025-03-10 .. 03-16)
  { n: 20, day: 7, time: '00:00', type: 'container_down', node: 'node-a', severity: 'critical', resource: 'web', outcome: 'auto', detect: 4, resolve: 60, analyser: 'rules', title: '-web: container exited' },
  { n: 21, day: 7, time: '09:00', type: 'memory', node: 'node-a', severity: 'warning', resource: 'web', outcome: 'rollback', detect: 20, analyser: 'llm' },
  { n: 22, day: 8, time: '03:00', type: 'latency', node: 'node-c', severity: 'warning', resource: 'shop', outcome: 'manual', detect: 45, resolve: 7200, analyser: 'llm' },
  { n: 23, day: 8, time: '15:00', type: 'container_down', node: 'node-b', severity: 'critical', resource: 'db', outcome: 'auto', detect: null, resolve: 300, analyser: 'rules' },
  { n: 24, day: 9, time: '06:00', type: 'cpu', node: 'node-c', severity: 'critical', resource: 'worker', outcome: 'approved', detect: 15, resolve: 2400, wait: 1800, analyser: 'llm' },
  { n: 25, day: 9, time: '07:00', type: 'disk', node: 'node-c', severity: 'critical', resource: 'var', outcome: 'auto', detect: 33, resolve: 420, analyser: 'rules', rootCause: 'old logs filled the volume\r\nsecond line, with a comma and "quotes"' },
  { n: 26, day: 10, time: '10:00', type: 'memory', node: 'node-b', severity: 'warning', resource: 'cache', outcome: 'auto', detect: 18, resolve: 480, analyser: 'rules', rootCause: 'the cache pool grew without bound' },
  { n: 27, day: 10, time: '22:00', type: 'container_down', node: 'node-a', severity: 'critical', resource: 'web', outcome: 'failed', detect: 7, analyser: 'rules' },
  { n: 28, day: 11, time: '01:00', type: 'cpu', node: 'node-a', severity: 'warning', resource: 'api', outcome: 'rejected', detect: 26, wait: 120, analyser: 'llm' },
  { n: 29, day: 11, time: '05:00', type: 'container_down', node: 'node-b', severity: 'critical', resource: 'api', outcome: 'auto', detect: 9, resolve: 30, analyser: 'rules', title: '+api: container exited, "twice"' },
  { n: 30, day: 12, time: '12:00', type: 'memory', node: 'node-a', severity: 'critical', resource: 'web', outcome: 'auto', detect: 22, resolve: 360, analyser: 'llm', rootCause: 'a memory leak in the image resizer' },
  { n: 31, day: 12, time: '14:00', type: 'latency', node: 'node-b', severity: 'info', resource: 'shop', outcome: 'open', detect: 11 },
  { n: 32, day: 13, time: '08:00', type: 'container_down', node: 'node-c', severity: 'critical', resource: 'worker', outcome: 'auto', detect: 3, resolve: 240, analyser: 'rules', title: '\tworker: container exited' },
  { n: 33, day: 13, time: '20:00', type: 'disk', node: 'node-a', severity: 'warning', resource: 'data', outcome: 'rollback', detect: 55, analyser: 'rules', actions: [{ actionId: 'clean_disk', status: 'failed' }, { actionId: 'rotate_logs', status: 'rolled_back' }] },
  { n: 34, day: 13, time: '23:30', type: 'cpu', node: 'node-b', severity: 'warning', resource: 'api', outcome: 'approved', detect: 14, resolve: 600, wait: 300, analyser: 'llm' },
  // ---- outside [day 0, day 14)
  { n: 35, day: -1, time: '23:59', type: 'container_down', node: 'node-a', severity: 'critical', resource: 'web', outcome: 'auto', detect: 5, resolve: 60, analyser: 'rules' },
  { n: 36, day: 14, time: '00:00', type: 'memory', node: 'node-b', severity: 'warning', resource: 'cache', outcome: 'auto', detect: 5, resolve: 60, analyser: 'rules' },
  // ---- test incidents (hidden unless includeTest; never in reports)
  { n: 37, day: 2, time: '00:00', type: 'container_down', node: 'node-a', severity: 'critical', resource: 'testweb', outcome: 'auto', detect: 5, resolve: 60, analyser: 'rules', test: true },
  { n: 38, day: 9, time: '10:00', type: 'memory', node: 'node-c', severity: 'warning', resource: 'testweb', outcome: 'failed', detect: 5, analyser: 'rules', test: true },
  { n: 39, day: 12, time: '10:00', type: 'cpu', node: 'node-b', severity: 'info', resource: 'testapi', outcome: 'open', detect: 5, test: true },
  { n: 40, day: 5, time: '10:00', type: 'disk', node: 'node-a', severity: 'critical', resource: 'tmp', outcome: 'auto', detect: 5, resolve: 100, analyser: 'rules', test: true },
]

export const DAY0_MS = Date.UTC(2025, 2, 3)
export const DAY_MS = 86_400_000

export const fixtureId = (n: number) => `inc_h${String(n).padStart(2, '0')}`

export function openedAtMs(s: FixtureSpec): number {
  const [h, m] = s.time.split(':').map(Number)
  return DAY0_MS + s.day * DAY_MS + (h * 60 + m) * 60_000
}

const iso = (ms: number) => new Date(ms).toISOString()

/** The Incident document of one row of the table. */
export function fixtureIncident(s: FixtureSpec): Incident {
  const id = fixtureId(s.n)
  const opened = openedAtMs(s)
  const at = (seconds: number) => iso(opened + seconds * 1000)
  const resource = RESOURCES[s.resource] as ResourceRef
  const resolved = ['auto', 'approved', 'manual'].includes(s.outcome)
  const end = resolved ? at(s.resolve!) : at(3600)
  const actionId = ACTION_OF[s.type]
  const decided = s.outcome !== 'open' && s.outcome !== 'suppressed'
  const status: Incident['status'] = resolved
    ? 'resolved'
    : s.outcome === 'open'
      ? 'open'
      : s.outcome === 'suppressed'
        ? 'suppressed'
        : 'escalated'
  const ran =
    s.actions ??
    {
      auto: [{ actionId, status: 'succeeded' as const }],
      approved: [{ actionId, status: 'succeeded' as const }],
      failed: [{ actionId, status: 'failed' as const }],
      rollback: [{ actionId, status: 'rolled_back' as const }],
    }[s.outcome as string] ??
    []
  const timeline: Incident['timeline'] = [{ stage: 'detected', at: at(0), actor: 'test', summary: 'detected' }]
  if (decided) timeline.push({ stage: 'decided', at: at(1), actor: 'test', summary: 'decided' })
  if (s.outcome === 'rollback') timeline.push({ stage: 'rolled_back', at: at(20), actor: 'test', summary: 'undone' })
  if (['rejected', 'failed', 'rollback', 'manual'].includes(s.outcome))
    timeline.push({ stage: 'escalated', at: at(30), actor: 'test', summary: 'to a person' })
  if (resolved) timeline.push({ stage: 'resolved', at: end, actor: 'test', summary: 'resolved' })
  if (s.outcome === 'suppressed') timeline.push({ stage: 'suppressed', at: end, actor: 'test', summary: 'left alone' })
  return {
    id,
    fingerprint: `fp-${s.type}-${resource.id}`,
    type: s.type,
    severity: s.severity,
    status,
    title: s.title ?? `${resource.name}: ${TITLE_OF[s.type]}`,
    resource,
    alert: {
      fingerprint: `fp-${s.type}-${resource.id}`,
      type: s.type,
      severity: s.severity,
      metric: s.type,
      value: 1,
      threshold: 0,
      resource,
      labels: { node: s.node, alertname: s.type },
      source: 'test',
      // No alert time: the archive has no detection time for it.
      at: s.detect === null ? '' : at(-s.detect),
    },
    ...(decided
      ? {
          decision: {
            route:
              s.outcome === 'approved' || s.outcome === 'rejected'
                ? ('approval' as const)
                : s.outcome === 'manual'
                  ? ('escalate' as const)
                  : ('auto' as const),
            risk: s.wait !== undefined ? ('medium' as const) : ('low' as const),
            actionId: s.outcome === 'manual' ? null : actionId,
            params: {},
            reasons: ['test'],
            rule: 'test',
            decidedAt: at(1),
          },
        }
      : {}),
    ...(s.wait !== undefined
      ? {
          approval: {
            status: s.outcome === 'approved' ? ('approved' as const) : ('rejected' as const),
            approverRole: 'operator' as const,
            risk: 'medium' as const,
            actionId,
            params: {},
            requestedAt: at(2),
            expiresAt: at(2 + 3600),
            decidedBy: 'alice',
            decidedAt: at(2 + s.wait),
            decidedByRole: 'operator' as const,
          },
        }
      : {}),
    actions: ran.map((a, i) => ({
      actionId: a.actionId,
      params: {},
      status: a.status,
      startedAt: at(3 + i),
      finishedAt: at(4 + i),
    })),
    ...(s.analyser
      ? {
          analysis: {
            analyser: s.analyser,
            cause: CAUSE_OF[s.type],
            root_cause: s.rootCause ?? ROOT_CAUSE_OF[s.type],
            confidence: 0.9,
          },
        }
      : {}),
    timeline,
    openedAt: iso(opened),
    updatedAt: end,
    ...(resolved ? { resolvedAt: end } : {}),
    ...(s.test ? { test: true } : {}),
    version: 3,
  }
}

export const FIXTURE_INCIDENTS: Incident[] = FIXTURES.map(fixtureIncident)

/** Archives the whole table (and a postmortem and audit entries for #1), as the archiver would. */
export async function seedHistory(db: SqlClient): Promise<void> {
  await db.transaction(async (tx) => {
    for (const incident of FIXTURE_INCIDENTS) await upsertIncident(tx, incident, { now: DAY0_MS + 30 * DAY_MS })
    const first = FIXTURE_INCIDENTS[0]
    const t0 = Date.parse(first.openedAt)
    // Archived out of order: the API must give them oldest first.
    await upsertAuditEntries(
      tx,
      (
        [
          [5000, 'action.executed'],
          [0, 'incident.opened'],
          [120_000, 'incident.resolved'],
        ] as const
      ).map(([after, kind]) => ({
        entryId: `${t0 + after}-0`,
        at: iso(t0 + after),
        kind,
        actor: 'test',
        incidentId: first.id,
        resource: 'web',
        outcome: 'ok',
        data: { step: kind },
      })),
    )
    await tx.run('INSERT INTO postmortems (incident_id, markdown, drafted_by, created_at) VALUES (?, ?, ?, ?)', [
      first.id,
      '# web exited\n\nRestarted.',
      'rules',
      t0 + 200_000,
    ])
  })
}
