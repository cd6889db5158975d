/**
 * A stand-in for Motia's step process running steps/report/resolve-incident.step.ts, for
 * bench/steps/run.ts. The real step file cannot run outside Motia's runner (its handler needs
 * Motia's FlowContext and the runner's IPC), so this script does what that process does around the
 * handler: load the same project modules the step imports (topics, step-deps, verify) plus the
 * tracing helpers, run the handler's real work (resolveIncident against a real Redis, writing the
 * incident and the audit log), and end the incident's trace as the resolve step will once tracing
 * is wired in. Motia's own runner and its IPC are not included.
 *
 * Input (environment): INCIDENT_ID, TRACEPARENT (optional), REDIS_PORT, and the OTEL_* variables.
 * Output: one JSON line {handlerMs, sinceProcessStartMs}.
 */
import { incidentRef } from '../../src/platform/events/topics'
import { stepDeps } from '../../src/app/step-deps'
import { resolveIncident } from '../../src/verify/verify'
import { closeRedis } from '../../src/platform/store/redis'
import { endIncidentTrace, withStepSpan } from '../../src/platform/telemetry/tracing'

const input = incidentRef.parse({ incidentId: process.env.INCIDENT_ID })
const started = performance.now()
await withStepSpan('ResolveIncident', process.env.TRACEPARENT, { 'incident.id': input.incidentId }, async (span) => {
  const incident = await resolveIncident(
    input.incidentId,
    stepDeps('step:ResolveIncident'),
    'fix verified; incident resolved',
  )
  span.setAttributes({ 'alert.type': incident.type, outcome: 'resolved' })
  await endIncidentTrace(incident.id, {
    startTime: incident.openedAt,
    outcome: 'resolved',
    attrs: { 'alert.type': incident.type },
  })
})
const handlerMs = performance.now() - started
await closeRedis()
console.log(JSON.stringify({ handlerMs, sinceProcessStartMs: performance.now() }))
