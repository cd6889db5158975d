/**
 * HTTP probes: several GETs per target per tick, each timed to the end of the body, kept in a
 * bounded window of recent latencies. The window's p95 is the latency reading of the target
 * (it replaces the formula estimate when targets are configured).
 */
import http from 'node:http'
import type { Redis } from 'ioredis'
import { publicUrl } from '../../platform/config/observe'
import type { ResourceRef } from '../../platform/store/model'
import { readingSeries, type Reading } from '../types'

export interface ProbeSample {
  /** Unix ms when the request started. */
  at: number
  ms: number
  ok: boolean
  status?: number
  error?: string
}

export interface ProbeWindowStore {
  add(target: string, samples: ProbeSample[]): Promise<void>
  /** The samples of the window, oldest first. */
  get(target: string, now: number): Promise<ProbeSample[]>
}

export interface ProbeWindowOptions {
  /** At most this many samples per target; default 60. */
  size?: number
  /** Samples older than this leave the window; default 10 minutes. */
  windowMs?: number
}

export class MemoryProbeWindow implements ProbeWindowStore {
  private readonly samples = new Map<string, ProbeSample[]>()
  readonly size: number
  readonly windowMs: number
  constructor(opts: ProbeWindowOptions = {}) {
    this.size = opts.size ?? 60
    this.windowMs = opts.windowMs ?? 600_000
  }
  async add(target: string, samples: ProbeSample[]): Promise<void> {
    const list = [...(this.samples.get(target) ?? []), ...samples]
    this.samples.set(target, list.slice(-this.size))
  }
  async get(target: string, now: number): Promise<ProbeSample[]> {
    return (this.samples.get(target) ?? []).filter((s) => now - s.at <= this.windowMs)
  }
}

export class RedisProbeWindow implements ProbeWindowStore {
  readonly size: number
  readonly windowMs: number
  constructor(
    private readonly redis: Redis,
    opts: ProbeWindowOptions & { prefix?: string } = {},
  ) {
    this.size = opts.size ?? 60
    this.windowMs = opts.windowMs ?? 600_000
    this.prefix = opts.prefix ?? 'sentinel:observe:probe:'
  }
  private readonly prefix: string
  async add(target: string, samples: ProbeSample[]): Promise<void> {
    if (!samples.length) return
    const key = this.prefix + target
    await this.redis
      .multi()
      .rpush(key, ...samples.map((s) => JSON.stringify(s)))
      .ltrim(key, -this.size, -1)
      .pexpire(key, this.windowMs * 2)
      .exec()
  }
  async get(target: string, now: number): Promise<ProbeSample[]> {
    const raw = await this.redis.lrange(this.prefix + target, 0, -1)
    return raw.map((s) => JSON.parse(s) as ProbeSample).filter((s) => now - s.at <= this.windowMs)
  }
}

/** Nearest-rank percentile (p in 0..100) of the values. */
export function percentile(values: number[], p: number): number {
  if (!values.length) throw new Error('percentile of no values')
  const sorted = [...values].sort((a, b) => a - b)
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length))
  return sorted[Math.min(rank, sorted.length) - 1]
}

/** One timed GET: from the request to the last byte of the body. Never throws. */
export async function probeOnce(target: string, timeoutMs: number): Promise<ProbeSample> {
  const u = new URL(target)
  const mod: typeof http = u.protocol === 'https:' ? ((await import('node:https')) as unknown as typeof http) : http
  const at = Date.now()
  const t0 = performance.now()
  return new Promise((resolve) => {
    let done = false
    const finish = (s: Omit<ProbeSample, 'at' | 'ms'>, ms?: number) => {
      if (done) return
      done = true
      clearTimeout(timer)
      resolve({ at, ms: ms ?? performance.now() - t0, ...s })
    }
    // A fresh connection each time (agent: false): a pooled socket would hide connect latency.
    const req = mod.get(u, { agent: false, headers: { 'user-agent': 'sentinel-probe/1', accept: '*/*' } }, (res) => {
      res.on('data', () => {})
      res.on('end', () =>
        finish({
          ok: (res.statusCode ?? 500) < 500,
          status: res.statusCode,
          ...((res.statusCode ?? 500) >= 500 ? { error: `HTTP ${res.statusCode}` } : {}),
        }),
      )
      res.on('error', (err) =>
        finish({ ok: false, status: res.statusCode, error: (err as NodeJS.ErrnoException).code ?? err.message }),
      )
    })
    // A request that fails or times out counts as the full timeout: the endpoint was that slow for a user.
    const timer = setTimeout(() => {
      finish({ ok: false, error: 'timeout' }, timeoutMs)
      req.destroy()
    }, timeoutMs)
    req.on('error', (err: NodeJS.ErrnoException) => finish({ ok: false, error: err.code ?? err.message }, timeoutMs))
  })
}

export interface ProberOptions {
  targets: string[]
  /** Requests per target per tick; default 3. */
  requestsPerTick?: number
  /** Per request; default 5000. */
  timeoutMs?: number
  window?: ProbeWindowStore
  /** Percentile used as the reading; default 95. */
  percentile?: number
}

export class HttpProber {
  readonly targets: string[]
  readonly window: ProbeWindowStore
  private readonly requestsPerTick: number
  private readonly timeoutMs: number
  private readonly pct: number

  constructor(opts: ProberOptions) {
    this.targets = opts.targets
    this.window = opts.window ?? new MemoryProbeWindow()
    this.requestsPerTick = Math.max(1, opts.requestsPerTick ?? 3)
    this.timeoutMs = opts.timeoutMs ?? 5000
    this.pct = opts.percentile ?? 95
  }

  /** Probes every target (targets in parallel, requests one after another) and returns one latency reading per target. */
  async probe(): Promise<Reading[]> {
    const readings = await Promise.all(
      this.targets.map(async (target) => {
        const fresh: ProbeSample[] = []
        for (let i = 0; i < this.requestsPerTick; i++) fresh.push(await probeOnce(target, this.timeoutMs))
        await this.window.add(target, fresh)
        const now = Date.now()
        const samples = await this.window.get(target, now)
        if (!samples.length) return undefined
        const shown = publicUrl(target)
        const resource: ResourceRef = { kind: 'endpoint', id: shown, name: shown }
        const errors = samples.filter((s) => !s.ok)
        const last = fresh[fresh.length - 1]
        const reading: Reading = {
          series: readingSeries('latency_ms', resource),
          metric: 'latency_ms',
          value: percentile(
            samples.map((s) => s.ms),
            this.pct,
          ),
          unit: 'ms',
          resource,
          labels: {
            target: shown,
            percentile: `p${this.pct}`,
            samples: String(samples.length),
            errors: String(errors.length),
            ...(last?.error ? { last_error: last.error } : {}),
          },
          source: 'probe',
          query: `probe:GET ${shown} p${this.pct} over ${samples.length} samples`,
          at: new Date(now).toISOString(),
        }
        return reading
      }),
    )
    return readings.filter((r): r is Reading => !!r)
  }
}
