import type { EventConfig } from 'motia'
import type { EventStep } from '../../src/platform/events/steps'
import { notifyOutcome } from '../../src/approve/slack/notify'
import { endTrace, traceStep } from '../../src/platform/telemetry/step'
import { incidentRef, TOPICS } from '../../src/platform/events/topics'
import { stepDeps } from '../../src/app/step-deps'
import { escalationSummary, rollbackAndEscalate } from '../../src/verify/verify'

export const config = {
  type: 'event',
  name: 'RollbackAndEscalate',
  description: 'When verification fails: undo the action where it can be undone, then hand the incident to an admin',
  subscribes: [TOPICS.verificationFailed],
  emits: [],
  input: incidentRef,
  flows: ['sentinel'],
} satisfies EventConfig

export const handler: EventStep<typeof config> = async (input, ctx) =>
  traceStep('RollbackAndEscalate', input.incidentId, () => run(input, ctx))

const run: EventStep<typeof config> = async (input, { logger }) => {
  const incident = await rollbackAndEscalate(
    input.incidentId,
    stepDeps('step:RollbackAndEscalate'),
    'the fix did not hold',
  )
  await endTrace(incident, 'escalated')
  // The real reason (metric still over, unreadable, quarantine deleted...), as the timeline says it.
  await notifyOutcome(incident, {
    status: 'escalated',
    summary: escalationSummary(incident) ?? 'the fix did not hold; escalated to an admin',
  })
  logger.warn('incident escalated', { incidentId: incident.id, resource: incident.resource.name })
}
