/**
 * The last hour of readings per series, kept in Redis, so the dashboard draws its charts the moment
 * it opens instead of waiting for the monitor's next ticks (two minutes apart by default). The
 * monitor step records every tick's readings here; GET /api/readings/recent reads them back.
 *
 * Layout (every key under one prefix, `sentinel:readings:recent:` by default, so nothing else
 * can collide with it):
 *   <prefix>index        sorted set: series -> time of its newest point (ms)
 *   <prefix>meta         hash: series -> JSON { metric, unit, resource } of its latest reading
 *   <prefix>s:<series>   sorted set per series: member `<ms>:<value>`, score the reading's time
 *
 * Bounded three ways: points older than the window are trimmed on every write, each series keeps
 * at most `maxPointsPerSeries` points (a 1 s schedule cannot grow it without limit), and at most
 * `maxSeries` series are kept (the least recently written go first). Every key expires a little
 * after the window, so a Sentinel that stops recording leaves nothing behind. A write is one Lua
 * script (one round trip, atomic); so is a read of every series.
 */
import type { Redis } from 'ioredis'
import { z } from 'zod'
import { firstValue } from '../platform/http/requests'
import type { ResourceRef } from '../platform/store/model'
import type { Reading } from './types'

export const RECENT_READINGS_PREFIX = 'sentinel:readings:recent:'
export const RECENT_WINDOW_MS = 60 * 60 * 1000

export interface RecentReadingsOptions {
  /** Key prefix; default `sentinel:readings:recent:`. */
  prefix?: string
  /** How far back points are kept; default one hour. */
  windowMs?: number
  /** Points kept per series; default 3600 (one a second for an hour). */
  maxPointsPerSeries?: number
  /** Series kept; default 500. */
  maxSeries?: number
  /** Clock, for tests. */
  now?: () => number
}

export interface RecentSeries {
  series: string
  metric: string
  unit: string
  resource: ResourceRef
  /** Oldest first: [time in ms since the epoch, value]. */
  points: [number, number][]
}

export interface ReadOptions {
  /** Only points at or after this time (ms); default now minus the window. */
  sinceMs?: number
  /** Only these metrics (e.g. `cpu_busy_percent`); default all. */
  metrics?: string[]
  /** At most this many points per series, evenly thinned (the newest always kept); default all. */
  maxPoints?: number
}

// KEYS: index, meta, then one series key per reading. ARGV: now, windowMs, maxPoints, maxSeries,
// ttlMs, prefix, then four per reading: series, ms, member, meta. Series dropped for age or count
// are found through the index, so their keys are built from the prefix here (one Redis, no cluster).
const RECORD_LUA = `
local now = tonumber(ARGV[1])
local cutoff = now - tonumber(ARGV[2])
local maxPoints = tonumber(ARGV[3])
local maxSeries = tonumber(ARGV[4])
local ttl = tonumber(ARGV[5])
local prefix = ARGV[6]
local written = 0
for i = 3, #KEYS do
  local base = 6 + (i - 3) * 4
  local series = ARGV[base + 1]
  local ms = tonumber(ARGV[base + 2])
  if ms >= cutoff then
    redis.call('ZADD', KEYS[i], ms, ARGV[base + 3])
    redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', '(' .. cutoff)
    redis.call('ZREMRANGEBYRANK', KEYS[i], 0, -(maxPoints + 1))
    redis.call('PEXPIRE', KEYS[i], ttl)
    local last = redis.call('ZSCORE', KEYS[1], series)
    if (not last) or tonumber(last) < ms then redis.call('ZADD', KEYS[1], ms, series) end
    redis.call('HSET', KEYS[2], series, ARGV[base + 4])
    written = written + 1
  end
end
local function drop(list)
  for _, s in ipairs(list) do
    redis.call('DEL', prefix .. 's:' .. s)
    redis.call('HDEL', KEYS[2], s)
    redis.call('ZREM', KEYS[1], s)
  end
end
drop(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. cutoff))
local over = redis.call('ZCARD', KEYS[1]) - maxSeries
if over > 0 then drop(redis.call('ZRANGE', KEYS[1], 0, over - 1)) end
redis.call('PEXPIRE', KEYS[1], ttl)
redis.call('PEXPIRE', KEYS[2], ttl)
return written
`

// KEYS: index, meta. ARGV: since (ms), prefix, then the metrics wanted (none: all).
// Returns a flat list: series, meta JSON, its members; for every series written since `since`.
const READ_LUA = `
local wanted = nil
if #ARGV > 2 then
  wanted = {}
  for i = 3, #ARGV do wanted[ARGV[i]] = true end
end
local out = {}
for _, s in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], ARGV[1], '+inf')) do
  local meta = redis.call('HGET', KEYS[2], s) or ''
  local keep = true
  if wanted then
    local ok, m = pcall(cjson.decode, meta)
    keep = ok and type(m) == 'table' and wanted[m.metric] == true
  end
  if keep then
    out[#out + 1] = s
    out[#out + 1] = meta
    out[#out + 1] = redis.call('ZRANGEBYSCORE', ARGV[2] .. 's:' .. s, ARGV[1], '+inf')
  end
end
return out
`

/** Readings per Lua call: a tick has tens of them; a storm of series must not make one huge script call. */
const BATCH = 500

/** Keeps `max` points spread evenly over the series, always with its newest one. */
export function thin<T>(points: T[], max: number): T[] {
  if (points.length <= max) return points
  if (max <= 1) return points.slice(-1)
  const out: T[] = []
  const step = (points.length - 1) / (max - 1)
  for (let i = 0; i < max; i++) out.push(points[Math.round(i * step)])
  return out
}

export class RecentReadings {
  readonly prefix: string
  readonly windowMs: number
  readonly maxPointsPerSeries: number
  readonly maxSeries: number
  private readonly now: () => number

  constructor(
    private readonly redis: Redis,
    opts: RecentReadingsOptions = {},
  ) {
    this.prefix = opts.prefix ?? RECENT_READINGS_PREFIX
    this.windowMs = opts.windowMs ?? RECENT_WINDOW_MS
    this.maxPointsPerSeries = opts.maxPointsPerSeries ?? 3600
    this.maxSeries = opts.maxSeries ?? 500
    this.now = opts.now ?? Date.now
    for (const [name, v] of Object.entries({
      windowMs: this.windowMs,
      maxPointsPerSeries: this.maxPointsPerSeries,
      maxSeries: this.maxSeries,
    })) {
      if (!Number.isInteger(v) || v < 1)
        throw new Error(`RecentReadings: ${name} must be a whole number >= 1, got ${v}`)
    }
  }

  private get indexKey() {
    return `${this.prefix}index`
  }
  private get metaKey() {
    return `${this.prefix}meta`
  }
  seriesKey(series: string): string {
    return `${this.prefix}s:${series}`
  }

  /** Records one tick's readings; returns how many points were kept (older than the window: none). */
  async record(readings: Reading[]): Promise<number> {
    const usable = readings.filter(
      (r) =>
        r &&
        typeof r.series === 'string' &&
        r.series !== '' &&
        Number.isFinite(r.value) &&
        Number.isFinite(Date.parse(r.at)),
    )
    let written = 0
    for (let i = 0; i < usable.length; i += BATCH) {
      const batch = usable.slice(i, i + BATCH)
      const keys = [this.indexKey, this.metaKey, ...batch.map((r) => this.seriesKey(r.series))]
      const args: string[] = [
        String(this.now()),
        String(this.windowMs),
        String(this.maxPointsPerSeries),
        String(this.maxSeries),
        String(this.windowMs + 5 * 60_000),
        this.prefix,
      ]
      for (const r of batch) {
        const ms = Date.parse(r.at)
        args.push(
          r.series,
          String(ms),
          `${ms}:${r.value}`,
          JSON.stringify({ metric: r.metric, unit: r.unit, resource: r.resource }),
        )
      }
      written += Number(await this.redis.eval(RECORD_LUA, keys.length, ...keys, ...args))
    }
    return written
  }

  /** Every series with a point in the window (or since `sinceMs`), oldest point first; one round trip. */
  async read(opts: ReadOptions = {}): Promise<RecentSeries[]> {
    const since = Math.max(opts.sinceMs ?? 0, this.now() - this.windowMs)
    const flat = (await this.redis.eval(
      READ_LUA,
      2,
      this.indexKey,
      this.metaKey,
      String(since),
      this.prefix,
      ...(opts.metrics ?? []),
    )) as (string | string[])[]
    const out: RecentSeries[] = []
    for (let i = 0; i + 2 < flat.length; i += 3) {
      let meta: { metric?: string; unit?: string; resource?: ResourceRef } = {}
      try {
        meta = JSON.parse(flat[i + 1] as string)
      } catch {
        // A series without its description is still returned, with what its key says.
      }
      let points: [number, number][] = []
      for (const m of flat[i + 2] as string[]) {
        const colon = m.indexOf(':')
        const t = Number(m.slice(0, colon))
        const v = Number(m.slice(colon + 1))
        if (colon > 0 && Number.isFinite(t) && Number.isFinite(v)) points.push([t, v])
      }
      if (!points.length) continue
      if (opts.maxPoints) points = thin(points, opts.maxPoints)
      const series = flat[i] as string
      out.push({
        series,
        metric: meta.metric ?? series.split('|')[0],
        unit: meta.unit ?? '',
        resource: meta.resource ?? { kind: 'series', id: series, name: series },
        points,
      })
    }
    return out.sort((a, b) => a.series.localeCompare(b.series))
  }
}

/** GET /api/readings/recent's query: how far back, which metrics, how many points per series. */
export const recentReadingsQuery = z.strictObject({
  minutes: z
    .preprocess(firstValue, z.coerce.number().int().min(1).max(60).default(60))
    .describe('how far back, 1 to 60 minutes (default 60)'),
  metric: z
    .preprocess(
      (v) => (v === undefined ? undefined : (Array.isArray(v) ? v : [v]).flatMap((s) => String(s).split(','))),
      z
        .array(z.string().regex(/^[a-z][a-z0-9_]{0,63}$/, 'a metric name such as cpu_busy_percent'))
        .max(20)
        .optional(),
    )
    .describe('only these metrics (repeat or comma-separate: cpu_busy_percent,latency_ms); default all'),
  maxPoints: z
    .preprocess(firstValue, z.coerce.number().int().min(2).max(3600).default(720))
    .describe('at most this many points per series, evenly thinned (2 to 3600, default 720)'),
})
export type RecentReadingsQuery = z.infer<typeof recentReadingsQuery>

/** The API's answer: the window and every series in it, points as [ms, value]. */
export async function recentReadingsBody(store: RecentReadings, q: RecentReadingsQuery, now = Date.now()) {
  const sinceMs = now - q.minutes * 60_000
  const series = await store.read({ sinceMs, metrics: q.metric, maxPoints: q.maxPoints })
  return { from: new Date(sinceMs).toISOString(), to: new Date(now).toISOString(), series }
}
