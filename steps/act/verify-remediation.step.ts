import type { EventConfig } from 'motia'
import type { EventStep } from '../../src/platform/events/steps'
import { traceStep } from '../../src/platform/telemetry/step'
import { incidentRef, TOPICS } from '../../src/platform/events/topics'
import { stepDeps } from '../../src/app/step-deps'
import { verifyIncident } from '../../src/verify/verify'

export const config = {
  type: 'event',
  name: 'VerifyRemediation',
  description: 'Re-measures what raised the alert until it holds for the settle time, or the deadline passes',
  subscribes: [TOPICS.acted],
  emits: [TOPICS.verified, TOPICS.verificationFailed],
  input: incidentRef,
  flows: ['sentinel'],
  infrastructure: {
    handler: { timeout: 600 },
    queue: { type: 'standard', maxRetries: 3, visibilityTimeout: 700, delaySeconds: 0 },
  },
} satisfies EventConfig

export const handler: EventStep<typeof config> = async (input, ctx) =>
  traceStep('VerifyRemediation', input.incidentId, () => run(input, ctx))

const run: EventStep<typeof config> = async (input, { emit, logger }) => {
  const deps = stepDeps('step:VerifyRemediation')
  const opts = {
    timeoutMs: deps.config.VERIFY_TIMEOUT_SECONDS * 1000,
    stableMs: deps.config.VERIFY_STABLE_SECONDS * 1000,
  }
  const result = await verifyIncident(input.incidentId, opts, deps)
  if (result.skipped) {
    logger.info('verification skipped', { incidentId: input.incidentId, why: result.skipped })
    return
  }
  await emit({ topic: result.ok ? TOPICS.verified : TOPICS.verificationFailed, data: { incidentId: input.incidentId } })
}
