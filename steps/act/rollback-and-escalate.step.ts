import type { EventConfig, FlowContext } from 'motia'
import { notifyOutcome } from '../../src/approve/slack/notify'
import { endTrace, traceStep } from '../../src/platform/telemetry/step'
import { incidentRef, type IncidentRef, TOPICS } from '../../src/platform/events/topics'
import { stepDeps } from '../../src/app/step-deps'
import { escalationSummary, rollbackAndEscalate } from '../../src/verify/verify'

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
