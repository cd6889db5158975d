/**
 * Serves Motia's API steps from the main process. Motia 0.17 would start a Node process per
 * request and hand it the request on its command line, headers included: every API key was
 * readable in /proc/<pid>/cmdline, bodies over ~128 KiB failed with E2BIG, and each call cost
 * 0.2-1 s. Here each step's own middleware chain and handler run in this process, with the same
 * request and context shapes Motia gives them, so the step files stay as they are (and stay in the
 * Workbench's flow). The incident pipeline (event and cron steps) still runs through Motia.
 *
 * A step is served only when its chain declares the permission it needs (`protect(...)` in
 * middlewares/api.middleware.ts): an API step added without one stops the start instead of being
 * served open.
 */
import { randomUUID } from 'node:crypto'
import type { Request, Response, Router } from 'express'
import type { ApiRequest, ApiResponse, ApiRouteConfig, FlowContextStateStreams } from 'motia'
import { requiredPermission } from '../../platform/http/permission'
import { logTo } from '../../platform/telemetry/log'
import { BodyError, parseJsonBody } from '../../platform/http/body'
import { rawBodyOf } from './front-door'
import { safeRouter } from '../../platform/http/safe-router'

type LogData = Record<string, unknown>

/**
 * The context a step's middlewares and handler get here: Motia's FlowContext less its `state`
 * (no API step uses it), with Sentinel's logger and an `emit` held to the config's `emits`.
 */
export interface ApiStepContext {
  traceId: string
  flows?: string[]
  logger: {
    info(msg: string, data?: LogData): void
    warn(msg: string, data?: LogData): void
    error(msg: string, data?: LogData): void
    debug(msg: string, data?: LogData): void
    log(data: unknown): void
  }
  streams: FlowContextStateStreams
  emit(event: { topic: string; data: Record<string, unknown> }): Promise<void>
}

export interface LoadedApiStep {
  filePath: string
  config: ApiRouteConfig
  handler: (req: ApiRequest, ctx: ApiStepContext) => Promise<ApiResponse>
}

export type FlowEmit = (topic: string, data: Record<string, unknown>, traceId: string) => Promise<void>

const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const

/** Checks every step before any is served; throws naming each step that cannot be. */
export function checkApiSteps(steps: LoadedApiStep[]): void {
  const problems: string[] = []
  for (const s of steps) {
    if (!s.config || s.config.type !== 'api') problems.push(`${s.filePath}: not an API step config`)
    else if (typeof s.handler !== 'function') problems.push(`${s.filePath}: exports no handler`)
    else if (!(METHODS as readonly string[]).includes(s.config.method))
      problems.push(`${s.filePath}: method ${s.config.method} is not served`)
    else if (!requiredPermission(s.config.middleware))
      problems.push(
        `${s.filePath}: its middleware declares no permission (use protect(...) from middlewares/api.middleware.ts)`,
      )
  }
  if (problems.length)
    throw new Error(`API steps that cannot be served safely:\n${problems.map((p) => `  - ${p}`).join('\n')}`)
}

const topicsOf = (config: ApiRouteConfig): Set<string> =>
  new Set((config.emits ?? []).map((e) => (typeof e === 'string' ? e : (e as { topic: string }).topic)))

/** Runs Motia middlewares in order, the handler last. */
function runChain(
  chain: NonNullable<ApiRouteConfig['middleware']>,
  req: ApiRequest,
  ctx: ApiStepContext,
  handler: () => Promise<ApiResponse>,
): Promise<ApiResponse> {
  const at = (i: number): Promise<ApiResponse> =>
    i < chain.length ? chain[i](req, ctx as never, () => at(i + 1)) : handler()
  return at(0)
}

function send(res: Response, result: ApiResponse | undefined): void {
  if (!result || typeof result.status !== 'number') {
    res.status(500).json({ error: 'internal_error', message: 'the handler returned no response; see the logs' })
    return
  }
  for (const [k, v] of Object.entries(result.headers ?? {})) res.setHeader(k, v)
  res.status(result.status)
  if (Buffer.isBuffer(result.body) || typeof result.body === 'string') res.send(result.body)
  else res.json(result.body)
}

/** An Express router with one route per step, each running the step in this process. */
export function apiStepsRouter(steps: LoadedApiStep[], emit: FlowEmit): Router {
  checkApiSteps(steps)
  const router = safeRouter()
  for (const step of steps) {
    const { config } = step
    const log = logTo(`api:${config.name}`)
    const allowed = topicsOf(config)
    const logger = {
      info: (msg: string, data?: Record<string, unknown>) => log('info', msg, data),
      warn: (msg: string, data?: Record<string, unknown>) => log('warn', msg, data),
      error: (msg: string, data?: Record<string, unknown>) => log('error', msg, data),
      debug: () => {},
      log: () => {},
    }
    const route = async (req: Request, res: Response) => {
      const traceId = randomUUID()
      try {
        const raw = rawBodyOf(req)
        const apiReq: ApiRequest = {
          body: parseJsonBody(raw, req.headers['content-type']),
          headers: req.headers as Record<string, string | string[]>,
          pathParams: req.params as Record<string, string>,
          queryParams: req.query as Record<string, string | string[]>,
          rawBody: raw.toString('utf8'),
        }
        const ctx: ApiStepContext = {
          traceId,
          flows: config.flows,
          logger,
          streams: {},
          emit: async (event: { topic: string; data: Record<string, unknown> }) => {
            // As in Motia: a step emits only what its config declares (the flow diagram is true).
            if (!allowed.has(event.topic)) throw new Error(`${config.name} may not emit ${event.topic}`)
            await emit(event.topic, event.data, traceId)
          },
        }
        send(res, await runChain(config.middleware ?? [], apiReq, ctx, () => step.handler(apiReq, ctx)))
      } catch (err) {
        if (err instanceof BodyError) {
          res.status(err.status).json({ error: err.code, message: err.message })
          return
        }
        log('error', 'request failed', { error: (err as Error).message })
        if (!res.headersSent)
          res.status(500).json({ error: 'internal_error', message: 'the request failed inside Sentinel; see its logs' })
      }
    }
    const method = config.method.toLowerCase() as 'get' | 'post' | 'put' | 'patch' | 'delete'
    router[method](config.path, route)
  }
  return router
}
