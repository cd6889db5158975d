/**
 * The OpenAPI document, generated from the same zod schemas that validate the requests (so the
 * two cannot drift apart). Served at GET /api/openapi.json.
 */
import { z } from 'zod'
import { listQuery } from '../report/incidents'
import { INCIDENT_STATUSES, lifecycleDescription, STATUS_GROUPS } from '../platform/store/lifecycle'
import { approveBody, incidentIdPath, reasonBody, triggerAlertBody } from '../platform/http/requests'
import { chaosStartBody, chaosStatusQuery } from '../chaos/types'
import { recentReadingsQuery } from '../observe/recent-readings'
import { auditQuery } from '../report/audit'
import { acknowledgeBody } from '../approve/acknowledge'
import { silenceBody, silenceIdPath } from '../notify/silences'
import { historyQuerySchema, MAX_PAGE } from '../history/query'
import { summaryQuery } from '../history/reports'
import { replayBody } from '../history/replay'
import { nodeCommandBody, nodeCommandPath } from '../fleet/commands'
import { deployBody, deployIdPath, listDeploysQuery, servicePath } from '../deploy/api'

interface Endpoint {
  method: 'get' | 'post' | 'delete'
  path: string
  summary: string
  role: 'none' | 'viewer' | 'operator' | 'admin'
  query?: z.ZodObject
  pathParams?: z.ZodObject
  body?: z.ZodType
  responses: Record<string, string>
}

// GET /api/notifications's query, as its step (steps/notify/notifications.api.step.ts) parses it.
const notificationsQuery = z.object({
  limit: z
    .number()
    .int()
    .min(1)
    .max(1000)
    .optional()
    .describe('how many dead letters and recent outcomes (default 100)'),
})

const streamQuery = z.object({
  token: z.string().describe('from POST /api/stream/token'),
  lastEventId: z.string().regex(/^\d+$/).optional(),
})

export const ENDPOINTS: Endpoint[] = [
  {
    method: 'get',
    path: '/healthz',
    summary: 'Dependencies: up, down (with the reason) or not_configured; the monitoring source in use and why',
    role: 'none',
    responses: { 200: 'Sentinel can work', 503: 'Redis is down' },
  },
  {
    method: 'get',
    path: '/api/incidents',
    summary:
      'Incidents, newest first, with filters and cursor pagination: summaries (view=summary, the default) or whole incidents (view=full)',
    role: 'viewer',
    query: listQuery,
    responses: { 200: '{ incidents, nextCursor }', 400: 'invalid query' },
  },
  {
    method: 'get',
    path: '/api/incidents/{id}',
    summary: 'One incident: alert, analysis, decision, approval, actions, snapshots, timeline',
    role: 'viewer',
    pathParams: incidentIdPath,
    responses: { 200: 'the incident', 404: 'no such incident' },
  },
  {
    method: 'get',
    path: '/api/approvals/pending',
    summary: 'Incidents waiting for a person',
    role: 'viewer',
    responses: { 200: '{ approvals }' },
  },
  {
    method: 'post',
    path: '/api/incidents/{id}/approve',
    summary:
      'Approve the pending fix (operator: medium risk; admin: any), with an optional comment kept with the decision',
    role: 'operator',
    pathParams: incidentIdPath,
    body: approveBody,
    responses: {
      200: '{ incidentId, status, approval } (approval.comment: the comment); the fix runs',
      403: 'role too low for this risk',
      409: 'already decided',
    },
  },
  {
    method: 'post',
    path: '/api/incidents/{id}/reject',
    summary: 'Reject the pending fix, with a reason',
    role: 'operator',
    pathParams: incidentIdPath,
    body: reasonBody,
    responses: { 200: 'rejected', 403: 'role too low for this risk', 409: 'already decided' },
  },
  {
    method: 'post',
    path: '/api/incidents/{id}/resolve',
    summary: 'A person closes an incident (an escalated one, typically), with a reason',
    role: 'operator',
    pathParams: incidentIdPath,
    body: reasonBody,
    responses: { 200: 'closed', 409: 'already closed' },
  },
  {
    method: 'post',
    path: '/api/incidents/{id}/ack',
    summary:
      'Acknowledge: a person takes the incident (who and when are recorded); it stops re-paging and PagerDuty / Opsgenie are told',
    role: 'operator',
    pathParams: incidentIdPath,
    body: acknowledgeBody,
    responses: {
      200: '{ incidentId, acknowledgement: { by, at }, status }',
      404: 'no such incident',
      409: 'acknowledged already (details.acknowledgement: who and when) or closed',
    },
  },
  {
    method: 'post',
    path: '/api/silences',
    summary:
      "A silence: Alertmanager matchers over the incident's labels (severity, type, status, node, container, resource, test and the alert's own) and a window; matching incidents still open and are fixed, but do not page",
    role: 'operator',
    body: silenceBody,
    responses: {
      201: 'the silence: { id, matchers, startsAt, endsAt, createdBy, comment, createdAt, status: pending | active }',
      400: 'invalid body (the field is named): no narrowing matcher, an end not in the future or over 30 days ahead, a start not before the end',
      409: 'too many silences pending or active',
    },
  },
  {
    method: 'get',
    path: '/api/silences',
    summary: 'Silences: active, then pending, then those that ended in the last 24 hours, each with its status',
    role: 'viewer',
    responses: { 200: '{ silences }' },
  },
  {
    method: 'delete',
    path: '/api/silences/{id}',
    summary: 'End a silence now (its endsAt becomes now): pages for what it matched resume',
    role: 'operator',
    pathParams: silenceIdPath,
    responses: { 200: 'the expired silence (expiredBy: who ended it)', 404: 'no such silence', 409: 'ended already' },
  },
  {
    method: 'get',
    path: '/api/notifications',
    summary:
      'The notification path: whether it is on (and why not), its receivers, deliveries waiting, the dead-letter list and the latest outcomes',
    role: 'admin',
    query: notificationsQuery,
    responses: {
      200: '{ enabled, why?, receivers: [{ name, type }], pending, deadLetters: [{ key, receiver, incidentId, kind, attempts, lastError, failedAt }], recent: [{ key, receiver, incidentId, kind, result, attempts, at }] }',
      400: 'invalid query',
    },
  },
  {
    method: 'post',
    path: '/api/incidents/{id}/rollback',
    summary: "Roll back the incident's executed action",
    role: 'admin',
    pathParams: incidentIdPath,
    responses: { 200: 'rolled back', 409: 'nothing to roll back, or not reversible' },
  },
  {
    method: 'get',
    path: '/api/audit',
    summary: 'The append-only audit log, newest first',
    role: 'admin',
    query: auditQuery,
    responses: { 200: '{ events }' },
  },
  {
    method: 'post',
    path: '/api/trigger-alert',
    summary: 'Open a test incident and run it through the whole flow',
    role: 'admin',
    body: triggerAlertBody,
    responses: { 202: '{ incidentId }', 400: 'invalid body', 422: 'container not watched' },
  },
  {
    method: 'get',
    path: '/api/infrastructure-status',
    summary:
      'Latest reading of every check, its source and state; health scores (0 to 1) of the system and of each watched container',
    role: 'viewer',
    responses: { 200: '{ source, checks, metrics, sourceStatus, health: { system, containers } }' },
  },
  {
    method: 'get',
    path: '/api/readings/recent',
    summary:
      'The readings of the last hour per series (recorded by the monitor each tick), oldest first as [ms, value], for the charts',
    role: 'viewer',
    query: recentReadingsQuery,
    responses: {
      200: '{ from, to, series: [{ series, metric, unit, resource, points }] }',
      400: 'invalid query (the field is named)',
    },
  },
  {
    method: 'post',
    path: '/api/alerts/alertmanager',
    summary: "Alertmanager's webhook (version 4): firing alerts open or update incidents, resolved ones resolve them",
    role: 'operator',
    responses: {
      200: '{ opened, updated, resolved, suppressed }',
      400: 'invalid payload',
      413: 'payload too large',
      415: 'not JSON',
    },
  },
  {
    method: 'get',
    path: '/api/routes',
    summary:
      'Every HTTP route the running process serves, read from its routers, with its zone (public, api, framework)',
    role: 'admin',
    responses: { 200: '{ routes, websocket }' },
  },
  {
    method: 'post',
    path: '/api/stream/token',
    summary: 'A stream token (valid 60 s) for GET /api/stream: EventSource cannot send the key in a header',
    role: 'viewer',
    responses: { 200: '{ token, expiresAt, ttlSeconds }' },
  },
  {
    method: 'get',
    path: '/api/stream',
    summary:
      'Server-Sent Events: incident.opened/updated/resolved, metrics, container, approval.requested/decided, audit (admins); resume with Last-Event-ID, `reset` when too far behind',
    role: 'viewer',
    query: streamQuery,
    responses: { 200: 'text/event-stream', 401: 'missing, expired or invalid token' },
  },
  {
    method: 'get',
    path: '/api/containers',
    summary: 'The current status of every watched container',
    role: 'viewer',
    responses: { 200: '{ containers }' },
  },
  {
    method: 'get',
    path: '/api/nodes',
    summary:
      "Fleet nodes by name: up, down or unknown (with the problem) by the controller's record of their heartbeats; each agent's engine, host readings and watched containers; open incidents per node",
    role: 'viewer',
    responses: { 200: '{ nodes }' },
  },
  {
    method: 'get',
    path: '/api/cluster',
    summary:
      'The controllers sharing this Redis (id, host, port, start time, the duties each leads, last renewal) and the leader and fencing token of each duty; answeredBy names the controller that answered',
    role: 'viewer',
    responses: { 200: '{ answeredBy, leaseSeconds, members, duties }' },
  },
  {
    method: 'post',
    path: '/api/nodes/{node}/commands',
    summary:
      'Run a named diagnostic command (NODE_COMMANDS: argv only, never a shell) inside a watched container on a node; the output streams live to admins and is kept (capped) in the node.command audit entry',
    role: 'admin',
    pathParams: nodeCommandPath,
    body: nodeCommandBody,
    responses: {
      200: '{ runId, node, command, argv, container, containerId, exitCode, durationMs, output, truncated, timedOut, killed }',
      400: 'invalid body, or a command not in NODE_COMMANDS (the known ones are named)',
      404: 'a node no agent has reported from, or a container not watched on it',
      409: 'the node is down (or did not take the request), or the container is not running',
      502: 'the node failed to run it',
    },
  },
  {
    method: 'post',
    path: '/api/services/{name}/deploy',
    summary:
      'Canary deploy of a new image (and env) to a watched Swarm service: a canary service <name>-canary of one task beside the old ones, then 25 % of the traffic, then a rolling update to 100 %; each step holds its health gate (task failures, health checks, and the probe / PromQL when given, canary against old tasks) for CANARY_GATE_SECONDS; a failing gate rolls back at once and opens an incident with the comparison. Operator; admin during a change freeze',
    role: 'operator',
    pathParams: servicePath,
    body: deployBody,
    responses: {
      202: 'the deploy, pending: follow it with GET /api/deploys/{id}',
      400: 'invalid body (the field is named)',
      403: 'a change freeze is in force and the caller is not an admin',
      404: 'no watched service of that name',
      409: 'a deploy of the service is under way, the service already runs the image, is being updated, is global, or the engine is not a swarm manager',
    },
  },
  {
    method: 'post',
    path: '/api/services/{name}/deploy/pause',
    summary:
      'Pause the deploy under way: the gate still judges the canary (a failure still rolls it back), nothing is promoted until it is resumed',
    role: 'operator',
    pathParams: servicePath,
    responses: {
      200: 'the deploy (summary: its timeline left out)',
      404: 'no deploy of the service is under way',
      409: 'paused already, or being rolled back',
    },
  },
  {
    method: 'post',
    path: '/api/services/{name}/deploy/resume',
    summary: 'Resume a paused deploy (admin during a change freeze)',
    role: 'operator',
    pathParams: servicePath,
    responses: {
      200: 'the deploy (summary: its timeline left out)',
      404: 'no deploy of the service is under way',
      409: 'not paused, or being rolled back',
    },
  },
  {
    method: 'post',
    path: '/api/services/{name}/deploy/abort',
    summary:
      'Abort the deploy under way: the canary is removed, a promotion under way is rolled back by Swarm, the service is checked back on its old image',
    role: 'operator',
    pathParams: servicePath,
    responses: {
      200: 'the deploy (summary: its timeline left out)',
      404: 'no deploy of the service is under way',
      409: 'being rolled back already',
    },
  },
  {
    method: 'get',
    path: '/api/deploys',
    summary:
      'Canary deploys, newest first: phase, step, the last gate comparison (canary against old tasks), what it waits for',
    role: 'viewer',
    query: listDeploysQuery,
    responses: { 200: '{ deploys }', 400: 'invalid query' },
  },
  {
    method: 'get',
    path: '/api/deploys/{id}',
    summary: 'One canary deploy with its timeline: every step, gate comparison, pause, resume, abort and rollback',
    role: 'viewer',
    pathParams: deployIdPath,
    responses: { 200: 'the deploy', 404: 'no such deploy' },
  },
  {
    method: 'post',
    path: '/api/chaos/start',
    summary:
      'Start a chaos run on containers labelled sentinel.chaos=true (and watched): faults, their rates, a duration',
    role: 'admin',
    body: chaosStartBody,
    responses: {
      202: '{ runId, until, eligible, warnings }',
      400: 'invalid body (the field is named)',
      409: 'a run is already running',
    },
  },
  {
    method: 'post',
    path: '/api/chaos/stop',
    summary: 'Stop the chaos run; every fault in effect is undone',
    role: 'admin',
    responses: { 200: '{ status: stopping | idle, runId }' },
  },
  {
    method: 'get',
    path: '/api/chaos',
    summary: "The chaos engine's state and fault history, each fault with the incident it caused",
    role: 'admin',
    query: chaosStatusQuery,
    responses: { 200: '{ status, desired, state, engine, summary, history }', 400: 'invalid query' },
  },
  {
    method: 'get',
    path: '/api/whoami',
    summary: "The caller's role and permissions",
    role: 'viewer',
    responses: { 200: '{ role, keyId, permissions }' },
  },
  {
    method: 'get',
    path: '/api/history',
    summary:
      'Archived incidents, newest first: filters (from, to, node, resource, type, severity, status, action, analyser), full text (q), test incidents hidden unless includeTest; cursor pagination; CSV with Accept: text/csv or format=csv (limit up to 50000)',
    role: 'viewer',
    query: historyQuerySchema(MAX_PAGE),
    responses: {
      200: '{ incidents, nextCursor }, or text/csv (attachment; X-Next-Cursor when more follow)',
      400: 'invalid query (the field is named)',
      503: 'the archive (PostgreSQL) is unreachable: retry after Retry-After seconds',
    },
  },
  {
    method: 'get',
    path: '/api/history/{id}',
    summary: 'One archived incident whole, with its audit entries (oldest first) and its postmortem',
    role: 'viewer',
    pathParams: incidentIdPath,
    responses: {
      200: '{ incident, audit, postmortem: { markdown, draftedBy, createdAt } | null }',
      404: 'not in the archive',
      503: 'the archive (PostgreSQL) is unreachable: retry after Retry-After seconds',
    },
  },
  {
    method: 'get',
    path: '/api/incidents/{id}/postmortem',
    summary:
      'The postmortem of an incident, as Markdown (text/markdown), or { markdown, draftedBy, stored } with Accept: application/json: the stored one (written when a critical or escalated incident closed), else one written now from the incident by the template',
    role: 'viewer',
    pathParams: incidentIdPath,
    responses: { 200: 'text/markdown, or { markdown, draftedBy, stored }', 404: 'no incident with that id' },
  },
  {
    method: 'post',
    path: '/api/replay',
    summary:
      'Replay the archived incidents opened in [from, to] (oldest first, limit default 1000, max 10000) through the current policy or overrides of it (shadowMode, allowedActions, confidenceThreshold, rateLimit, freezeWindows, risk, maxConcurrentRemediations, maxConcurrentRecoveries): what it would decide now next to what it decided then. Nothing runs; the run is audited (replay.run)',
    role: 'admin',
    body: replayBody,
    responses: {
      200: '{ from, to, policy, incidents: [{ id, openedAt, title, type, resource, then, now, changed }], totals }',
      400: 'invalid body (the field is named)',
      503: 'the archive (PostgreSQL) is unreachable: retry after Retry-After seconds',
    },
  },
  {
    method: 'get',
    path: '/api/reports/summary',
    summary:
      'Incidents opened in [from, to) (default: the last 30 days), test incidents left out: totals, automatic fixes, escalations, rollbacks, time to detect and resolve (nearest-rank median and p90), approval waits, by type, node, day or week (UTC) and the top 10 resources',
    role: 'viewer',
    query: summaryQuery,
    responses: {
      200: '{ from, to, by, totals, byType, byNode, buckets, topResources }',
      400: 'invalid query: a bad time, from after to, or a range over 400 days',
      503: 'the archive (PostgreSQL) is unreachable: retry after Retry-After seconds',
    },
  },
]

function parameters(e: Endpoint) {
  const out: Record<string, unknown>[] = []
  const add = (schema: z.ZodObject | undefined, where: 'query' | 'path') => {
    if (!schema) return
    const json = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as {
      properties?: Record<string, unknown>
      required?: string[]
    }
    for (const [name, s] of Object.entries(json.properties ?? {})) {
      out.push({ name, in: where, required: where === 'path' || (json.required ?? []).includes(name), schema: s })
    }
  }
  add(e.query, 'query')
  add(e.pathParams, 'path')
  return out
}

/** An incident's `status` and its group, from the lifecycle (src/platform/store/lifecycle.ts), each value described. */
function lifecycleSchemas() {
  const lifecycle = lifecycleDescription()
  return {
    IncidentStatus: {
      type: 'string',
      enum: [...INCIDENT_STATUSES],
      description: lifecycle.statuses
        .map(
          (s) => `${s.id}: ${s.description} (${s.group}${s.next.length ? `; then ${s.next.join(', ')}` : '; final'})`,
        )
        .join('. '),
    },
    IncidentStatusGroup: {
      type: 'string',
      enum: [...STATUS_GROUPS],
      description: lifecycle.groups.map((g) => `${g.id}: ${g.description} (${g.statuses.join(', ')})`).join('. '),
    },
  }
}

export function openApiDocument(version = '0.1.0') {
  const paths: Record<string, Record<string, unknown>> = {}
  for (const e of ENDPOINTS) {
    paths[e.path] ??= {}
    paths[e.path][e.method] = {
      summary: e.summary,
      description: e.role === 'none' ? 'No key needed.' : `Needs a key of role ${e.role} or higher.`,
      ...(e.role === 'none' ? { security: [] } : {}),
      parameters: parameters(e),
      ...(e.body
        ? {
            requestBody: {
              required: true,
              content: {
                'application/json': { schema: z.toJSONSchema(e.body, { io: 'input', unrepresentable: 'any' }) },
              },
            },
          }
        : {}),
      responses: Object.fromEntries(
        Object.entries({
          ...(e.role === 'none'
            ? {}
            : {
                401: 'no or wrong key',
                403: 'role too low',
                429: 'too many failed keys from this client',
                503: 'the store (Redis) is unreachable: retry after Retry-After seconds',
              }),
          // An endpoint's own answers win (the history's 503 is about the archive, not Redis).
          ...e.responses,
        }).map(([code, description]) => [code, { description }]),
      ),
    }
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Sentinel API',
      version,
      description:
        'Autonomous SRE agent: incidents, approvals, audit. Keys: Authorization: Bearer <key> or X-API-Key: <key>.',
    },
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer' },
        apiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key' },
      },
      schemas: lifecycleSchemas(),
    },
    security: [{ bearer: [] }, { apiKey: [] }],
    paths,
  }
}
