import type { EventConfig, FlowContext } from 'motia'
import { traceStep } from '../../src/platform/telemetry/step'
import { incidentRef, type IncidentRef, TOPICS } from '../../src/platform/events/topics'
import { executeStage } from '../../src/act/stages'

export const config: EventConfig = {
  type: 'event',
  name: 'ExecuteRemediation',
  description: 'Runs the decided action once per incident (keyed by incident and action), only when the stored decision or approval allows it',
  subscribes: [TOPICS.remediationApproved],
  emits: [TOPICS.acted],
  input: incidentRef,
  flows: ['sentinel'],
  infrastructure: { handler: { timeout: 300 }, queue: { type: 'standard', maxRetries: 3, visibilityTimeout: 360, delaySeconds: 0 } },
}

export const handler = async (input: IncidentRef, ctx: FlowContext<{ topic: string; data: IncidentRef }>) =>
  traceStep('ExecuteRemediation', input.incidentId, () => run(input, ctx))

const run = async (input: IncidentRef, { emit, logger }: FlowContext<{ topic: string; data: IncidentRef }>) => {
  const outcome = await executeStage(input.incidentId, 'step:ExecuteRemediation')
  // Refused (audited by remediate): final. The event is not trusted, so retrying it would not help.
  if (outcome.kind === 'refused') {
    logger.warn('remediation refused', { incidentId: input.incidentId, code: outcome.code, reason: outcome.reason })
    return
  }
  logger.info('remediation', { incidentId: input.incidentId, outcome: outcome.kind })
  if (outcome.kind === 'executed' || outcome.kind === 'already-done') await emit({ topic: TOPICS.acted, data: { incidentId: input.incidentId } })
  // in-progress-elsewhere: throwing lets the queue retry after its backoff.
  if (outcome.kind === 'in-progress-elsewhere') throw new Error(`remediation of ${input.incidentId} is held by another worker`)
  if (outcome.kind === 'busy') throw new Error(`MAX_CONCURRENT_REMEDIATIONS reached; ${input.incidentId} waits for a slot`)
}
