/**
 * Silences, as Alertmanager users know them: label matchers (./matchers.ts) and a time window in
 * which the incidents they match do not page. A silenced incident still opens and is still fixed;
 * only its notifications are held back (the notifier asks `mutedBy` before each one).
 *
 * Kept in one Redis hash (id → JSON), so every process sees the same silences. `status` is never
 * stored: it is computed from the window at the time of asking (pending before `startsAt`, active
 * until `endsAt`, expired after). Expiring one sets its `endsAt` to now; expired silences are shown
 * for a day and deleted after a week.
 *
 * The rules, Alertmanager's where they exist: at least one matcher, and at least one that cannot
 * match everything (not one that matches an empty value, such as `node!="x"` or `type=~".*"`, nor
 * a regular expression that matches any value, such as `type=~".+"`); `endsAt` in the future and at
 * most 30 days ahead; `startsAt` before `endsAt` (a `startsAt` in the past counts as now).
 */
import { randomBytes } from 'node:crypto'
import type { Redis } from 'ioredis'
import { z } from 'zod'
import type { Role } from '../platform/auth/roles'
import { HttpError, notFound } from '../platform/http/errors'
import type { AuditLog } from '../platform/store/audit'
import { matches, matcherSchema, type Matcher } from './matchers'

export const SILENCES_KEY = 'sentinel:notify:silences'
/** The longest a silence may last from now. */
export const MAX_SILENCE_MS = 30 * 86_400_000
/** Expired silences are listed for this long after they end... */
export const EXPIRED_LISTED_MS = 24 * 3_600_000
/** ...and deleted after this long. */
export const EXPIRED_KEPT_MS = 7 * 86_400_000
/** Silences not yet expired, at most: each notification is checked against all of them. */
export const MAX_LIVE_SILENCES = 1000
export const MAX_MATCHERS = 32
/** How long mutedBy trusts its copy of the silences (every process reads them again after this). */
export const SILENCE_CACHE_MS = 1000

export type SilenceStatus = 'pending' | 'active' | 'expired'

export interface Silence {
  id: string
  matchers: Matcher[]
  startsAt: string
  endsAt: string
  createdBy: string
  comment: string
  createdAt: string
  /** Who ended it early (DELETE /api/silences/:id), when someone did. */
  expiredBy?: string
  status: SilenceStatus
}

type StoredSilence = Omit<Silence, 'status'>

export interface NewSilence {
  matchers: Matcher[]
  startsAt?: string | Date
  endsAt: string | Date
  createdBy: string
  comment: string
}

/** A field and what is wrong with it, as the API's 400 names them. */
export interface FieldProblem {
  field: string
  reason: string
}

const ID = /^sil_[a-z0-9_]+$/
export const silenceIdPath = z.object({
  id: z.string().regex(ID, 'a silence id such as sil_lx2k3_ab12cd34ef'),
})

/** A matcher as Alertmanager writes it: `name="v"`, `name!="v"`, `name=~"re"`, `name!~"re"`. */
export const matcherText = (m: Matcher): string =>
  `${m.name}${m.isRegex ? (m.isEqual ? '=~' : '!~') : m.isEqual ? '=' : '!='}${JSON.stringify(m.value)}`

// ---- rules -------------------------------------------------------------------------------------

/**
 * Values of every kind a label holds: a regex that takes all of them takes anything. Short, so a
 * pathological regex (`(x+)+y`) cannot stall the process here.
 */
const PROBES = ['x', 'db-1', 'critical', 'Z9', '0', '-', ' ', 'a.b/c:d', 'é', 'true', 'web_1.svc']

/** True when the matcher holds for an empty (or missing) label. */
const matchesEmpty = (m: Matcher) => matches([m], {})

/** True when the matcher is a regular expression that takes any value (`.*`, `.+`, `(?:.|\n)*`). */
function matchesAnyValue(m: Matcher): boolean {
  if (!m.isRegex || !m.isEqual) return false
  return PROBES.every((v) => matches([m], { [m.name]: v }))
}

/**
 * Why the matchers cannot make a silence, or null when they can: at least one is needed, and at
 * least one that neither holds for a missing label nor matches any value (a silence of only those
 * would mute nearly every page).
 */
export function matchersProblem(ms: readonly Matcher[]): string | null {
  if (ms.length === 0) return 'at least one matcher is needed'
  if (ms.length > MAX_MATCHERS) return `at most ${MAX_MATCHERS} matchers`
  if (!ms.some((m) => !matchesEmpty(m) && !matchesAnyValue(m)))
    return 'at least one matcher must narrow the silence: one that matches an empty label (name!="x", name=~".*", name="") or any value (name=~".+") would silence nearly everything'
  return null
}

/**
 * Problems with a silence's window, the fields named as given (`endsAt`, or `duration` when the
 * end was computed from one). `startMs` is the start as given (before clamping to now).
 */
export function windowProblems(
  w: { startMs?: number; endMs: number; now: number },
  names: { start: string; end: string } = { start: 'startsAt', end: 'endsAt' },
): FieldProblem[] {
  const out: FieldProblem[] = []
  if (!Number.isFinite(w.endMs)) return [{ field: names.end, reason: 'not a time' }]
  if (w.startMs !== undefined && !Number.isFinite(w.startMs)) return [{ field: names.start, reason: 'not a time' }]
  if (w.endMs <= w.now) out.push({ field: names.end, reason: 'must be in the future' })
  else if (w.endMs - w.now > MAX_SILENCE_MS) out.push({ field: names.end, reason: 'must be at most 30 days ahead' })
  if (w.startMs !== undefined && w.startMs >= w.endMs)
    out.push({ field: names.start, reason: 'must be before the end' })
  return out
}

function invalid(problems: FieldProblem[], prefix = ''): HttpError {
  const fields = problems.map((p) => ({ field: `${prefix}${p.field}`, reason: p.reason }))
  return new HttpError(400, 'invalid_request', fields.map((f) => `${f.field}: ${f.reason}`).join('; '), { fields })
}

const DURATION = /^(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/
const UNIT_MS = [7 * 86_400_000, 86_400_000, 3_600_000, 60_000, 1000]

/** "2h", "30m", "1h30m", "7d", "1w" → milliseconds; null when it is not a duration. */
export function parseDuration(text: string): number | null {
  const m = DURATION.exec(text.trim())
  if (!m || !text.trim()) return null
  const ms = m.slice(1).reduce((sum, n, i) => sum + (n ? Number(n) * UNIT_MS[i] : 0), 0)
  return ms > 0 && Number.isSafeInteger(ms) ? ms : null
}

const statusAt = (s: StoredSilence, now: number): SilenceStatus =>
  now >= Date.parse(s.endsAt) ? 'expired' : now < Date.parse(s.startsAt) ? 'pending' : 'active'

const withStatus = (s: StoredSilence, now: number): Silence => ({ ...s, status: statusAt(s, now) })

// ---- the store ---------------------------------------------------------------------------------

interface Cached {
  at: number
  /** The silences as read, latest end first (each call checks its own time against the windows). */
  live: { s: StoredSilence; start: number; end: number }[]
  loading?: Promise<void>
}

/** mutedBy's copy of the silences, one per Redis client: every SilenceStore on it shares it. */
const caches = new WeakMap<Redis, Cached>()

/** Replaces a hash field only when it still holds what was read. */
const CAS_LUA = `
if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
return 1
`

export class SilenceStore {
  constructor(
    private readonly redis: Redis,
    private readonly opts: { now?: () => number; cacheMs?: number } = {},
  ) {}

  private now(): number {
    return this.opts.now?.() ?? Date.now()
  }

  /** Every stored silence, deleting those that ended more than a week ago. */
  private async all(now: number): Promise<StoredSilence[]> {
    const raw = await this.redis.hgetall(SILENCES_KEY)
    const kept: StoredSilence[] = []
    const stale: string[] = []
    for (const [id, text] of Object.entries(raw)) {
      let s: StoredSilence
      try {
        s = JSON.parse(text) as StoredSilence
      } catch {
        stale.push(id)
        continue
      }
      if (now - Date.parse(s.endsAt) > EXPIRED_KEPT_MS) stale.push(id)
      else kept.push(s)
    }
    if (stale.length) await this.redis.hdel(SILENCES_KEY, ...stale)
    return kept
  }

  /** Creates a silence; a 400 naming the field when the matchers or the window cannot make one. */
  async create(input: NewSilence, opts: { fieldPrefix?: string } = {}): Promise<Silence> {
    const now = this.now()
    const prefix = opts.fieldPrefix ?? ''
    const problems: FieldProblem[] = []
    const mp = matchersProblem(input.matchers ?? [])
    if (mp) problems.push({ field: 'matchers', reason: mp })
    const startGiven = input.startsAt === undefined ? undefined : new Date(input.startsAt).getTime()
    const endMs = new Date(input.endsAt).getTime()
    problems.push(...windowProblems({ startMs: startGiven, endMs, now }))
    const comment = typeof input.comment === 'string' ? input.comment.trim() : ''
    if (!comment) problems.push({ field: 'comment', reason: 'say why' })
    else if (comment.length > 500) problems.push({ field: 'comment', reason: 'at most 500 characters' })
    if (!input.createdBy) problems.push({ field: 'createdBy', reason: 'required' })
    if (problems.length) throw invalid(problems, prefix)

    const live = (await this.all(now)).filter((s) => Date.parse(s.endsAt) > now)
    if (live.length >= MAX_LIVE_SILENCES)
      throw new HttpError(
        409,
        'too_many_silences',
        `${live.length} silences are pending or active, the most there may be: expire some first`,
      )
    const silence: StoredSilence = {
      id: `sil_${now.toString(36)}_${randomBytes(5).toString('hex')}`,
      // Kept as the matcher's four fields only, whatever else the caller's objects carried.
      matchers: input.matchers.map((m) => ({ name: m.name, value: m.value, isRegex: m.isRegex, isEqual: m.isEqual })),
      // A start in the past is now (Alertmanager does the same).
      startsAt: new Date(Math.max(startGiven ?? now, now)).toISOString(),
      endsAt: new Date(endMs).toISOString(),
      createdBy: input.createdBy,
      comment,
      createdAt: new Date(now).toISOString(),
    }
    await this.redis.hset(SILENCES_KEY, silence.id, JSON.stringify(silence))
    this.invalidate()
    return withStatus(silence, now)
  }

  async get(id: string): Promise<Silence | null> {
    const raw = await this.redis.hget(SILENCES_KEY, id)
    return raw ? withStatus(JSON.parse(raw) as StoredSilence, this.now()) : null
  }

  /**
   * Active silences (the soonest to end first), then pending ones (the soonest to start first),
   * then those that ended within the last 24 hours (the latest first).
   */
  async list(): Promise<Silence[]> {
    const now = this.now()
    const all = (await this.all(now)).map((s) => withStatus(s, now))
    const order: Record<SilenceStatus, number> = { active: 0, pending: 1, expired: 2 }
    return all
      .filter((s) => s.status !== 'expired' || now - Date.parse(s.endsAt) <= EXPIRED_LISTED_MS)
      .sort(
        (a, b) =>
          order[a.status] - order[b.status] ||
          (a.status === 'active'
            ? Date.parse(a.endsAt) - Date.parse(b.endsAt)
            : a.status === 'pending'
              ? Date.parse(a.startsAt) - Date.parse(b.startsAt)
              : Date.parse(b.endsAt) - Date.parse(a.endsAt)) ||
          a.id.localeCompare(b.id),
      )
  }

  /** Ends a silence now: 404 when there is none, 409 when it has ended already. */
  async expire(id: string, by: string): Promise<Silence> {
    for (let attempt = 0; attempt < 20; attempt++) {
      const now = this.now()
      const raw = await this.redis.hget(SILENCES_KEY, id)
      if (!raw) throw notFound(`silence ${id}`)
      const s = JSON.parse(raw) as StoredSilence
      if (Date.parse(s.endsAt) <= now)
        throw new HttpError(
          409,
          'already_expired',
          `silence ${id} has ended already (at ${s.endsAt}); nothing changed`,
          {
            endsAt: s.endsAt,
            ...(s.expiredBy ? { expiredBy: s.expiredBy } : {}),
          },
        )
      const nowIso = new Date(now).toISOString()
      const next: StoredSilence = {
        ...s,
        // A pending one ends before it began: its window is empty.
        startsAt: Date.parse(s.startsAt) > now ? nowIso : s.startsAt,
        endsAt: nowIso,
        expiredBy: by,
      }
      const ok = (await this.redis.eval(CAS_LUA, 1, SILENCES_KEY, id, raw, JSON.stringify(next))) as number
      if (ok === 1) {
        this.invalidate()
        return withStatus(next, now)
      }
    }
    throw new Error(`silence ${id}: too many concurrent changes`)
  }

  /**
   * The active silence that mutes an incident with these labels (./matchers.ts incidentLabels), or
   * null. Cheap enough for every notification: it reads the silences from Redis at most once a
   * second (SILENCE_CACHE_MS) per Redis client; a change made through this client is seen at once.
   * Of several, the one that ends last.
   */
  async mutedBy(labels: Readonly<Record<string, string>>, now: number | Date = this.now()): Promise<Silence | null> {
    const t = typeof now === 'number' ? now : now.getTime()
    const cache = await this.cached()
    for (const c of cache.live) {
      if (t < c.start || t >= c.end) continue
      if (matches(c.s.matchers, labels)) return { ...c.s, status: 'active' }
    }
    return null
  }

  /** Forgets the cached silences of this Redis client: the next mutedBy reads them again. */
  invalidate(): void {
    caches.delete(this.redis)
  }

  private async cached(): Promise<Cached> {
    const ttl = this.opts.cacheMs ?? SILENCE_CACHE_MS
    let cache = caches.get(this.redis)
    // Wall-clock age, whatever `now` the caller asks about.
    if (cache && Date.now() - cache.at < ttl && !cache.loading) return cache
    if (cache?.loading) {
      await cache.loading
      return caches.get(this.redis) ?? cache
    }
    const fresh: Cached = { at: 0, live: [] }
    fresh.loading = (async () => {
      const raw = await this.redis.hgetall(SILENCES_KEY)
      const live: Cached['live'] = []
      for (const text of Object.values(raw)) {
        try {
          const s = JSON.parse(text) as StoredSilence
          live.push({ s, start: Date.parse(s.startsAt), end: Date.parse(s.endsAt) })
        } catch {
          // A damaged entry mutes nothing; all() deletes it on the next list.
        }
      }
      live.sort((a, b) => b.end - a.end)
      fresh.live = live
      fresh.at = Date.now()
    })()
    caches.set(this.redis, fresh)
    try {
      await fresh.loading
    } catch (err) {
      if (caches.get(this.redis) === fresh) caches.delete(this.redis)
      throw err
    } finally {
      fresh.loading = undefined
    }
    cache = fresh
    return cache
  }
}

// ---- the API -----------------------------------------------------------------------------------

const isoTime = z.iso.datetime({ offset: true })

/**
 * A matcher as the body gives it: text (`severity="critical"`) or Alertmanager's object, checked
 * with ./matchers.ts's matcherSchema. Kept as given (matcherOf converts it): a step's body schema
 * must be representable as JSON Schema, which a transform is not.
 */
const matcherInput = z
  .union([
    z.string().max(2048),
    z
      .object({
        name: z.string(),
        value: z.string().max(1024),
        isRegex: z.boolean().default(false),
        isEqual: z.boolean().default(true),
      })
      .strict(),
  ])
  .superRefine((v, ctx) => {
    const r = matcherSchema.safeParse(v)
    if (!r.success) for (const issue of r.error.issues) ctx.addIssue({ code: 'custom', message: issue.message })
  })

/** A body matcher (already checked by the body schema) as a Matcher. */
export const matcherOf = (v: z.output<typeof matcherInput>): Matcher => matcherSchema.parse(v)

/**
 * POST /api/silences's body. The end is `endsAt` (an ISO time) or `duration` ("2h", "30m",
 * "1h30m", "7d") from `startsAt` (or now); the window's rules are checked here, so a 400 names the
 * field, and again by the store.
 */
export const silenceBody = z
  .object({
    matchers: z
      .array(matcherInput)
      .min(1, 'at least one matcher is needed')
      .max(MAX_MATCHERS)
      .describe(
        'Alertmanager matchers, as text (`severity="critical"`, `node=~"db-.*"`) or {name, value, isRegex, isEqual}',
      ),
    endsAt: isoTime.optional().describe('when the silence ends (at most 30 days ahead); or give duration'),
    duration: z
      .string()
      .max(32)
      .refine((d) => parseDuration(d) !== null, 'a duration such as 30m, 2h, 1h30m or 7d')
      .optional()
      .describe('how long it lasts from startsAt (or now): 30m, 2h, 1h30m, 7d; or give endsAt'),
    startsAt: isoTime.optional().describe('when it starts (default now; a time in the past counts as now)'),
    comment: z
      .string()
      .trim()
      .min(1, 'say why')
      .max(500)
      .describe('why; shown with the silence and kept in the audit log'),
  })
  .strict()
  // Zod runs this even when a field failed its own check (those issues are reported already):
  // it looks only at what parsed.
  .superRefine((b, ctx) => {
    const parsed = b.matchers.map((m) => matcherSchema.safeParse(m))
    if (parsed.length && parsed.every((r) => r.success)) {
      const mp = matchersProblem(parsed.map((r) => r.data!))
      if (mp) ctx.addIssue({ code: 'custom', path: ['matchers'], message: mp })
    }
    const bad = (v: string | undefined, ok: (v: string) => boolean) => v !== undefined && !ok(v)
    if (
      bad(b.endsAt, (v) => Number.isFinite(Date.parse(v))) ||
      bad(b.startsAt, (v) => Number.isFinite(Date.parse(v))) ||
      bad(b.duration, (v) => parseDuration(v) !== null)
    )
      return
    if (b.endsAt === undefined && b.duration === undefined) {
      ctx.addIssue({ code: 'custom', path: ['endsAt'], message: 'give endsAt (an ISO time) or duration ("2h")' })
      return
    }
    if (b.endsAt !== undefined && b.duration !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['duration'], message: 'give endsAt or duration, not both' })
      return
    }
    const now = Date.now()
    const w = silenceWindow(b, now)
    const names = { start: 'startsAt', end: b.endsAt !== undefined ? 'endsAt' : 'duration' }
    for (const p of windowProblems({ startMs: w.startGiven, endMs: w.endMs, now }, names))
      ctx.addIssue({ code: 'custom', path: [p.field], message: p.reason })
  })

export type SilenceInput = z.output<typeof silenceBody>

/**
 * The window a body asks for: its start as given (if any) and its end, `endsAt` or `duration` after
 * the start (a start in the past counts as now).
 */
export function silenceWindow(
  b: Pick<SilenceInput, 'startsAt' | 'endsAt' | 'duration'>,
  now: number,
): { startGiven?: number; endMs: number } {
  const startGiven = b.startsAt === undefined ? undefined : Date.parse(b.startsAt)
  const durationMs = b.duration === undefined ? null : parseDuration(b.duration)
  const endMs =
    b.endsAt !== undefined
      ? Date.parse(b.endsAt)
      : durationMs !== null
        ? Math.max(startGiven ?? now, now) + durationMs
        : Number.NaN
  return { ...(startGiven !== undefined ? { startGiven } : {}), endMs }
}

interface Who {
  user: string
  role: Role
}

/** POST /api/silences: creates the silence and audits it (`silence.created`). */
export async function createSilence(
  input: SilenceInput,
  who: Who,
  deps: { silences: SilenceStore; audit: AuditLog },
): Promise<Silence> {
  const w = silenceWindow(input, Date.now())
  const silence = await deps.silences.create(
    {
      matchers: input.matchers.map(matcherOf),
      ...(w.startGiven !== undefined ? { startsAt: new Date(w.startGiven) } : {}),
      endsAt: new Date(w.endMs),
      createdBy: who.user,
      comment: input.comment,
    },
    { fieldPrefix: 'body.' },
  )
  await deps.audit.append({
    kind: 'silence.created',
    actor: who.user,
    resource: silence.id,
    outcome: silence.status,
    data: {
      silenceId: silence.id,
      matchers: silence.matchers.map(matcherText),
      startsAt: silence.startsAt,
      endsAt: silence.endsAt,
      comment: silence.comment,
      role: who.role,
    },
  })
  return silence
}

/** DELETE /api/silences/:id: ends the silence now and audits it (`silence.expired`). */
export async function expireSilence(
  id: string,
  who: Who,
  deps: { silences: SilenceStore; audit: AuditLog },
): Promise<Silence> {
  const silence = await deps.silences.expire(id, who.user)
  await deps.audit.append({
    kind: 'silence.expired',
    actor: who.user,
    resource: silence.id,
    outcome: 'expired',
    data: {
      silenceId: silence.id,
      matchers: silence.matchers.map(matcherText),
      endsAt: silence.endsAt,
      comment: silence.comment,
      role: who.role,
    },
  })
  return silence
}
