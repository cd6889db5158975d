import type { EventConfig, FlowContext } from 'motia'
import { traceStep } from '../../src/platform/telemetry/step'
import { incidentRef, type IncidentRef, TOPICS } from '../../src/platform/events/topics'
import { decideStage } from '../../src/act/stages'

export const config: EventConfig = {
  type: 'event',
  name: 'DecideRemediation',
  description: 'Risk policy with guardrails: low → fix automatically; medium → operator approval; high → admin approval',
  subscribes: [TOPICS.analyzed],
  emits: [
    { topic: TOPICS.remediationApproved, label: 'low risk: automatic', conditional: true },
    { topic: TOPICS.approvalRequested, label: 'medium / high risk: approval', conditional: true },
    { topic: TOPICS.acted, label: 'no fix needed: verify', conditional: true },
  ],
  input: incidentRef,
  flows: ['sentinel'],
}

export const handler = async (input: IncidentRef, ctx: FlowContext<{ topic: string; data: IncidentRef }>) =>
  traceStep('DecideRemediation', input.incidentId, () => run(input, ctx))

const run = async (input: IncidentRef, { emit, logger }: FlowContext<{ topic: string; data: IncidentRef }>) => {
  const { decision } = await decideStage(input.incidentId, 'step:DecideRemediation')
  logger.info('policy decided', { incidentId: input.incidentId, route: decision.route, risk: decision.risk, rule: decision.rule })
  if (decision.route === 'auto') await emit({ topic: TOPICS.remediationApproved, data: { incidentId: input.incidentId } })
  else if (decision.route === 'approval') await emit({ topic: TOPICS.approvalRequested, data: { incidentId: input.incidentId } })
  else if (decision.route === 'defer') await emit({ topic: TOPICS.acted, data: { incidentId: input.incidentId } })
  // escalate: recorded as escalated; shadow: recorded, nothing runs.
}
