import type { EventConfig, FlowContext } from 'motia'
import { notifyOutcome } from '../../src/approve/slack/notify'
import { endTrace, traceStep } from '../../src/platform/telemetry/step'
import { incidentRef, type IncidentRef, TOPICS } from '../../src/platform/events/topics'
import { stepDeps } from '../../src/app/step-deps'
import { resolveIncident } from '../../src/verify/verify'

export const config: EventConfig = {
  type: 'event',
  name: 'ResolveIncident',
  description: 'Closes a verified incident and records it in the timeline and the audit log',
  subscribes: [TOPICS.verified],
  emits: [],
  input: incidentRef,
  flows: ['sentinel'],
}

export const handler = async (input: IncidentRef, ctx: FlowContext) =>
  traceStep('ResolveIncident', input.incidentId, () => run(input, ctx))

const run = async (input: IncidentRef, { logger }: FlowContext) => {
  const incident = await resolveIncident(input.incidentId, stepDeps('step:ResolveIncident'), 'fix verified; incident resolved')
  await endTrace(incident, 'resolved')
  await notifyOutcome(incident, { status: 'resolved', summary: 'fix verified; incident resolved' })
  logger.info('incident resolved', { incidentId: incident.id, resource: incident.resource.name })
}
