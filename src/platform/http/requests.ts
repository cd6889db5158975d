/** Request helpers and schemas shared by the API steps. */
import { z } from 'zod'
import type { Role } from '../auth/roles'
import { HttpError } from './errors'

export const incidentIdPath = z.object({ id: z.string().regex(/^inc_[a-z0-9_]+$/, 'an incident id such as inc_lx2k3_ab12cd34ef') })

/** The caller's role and key id, set by the API middleware after authentication. */
export function caller(headers: Record<string, string | string[] | undefined>): { role: Role; keyId: string } {
  const role = headers['x-sentinel-role']
  const keyId = headers['x-sentinel-key-id']
  if (typeof role !== 'string' || typeof keyId !== 'string') throw new HttpError(401, 'missing_key', 'authentication required')
  return { role: role as Role, keyId }
}

export const rejectBody = z.object({ reason: z.string().trim().min(1, 'say why').max(500) }).strict()
export const approveBody = z.object({ comment: z.string().max(500).optional() }).strict()

export const triggerAlertBody = z
  .object({
    type: z.enum(['memory', 'cpu', 'disk', 'latency', 'container_down']),
    resource: z.string().trim().min(1).max(256),
    value: z.number().finite().optional(),
  })
  .strict()
