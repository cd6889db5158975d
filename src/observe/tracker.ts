/**
 * The alert state machine, in Redis so that it survives restarts and every process shares it.
 * Per fingerprint: ok → pending (breaching, waiting `forMs`) → firing ("open") → ok again after
 * `holdDownMs` of clear observations ("resolve"). Every open and resolve is a transition; an open
 * that makes `flapThreshold` transitions within `flapWindowMs` is reported as flapping instead of
 * as an opening, so the same problem is not remediated again and again.
 *
 * Each observation is one Lua script run on the fingerprint's hash: atomic, so concurrent
 * evaluators (several step processes, a retried tick) open each alert exactly once.
 */
import type { Redis, Result } from 'ioredis'
import type { Alert, AlertType } from '../platform/store/model'

export interface AlertTrackerOptions {
  /** Breaching this long before it opens; default 60 s (0: opens on the first breach). */
  forMs?: number
  /** `forMs` for alerts of these types instead (anomalies have their own `for`). */
  forMsByType?: Partial<Record<AlertType, number>>
  /** Clear this long before it resolves; default 120 s (0: resolves on the first clear). */
  holdDownMs?: number
  /** Window in which transitions are counted; default 20 minutes. */
  flapWindowMs?: number
  /** Transitions (opens + resolves) within the window that make an opening "flapping"; default 3. */
  flapThreshold?: number
  /** A pending or firing alert with no observation for this long is taken as clear; default 10 minutes. */
  staleAfterMs?: number
  /** Default `sentinel:alerts:`. */
  prefix?: string
}

export type AlertState = 'ok' | 'pending' | 'firing'

export interface TrackedAlert {
  fingerprint: string
  state: AlertState
  flapping: boolean
  /** Transitions within the flap window. */
  transitions: number
  pendingSince?: string
  openedAt?: string
  clearSince?: string
  lastObservedAt?: string
  alert?: Alert
}

export interface Evaluation {
  /** Opened by this evaluation (pending → firing), not flapping. */
  toOpen: Alert[]
  /** Resolved by this evaluation (firing → ok after the hold-down). */
  toResolve: Alert[]
  /** Opened by this evaluation but flapping: report, do not remediate again. */
  flapping: Alert[]
  /** Breaching but still waiting out `forMs`. */
  pending: Alert[]
}

export interface EvaluateInput {
  /** Alerts breaching now. */
  breaching?: Alert[]
  /** Fingerprints that were evaluated and are within their threshold now. */
  clear?: string[]
  /** Unix ms of the observation; default now. */
  now?: number
  /** Also sweep pending/firing alerts not observed for `staleAfterMs` (as clear); default true. */
  sweepStale?: boolean
}

// KEYS[1] state hash, KEYS[2] active set.
// ARGV: kind, now, forMs, holdMs, flapWindowMs, flapThreshold, fingerprint, alertJson, okTtlMs
// Returns {action, state, flapping(0/1), transitions}
const OBSERVE_LUA = `
local k = KEYS[1]
local kind = ARGV[1]
local now = tonumber(ARGV[2])
local forMs = tonumber(ARGV[3])
local holdMs = tonumber(ARGV[4])
local flapWin = tonumber(ARGV[5])
local flapN = tonumber(ARGV[6])
local fp = ARGV[7]
local okTtl = tonumber(ARGV[9])
local st = redis.call('HGET', k, 'state')

local function countTransitions(add)
  local raw = redis.call('HGET', k, 'transitions')
  local kept = {}
  if raw then
    for _, t in ipairs(cjson.decode(raw)) do
      if now - t < flapWin then table.insert(kept, t) end
    end
  end
  if add then table.insert(kept, now) end
  if #kept == 0 then redis.call('HSET', k, 'transitions', '[]') else redis.call('HSET', k, 'transitions', cjson.encode(kept)) end
  return #kept
end

local function flapFlag() return tonumber(redis.call('HGET', k, 'flapping') or '0') end

if kind == 'breach' then
  redis.call('PERSIST', k)
  redis.call('HSET', k, 'lastObs', now, 'alert', ARGV[8])
  if st == 'firing' then
    redis.call('HDEL', k, 'clearSince')
    return {'none', 'firing', flapFlag(), countTransitions(false)}
  end
  local since
  if st == 'pending' then
    since = tonumber(redis.call('HGET', k, 'pendingSince'))
    if since == nil or now < since then
      -- An observation older than the first one seen (clocks or retries out of order) starts it.
      since = math.min(since or now, now)
      redis.call('HSET', k, 'pendingSince', since)
    end
  else
    since = now
    redis.call('HSET', k, 'state', 'pending', 'pendingSince', now)
    redis.call('SADD', KEYS[2], fp)
  end
  if now - since >= forMs then
    redis.call('HSET', k, 'state', 'firing', 'openedAt', now)
    redis.call('HDEL', k, 'pendingSince', 'clearSince')
    local n = countTransitions(true)
    local flapping = 0
    if n >= flapN then flapping = 1 end
    redis.call('HSET', k, 'flapping', flapping)
    if flapping == 1 then return {'flapping', 'firing', 1, n} end
    return {'open', 'firing', 0, n}
  end
  return {'pending', 'pending', flapFlag(), countTransitions(false)}
end

-- kind == 'clear'
if not st or st == 'ok' then return {'none', 'ok', 0, 0} end
redis.call('HSET', k, 'lastObs', now)
if st == 'pending' then
  redis.call('HSET', k, 'state', 'ok')
  redis.call('HDEL', k, 'pendingSince')
  redis.call('SREM', KEYS[2], fp)
  redis.call('PEXPIRE', k, okTtl)
  return {'none', 'ok', flapFlag(), countTransitions(false)}
end
local cs = tonumber(redis.call('HGET', k, 'clearSince'))
if cs == nil then
  cs = now
  redis.call('HSET', k, 'clearSince', now)
end
if now - cs >= holdMs then
  redis.call('HSET', k, 'state', 'ok')
  redis.call('HDEL', k, 'clearSince', 'openedAt')
  redis.call('SREM', KEYS[2], fp)
  local n = countTransitions(true)
  redis.call('PEXPIRE', k, okTtl)
  return {'resolve', 'ok', flapFlag(), n}
end
return {'none', 'firing', flapFlag(), countTransitions(false)}
`

type ScriptReply = [string, AlertState, number, number]

declare module 'ioredis' {
  interface RedisCommander<Context> {
    sentinelAlertObserve(
      stateKey: string,
      activeKey: string,
      ...args: (string | number)[]
    ): Result<ScriptReply, Context>
  }
}

const iso = (v: string | undefined) => (v ? new Date(Number(v)).toISOString() : undefined)

export class AlertTracker {
  readonly forMs: number
  readonly forMsByType: Partial<Record<AlertType, number>>
  readonly holdDownMs: number
  readonly flapWindowMs: number
  readonly flapThreshold: number
  readonly staleAfterMs: number
  private readonly prefix: string

  constructor(
    private readonly redis: Redis,
    opts: AlertTrackerOptions = {},
  ) {
    this.forMs = opts.forMs ?? 60_000
    this.forMsByType = { ...(opts.forMsByType ?? {}) }
    this.holdDownMs = opts.holdDownMs ?? 120_000
    this.flapWindowMs = opts.flapWindowMs ?? 20 * 60_000
    this.flapThreshold = opts.flapThreshold ?? 3
    this.staleAfterMs = opts.staleAfterMs ?? 10 * 60_000
    this.prefix = opts.prefix ?? 'sentinel:alerts:'
    const byType = Object.fromEntries(Object.entries(this.forMsByType).map(([t, v]) => [`forMsByType.${t}`, v]))
    for (const [name, v] of Object.entries({
      forMs: this.forMs,
      ...byType,
      holdDownMs: this.holdDownMs,
      flapWindowMs: this.flapWindowMs,
      staleAfterMs: this.staleAfterMs,
    })) {
      if (!Number.isFinite(v) || v < 0) throw new Error(`AlertTracker: ${name} must be >= 0, got ${v}`)
    }
    if (!Number.isInteger(this.flapThreshold) || this.flapThreshold < 2)
      throw new Error(`AlertTracker: flapThreshold must be a whole number >= 2, got ${this.flapThreshold}`)
    if (!(redis as unknown as { sentinelAlertObserve?: unknown }).sentinelAlertObserve) {
      redis.defineCommand('sentinelAlertObserve', { numberOfKeys: 2, lua: OBSERVE_LUA })
    }
  }

  private stateKey(fp: string) {
    return `${this.prefix}state:${fp}`
  }
  private get activeKey() {
    return `${this.prefix}active`
  }
  // An ok alert keeps its transitions for flap detection, then disappears.
  private get okTtlMs() {
    return Math.max(this.flapWindowMs, this.holdDownMs, 1000)
  }

  private args(
    kind: 'breach' | 'clear',
    now: number,
    fp: string,
    alertJson: string,
    type?: AlertType,
  ): (string | number)[] {
    return [
      kind,
      now,
      (type && this.forMsByType[type]) ?? this.forMs,
      this.holdDownMs,
      this.flapWindowMs,
      this.flapThreshold,
      fp,
      alertJson,
      this.okTtlMs,
    ]
  }

  /**
   * Applies one round of observations and returns what changed. Breaching alerts with the same
   * fingerprint in one call are applied in order; the last one is kept as the alert's data.
   */
  async evaluate(input: EvaluateInput): Promise<Evaluation> {
    const now = input.now ?? Date.now()
    const breaching = input.breaching ?? []
    const clear = [...new Set(input.clear ?? [])]
    const observed = new Set<string>([...breaching.map((a) => a.fingerprint), ...clear])
    let stale: string[] = []
    if (input.sweepStale !== false) stale = (await this.staleFingerprints(now)).filter((fp) => !observed.has(fp))

    const pipe = this.redis.pipeline()
    for (const a of breaching)
      pipe.sentinelAlertObserve(
        this.stateKey(a.fingerprint),
        this.activeKey,
        ...this.args('breach', now, a.fingerprint, JSON.stringify(a), a.type),
      )
    for (const fp of [...clear, ...stale])
      pipe.sentinelAlertObserve(this.stateKey(fp), this.activeKey, ...this.args('clear', now, fp, ''))
    const replies = (await pipe.exec()) ?? []

    const out: Evaluation = { toOpen: [], toResolve: [], flapping: [], pending: [] }
    const resolved: string[] = []
    replies.forEach(([err, reply], i) => {
      if (err) throw err
      const [action, , flapping, transitions] = reply as ScriptReply
      if (i < breaching.length) {
        const alert = breaching[i]
        const withState = (state: AlertState): Alert => ({
          ...alert,
          details: { ...(alert.details ?? {}), state, flapping: flapping === 1, transitions },
        })
        if (action === 'open') out.toOpen.push(withState('firing'))
        else if (action === 'flapping') out.flapping.push(withState('firing'))
        else if (action === 'pending') out.pending.push(withState('pending'))
      } else if (action === 'resolve') {
        resolved.push([...clear, ...stale][i - breaching.length])
      }
    })
    if (resolved.length) {
      // The resolved alert is the last breaching one seen, as the state kept it.
      const alerts = await Promise.all(resolved.map((fp) => this.redis.hget(this.stateKey(fp), 'alert')))
      resolved.forEach((fp, i) => {
        const raw = alerts[i]
        const base: Alert | undefined = raw ? (JSON.parse(raw) as Alert) : undefined
        if (!base) return
        out.toResolve.push({
          ...base,
          at: new Date(now).toISOString(),
          details: {
            ...(base.details ?? {}),
            state: 'ok',
            resolvedAt: new Date(now).toISOString(),
            stale: stale.includes(fp),
          },
        })
      })
    }
    return out
  }

  /** Pending or firing fingerprints whose last observation is older than staleAfterMs. */
  private async staleFingerprints(now: number): Promise<string[]> {
    const active = await this.redis.smembers(this.activeKey)
    if (!active.length) return []
    const pipe = this.redis.pipeline()
    for (const fp of active) pipe.hget(this.stateKey(fp), 'lastObs')
    const res = (await pipe.exec()) ?? []
    return active.filter((fp, i) => {
      const v = res[i]?.[1] as string | null
      return v === null || now - Number(v) > this.staleAfterMs
    })
  }

  /** The state of each fingerprint (ok when unknown). */
  async states(fingerprints: string[]): Promise<Map<string, TrackedAlert>> {
    const out = new Map<string, TrackedAlert>()
    if (!fingerprints.length) return out
    const pipe = this.redis.pipeline()
    for (const fp of fingerprints) pipe.hgetall(this.stateKey(fp))
    const res = (await pipe.exec()) ?? []
    fingerprints.forEach((fp, i) => {
      const h = (res[i]?.[1] ?? {}) as Record<string, string>
      out.set(fp, toTracked(fp, h, this.flapWindowMs))
    })
    return out
  }

  /** Every pending or firing alert. */
  async active(): Promise<TrackedAlert[]> {
    const fps = await this.redis.smembers(this.activeKey)
    return [...(await this.states(fps.sort())).values()].filter((t) => t.state !== 'ok')
  }

  /** Forgets a fingerprint entirely (tests, manual reset). */
  async forget(fingerprint: string): Promise<void> {
    await this.redis.multi().del(this.stateKey(fingerprint)).srem(this.activeKey, fingerprint).exec()
  }
}

function toTracked(fp: string, h: Record<string, string>, flapWindowMs: number): TrackedAlert {
  const state = (h.state as AlertState | undefined) ?? 'ok'
  const now = Date.now()
  let transitions = 0
  try {
    transitions = (JSON.parse(h.transitions ?? '[]') as number[]).filter((t) => now - t < flapWindowMs).length
  } catch {}
  return {
    fingerprint: fp,
    state,
    flapping: h.flapping === '1' && state !== 'ok',
    transitions,
    pendingSince: iso(h.pendingSince),
    openedAt: iso(h.openedAt),
    clearSince: iso(h.clearSince),
    lastObservedAt: iso(h.lastObs),
    alert: h.alert ? (JSON.parse(h.alert) as Alert) : undefined,
  }
}
