/**
 * An Express 4 router whose async handlers cannot crash the process. Express 4 ignores the promise
 * a handler returns, so a rejection escaped as an unhandled rejection and ended Node: one request
 * that made a handler throw after an await took Sentinel (and the incidents it was healing) down.
 * Every handler given to this router has its rejection passed to `next(err)`, which the front door
 * answers with a 500 that names no internals.
 */
import express, { type NextFunction, type Request, type Response, type Router } from 'express'

type Handler = (req: Request, res: Response, next: NextFunction) => unknown

const isRouter = (fn: unknown) => typeof fn === 'function' && Array.isArray((fn as { stack?: unknown }).stack)

function guard(fn: unknown): unknown {
  if (typeof fn !== 'function' || isRouter(fn) || fn.length === 4) return fn
  const handler = fn as Handler
  return function guarded(req: Request, res: Response, next: NextFunction) {
    try {
      const out = handler(req, res, next) as Promise<unknown> | undefined
      if (out && typeof out.then === 'function') out.then(undefined, next)
    } catch (err) {
      next(err)
    }
  }
}

export function safeRouter(): Router {
  const router = express.Router()
  for (const method of ['get', 'post', 'put', 'patch', 'delete', 'all', 'use'] as const) {
    const original = (router[method] as (...args: unknown[]) => Router).bind(router)
    ;(router as unknown as Record<string, unknown>)[method] = (...args: unknown[]) => original(...args.map(guard))
  }
  return router
}
