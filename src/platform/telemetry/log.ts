/**
 * Structured logs for the main process: JSON lines, at LOG_LEVEL (from the configuration, so `.env`
 * counts too). Secret-bearing fields are redacted. Step processes log through Motia's logger.
 * A line logged inside a traced span carries trace_id and span_id, to find its trace in Jaeger.
 * The logger is made on the first line logged: importing this module never reads the configuration
 * (motia.config.ts imports it before it reports a bad configuration).
 */
import pino from 'pino'
import { getConfig } from '../config/index'
import { activeSpanIds } from './tracing'

let instance: pino.Logger | undefined

/** The main process's logger. */
export function getLogger(): pino.Logger {
  instance ??= pino({
    level: getConfig().LOG_LEVEL,
    base: { service: 'sentinel' },
    redact: {
      paths: [
        '*.apiKey',
        '*.token',
        '*.password',
        '*.authorization',
        '*.Authorization',
        'headers.authorization',
        'headers["x-api-key"]',
        '*.OPENROUTER_API_KEY',
        '*.SLACK_BOT_TOKEN',
        '*.SLACK_SIGNING_SECRET',
      ],
      censor: '[redacted]',
    },
    timestamp: pino.stdTimeFunctions.isoTime,
    mixin() {
      const ids = activeSpanIds()
      return ids ? { trace_id: ids.traceId, span_id: ids.spanId } : {}
    },
  })
  return instance
}

export type LogFn = (level: 'info' | 'warn' | 'error', msg: string, data?: Record<string, unknown>) => void

export const logTo =
  (component: string): LogFn =>
  (lvl, msg, data) =>
    getLogger()[lvl]({ component, ...(data ?? {}) }, msg)
