/**
 * Incident store. Incidents are JSON documents at Motia's state keys (group `incidents`), written
 * with compare-and-set Lua scripts so that the main process and step processes can update the same
 * incident without losing each other's writes. Side indexes: open incidents (for recovery after a
 * crash), incidents by time (for listing) and the open incident of each fingerprint (one incident
 * per problem). Every write also marks the incident "to archive" (ARCHIVE_PENDING, scored by its
 * version) in the same script, so no crash can leave a change the SQL archive (src/history/) never
 * hears of.
 */
import { randomBytes } from 'node:crypto'
import type { Redis } from 'ioredis'
import { publishToStream } from '../stream/publish'
import { metricsRecorder, nodeLabel } from '../telemetry/metrics'
import { getConfig } from '../config/index'
import { confirmReplicated, getRedis, stateKey } from './redis'
import { assertTransition, isClosed, isTerminal, openedIncident } from './lifecycle'
import type { Alert, Incident, ResourceRef } from './model'
import { incidentSummary, type IncidentSummary } from './summary'
import { NOTIFY_OUTBOX, OUTBOX_MAX, outboxEntries } from './notify-outbox'

export { isTerminal }

export const INCIDENT_GROUP = 'incidents'
const OPEN_SET = 'sentinel:incidents:open'
const BY_TIME = 'sentinel:incidents:by_time'
const fingerprintKey = (fp: string) => `sentinel:incidents:fingerprint:${fp}`
const incidentKey = (id: string) => stateKey(INCIDENT_GROUP, id)
const lastKey = (fp: string) => `sentinel:incidents:last:${fp}`
const summaryKey = (id: string) => `sentinel:incidents:summary:${id}`
// The incidents of one resource (kind and name: a container's name outlives its id), newest last,
// for the analysis's memory of what happened to it before. Test incidents are never added.
const byResourceKey = (r: Pick<ResourceRef, 'kind' | 'name'>) => `sentinel:incidents:resource:${r.kind}:${r.name}`
const BY_RESOURCE_KEEP = 50
const BY_RESOURCE_DAYS = 90
/** How long the analysis remembers a resource's past incidents (their summaries in its index). */
export const RESOURCE_MEMORY_MS = BY_RESOURCE_DAYS * 86_400_000
/**
 * The incidents whose latest write the archive may not hold yet: member = id, score = the version
 * written. The archiver removes a member only when the version it archived is at least that score.
 */
export const ARCHIVE_PENDING = 'sentinel:archive:pending'

/**
 * The Redis keys of one incident and of the indexes that name it, for the code that removes
 * archived incidents from Redis after their retention (src/history/retention.ts).
 */
export const incidentKeys = {
  doc: incidentKey,
  summary: summaryKey,
  byTime: BY_TIME,
  open: OPEN_SET,
  last: lastKey,
  byResource: byResourceKey,
} as const

// Creates the incident unless it exists already (ids derived from one event repeat when the event
// is replayed) or its fingerprint already has an open one; returns the id that holds it. KEYS[7] /
// ARGV[6]: the archive mark (ARCHIVE_PENDING at the first version), written with the incident.
const CREATE_LUA = `
if redis.call('EXISTS', KEYS[2]) == 1 then
  return {0, ARGV[1]}
end
local existing = redis.call('GET', KEYS[1])
if existing and redis.call('EXISTS', '${stateKey(INCIDENT_GROUP, '')}' .. existing) == 1 then
  return {0, existing}
end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('SET', KEYS[2], ARGV[2])
redis.call('SADD', KEYS[3], ARGV[1])
redis.call('ZADD', KEYS[4], ARGV[3], ARGV[1])
redis.call('SET', KEYS[5], ARGV[4])
for _, entry in ipairs(cjson.decode(ARGV[5])) do
  redis.call('XADD', KEYS[6], 'MAXLEN', '~', '${OUTBOX_MAX}', '*', 'entry', entry)
end
redis.call('ZADD', KEYS[7], ARGV[6], ARGV[1])
return {1, ARGV[1]}
`

// Replaces the document (and its summary, KEYS[4] / ARGV[6]) when its stored version matches; keeps
// the indexes in step. ARGV[4]: the incident is no longer being worked on; ARGV[5]: its fingerprint
// is free for a new incident; ARGV[7]: the notification outbox entries (./notify-outbox.ts) the
// write makes, appended to KEYS[5] in the same script so a change and its page commit together;
// KEYS[6] / ARGV[8]: the archive mark (ARCHIVE_PENDING at the new version), likewise.
const CAS_LUA = `
local cur = redis.call('GET', KEYS[1])
if not cur then return -1 end
local doc = cjson.decode(cur)
if tostring(doc.version) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2])
redis.call('SET', KEYS[4], ARGV[6])
if ARGV[4] == '1' then
  redis.call('SREM', KEYS[2], ARGV[3])
  if ARGV[5] == '1' and redis.call('GET', KEYS[3]) == ARGV[3] then redis.call('DEL', KEYS[3]) end
else
  redis.call('SADD', KEYS[2], ARGV[3])
end
for _, entry in ipairs(cjson.decode(ARGV[7])) do
  redis.call('XADD', KEYS[5], 'MAXLEN', '~', '${OUTBOX_MAX}', '*', 'entry', entry)
end
redis.call('ZADD', KEYS[6], ARGV[8], ARGV[3])
return 1
`
// The number of KEYS casArgs() puts first.
const CAS_KEYS = 6

// A page of the time index with each incident's stored text (ARGV[4]: the key prefix, full or
// summary): id, score, text (false when missing) per incident. It reads keys it builds itself,
// which a single Redis (with or without Redis Sentinel) allows and Redis Cluster would not.
const PAGE_LUA = `
local flat = redis.call('ZREVRANGEBYSCORE', KEYS[1], ARGV[1], ARGV[2], 'WITHSCORES', 'LIMIT', 0, tonumber(ARGV[3]))
local out = {}
for i = 1, #flat, 2 do
  out[#out + 1] = flat[i]
  out[#out + 1] = flat[i + 1]
  out[#out + 1] = redis.call('GET', ARGV[4] .. flat[i])
end
return out
`

export function newIncidentId(now = Date.now()): string {
  return `inc_${now.toString(36)}_${randomBytes(4).toString('hex')}`
}

export interface OpenResult {
  incident: Incident
  created: boolean
}

export class IncidentStore {
  constructor(private readonly redis: Redis = getRedis()) {}

  /**
   * Opens an incident for the alert, or returns the open incident that already holds its
   * fingerprint (created = false).
   */
  async open(alert: Alert, init: { title: string; actor: string; test?: boolean; id?: string }): Promise<OpenResult> {
    const nowIso = new Date().toISOString()
    const incident = openedIncident(alert, {
      id: init.id ?? newIncidentId(),
      title: init.title,
      actor: init.actor,
      test: init.test,
      now: nowIso,
    })
    const id = incident.id
    const [created, holder] = (await this.redis.eval(
      CREATE_LUA,
      7,
      fingerprintKey(alert.fingerprint),
      incidentKey(id),
      OPEN_SET,
      BY_TIME,
      summaryKey(id),
      NOTIFY_OUTBOX,
      ARCHIVE_PENDING,
      id,
      JSON.stringify(incident),
      String(Date.parse(nowIso)),
      JSON.stringify(incidentSummary(incident)),
      JSON.stringify(outboxEntries(null, incident)),
      String(incident.version),
    )) as [number, string]
    if (created === 1) {
      await confirmReplicated(this.redis)
      await this.redis.set(lastKey(alert.fingerprint), id, 'EX', 30 * 86400)
      if (!incident.test) {
        const key = byResourceKey(incident.resource)
        await this.redis
          .multi()
          .zadd(key, Date.parse(nowIso), id)
          .zremrangebyrank(key, 0, -BY_RESOURCE_KEEP - 1)
          .expire(key, BY_RESOURCE_DAYS * 86400)
          .exec()
      }
      await publishToStream(this.redis, 'incident.opened', incident)
      await metricsRecorder(this.redis).incidentOpened({
        type: incident.type,
        severity: incident.severity,
        node: nodeLabel(incident.alert?.labels?.node, getConfig().NODE_NAME),
        detectSeconds: Math.max(0, (Date.parse(nowIso) - Date.parse(alert.at)) / 1000),
      })
      return { incident, created: true }
    }
    const existing = await this.get(holder)
    if (!existing) throw new Error(`incident ${holder} vanished while opening ${alert.fingerprint}`)
    return { incident: existing, created: false }
  }

  async get(id: string): Promise<Incident | null> {
    const raw = await this.redis.get(incidentKey(id))
    return raw ? (JSON.parse(raw) as Incident) : null
  }

  /**
   * Applies `mutate` to the incident and stores it, retrying when another process wrote in
   * between. `mutate` may return false to leave the incident unchanged. A status or a timeline
   * entry changes only through the lifecycle's operations (./lifecycle.ts), run as `mutate`:
   * `store.update(id, (i) => resolve(i, entry))`. A status change the lifecycle does not allow is
   * refused here too (TransitionRefused, nothing written), whoever makes it.
   */
  async update(id: string, mutate: (incident: Incident) => void | boolean): Promise<Incident> {
    for (let attempt = 0; attempt < 50; attempt++) {
      const current = await this.get(id)
      if (!current) throw new Error(`incident ${id} not found`)
      const next = this.mutated(current, mutate)
      if (!next) return current
      const ok = (await this.redis.eval(CAS_LUA, CAS_KEYS, ...this.casArgs(current, next))) as number
      if (ok === 1) {
        await confirmReplicated(this.redis)
        await this.afterWrite(current, next)
        return next
      }
      if (ok === -1) throw new Error(`incident ${id} not found`)
      await new Promise((r) => setTimeout(r, Math.random() * 5 * (attempt + 1)))
    }
    throw new Error(`incident ${id}: too many concurrent updates`)
  }

  /**
   * update() for many incidents in one pipelined write, starting from versions the caller has
   * read already (a stale one is safe: its compare-and-set fails and that incident goes through
   * update() alone). Incidents `mutate` leaves unchanged cost no write.
   */
  async updateMany(
    items: Array<{ incident: Incident; mutate: (incident: Incident) => void | boolean }>,
  ): Promise<Incident[]> {
    const writes: Array<{ current: Incident; next: Incident; mutate: (incident: Incident) => void | boolean }> = []
    const results = new Map<string, Incident>()
    for (const { incident, mutate } of items) {
      const next = this.mutated(incident, mutate)
      if (next) writes.push({ current: incident, next, mutate })
      else results.set(incident.id, incident)
    }
    if (writes.length) {
      const pipeline = this.redis.pipeline()
      for (const w of writes) pipeline.eval(CAS_LUA, CAS_KEYS, ...this.casArgs(w.current, w.next))
      const replies = (await pipeline.exec()) ?? []
      await confirmReplicated(this.redis)
      await Promise.all(
        writes.map(async (w, n) => {
          const [err, ok] = replies[n] ?? [new Error('no reply')]
          if (!err && ok === 1) {
            await this.afterWrite(w.current, w.next)
            results.set(w.current.id, w.next)
          } else {
            results.set(w.current.id, await this.update(w.current.id, w.mutate))
          }
        }),
      )
    }
    return items.map(({ incident }) => results.get(incident.id)!)
  }

  /** The changed copy, or null when `mutate` declines. */
  private mutated(current: Incident, mutate: (incident: Incident) => void | boolean): Incident | null {
    const next = structuredClone(current)
    if (mutate(next) === false) return null
    if (next.status !== current.status) assertTransition(current, next.status)
    next.version = current.version + 1
    next.updatedAt = new Date().toISOString()
    return next
  }

  private casArgs(current: Incident, next: Incident): string[] {
    return [
      incidentKey(current.id),
      OPEN_SET,
      fingerprintKey(current.fingerprint),
      summaryKey(current.id),
      NOTIFY_OUTBOX,
      ARCHIVE_PENDING,
      String(current.version),
      JSON.stringify(next),
      current.id,
      isTerminal(next) ? '1' : '0',
      // An escalated incident still holds its problem until a person closes it, so the same
      // alert does not open another one; closed ones (resolved, suppressed) free it.
      isClosed(next) ? '1' : '0',
      JSON.stringify(incidentSummary(next)),
      JSON.stringify(outboxEntries(current, next)),
      String(next.version),
    ]
  }

  private async afterWrite(current: Incident, next: Incident): Promise<void> {
    // The dashboard follows every change live; approvals get their own events for its queue.
    await publishToStream(
      this.redis,
      next.status === 'resolved' && current.status !== 'resolved' ? 'incident.resolved' : 'incident.updated',
      next,
    )
    if (next.status !== current.status && (next.status === 'resolved' || next.status === 'escalated')) {
      const m = metricsRecorder(this.redis)
      const labels = {
        type: next.type,
        severity: next.severity,
        node: nodeLabel(next.alert?.labels?.node, getConfig().NODE_NAME),
      }
      if (next.status === 'resolved')
        await m.incidentResolved({
          ...labels,
          resolveSeconds: Math.max(0, (Date.parse(next.updatedAt) - Date.parse(next.openedAt)) / 1000),
        })
      else await m.incidentEscalated(labels)
    }
    if (next.approval?.status === 'pending' && current.approval?.status !== 'pending')
      await publishToStream(this.redis, 'approval.requested', next)
    if (current.approval?.status === 'pending' && next.approval?.status !== 'pending')
      await publishToStream(this.redis, 'approval.decided', next)
  }

  /** How many incidents wait to be archived (their latest write not yet in the archive). */
  async archivePendingCount(): Promise<number> {
    return this.redis.zcard(ARCHIVE_PENDING)
  }

  async openIds(): Promise<string[]> {
    return this.redis.smembers(OPEN_SET)
  }

  /** Incidents newest first; `before` is an exclusive cursor (openedAt ms, id). */
  async list(opts: { limit: number; beforeMs?: number; afterMs?: number }): Promise<Incident[]> {
    const max = opts.beforeMs !== undefined ? `(${opts.beforeMs}` : '+inf'
    const min = opts.afterMs !== undefined ? String(opts.afterMs) : '-inf'
    const ids = await this.redis.zrevrangebyscore(BY_TIME, max, min, 'LIMIT', 0, opts.limit)
    if (ids.length === 0) return []
    const raws = await this.redis.mget(ids.map(incidentKey))
    return raws.filter((r): r is string => r !== null).map((r) => JSON.parse(r) as Incident)
  }

  /**
   * Like list(), as stored JSON texts with their openedAt (ms), unparsed: full incidents, or their
   * summaries (src/platform/store/summary.ts). An API page is these texts joined, with no parse and no
   * stringify of every incident. An incident stored before summaries existed gets one made here.
   */
  async listStored(opts: {
    limit: number
    beforeMs?: number
    afterMs?: number
    view: 'full' | 'summary'
  }): Promise<{ json: string; openedMs: number }[]> {
    const max = opts.beforeMs !== undefined ? `(${opts.beforeMs}` : '+inf'
    const min = opts.afterMs !== undefined ? String(opts.afterMs) : '-inf'
    // One round trip: the page's ids from the time index and their texts.
    const flat = (await this.redis.eval(
      PAGE_LUA,
      1,
      BY_TIME,
      max,
      min,
      String(opts.limit),
      opts.view === 'full' ? incidentKey('') : summaryKey(''),
    )) as (string | false)[]
    const ids: string[] = []
    const scores: number[] = []
    const texts: (string | null)[] = []
    for (let i = 0; i < flat.length; i += 3) {
      ids.push(flat[i] as string)
      scores.push(Number(flat[i + 1]))
      texts.push(flat[i + 2] === false ? null : (flat[i + 2] as string))
    }
    if (ids.length === 0) return []
    const missing = texts.flatMap((t, i) => (t === null && opts.view === 'summary' ? [i] : []))
    if (missing.length) {
      const docs = await this.redis.mget(missing.map((i) => incidentKey(ids[i])))
      docs.forEach((doc, n) => {
        if (doc !== null) texts[missing[n]] = JSON.stringify(incidentSummary(JSON.parse(doc) as Incident))
      })
    }
    const out: { json: string; openedMs: number }[] = []
    texts.forEach((json, i) => {
      if (json !== null) out.push({ json, openedMs: scores[i] })
    })
    return out
  }

  /**
   * The summaries of the newest incidents of a resource (test incidents excluded), newest first:
   * at most `limit`, of the last 50 opened on it in the last 90 days.
   */
  async recentOfResource(resource: Pick<ResourceRef, 'kind' | 'name'>, limit: number): Promise<IncidentSummary[]> {
    const ids = await this.redis.zrevrange(byResourceKey(resource), 0, Math.max(0, limit - 1))
    if (ids.length === 0) return []
    const texts = await this.redis.mget(ids.map(summaryKey))
    return texts.filter((t): t is string => t !== null).map((t) => JSON.parse(t) as IncidentSummary)
  }

  /** The newest incident of a fingerprint, whatever its status. */
  async lastIncidentFor(fingerprint: string): Promise<Incident | null> {
    const id = await this.redis.get(lastKey(fingerprint))
    return id ? this.get(id) : null
  }

  async openIncidentFor(fingerprint: string): Promise<Incident | null> {
    const id = await this.redis.get(fingerprintKey(fingerprint))
    return id ? this.get(id) : null
  }

  /** openIncidentFor() for many fingerprints in two round trips; those without an incident are absent. */
  async openIncidentsFor(fingerprints: string[]): Promise<Map<string, Incident>> {
    const out = new Map<string, Incident>()
    if (fingerprints.length === 0) return out
    const ids = await this.redis.mget(fingerprints.map(fingerprintKey))
    const held = fingerprints
      .map((fp, n) => [fp, ids[n]] as const)
      .filter((e): e is readonly [string, string] => !!e[1])
    if (held.length === 0) return out
    const raws = await this.redis.mget(held.map(([, id]) => incidentKey(id)))
    held.forEach(([fp], n) => {
      const raw = raws[n]
      if (raw) out.set(fp, JSON.parse(raw) as Incident)
    })
    return out
  }
}
