import type { EventConfig } from 'motia'
import type { EventStep } from '../../src/platform/events/steps'
import { notifyOutcome } from '../../src/approve/slack/notify'
import { endTrace, traceStep } from '../../src/platform/telemetry/step'
import { incidentRef, TOPICS } from '../../src/platform/events/topics'
import { stepDeps } from '../../src/app/step-deps'
import { resolveIncident } from '../../src/verify/verify'

export const config = {
  type: 'event',
  name: 'ResolveIncident',
  description: 'Closes a verified incident and records it in the timeline and the audit log',
  subscribes: [TOPICS.verified],
  emits: [],
  input: incidentRef,
  flows: ['sentinel'],
} satisfies EventConfig

export const handler: EventStep<typeof config> = async (input, ctx) =>
  traceStep('ResolveIncident', input.incidentId, () => run(input, ctx))

const run: EventStep<typeof config> = async (input, { logger }) => {
  const incident = await resolveIncident(
    input.incidentId,
    stepDeps('step:ResolveIncident'),
    'fix verified; incident resolved',
  )
  await endTrace(incident, 'resolved')
  await notifyOutcome(incident, { status: 'resolved', summary: 'fix verified; incident resolved' })
  logger.info('incident resolved', { incidentId: incident.id, resource: incident.resource.name })
}
