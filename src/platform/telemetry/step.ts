/**
 * Tracing for step handlers: one span per step invocation, in the incident's trace. The trace and
 * root span ids derive from the incident id, so no process needs to be told them; with no OTLP
 * endpoint in the configuration (tracing.ts) nothing is loaded and the handler just runs.
 */
import type { Incident } from '../store/model'
import { endIncidentTrace, tracingEnabled, withStepSpan } from './tracing'

export function traceStep<T>(
  step: string,
  incidentId: string,
  fn: () => Promise<T>,
  attrs: Record<string, string | number | boolean> = {},
): Promise<T> {
  if (!tracingEnabled()) return fn()
  return withStepSpan(step, undefined, { 'incident.id': incidentId, ...attrs }, () => fn())
}

/** Emits the incident's root span once it is over. */
export async function endTrace(incident: Incident, outcome: 'resolved' | 'escalated'): Promise<void> {
  if (!tracingEnabled()) return
  await endIncidentTrace(incident.id, {
    startTime: incident.openedAt,
    endTime: incident.resolvedAt ?? incident.updatedAt,
    outcome,
    attrs: {
      'alert.type': incident.type,
      ...(incident.decision?.actionId ? { action: incident.decision.actionId } : {}),
      ...(incident.decision ? { risk: incident.decision.risk } : {}),
    },
  })
}
