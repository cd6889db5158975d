/**
 * The front door: the first handler of every HTTP request on Sentinel's port, ahead of Motia's
 * own routes and body parsers. Sentinel can restart, kill and delete on the host it guards, so
 * the port is deny-by-default:
 *
 * - public, by design: `/healthz`, the dashboard's static files, `/slack/actions` (Slack's
 *   signature), `/metrics` (METRICS_TOKEN makes it a bearer-token route);
 * - `/api/*`: Sentinel's own routes, each checking its key and role; an unknown one is a 401
 *   without a key and a 404 with one;
 * - everything else is Motia's (`/emit`, `/__motia/*`, queues, flows, Workbench): absent unless
 *   WORKBENCH=true, then for admins only (a browser sends the key as the Basic password).
 *
 * Every request body is read here, capped on the stream, before any route, parser or
 * authentication sees it; Motia's body parsers (1 GB limit) then skip (`req._body`). No request
 * reaches Motia without this door's decision, and none that does carries the key along.
 */
import { keyHeaders } from '../../platform/auth/presented-key'
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http'
import type { NextFunction, Request, RequestHandler, Response, Router } from 'express'
import { CLIENT_IP_HEADER } from '../../platform/http/auth-context'
import { clientAddress } from '../../platform/auth/client-address'
import type { CheckResult } from '../../platform/auth/index'
import { addressMatcher } from '../../platform/config/addresses'
import { logTo } from '../../platform/telemetry/log'
import { BodyError, hasBody, readCappedBody } from '../../platform/http/body'

export interface FrontDoorOptions {
  maxBodyBytes: number
  corsOrigins: readonly string[]
  trustProxy: readonly string[]
  workbench: boolean
  publicRoutes: Router
  apiRoutes: Router
  /** Checks the key in these headers (any role); the result's role decides. */
  authenticate: (headers: IncomingHttpHeaders) => Promise<CheckResult>
}

const EMPTY = Buffer.alloc(0)
const log = logTo('front-door')
const RAW_BODY = Symbol.for('sentinel.rawBody')

/** The body the front door read (empty when there was none). */
export const rawBodyOf = (req: IncomingMessage): Buffer =>
  (req as unknown as Record<symbol, Buffer | undefined>)[RAW_BODY] ?? EMPTY

/** Headers only Sentinel sets; a client's copy of them is dropped at the door. */
const INTERNAL_HEADERS = [CLIENT_IP_HEADER, 'x-sentinel-role', 'x-sentinel-key-id']

const SECURITY_HEADERS: Record<string, string> = {
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'X-Frame-Options': 'DENY',
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Resource-Policy': 'same-origin',
  // JSON and text answers load nothing; the dashboard's HTML sets its own policy (src/platform/http/static.ts).
  'Content-Security-Policy': "default-src 'none'; frame-ancestors 'none'",
}

const CORS_ALLOW_HEADERS = 'Authorization, X-API-Key, Content-Type, Last-Event-ID'

function refuse(
  res: Response,
  status: number,
  error: string,
  message: string,
  headers: Record<string, string> = {},
): void {
  for (const [k, v] of Object.entries(headers)) res.setHeader(k, v)
  res.status(status).json({ error, message })
}

function refuseAuth(res: Response, auth: CheckResult, extra: Record<string, string> = {}): void {
  refuse(
    res,
    auth.status,
    auth.error ?? 'unauthorized',
    auth.message ?? 'not allowed',
    auth.retryAfter ? { ...extra, 'Retry-After': String(auth.retryAfter) } : extra,
  )
}

/** Runs an Express router; resolves true when a route answered, false when none matched. */
function dispatch(router: Router, req: Request, res: Response): Promise<boolean> {
  return new Promise((resolve, reject) => {
    router(req, res, (err?: unknown) => (err ? reject(err) : resolve(false)))
    res.once('finish', () => resolve(true))
    res.once('close', () => resolve(true))
  })
}

/** Answers a body problem and closes the connection: the rest of an oversized body is never read. */
function refuseBody(req: Request, res: Response, err: BodyError): void {
  res.setHeader('Connection', 'close')
  res.status(err.status).json({ error: err.code, message: err.message })
  res.once('finish', () => req.socket.destroySoon?.())
}

const isApiPath = (p: string) => /^\/api(\/|$)/i.test(p)

export function frontDoor(opts: FrontDoorOptions): RequestHandler {
  const trusted = addressMatcher(opts.trustProxy)
  const origins = new Set(opts.corsOrigins)

  const handle = async (req: Request, res: Response, next: NextFunction): Promise<void> => {
    for (const h of INTERNAL_HEADERS) delete req.headers[h]
    req.headers[CLIENT_IP_HEADER] = clientAddress(req.socket.remoteAddress, req.headers['x-forwarded-for'], trusted)
    for (const [k, v] of Object.entries(SECURITY_HEADERS)) res.setHeader(k, v)

    // CORS is off unless CORS_ORIGINS names the page's origin; Motia's own "*" never goes out.
    const origin = typeof req.headers.origin === 'string' ? req.headers.origin : undefined
    const corsAllowed = !!origin && origins.has(origin)
    if (corsAllowed) {
      res.setHeader('Access-Control-Allow-Origin', origin!)
      res.setHeader('Vary', 'Origin')
    }
    if (req.method === 'OPTIONS') {
      if (!corsAllowed)
        return refuse(
          res,
          403,
          'cors_refused',
          origin
            ? `the origin ${origin.slice(0, 200)} is not in CORS_ORIGINS`
            : 'no cross-origin access is configured (CORS_ORIGINS)',
        )
      res.setHeader('Access-Control-Allow-Methods', 'GET, POST')
      res.setHeader('Access-Control-Allow-Headers', CORS_ALLOW_HEADERS)
      res.setHeader('Access-Control-Max-Age', '600')
      res.status(204).end()
      return
    }

    try {
      ;(req as unknown as Record<symbol, Buffer>)[RAW_BODY] = hasBody(req)
        ? await readCappedBody(req, opts.maxBodyBytes)
        : EMPTY
    } catch (err) {
      if (err instanceof BodyError) return refuseBody(req, res, err)
      throw err
    }
    // Motia's body parsers would read the stream again with a 1 GB limit: mark it read.
    ;(req as unknown as { _body: boolean })._body = true

    if (await dispatch(opts.publicRoutes, req, res)) return
    if (isApiPath(req.path)) {
      if (await dispatch(opts.apiRoutes, req, res)) return
      const auth = await opts.authenticate(req.headers)
      if (auth.status !== 200) return refuseAuth(res, auth)
      return refuse(res, 404, 'not_found', `no route ${req.method} ${req.path.slice(0, 200)}; see /api/openapi.json`)
    }
    return frameworkRoute(req, res, next)
  }

  /** Motia's routes: absent by default; with WORKBENCH=true, admins only. */
  const frameworkRoute = async (req: Request, res: Response, next: NextFunction): Promise<void> => {
    const challenge: Record<string, string> = opts.workbench
      ? { 'WWW-Authenticate': 'Basic realm="Sentinel Workbench (admin key as the password)", charset="UTF-8"' }
      : {}
    const auth = await opts.authenticate(keyHeaders(req.headers))
    if (auth.status !== 200) return refuseAuth(res, auth, auth.status === 401 ? challenge : {})
    if (auth.role !== 'admin')
      return refuse(res, 403, 'forbidden', "Motia's routes and the Workbench need an admin key")
    if (!opts.workbench)
      return refuse(
        res,
        404,
        'not_found',
        `no route ${req.method} ${req.path.slice(0, 200)} (Motia's routes and the Workbench are served only with WORKBENCH=true)`,
      )
    // Motia hands some requests to a step process on its command line: never with the key.
    delete req.headers.authorization
    delete req.headers['x-api-key']
    // Motia adds "Access-Control-Allow-Origin: *" (with credentials) to everything it serves.
    const setHeader = res.setHeader.bind(res)
    res.setHeader = ((name: string, value: unknown) =>
      /^access-control-/i.test(name) ? res : setHeader(name, value as string)) as typeof res.setHeader
    next()
  }

  return (req, res, next) => {
    handle(req, res, next).catch((err) => {
      log('error', 'request failed', {
        method: req.method,
        path: req.path.slice(0, 200),
        error: (err as Error)?.message,
      })
      if (res.headersSent) {
        res.destroy()
        return
      }
      res.status(500).json({ error: 'internal_error', message: 'the request failed inside Sentinel; see its logs' })
    })
  }
}
