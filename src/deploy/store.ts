/**
 * Deploys in Redis, so that a controller restarted (or another controller taking the `deploys`
 * duty over) finds every deploy where it stood: its phase, its step, the canary service it made,
 * the image to go back to, and whether a person paused or aborted it. One JSON document per
 * deploy, written with a compare-and-set script on its version (the API and the controller both
 * write it); a hash names the one deploy under way per service.
 */
import { randomBytes } from 'node:crypto'
import type { Redis } from 'ioredis'
import type { GateComparison } from './gate'

export const DEPLOY_PHASES = [
  'pending',
  'canary',
  'promoting',
  'rolling_back',
  'succeeded',
  'rolled_back',
  'aborted',
  'failed',
] as const
export type DeployPhase = (typeof DEPLOY_PHASES)[number]
export const FINISHED_PHASES: readonly DeployPhase[] = ['succeeded', 'rolled_back', 'aborted', 'failed']
export const isFinished = (d: Pick<Deploy, 'phase'>) => FINISHED_PHASES.includes(d.phase)

/** One step of a deploy, as its timeline shows it. */
export interface DeployEvent {
  at: string
  /** requested, canary_started, step_passed, promoted, gate_failed, rolled_back, paused, resumed, ... */
  kind: string
  actor: string
  summary: string
  data?: Record<string, unknown>
}

export interface Deploy {
  id: string
  service: string
  serviceId: string
  image: string
  env?: Record<string, string>
  /** The image (and spec version) the service ran when the deploy was asked for: what a rollback returns to. */
  previousImage: string
  previousVersion: number
  replicas: number
  /** Canary task counts, one per step before the service itself is updated (gate.ts, canarySteps). */
  steps: number[]
  stepIndex: number
  stepStartedAt?: string
  phase: DeployPhase
  paused: boolean
  abortRequested?: { by: string; at: string }
  probe?: { port: number; path: string }
  promql?: string
  canaryService: string
  canaryServiceId?: string
  requestedBy: string
  requestedAt: string
  updatedAt: string
  promotedAt?: string
  finishedAt?: string
  /** What the gate saw last (the comparison), and what it waits for. */
  gate?: GateComparison
  waitingFor?: string
  /** Why it was rolled back, aborted or failed. */
  reason?: string
  reasons?: string[]
  incidentId?: string
  events: DeployEvent[]
  version: number
}

const EVENTS_KEEP = 200
const docKey = (id: string) => `sentinel:deploys:doc:${id}`
const BY_TIME = 'sentinel:deploys:by_time'
/** service name → the id of its deploy under way. */
const ACTIVE = 'sentinel:deploys:active'

export const newDeployId = (now = Date.now()) => `dep_${now.toString(36)}_${randomBytes(4).toString('hex')}`

// KEYS[1]: the document; ARGV[1]: the version read; ARGV[2]: the new text. -1: gone, 0: changed meanwhile.
const CAS_LUA = `
local cur = redis.call('GET', KEYS[1])
if not cur then return -1 end
if tostring(cjson.decode(cur).version) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2])
return 1
`

// KEYS: active hash, doc, by_time. ARGV: service, id, doc text, score. Refused (returns the id under way) when the service has one.
const CREATE_LUA = `
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if cur then
  local doc = redis.call('GET', '${docKey('')}' .. cur)
  if doc then
    local phase = cjson.decode(doc).phase
    if phase ~= 'succeeded' and phase ~= 'rolled_back' and phase ~= 'aborted' and phase ~= 'failed' then return cur end
  end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('SET', KEYS[2], ARGV[3])
redis.call('ZADD', KEYS[3], ARGV[4], ARGV[2])
return ''
`

export class DeployConflict extends Error {
  constructor(readonly activeId: string) {
    super(`deploy ${activeId} is under way`)
  }
}

export class DeployStore {
  constructor(private readonly redis: Redis) {}

  /** Saves a new deploy; throws DeployConflict when its service has one under way. */
  async create(d: Deploy): Promise<Deploy> {
    const r = await this.redis.eval(
      CREATE_LUA,
      3,
      ACTIVE,
      docKey(d.id),
      BY_TIME,
      d.service,
      d.id,
      JSON.stringify(d),
      Date.parse(d.requestedAt),
    )
    if (r) throw new DeployConflict(String(r))
    return d
  }

  async get(id: string): Promise<Deploy | null> {
    const raw = await this.redis.get(docKey(id))
    return raw ? (JSON.parse(raw) as Deploy) : null
  }

  /** The deploy under way for a service, if any. */
  async activeFor(service: string): Promise<Deploy | null> {
    const id = await this.redis.hget(ACTIVE, service)
    if (!id) return null
    const d = await this.get(id)
    return d && !isFinished(d) ? d : null
  }

  /** Every deploy under way (the controller drives these). */
  async active(): Promise<Deploy[]> {
    const ids = Object.values(await this.redis.hgetall(ACTIVE))
    if (!ids.length) return []
    const raws = await this.redis.mget(...ids.map(docKey))
    return raws.flatMap((r) => (r ? [JSON.parse(r) as Deploy] : [])).filter((d) => !isFinished(d))
  }

  /** Newest first. */
  async list(opts: { limit: number; service?: string }): Promise<Deploy[]> {
    const out: Deploy[] = []
    let offset = 0
    while (out.length < opts.limit) {
      const ids = await this.redis.zrevrange(BY_TIME, offset, offset + 199)
      if (!ids.length) break
      offset += ids.length
      const raws = await this.redis.mget(...ids.map(docKey))
      for (const r of raws) {
        if (!r) continue
        const d = JSON.parse(r) as Deploy
        if (!opts.service || d.service === opts.service) out.push(d)
        if (out.length >= opts.limit) break
      }
    }
    return out
  }

  /**
   * Changes a deploy with compare-and-set, retried when someone wrote in between. `mutate` returns
   * false to write nothing. A deploy that finishes frees its service for the next one.
   */
  async update(id: string, mutate: (d: Deploy) => boolean | void): Promise<Deploy> {
    for (let attempt = 0; attempt < 20; attempt++) {
      const cur = await this.get(id)
      if (!cur) throw new Error(`deploy ${id} not found`)
      const next = structuredClone(cur)
      if (mutate(next) === false) return cur
      next.version = cur.version + 1
      next.updatedAt = new Date().toISOString()
      if (next.events.length > EVENTS_KEEP) next.events = next.events.slice(-EVENTS_KEEP)
      const r = Number(await this.redis.eval(CAS_LUA, 1, docKey(id), String(cur.version), JSON.stringify(next)))
      if (r === 1) {
        if (isFinished(next) && !isFinished(cur)) {
          const held = await this.redis.hget(ACTIVE, next.service)
          if (held === id) await this.redis.hdel(ACTIVE, next.service)
        }
        return next
      }
      if (r === -1) throw new Error(`deploy ${id} not found`)
    }
    throw new Error(`deploy ${id}: too many concurrent writes`)
  }
}

/** A deploy event appended to the record (the caller writes it through DeployStore.update). */
export function pushEvent(d: Deploy, e: Omit<DeployEvent, 'at'> & { at?: string }): void {
  d.events.push({
    at: e.at ?? new Date().toISOString(),
    kind: e.kind,
    actor: e.actor,
    summary: e.summary,
    ...(e.data ? { data: e.data } : {}),
  })
}
