/** The analysis both analysers return, validated with zod. */
import { z } from 'zod'

export const proposedFixSchema = z.object({
  action: z.string().min(1),
  params: z.record(z.string(), z.unknown()).default({}),
})

export const analysisSchema = z.object({
  root_cause: z.string().min(1),
  evidence: z.array(z.string()),
  proposed_fix: proposedFixSchema.nullable(),
  risk_level: z.enum(['low', 'medium', 'high']),
  confidence: z.number().min(0).max(1),
})

export type ProposedFix = z.infer<typeof proposedFixSchema>
export type Analysis = z.infer<typeof analysisSchema>
