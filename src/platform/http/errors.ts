/** Request errors that API handlers throw and the API middleware answers. */
import type { z } from 'zod'

export class HttpError extends Error {
  constructor(
    public readonly status: number,
    public readonly code: string,
    message: string,
    public readonly details?: unknown,
  ) {
    super(message)
  }
  body(): Record<string, unknown> {
    return { error: this.code, message: this.message, ...(this.details !== undefined ? { details: this.details } : {}) }
  }
}

export const notFound = (what: string) => new HttpError(404, 'not_found', `${what} not found`)

/** Parses with a zod schema or throws a 400 naming each field and the reason. */
export function parseOr400<T>(schema: z.ZodType<T>, value: unknown, where: 'query' | 'body' | 'path'): T {
  const r = schema.safeParse(value)
  if (r.success) return r.data
  const fields = r.error.issues.map((i) => ({ field: `${where}.${i.path.join('.') || '(root)'}`, reason: i.message }))
  throw new HttpError(400, 'invalid_request', fields.map((f) => `${f.field}: ${f.reason}`).join('; '), { fields })
}
