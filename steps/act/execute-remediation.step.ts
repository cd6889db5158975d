import type { EventConfig } from 'motia'
import type { EventStep } from '../../src/platform/events/steps'
import { traceStep } from '../../src/platform/telemetry/step'
import { incidentRef, TOPICS } from '../../src/platform/events/topics'
import { executeStage } from '../../src/act/stage'

export const config = {
  type: 'event',
  name: 'ExecuteRemediation',
  description:
    'Runs the decided action once per incident (keyed by incident and action), only when the stored decision or approval allows it',
  subscribes: [TOPICS.remediationApproved],
  emits: [TOPICS.acted],
  input: incidentRef,
  flows: ['sentinel'],
  infrastructure: {
    handler: { timeout: 300 },
    queue: { type: 'standard', maxRetries: 3, visibilityTimeout: 360, delaySeconds: 0 },
  },
} satisfies EventConfig

export const handler: EventStep<typeof config> = async (input, ctx) =>
  traceStep('ExecuteRemediation', input.incidentId, () => run(input, ctx))

const run: EventStep<typeof config> = async (input, { emit, logger }) => {
  const outcome = await executeStage(input.incidentId, 'step:ExecuteRemediation')
  // Refused (audited by remediate): final. The event is not trusted, so retrying it would not help.
  if (outcome.kind === 'refused') {
    logger.warn('remediation refused', { incidentId: input.incidentId, code: outcome.code, reason: outcome.reason })
    return
  }
  logger.info('remediation', { incidentId: input.incidentId, outcome: outcome.kind })
  if (outcome.kind === 'executed' || outcome.kind === 'already-done')
    await emit({ topic: TOPICS.acted, data: { incidentId: input.incidentId } })
  // in-progress-elsewhere: throwing lets the queue retry after its backoff.
  if (outcome.kind === 'in-progress-elsewhere')
    throw new Error(`remediation of ${input.incidentId} is held by another worker`)
  if (outcome.kind === 'busy')
    throw new Error(`MAX_CONCURRENT_REMEDIATIONS reached; ${input.incidentId} waits for a slot`)
}
