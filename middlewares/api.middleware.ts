/**
 * The middleware every API step uses: the single place where requests are checked before a
 * handler runs. It authenticates the API key (Bearer or X-API-Key), checks the role against the
 * step's permission, and turns errors into JSON answers: a request error becomes its 4xx, an
 * unreachable Redis a 503 with Retry-After, anything else a 500 that names no internals.
 */
import type { ApiMiddleware } from 'motia'
import { checkApiRequest } from '../src/platform/http/auth-context'
import { declarePermission } from '../src/platform/http/permission'
import { HttpError } from '../src/platform/http/errors'
import type { Permission } from '../src/platform/auth/roles'
import { isStoreUnavailable, STORE_RETRY_AFTER_SECONDS, storeUnavailableBody } from '../src/platform/store/unavailable'

export const errorBoundary: ApiMiddleware = async (req, ctx, next) => {
  try {
    return await next()
  } catch (err) {
    if (err instanceof HttpError) return { status: err.status, body: err.body() }
    if (isStoreUnavailable(err)) {
      ctx.logger.warn('request refused: the store is unreachable', { error: (err as Error).message })
      return { status: 503, headers: { 'Retry-After': String(STORE_RETRY_AFTER_SECONDS) }, body: storeUnavailableBody }
    }
    ctx.logger.error('request failed', { error: (err as Error).message })
    return {
      status: 500,
      body: { error: 'internal_error', message: 'the request failed inside Sentinel; see its logs' },
    }
  }
}

const requirePermission =
  (needed: Permission): ApiMiddleware =>
  async (req, _ctx, next) => {
    const result = await checkApiRequest(req.headers, needed)
    if (result.status !== 200) {
      return {
        status: result.status,
        headers: result.retryAfter ? { 'Retry-After': String(result.retryAfter) } : undefined,
        body: { error: result.error ?? 'unauthorized', message: result.message ?? 'not allowed' },
      }
    }
    // The handler learns who is asking from this header, which only the middleware sets.
    req.headers['x-sentinel-role'] = result.role!
    req.headers['x-sentinel-key-id'] = result.keyId!
    return next()
  }

/**
 * The chain for an API step that needs `permission`. The chain carries the permission, so the main
 * process can refuse to serve a step that declares none.
 */
export const protect = (permission: Permission): ApiMiddleware[] =>
  declarePermission([errorBoundary, requirePermission(permission)], permission)
