import type { EventConfig } from 'motia'
import type { EventStep } from '../../src/platform/events/steps'
import { traceStep } from '../../src/platform/telemetry/step'
import { incidentRef, TOPICS } from '../../src/platform/events/topics'
import { requestApprovalStage } from '../../src/approve/stage'

export const config = {
  type: 'event',
  name: 'RequestApproval',
  description: 'Records the pending approval (who may approve, when it expires) and asks in Slack when configured',
  subscribes: [TOPICS.approvalRequested],
  emits: [],
  input: incidentRef,
  flows: ['sentinel'],
} satisfies EventConfig

export const handler: EventStep<typeof config> = async (input, ctx) =>
  traceStep('RequestApproval', input.incidentId, () => run(input, ctx))

const run: EventStep<typeof config> = async (input, { logger }) => {
  const incident = await requestApprovalStage(input.incidentId, 'step:RequestApproval')
  logger.info('approval requested', { incidentId: incident.id, approverRole: incident.approval?.approverRole })
}
