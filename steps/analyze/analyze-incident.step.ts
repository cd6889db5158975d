import type { EventConfig } from 'motia'
import type { EventStep } from '../../src/platform/events/steps'
import { traceStep } from '../../src/platform/telemetry/step'
import { incidentRef, TOPICS } from '../../src/platform/events/topics'
import { analyzeStage } from '../../src/analyze/stage'

export const config = {
  type: 'event',
  name: 'AnalyzeIncident',
  description:
    'Root cause: DeepSeek R1 through OpenRouter when a key is set, the rule analyser otherwise or when the LLM fails',
  subscribes: [TOPICS.opened],
  emits: [TOPICS.analyzed],
  input: incidentRef,
  flows: ['sentinel'],
  infrastructure: {
    handler: { timeout: 120 },
    queue: { type: 'standard', maxRetries: 2, visibilityTimeout: 180, delaySeconds: 0, concurrency: 2 },
  },
} satisfies EventConfig

export const handler: EventStep<typeof config> = async (input, ctx) =>
  traceStep('AnalyzeIncident', input.incidentId, () => run(input, ctx))

const run: EventStep<typeof config> = async (input, { emit, logger }) => {
  const { incident, decideNext } = await analyzeStage(input.incidentId, 'step:AnalyzeIncident')
  logger.info('incident analysed', {
    incidentId: incident.id,
    analyser: (incident.analysis as { analyser?: string } | undefined)?.analyser,
  })
  // An incident already decided (the container fast path) only gets the analysis as enrichment.
  if (decideNext) await emit({ topic: TOPICS.analyzed, data: { incidentId: incident.id } })
}
