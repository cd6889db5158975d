/** The analysis both analysers return, validated with zod. */
import { z } from 'zod'
import { CAUSE_IDS, type Cause } from '../causes'

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
  /** One of the cause labels (../causes); optional, and an unknown label reads as absent, not as a bad answer. */
  cause: z
    .enum(CAUSE_IDS as [Cause, ...Cause[]])
    .optional()
    .catch(undefined),
})

export type ProposedFix = z.infer<typeof proposedFixSchema>
export type Analysis = z.infer<typeof analysisSchema>
