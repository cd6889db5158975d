/** Request helpers and schemas shared by the API steps. */
import { z } from 'zod'
import type { Role } from '../auth/roles'
import { HttpError, parseOr400 } from './errors'

export const incidentIdPath = z.object({
  id: z.string().regex(/^inc_[a-z0-9_]+$/, 'an incident id such as inc_lx2k3_ab12cd34ef'),
})

/** The caller's role and key id, set by the API middleware after authentication. */
export function caller(headers: Record<string, string | string[] | undefined>): { role: Role; keyId: string } {
  const role = headers['x-sentinel-role']
  const keyId = headers['x-sentinel-key-id']
  if (typeof role !== 'string' || typeof keyId !== 'string')
    throw new HttpError(401, 'missing_key', 'authentication required')
  return { role: role as Role, keyId }
}

/**
 * A query parameter's single value: Express gives an array when the parameter is repeated
 * (`?limit=5&limit=9`); the first one counts. Use as `z.preprocess(firstValue, schema)`.
 */
export const firstValue = (v: unknown): unknown => (Array.isArray(v) ? v[0] : v)

/**
 * An API step's request body, parsed with its config's `bodySchema` and typed from it; a body
 * that does not fit is a 400 naming each field (`body.reason: say why`). A missing body is `{}`.
 */
export function parseBody<T>(config: { bodySchema: z.ZodType<T> }, req: { body: unknown }): T {
  return parseOr400(config.bodySchema, req.body ?? {}, 'body')
}

/** A person's reason: rejecting a fix, closing an incident by hand. */
export const reasonBody = z
  .object({
    reason: z.string().trim().min(1, 'say why').max(500).describe('why; kept in the timeline and the audit log'),
  })
  .strict()

export const approveBody = z
  .object({
    comment: z
      .string()
      .trim()
      .max(500)
      .optional()
      .describe("the approver's note; kept with the decision (approval.comment), in the timeline and the audit log"),
  })
  .strict()

export const triggerAlertBody = z
  .object({
    type: z.enum(['memory', 'cpu', 'disk', 'latency', 'container_down']),
    resource: z.string().trim().min(1).max(256),
    value: z.number().finite().optional(),
  })
  .strict()
