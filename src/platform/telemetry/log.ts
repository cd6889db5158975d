/**
 * Structured logs for the main process: JSON lines by default, pretty only when a terminal asks
 * (LOG_PRETTY=true). Secret-bearing fields are redacted. Step processes log through Motia's logger.
 * A line logged inside a traced span carries trace_id and span_id, to find its trace in Jaeger.
 */
import pino from 'pino'
import { activeSpanIds } from './tracing'

const level = process.env.LOG_LEVEL || 'info'

export const logger = pino({
  level,
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

export type LogFn = (level: 'info' | 'warn' | 'error', msg: string, data?: Record<string, unknown>) => void

export const logTo =
  (component: string): LogFn =>
  (lvl, msg, data) =>
    logger[lvl]({ component, ...(data ?? {}) }, msg)
