/**
 * Bounded history of recent readings per series. `ReadingHistory` keeps it in this process;
 * `RedisReadingHistory` keeps it in Redis lists, for step processes that live one tick.
 */
import type { Redis } from 'ioredis'
import type { Reading } from '../types'

export class RingBuffer<T> {
  private readonly items: (T | undefined)[]
  private start = 0
  private count = 0

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1)
      throw new Error(`RingBuffer capacity must be a whole number >= 1, got ${capacity}`)
    this.items = new Array(capacity)
  }

  get size(): number {
    return this.count
  }

  push(item: T): void {
    const end = (this.start + this.count) % this.capacity
    this.items[end] = item
    if (this.count < this.capacity) this.count++
    else this.start = (this.start + 1) % this.capacity
  }

  /** Oldest first. */
  toArray(): T[] {
    const out: T[] = []
    for (let i = 0; i < this.count; i++) out.push(this.items[(this.start + i) % this.capacity] as T)
    return out
  }

  last(): T | undefined {
    return this.count ? this.items[(this.start + this.count - 1) % this.capacity] : undefined
  }

  clear(): void {
    this.items.fill(undefined)
    this.start = 0
    this.count = 0
  }
}

export interface HistoryPoint {
  at: string
  value: number
  source: Reading['source']
}

export interface HistoryStore {
  record(readings: Reading[]): Promise<void>
  /** Oldest first, at most the capacity. */
  get(series: string): Promise<HistoryPoint[]>
}

const point = (r: Reading): HistoryPoint => ({ at: r.at, value: r.value, source: r.source })

export class ReadingHistory implements HistoryStore {
  private readonly buffers = new Map<string, RingBuffer<HistoryPoint>>()

  /** `maxSeries` bounds the number of series too (the oldest-created is dropped). */
  constructor(
    readonly capacity = 120,
    readonly maxSeries = 2000,
  ) {}

  async record(readings: Reading[]): Promise<void> {
    for (const r of readings) {
      let buf = this.buffers.get(r.series)
      if (!buf) {
        if (this.buffers.size >= this.maxSeries) this.buffers.delete(this.buffers.keys().next().value as string)
        buf = new RingBuffer<HistoryPoint>(this.capacity)
        this.buffers.set(r.series, buf)
      }
      buf.push(point(r))
    }
  }

  async get(series: string): Promise<HistoryPoint[]> {
    return this.buffers.get(series)?.toArray() ?? []
  }

  series(): string[] {
    return [...this.buffers.keys()]
  }
}

export class RedisReadingHistory implements HistoryStore {
  constructor(
    private readonly redis: Redis,
    readonly capacity = 120,
    private readonly prefix = 'sentinel:observe:history:',
    /** A series not written for this long disappears; default one day. */
    private readonly ttlSeconds = 86_400,
  ) {}

  async record(readings: Reading[]): Promise<void> {
    if (!readings.length) return
    const m = this.redis.multi()
    for (const r of readings) {
      const key = this.prefix + r.series
      m.rpush(key, JSON.stringify(point(r)))
      m.ltrim(key, -this.capacity, -1)
      m.expire(key, this.ttlSeconds)
    }
    await m.exec()
  }

  async get(series: string): Promise<HistoryPoint[]> {
    const raw = await this.redis.lrange(this.prefix + series, 0, -1)
    return raw.map((s) => JSON.parse(s) as HistoryPoint)
  }
}
