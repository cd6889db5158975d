/** Reading the audit log through the API: GET /api/audit's query. */
import { z } from 'zod'
import { firstValue } from '../platform/http/requests'

export const auditQuery = z.object({
  limit: z.preprocess(firstValue, z.coerce.number().int().min(1).max(1000).default(100)),
  incident: z.preprocess(
    firstValue,
    z
      .string()
      .regex(/^inc_[a-z0-9_]+$/, 'an incident id such as inc_lx2k3_ab12cd34ef')
      .optional(),
  ),
})
export type AuditQuery = z.infer<typeof auditQuery>
