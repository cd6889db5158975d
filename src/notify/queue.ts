/**
 * The delivery queue: every notification to every receiver, kept in Redis until it is delivered,
 * skipped or dead-lettered, so a restart (or a kill -9) loses none of them.
 *
 * Deliveries are grouped in lanes, one per (receiver, incident), and a lane delivers in order:
 * PagerDuty must see an incident's trigger before its resolve, and Slack must post a message
 * before it can update it. Only a lane's head is ever in flight; the lanes wait in one sorted set
 * by the time their head is due (after group_wait, quiet hours or a retry's backoff).
 *
 *   sentinel:notify:delivery:<key>   the delivery (JSON), kept 7 days after it ends: a replayed
 *                                    outbox entry finds it and queues nothing twice
 *   sentinel:notify:lane:<lane>      the lane's delivery keys, oldest first
 *   sentinel:notify:lanes            lane -> when its head is due (ms); a worker that takes a lane
 *                                    pushes its time a lease ahead, so a worker that dies mid-call
 *                                    leaves the lane to be taken again when the lease ends
 *   sentinel:notify:sent:<incident>  receivers that have been sent something for the incident
 *   sentinel:notify:dead, :recent    the dead-letter list and the latest outcomes (capped)
 *
 * The key of a delivery is its idempotency key (incident, event, receiver): receivers pass it on,
 * so the far end can drop the duplicate that at-least-once delivery allows after a crash mid-call.
 */
import type { Redis } from 'ioredis'
import type { NotificationKind } from './types'

const P = 'sentinel:notify:'
export const NOTIFY_KEYS = {
  delivery: (key: string) => `${P}delivery:${key}`,
  lane: (lane: string) => `${P}lane:${lane}`,
  lanes: `${P}lanes`,
  sent: (incidentId: string) => `${P}sent:${incidentId}`,
  routed: (incidentId: string) => `${P}routed:${incidentId}`,
  dead: `${P}dead`,
  recent: `${P}recent`,
} as const

const KEEP_SECONDS = 7 * 86400
const DEAD_KEPT = 1000
const RECENT_KEPT = 200

export type DeliveryState = 'queued' | 'delivered' | 'skipped' | 'muted' | 'dead'

export interface Delivery {
  key: string
  receiver: string
  incidentId: string
  kind: NotificationKind
  level: number
  /** When the event happened (ISO): the delivery latency counts from here. */
  at: string
  /** Not before this time (ms): group_wait and quiet hours. */
  notBefore: number
  attempts: number
  state: DeliveryState
  lastError?: string
  endedAt?: string
  /** Why it was skipped or muted. */
  note?: string
}

export const laneOf = (d: Pick<Delivery, 'receiver' | 'incidentId'>) => `${d.receiver}|${d.incidentId}`

// Queues a delivery unless its key was ever queued (a replay): record, lane tail, lane schedule
// (a lane already scheduled keeps its time: its head goes first), and the incident's routed set.
const ENQUEUE_LUA = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ${KEEP_SECONDS})
redis.call('RPUSH', KEYS[2], ARGV[2])
redis.call('ZADD', KEYS[3], 'NX', ARGV[4], ARGV[3])
redis.call('SADD', KEYS[4], ARGV[5])
redis.call('EXPIRE', KEYS[4], ${KEEP_SECONDS})
return 1
`

// Takes up to ARGV[3] due lanes, pushing each one's time ARGV[2] ms ahead (the lease).
const CLAIM_LUA = `
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
for _, lane in ipairs(due) do
  redis.call('ZADD', KEYS[1], tonumber(ARGV[1]) + tonumber(ARGV[2]), lane)
end
return due
`

// Ends the lane's head ARGV[1] (when it still is the head): stores its final record, notes the
// receiver as sent to (ARGV[5] = '1'), records the outcome, and schedules the lane's next
// delivery now or drops the lane when it is empty. ARGV[6] = '1' adds it to the dead letters.
const FINISH_LUA = `
if redis.call('LINDEX', KEYS[1], 0) ~= ARGV[1] then return 0 end
redis.call('LPOP', KEYS[1])
redis.call('SET', KEYS[3], ARGV[2], 'EX', ${KEEP_SECONDS})
if ARGV[5] == '1' then
  redis.call('SADD', KEYS[4], ARGV[7])
  redis.call('EXPIRE', KEYS[4], ${KEEP_SECONDS})
end
if ARGV[6] == '1' then
  redis.call('LPUSH', KEYS[5], ARGV[2])
  redis.call('LTRIM', KEYS[5], 0, ${DEAD_KEPT - 1})
end
redis.call('LPUSH', KEYS[6], ARGV[2])
redis.call('LTRIM', KEYS[6], 0, ${RECENT_KEPT - 1})
if redis.call('LLEN', KEYS[1]) > 0 then
  redis.call('ZADD', KEYS[2], ARGV[4], ARGV[3])
else
  redis.call('ZREM', KEYS[2], ARGV[3])
end
return 1
`

export class DeliveryQueue {
  constructor(private readonly redis: Redis) {}

  /** Queues the delivery; false when its key was queued before (a replayed event). */
  async enqueue(d: Omit<Delivery, 'attempts' | 'state'>): Promise<boolean> {
    const record: Delivery = { ...d, attempts: 0, state: 'queued' }
    const lane = laneOf(d)
    const added = await this.redis.eval(
      ENQUEUE_LUA,
      4,
      NOTIFY_KEYS.delivery(d.key),
      NOTIFY_KEYS.lane(lane),
      NOTIFY_KEYS.lanes,
      NOTIFY_KEYS.routed(d.incidentId),
      JSON.stringify(record),
      d.key,
      lane,
      String(d.notBefore),
      d.receiver,
    )
    return added === 1
  }

  /** Takes up to `limit` due lanes for `leaseMs`; returns their heads (lanes left empty are dropped). */
  async claim(now: number, leaseMs: number, limit: number): Promise<Delivery[]> {
    const lanes = (await this.redis.eval(
      CLAIM_LUA,
      1,
      NOTIFY_KEYS.lanes,
      String(now),
      String(leaseMs),
      String(limit),
    )) as string[]
    if (lanes.length === 0) return []
    const heads = await Promise.all(lanes.map((l) => this.redis.lindex(NOTIFY_KEYS.lane(l), 0)))
    const out: Delivery[] = []
    await Promise.all(
      lanes.map(async (lane, n) => {
        const key = heads[n]
        if (!key) {
          await this.redis.zrem(NOTIFY_KEYS.lanes, lane)
          return
        }
        const raw = await this.redis.get(NOTIFY_KEYS.delivery(key))
        if (!raw) {
          // Its record expired (kept 7 days): nothing can be sent; move the lane on.
          await this.finish(
            {
              key,
              receiver: lane.split('|')[0],
              incidentId: lane.split('|')[1],
              kind: 'repeat',
              level: 1,
              at: new Date(now).toISOString(),
              notBefore: 0,
              attempts: 0,
              state: 'skipped',
              note: 'record expired',
            },
            now,
            false,
          )
          return
        }
        const d = JSON.parse(raw) as Delivery
        if (d.notBefore > now) {
          await this.redis.zadd(NOTIFY_KEYS.lanes, 'XX', d.notBefore, lane)
          return
        }
        out.push(d)
      }),
    )
    return out
  }

  /** Ends a lane's head with its outcome; `sent` notes that the receiver now holds something of the incident. */
  async finish(d: Delivery, now: number, sent: boolean): Promise<void> {
    const lane = laneOf(d)
    const ended: Delivery = { ...d, endedAt: new Date(now).toISOString() }
    await this.redis.eval(
      FINISH_LUA,
      6,
      NOTIFY_KEYS.lane(lane),
      NOTIFY_KEYS.lanes,
      NOTIFY_KEYS.delivery(d.key),
      NOTIFY_KEYS.sent(d.incidentId),
      NOTIFY_KEYS.dead,
      NOTIFY_KEYS.recent,
      d.key,
      JSON.stringify(ended),
      lane,
      String(now),
      sent ? '1' : '0',
      d.state === 'dead' ? '1' : '0',
      d.receiver,
    )
  }

  /** A failed attempt that will be tried again at `retryAt`. */
  async retryLater(d: Delivery, retryAt: number): Promise<void> {
    await this.redis
      .multi()
      .set(NOTIFY_KEYS.delivery(d.key), JSON.stringify(d), 'EX', KEEP_SECONDS)
      .zadd(NOTIFY_KEYS.lanes, 'XX', retryAt, laneOf(d))
      .exec()
  }

  async wasSentTo(incidentId: string, receiver: string): Promise<boolean> {
    return (await this.redis.sismember(NOTIFY_KEYS.sent(incidentId), receiver)) === 1
  }

  async routedReceivers(incidentId: string): Promise<string[]> {
    return this.redis.smembers(NOTIFY_KEYS.routed(incidentId))
  }

  /** Deliveries waiting (queued or retrying), summed over the lanes. */
  async pending(): Promise<number> {
    const lanes = await this.redis.zrange(NOTIFY_KEYS.lanes, 0, -1)
    if (lanes.length === 0) return 0
    const p = this.redis.pipeline()
    for (const l of lanes) p.llen(NOTIFY_KEYS.lane(l))
    const res = (await p.exec()) ?? []
    return res.reduce((sum, [, n]) => sum + Number(n ?? 0), 0)
  }

  async deadLetters(limit: number): Promise<Delivery[]> {
    return (await this.redis.lrange(NOTIFY_KEYS.dead, 0, limit - 1)).map((r) => JSON.parse(r) as Delivery)
  }

  async recent(limit: number): Promise<Delivery[]> {
    return (await this.redis.lrange(NOTIFY_KEYS.recent, 0, limit - 1)).map((r) => JSON.parse(r) as Delivery)
  }
}
