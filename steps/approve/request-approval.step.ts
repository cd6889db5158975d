import type { EventConfig, FlowContext } from 'motia'
import { traceStep } from '../../src/platform/telemetry/step'
import { incidentRef, type IncidentRef, TOPICS } from '../../src/platform/events/topics'
import { requestApprovalStage } from '../../src/act/stages'

export const config: EventConfig = {
  type: 'event',
  name: 'RequestApproval',
  description: 'Records the pending approval (who may approve, when it expires) and asks in Slack when configured',
  subscribes: [TOPICS.approvalRequested],
  emits: [],
  input: incidentRef,
  flows: ['sentinel'],
}

export const handler = async (input: IncidentRef, ctx: FlowContext) =>
  traceStep('RequestApproval', input.incidentId, () => run(input, ctx))

const run = async (input: IncidentRef, { logger }: FlowContext) => {
  const incident = await requestApprovalStage(input.incidentId, 'step:RequestApproval')
  logger.info('approval requested', { incidentId: incident.id, approverRole: incident.approval?.approverRole })
}
