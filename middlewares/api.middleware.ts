/**
 * The middleware every API step uses. It is the single place where requests are checked before a
 * handler runs (authentication joins here), and it turns errors into JSON answers: a request
 * error becomes its 4xx, anything else a 500 that names no internals.
 */
import type { ApiMiddleware } from 'motia'
import { HttpError } from '../src/api/errors'

export const errorBoundary: ApiMiddleware = async (req, ctx, next) => {
  try {
    return await next()
  } catch (err) {
    if (err instanceof HttpError) return { status: err.status, body: err.body() }
    ctx.logger.error('request failed', { error: (err as Error).message })
    return { status: 500, body: { error: 'internal_error', message: 'the request failed inside Sentinel; see its logs' } }
  }
}

/** The chain for every API step, in order. */
export const apiMiddleware: ApiMiddleware[] = [errorBoundary]
