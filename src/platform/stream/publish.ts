/**
 * The light side of the live stream: the event names and a helper that step processes call to
 * reach the SSE hub in the main process through Redis pub/sub. Imports nothing heavy on purpose:
 * every short-lived step process that publishes loads this file.
 */

/** The Redis pub/sub channel the hub listens on. */
export const STREAM_CHANNEL = 'sentinel:stream'

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

/** What travels on the channel. */
export interface StreamMessage {
  type: StreamEventType
  data: unknown
}

/** The one thing needed from a Redis client (ioredis fits). */
export interface RedisPublisher {
  publish(channel: string, message: string): Promise<number>
}

/**
 * Publishes an event to the live stream from any process. Returns how many hubs received it
 * (0 when the main process is not listening); never throws for a Redis failure, because a
 * dashboard update must not fail the step that caused it.
 */
export async function publishToStream(redis: RedisPublisher, type: StreamEventType, data: unknown): Promise<number> {
  if (!isStreamEventType(type)) throw new Error(`unknown stream event type ${String(type)}`)
  const message: StreamMessage = { type, data }
  try {
    return await redis.publish(STREAM_CHANNEL, JSON.stringify(message))
  } catch {
    return 0
  }
}
