/**
 * The light side of the live stream: the event names and a helper that any process (a step, the
 * fleet relay) calls to put an event on the live stream. Imports nothing heavy on purpose: every
 * short-lived step process that publishes loads this file.
 *
 * The live stream is one log in Redis (a Redis stream at STREAM_LOG_KEY, trimmed to about
 * STREAM_LOG_MAXLEN entries), shared by every controller: an event is appended once, whoever
 * produces it, and every controller's hub (./hub) tails the log and delivers it, with the entry id
 * as the SSE id. So a dashboard can resume on any controller with the id it last saw.
 */

/** The Redis stream every controller's hub tails. */
export const STREAM_LOG_KEY = 'sentinel:stream:log'

/**
 * About this many entries are kept (XADD MAXLEN ~): a dashboard away for longer than that many
 * events gets a `reset` and reloads. `~` lets Redis trim whole nodes only, so a few more stay.
 */
export const STREAM_LOG_MAXLEN = 1000

export const STREAM_EVENT_TYPES = [
  'incident.opened',
  'incident.updated',
  'incident.resolved',
  'metrics',
  'approval.requested',
  'approval.decided',
  'audit',
  'container',
  // The live sampler's host and container figures every LIVE_SAMPLE_SECONDS (src/observe/live-sampler.ts).
  'sample',
] as const
export type StreamEventType = (typeof STREAM_EVENT_TYPES)[number]

export const isStreamEventType = (v: unknown): v is StreamEventType =>
  typeof v === 'string' && (STREAM_EVENT_TYPES as readonly string[]).includes(v)

/** The one thing needed from a Redis client (ioredis fits): a raw command. */
export interface RedisCommandRunner {
  call(command: string, ...args: (string | number)[]): Promise<unknown>
}

/** Where the log is; tests give each their own key. */
export interface StreamLogPlace {
  key?: string
  maxLen?: number
}

/**
 * Appends one event to the log: the fields `type` and `data` (the JSON of the payload, one line).
 * Resolves to the entry id. Throws when Redis does (callers that must not fail use publishToStream).
 */
export async function appendToStreamLog(
  redis: RedisCommandRunner,
  type: StreamEventType,
  data: unknown,
  place: StreamLogPlace = {},
): Promise<string> {
  if (!isStreamEventType(type)) throw new Error(`unknown stream event type ${String(type)}`)
  const key = place.key ?? STREAM_LOG_KEY
  const maxLen = Math.max(1, Math.floor(place.maxLen ?? STREAM_LOG_MAXLEN))
  // JSON.stringify escapes CR and LF, so the payload fits on one SSE `data:` line.
  const id = await redis.call(
    'XADD',
    key,
    'MAXLEN',
    '~',
    maxLen,
    '*',
    'type',
    type,
    'data',
    JSON.stringify(data ?? null),
  )
  return String(id)
}

/**
 * Publishes an event to the live stream from any process. Returns 1 once the event is in the log
 * (every controller's hub delivers it from there), 0 when Redis failed; never throws for a Redis
 * failure, because a dashboard update must not fail the step that caused it.
 */
export async function publishToStream(
  redis: RedisCommandRunner,
  type: StreamEventType,
  data: unknown,
  place: StreamLogPlace = {},
): Promise<number> {
  if (!isStreamEventType(type)) throw new Error(`unknown stream event type ${String(type)}`)
  try {
    await appendToStreamLog(redis, type, data, place)
    return 1
  } catch {
    return 0
  }
}
