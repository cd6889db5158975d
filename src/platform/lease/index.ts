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
 *
 * A lease runs out only LEADER_LEASE_SECONDS after its holder's last renewal, which is how long a
 * duty would stay unled after its leader's process dies. Each process therefore also keeps a
 * presence connection named after its holder; a controller that finds a duty's holder without one
 * (CLIENT LIST, twice a second apart) takes the duty over at once. Redis drops a dead process's
 * connections as soon as its kernel closes them; a host that vanishes from the network leaves them
 * open, and then the lease's expiry is what hands the duty over.
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

/**
 * Takes over a lease from a holder whose process is gone (./index.ts, `Leadership.presence`): only
 * while the lease still holds exactly that holder and token, with a new token.
 */
const TAKE_OVER = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  local t = redis.call('INCR', KEYS[2])
  redis.call('SET', KEYS[1], ARGV[2] .. '|' .. t, 'PX', ARGV[3])
  return t
end
return 0
`

/** The name of the connection that says a lease holder's process is alive (CLIENT SETNAME). */
export const presenceName = (holder: string) => `sentinel-lease-holder:${holder}`

/** The holders named by CLIENT LIST's `name=` fields. */
export function presentHolders(clientList: string): Set<string> {
  const prefix = presenceName('')
  const out = new Set<string>()
  for (const m of clientList.matchAll(/(?:^| )name=(\S+)/gm))
    if (m[1].startsWith(prefix)) out.add(m[1].slice(prefix.length))
  return out
}

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
  /**
   * Process presence: this process keeps one more connection, named after its holder, and a
   * controller that finds a duty held by a holder with no such connection in CLIENT LIST on two
   * looks a second apart takes it over at once instead of waiting out the lease. A process that
   * dies (crash, SIGKILL, OOM kill) has its sockets closed by the kernel, so Redis drops its
   * connections at once; a paused or partitioned one keeps them open and is replaced by the lease
   * running out, as before. Safe either way: every action checks its fencing token. Default true.
   */
  presence?: boolean
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
  private readonly inFlight = new Set<string>()
  private readonly now: () => number
  private presenceConnection?: Redis
  /** Holders seen without a presence connection: when first seen so (a takeover needs two looks). */
  private readonly absentSince = new Map<string, number>()
  private vacancies?: NodeJS.Timeout

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
    if (this.opts.presence !== false) {
      this.presenceConnection = this.opts.redis.duplicate({ connectionName: presenceName(this.holder) })
      this.presenceConnection.on('error', () => {})
      // Leases are taken only once it is up (tickDuty): take them as soon as it is.
      this.presenceConnection.on('ready', () => void this.tick())
    }
    const every = Math.max(100, Math.floor(this.opts.leaseMs / 3))
    void this.tick()
    this.timer = setInterval(() => void this.tick(), every)
    this.timer.unref()
    // Duties led elsewhere are looked at every second: a free lease, or one whose holder's process
    // is gone, is taken within about a second instead of at the next renewal tick.
    this.vacancies = setInterval(() => void this.tick(true), Math.min(1000, every))
    this.vacancies.unref()
    // Checked more often than renewals: a term whose renewals stopped ends within a quarter second.
    this.watchdog = setInterval(() => this.expireTerms(), 250)
    this.watchdog.unref()
  }

  /** Stops every duty led here and gives their leases up, so another controller takes them at once. */
  async stop(): Promise<void> {
    this.running = false
    clearInterval(this.timer)
    clearInterval(this.watchdog)
    clearInterval(this.vacancies)
    for (const [duty, term] of [...this.terms]) {
      await this.demote(duty, 'stopping')
      await this.opts.redis.eval(RELEASE, 1, leaseKey(duty), `${this.holder}|${term.token}`).catch(() => {})
    }
    this.presenceConnection?.disconnect()
    this.presenceConnection = undefined
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

  /** Renews the leases held here and tries the others; `vacantOnly`: only the others. */
  private async tick(vacantOnly = false): Promise<void> {
    if (!this.running) return
    // CLIENT LIST at most once per tick, and only when a duty is held by another controller.
    let present: Promise<Set<string> | null> | undefined
    const presentNow = () =>
      (present ??= this.opts.redis
        .call('CLIENT', 'LIST', 'TYPE', 'normal')
        .then((list) => presentHolders(String(list)))
        .catch(() => null))
    for (const duty of this.duties.keys()) {
      // One request per duty at a time (a renewal is never held up by another duty's look, and a
      // duty is never taken twice by two overlapping looks).
      if ((vacantOnly && this.terms.has(duty)) || this.inFlight.has(duty)) continue
      this.inFlight.add(duty)
      try {
        await this.tickDuty(duty, presentNow)
      } finally {
        this.inFlight.delete(duty)
      }
    }
  }

  private async tickDuty(duty: string, presentNow: () => Promise<Set<string> | null>): Promise<void> {
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
      // Not before this process's own presence shows: another controller would take the lease back.
      if (this.presenceConnection && this.presenceConnection.status !== 'ready') return
      let token = Number(
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
      if (!token && this.presenceConnection) token = await this.takeOverFromGone(duty, presentNow)
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

  /**
   * The duty's holder has no presence connection on two looks at least a second apart: its process
   * is gone, so the lease is taken over now (0 when not). Two looks, because a live holder's
   * connection is briefly absent while it reconnects (after a Redis failover, say).
   */
  private async takeOverFromGone(duty: string, presentNow: () => Promise<Set<string> | null>): Promise<number> {
    const { holder } = await leaseOf(this.opts.redis, duty)
    if (!holder) return 0
    const present = await presentNow()
    if (!present || present.has(holder.holder)) {
      this.absentSince.delete(holder.holder)
      return 0
    }
    const since = this.absentSince.get(holder.holder)
    if (since === undefined) {
      if (this.absentSince.size > 100) this.absentSince.clear()
      this.absentSince.set(holder.holder, this.now())
      return 0
    }
    if (this.now() - since < 900) return 0
    this.absentSince.delete(holder.holder)
    const token = Number(
      await this.opts.redis.eval(
        TAKE_OVER,
        2,
        leaseKey(duty),
        tokenKey(duty),
        `${holder.holder}|${holder.token}`,
        this.holder,
        String(this.opts.leaseMs),
      ),
    )
    if (token)
      this.opts.log('warn', 'took over a duty from a controller whose process is gone', { duty, from: holder.holder })
    return token
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
