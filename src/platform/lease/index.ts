/**
 * Leadership of the duties that must run once while several Sentinel controllers share one Redis
 * (the quarantine purge, the chaos engine, the node agents' heartbeat checker and event streams, the
 * handling of an engine's events): one leader per duty, through a lease in Redis, with a fencing
 * token. The cron steps (the monitor tick, approval expiry) run once per schedule another way:
 * ./cron-slot.ts.
 *
 * A lease is a key `sentinel:lease:<duty>` holding `<holder>|<token>` with a TTL
 * (LEADER_LEASE_SECONDS), renewed by its holder every third of it. Taking a free lease increments
 * `sentinel:lease:<duty>:token`, so every new holder gets a larger token than all before it.
 *
 * Why a token as well as a TTL: a controller paused past its lease (a long GC, SIGSTOP, a network
 * partition) wakes up believing it still leads. Two guards stop it acting:
 * - locally, leadership ends when the last successful renewal is older than the lease minus a
 *   margin, whether or not Redis answers (a holder that cannot renew stops at once: its duty is
 *   stopped and `isLeading` turns false before anyone else can take the lease);
 * - at the point of action (`fence`), the token the action was decided under is compared with the
 *   duty's newest token in Redis: an older one is refused.
 */
import { randomBytes } from 'node:crypto'
import type { Redis } from 'ioredis'

export const LEASE_PREFIX = 'sentinel:lease:'

export const leaseKey = (duty: string) => `${LEASE_PREFIX}${duty}`
export const tokenKey = (duty: string) => `${LEASE_PREFIX}${duty}:token`

/** The handling of one Docker engine's events (this host's: its node name). */
export const engineDuty = (node: string) => `engine:${node}`

/**
 * Free: take it with a new token. Ours: extend it. Held by this controller's previous process (the
 * same id, another nonce: a controller killed and started again on the same host and port, which two
 * live ones cannot share): taken over at once with a new token, rather than waiting out the lease.
 * Another's: 0. Returns the token held.
 */
const ACQUIRE = `
local cur = redis.call('GET', KEYS[1])
if cur then
  local sep = string.find(cur, '|', 1, true)
  local holder = sep and string.sub(cur, 1, sep - 1) or ''
  if holder == ARGV[1] then
    redis.call('PEXPIRE', KEYS[1], ARGV[2])
    return tonumber(string.sub(cur, sep + 1))
  end
  if string.sub(holder, 1, string.len(ARGV[3]) + 1) ~= ARGV[3] .. '#' then
    return 0
  end
end
local t = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], ARGV[1] .. '|' .. t, 'PX', ARGV[2])
return t
`

/** Extends the lease only while it is still this holder's with this token. */
const RENEW = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
`

/** Gives the lease up only if it is still this holder's with this token. */
const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
`

export interface LeaseHolder {
  holder: string
  token: number
}

/** Who holds a duty's lease now, and its newest token (0: never taken). */
export async function leaseOf(redis: Redis, duty: string): Promise<{ holder: LeaseHolder | null; newest: number }> {
  const [cur, newest] = await redis.mget(leaseKey(duty), tokenKey(duty))
  const sep = cur ? cur.lastIndexOf('|') : -1
  const holder = cur && sep > 0 ? { holder: cur.slice(0, sep), token: Number(cur.slice(sep + 1)) } : null
  return { holder, newest: Number(newest ?? 0) }
}

/** A duty this controller may lead: started when it becomes the leader, stopped when it stops being it. */
export interface Duty {
  name: string
  /** Begins the work; `token` is the fencing token of this term. */
  start(token: number): void | Promise<void>
  /** Ends the work at once (the lease is lost or given up). */
  stop(): void | Promise<void>
}

export interface LeadershipOptions {
  redis: Redis
  /** This controller: its id (in /api/cluster). A random suffix makes each process's holder unique. */
  controllerId: string
  leaseMs: number
  log: (level: 'info' | 'warn' | 'error', msg: string, data?: Record<string, unknown>) => void
  /** Told of every change (metrics, the cluster registry). */
  onChange?: (duty: string, leading: boolean, token: number, why?: string) => void
  now?: () => number
}

interface Term {
  token: number
  /** Leadership ends locally at this time unless a renewal succeeds first. */
  until: number
}

/** Fenced: the term the action was decided in is over. */
export class FencedError extends Error {
  constructor(
    readonly duty: string,
    readonly token: number,
    readonly newest: number | null,
  ) {
    super(
      newest !== null && newest > token
        ? `the ${duty} duty has a newer leader (token ${newest} > ${token}): this controller's term is over`
        : `this controller no longer leads the ${duty} duty (token ${token}): its lease was not renewed in time`,
    )
    this.name = 'FencedError'
  }
}

export class Leadership {
  /** The holder written into leases: the controller id and this process's nonce. */
  readonly holder: string
  private readonly duties = new Map<string, Duty>()
  private readonly terms = new Map<string, Term>()
  private timer?: NodeJS.Timeout
  private watchdog?: NodeJS.Timeout
  private running = false
  private ticking = false
  private readonly now: () => number

  constructor(private readonly opts: LeadershipOptions) {
    if (/[|#]/.test(opts.controllerId)) throw new Error('a controller id may not contain "|" or "#"')
    this.holder = `${opts.controllerId}#${randomBytes(4).toString('hex')}`
    this.now = opts.now ?? Date.now
  }

  add(duty: Duty): void {
    if (this.duties.has(duty.name)) throw new Error(`duty ${duty.name} is already registered`)
    this.duties.set(duty.name, duty)
  }

  start(): void {
    if (this.running) return
    this.running = true
    const every = Math.max(100, Math.floor(this.opts.leaseMs / 3))
    void this.tick()
    this.timer = setInterval(() => void this.tick(), every)
    this.timer.unref()
    // Checked more often than renewals: a term whose renewals stopped ends within a quarter second.
    this.watchdog = setInterval(() => this.expireTerms(), 250)
    this.watchdog.unref()
  }

  /** Stops every duty led here and gives their leases up, so another controller takes them at once. */
  async stop(): Promise<void> {
    this.running = false
    clearInterval(this.timer)
    clearInterval(this.watchdog)
    for (const [duty, term] of [...this.terms]) {
      await this.demote(duty, 'stopping')
      await this.opts.redis.eval(RELEASE, 1, leaseKey(duty), `${this.holder}|${term.token}`).catch(() => {})
    }
  }

  isLeading(duty: string): boolean {
    const t = this.terms.get(duty)
    return !!t && this.now() < t.until
  }

  /** The duties led here now, with their tokens. */
  leading(): Record<string, number> {
    const out: Record<string, number> = {}
    for (const [duty, t] of this.terms) if (this.now() < t.until) out[duty] = t.token
    return out
  }

  /**
   * The guard an action of `duty` carries from the moment it was decided: `check()` throws
   * FencedError when that term is over here (lease not renewed) or a newer leader has a token.
   * Null when the duty is not led here now.
   */
  fence(duty: string): { duty: string; token: number; check(): Promise<void> } | null {
    const term = this.terms.get(duty)
    if (!term || this.now() >= term.until) return null
    const token = term.token
    return {
      duty,
      token,
      check: async () => {
        if (!this.isLeading(duty) || this.terms.get(duty)?.token !== token) throw new FencedError(duty, token, null)
        const newest = Number((await this.opts.redis.get(tokenKey(duty))) ?? 0)
        if (newest > token) throw new FencedError(duty, token, newest)
        // The read may have waited on Redis past the term's end.
        if (!this.isLeading(duty)) throw new FencedError(duty, token, null)
      },
    }
  }

  private async tick(): Promise<void> {
    if (!this.running || this.ticking) return
    this.ticking = true
    try {
      for (const duty of this.duties.keys()) await this.tickDuty(duty)
    } finally {
      this.ticking = false
    }
  }

  private async tickDuty(duty: string): Promise<void> {
    const { redis, leaseMs } = this.opts
    // A term lasts from the moment the request was sent: Redis may have set the TTL any time after.
    const sentAt = this.now()
    const margin = Math.max(50, Math.floor(leaseMs / 10))
    const term = this.terms.get(duty)
    try {
      if (term) {
        const ok = (await redis.eval(RENEW, 1, leaseKey(duty), `${this.holder}|${term.token}`, String(leaseMs))) === 1
        if (!ok) return void (await this.demote(duty, 'lost'))
        if (this.terms.get(duty) === term) term.until = sentAt + leaseMs - margin
        return
      }
      const token = Number(
        await redis.eval(
          ACQUIRE,
          2,
          leaseKey(duty),
          tokenKey(duty),
          this.holder,
          String(leaseMs),
          this.opts.controllerId,
        ),
      )
      if (!token || !this.running) return
      this.terms.set(duty, { token, until: sentAt + leaseMs - margin })
      this.opts.log('info', 'leading a duty', { duty, token })
      this.opts.onChange?.(duty, true, token)
      try {
        await this.duties.get(duty)!.start(token)
      } catch (err) {
        this.opts.log('error', 'a duty failed to start; giving it up', { duty, error: (err as Error).message })
        await this.demote(duty, 'failed to start')
        await redis.eval(RELEASE, 1, leaseKey(duty), `${this.holder}|${token}`).catch(() => {})
      }
    } catch (err) {
      // Redis away: the watchdog ends the term when it runs out.
      this.opts.log('warn', 'lease renewal failed', { duty, error: (err as Error).message })
    }
  }

  private expireTerms(): void {
    for (const [duty, term] of this.terms)
      if (this.now() >= term.until) void this.demote(duty, 'not renewed in time').catch(() => {})
  }

  private async demote(duty: string, why: string): Promise<void> {
    const term = this.terms.get(duty)
    if (!term) return
    this.terms.delete(duty)
    this.opts.log(why === 'stopping' ? 'info' : 'warn', 'no longer leading a duty', { duty, token: term.token, why })
    this.opts.onChange?.(duty, false, term.token, why)
    try {
      await this.duties.get(duty)?.stop()
    } catch (err) {
      this.opts.log('error', 'a duty did not stop cleanly', { duty, error: (err as Error).message })
    }
  }
}
