import type { EventConfig } from 'motia'
import type { EventStep } from '../../src/platform/events/steps'
import { traceStep } from '../../src/platform/telemetry/step'
import { incidentRef, TOPICS } from '../../src/platform/events/topics'
import { decideStage } from '../../src/decide/stage'

export const config = {
  type: 'event',
  name: 'DecideRemediation',
  description:
    'Risk policy with guardrails: low → fix automatically; medium → operator approval; high → admin approval',
  subscribes: [TOPICS.analyzed],
  emits: [
    { topic: TOPICS.remediationApproved, label: 'low risk: automatic', conditional: true },
    { topic: TOPICS.approvalRequested, label: 'medium / high risk: approval', conditional: true },
    { topic: TOPICS.acted, label: 'no fix needed: verify', conditional: true },
  ],
  input: incidentRef,
  flows: ['sentinel'],
} satisfies EventConfig

export const handler: EventStep<typeof config> = async (input, ctx) =>
  traceStep('DecideRemediation', input.incidentId, () => run(input, ctx))

const run: EventStep<typeof config> = async (input, { emit, logger }) => {
  const { incident, decision } = await decideStage(input.incidentId, 'step:DecideRemediation')
  // Ended before it was decided (its alert cleared, a person closed it): nothing to decide.
  if (!decision) {
    logger.info('not decided: the incident ended first', { incidentId: input.incidentId, status: incident.status })
    return
  }
  logger.info('policy decided', {
    incidentId: input.incidentId,
    route: decision.route,
    risk: decision.risk,
    rule: decision.rule,
  })
  if (decision.route === 'auto')
    await emit({ topic: TOPICS.remediationApproved, data: { incidentId: input.incidentId } })
  else if (decision.route === 'approval')
    await emit({ topic: TOPICS.approvalRequested, data: { incidentId: input.incidentId } })
  else if (decision.route === 'defer') await emit({ topic: TOPICS.acted, data: { incidentId: input.incidentId } })
  // escalate: recorded as escalated; shadow: recorded, nothing runs.
}
