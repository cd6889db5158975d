import type { EventConfig, FlowContext } from 'motia'
import { notifyOutcome } from '../../src/flow/slack'
import { endTrace, traceStep } from '../../src/telemetry/step'
import { incidentRef, type IncidentRef, TOPICS } from '../../src/events/topics'
import { stepDeps } from '../../src/healing/step-deps'
import { escalationSummary, rollbackAndEscalate } from '../../src/healing/verify'

export const config: EventConfig = {
  type: 'event',
  name: 'RollbackAndEscalate',
  description: 'When verification fails: undo the action where it can be undone, then hand the incident to an admin',
  subscribes: [TOPICS.verificationFailed],
  emits: [],
  input: incidentRef,
  flows: ['sentinel'],
}

export const handler = async (input: IncidentRef, ctx: FlowContext) =>
  traceStep('RollbackAndEscalate', input.incidentId, () => run(input, ctx))

const run = async (input: IncidentRef, { logger }: FlowContext) => {
  const incident = await rollbackAndEscalate(input.incidentId, stepDeps('step:RollbackAndEscalate'), 'the fix did not hold')
  await endTrace(incident, 'escalated')
  // The real reason (metric still over, unreadable, quarantine deleted...), as the timeline says it.
  await notifyOutcome(incident, { status: 'escalated', summary: escalationSummary(incident) ?? 'the fix did not hold; escalated to an admin' })
  logger.warn('incident escalated', { incidentId: incident.id, resource: incident.resource.name })
}
