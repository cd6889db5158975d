/**
 * The notifier: the main-process service that turns incident events into pages. Three loops:
 *
 * - the outbox reader takes the events the store appended (src/platform/store/notify-outbox.ts)
 *   through a Redis consumer group, routes each (./routing.ts), checks silences and quiet hours,
 *   and queues one delivery per receiver (./queue.ts) before it acknowledges the entry: a crash in
 *   between replays the entry, and the queue drops what it holds already;
 * - the delivery worker sends each lane's head through its receiver, retries a failure with
 *   exponential backoff and jitter (or the service's Retry-After when longer), and dead-letters a
 *   delivery after the last try or a permanent refusal;
 * - the escalation clock re-pages an incident nobody acknowledged: every `repeat_interval` to the
 *   receivers it was routed to, and every `escalation.after` to the next level of the policy.
 *
 * What is sent is drawn from the incident as it is at delivery time: an "opened" page still held
 * by group_wait when the incident resolves is skipped, and so is the "resolved" that would close
 * a page never sent. Silenced incidents are still fixed; only their pages are held back.
 */
import type { Redis } from 'ioredis'
import { hostname } from 'node:os'
import { isClosed } from '../platform/store/lifecycle'
import type { Incident } from '../platform/store/model'
import { NOTIFY_OUTBOX, type OutboxEntry, type IncidentEvent } from '../platform/store/notify-outbox'
import type { MetricsRecorder } from '../platform/telemetry/metrics'
import type { LogFn } from '../platform/telemetry/log'
import type { NotifyConfig, Route } from './config'
import { incidentLabels } from './matchers'
import { quietUntil } from './quiet-hours'
import { DeliveryQueue, type Delivery } from './queue'
import { routesFor } from './routing'
import { DeliveryError, type Notification, type Receiver } from './types'

const GROUP = 'notifier'
const TRACKING = 'sentinel:notify:tracking'
const trackKey = (id: string) => `sentinel:notify:track:${id}`
/**
 * A delivery worker that dies mid-call leaves its lane to others after the delivery timeout and
 * this margin (the Redis round trips around the call): short, so that a restarted Sentinel takes
 * its own interrupted lanes back within seconds. A worker slower than its lease may deliver a head
 * that another took too: the receiver drops that duplicate by its idempotency key.
 */
const LEASE_MARGIN_MS = 5_000
/** An outbox entry another notifier took and never acknowledged is taken over after this long. */
const STALE_ENTRY_MS = 60_000

/** The kinds that page someone (the others close or update what was paged). */
const PAGING: ReadonlySet<string> = new Set(['opened', 'approval_requested', 'escalated', 'repeat'])

export interface SilenceLookup {
  mutedBy(labels: Record<string, string>, now: number): Promise<{ id: string } | null>
}

export interface NotifierDeps {
  /** For commands; the notifier makes its own connection for the blocking outbox read. */
  redis: Redis
  config: NotifyConfig
  receivers: ReadonlyMap<string, Receiver>
  getIncident(id: string): Promise<Incident | null>
  silences: SilenceLookup
  metrics: Pick<MetricsRecorder, 'notification'>
  log: LogFn
  /** The dashboard's address as people reach it (SENTINEL_PUBLIC_URL), for links in pages. */
  publicUrl?: string
  /** This process's name in the consumer group. */
  consumer?: string
  /** How often the worker and the clock look for due work (ms). */
  tickMs?: number
  now?: () => number
}

interface Tracking {
  firstAt: number
  lastPageAt: number
  level: number
  repeats: number
  repeatMs: number
  receivers: string[]
}

export interface Notifier {
  stop(): Promise<void>
  /** For tests and the bench: one pass of each loop, without waiting for the timers. */
  drainOnce(): Promise<void>
}

export function startNotifier(deps: NotifierDeps): Notifier {
  const { redis, config, receivers, log } = deps
  const now = deps.now ?? Date.now
  const tickMs = deps.tickMs ?? 250
  const consumer = deps.consumer ?? `${hostname()}-${process.pid}`
  const queue = new DeliveryQueue(redis)
  const reader = redis.duplicate()
  let stopped = false
  let inFlight = 0
  let claiming = false
  const running = new Set<Promise<unknown>>()
  const track = <T>(p: Promise<T>) => {
    running.add(p)
    void p.finally(() => running.delete(p))
    return p
  }

  const urlFor = (id: string) =>
    deps.publicUrl
      ? `${deps.publicUrl.replace(/\/+$/, '')}/dashboard.html#incident=${encodeURIComponent(id)}`
      : undefined

  // ---- Outbox -> deliveries -------------------------------------------------------------------

  async function route(entry: OutboxEntry): Promise<void> {
    const incident = await deps.getIncident(entry.incidentId)
    if (!incident || !config.route) return
    const labels = incidentLabels(incident)
    const at = Date.parse(entry.at) || now()
    const event = entry.event
    if (!PAGING.has(event)) {
      // Acknowledgements and resolutions go where something was queued for the incident; the
      // worker skips those whose page was never sent.
      for (const receiver of await queue.routedReceivers(incident.id))
        await queue.enqueue(delivery(incident.id, event, receiver, 1, entry.at, at))
      if (event === 'resolved' || event === 'acknowledged') await untrack(incident.id)
      return
    }
    const muted = await deps.silences.mutedBy(labels, now())
    if (muted) {
      await outcome({
        ...delivery(incident.id, event, '-', 1, entry.at, at),
        attempts: 0,
        state: 'muted',
        note: `silence ${muted.id}`,
      })
      return
    }
    const routes = routesFor(config.route, labels).filter((r) => r.events.includes(event))
    const targets = new Map<string, Route | null>()
    for (const r of routes) if (!targets.has(r.receiver)) targets.set(r.receiver, r)
    const policy = config.escalation
    const escalates = !!policy && policy.severities.includes(incident.severity)
    // The policy starts with the first page a route sends: its level 1 is paged with it.
    if (escalates && routes.length) for (const r of policy.levels[0]) if (!targets.has(r)) targets.set(r, null)
    if (targets.size === 0) return
    for (const [receiver, r] of targets) {
      // A policy's level-1 receiver that no route names waits as the root route does.
      let notBefore = at + (event === 'opened' ? (r ?? config.route).groupWaitMs : 0)
      if (r && incident.severity !== 'critical') {
        const quietEnd = quietUntil(r.quietHours, Math.max(notBefore, now()))
        if (quietEnd) notBefore = quietEnd
      }
      await queue.enqueue(delivery(incident.id, event, receiver, 1, entry.at, notBefore))
    }
    const repeatMs = routes.length ? Math.min(...routes.map((r) => r.repeatIntervalMs)) : config.route.repeatIntervalMs
    await startTracking(incident.id, at, [...targets.keys()], repeatMs, escalates)
  }

  function delivery(
    incidentId: string,
    kind: Delivery['kind'],
    receiver: string,
    level: number,
    atIso: string,
    notBefore: number,
    keyPart: string = kind,
  ): Omit<Delivery, 'attempts' | 'state'> {
    return { key: `${incidentId}:${keyPart}:${receiver}`, receiver, incidentId, kind, level, at: atIso, notBefore }
  }

  async function outcome(d: Delivery): Promise<void> {
    await redis
      .multi()
      .lpush('sentinel:notify:recent', JSON.stringify(d))
      .ltrim('sentinel:notify:recent', 0, 199)
      .exec()
    await deps.metrics.notification({ receiver: d.receiver, result: d.state })
  }

  async function readOutbox(block: boolean): Promise<void> {
    // Our own entries left unacknowledged by a crash first, then new ones.
    for (const from of ['0', '>']) {
      const args: (string | number)[] = ['GROUP', GROUP, consumer, 'COUNT', 100]
      if (block && from === '>') args.push('BLOCK', tickMs * 4)
      const res = (await reader.call('XREADGROUP', ...args, 'STREAMS', NOTIFY_OUTBOX, from)) as
        [string, [string, string[]][]][] | null
      await handleEntries(res?.[0]?.[1] ?? [])
    }
    // Entries another notifier took and never finished (it died): take them over.
    const claimed = (await redis.call(
      'XAUTOCLAIM',
      NOTIFY_OUTBOX,
      GROUP,
      consumer,
      STALE_ENTRY_MS,
      '0-0',
      'COUNT',
      100,
    )) as [string, [string, string[]][]]
    await handleEntries((claimed?.[1] ?? []).filter(([, fields]) => fields))
  }

  /** One incident's entries in order (its opened before its resolved); different incidents side by side. */
  async function handleEntries(entries: [string, string[]][]): Promise<void> {
    const byIncident = new Map<string, [string, string[]][]>()
    for (const e of entries) {
      const raw = e[1][e[1].indexOf('entry') + 1] ?? ''
      const incidentId = /"incidentId":"([^"]+)"/.exec(raw)?.[1] ?? e[0]
      byIncident.set(incidentId, [...(byIncident.get(incidentId) ?? []), e])
    }
    await Promise.all(
      [...byIncident.values()].map(async (list) => {
        for (const [id, fields] of list) if (!stopped) await handleEntry(id, fields)
      }),
    )
  }

  async function handleEntry(id: string, fields: string[]): Promise<void> {
    const raw = fields[fields.indexOf('entry') + 1]
    try {
      if (raw) await route(JSON.parse(raw) as OutboxEntry)
    } catch (err) {
      // Left unacknowledged: the next pass replays it (queued deliveries are not queued twice).
      log('warn', 'notification routing failed; it is retried', { entry: id, error: (err as Error).message })
      return
    }
    await redis.multi().xack(NOTIFY_OUTBOX, GROUP, id).xdel(NOTIFY_OUTBOX, id).exec()
  }

  // ---- Deliveries -----------------------------------------------------------------------------

  function skipReason(d: Delivery, incident: Incident | null): string | null {
    if (!incident) return 'the incident no longer exists'
    if (PAGING.has(d.kind) && isClosed(incident)) return `the incident was ${incident.status} before the page went out`
    if (d.kind === 'repeat' && incident.acknowledgement) return `acknowledged by ${incident.acknowledgement.by}`
    if (d.kind === 'approval_requested' && incident.approval?.status !== 'pending') return 'the approval was decided'
    return null
  }

  function backoff(attempts: number, retryAfterMs?: number): number {
    const { backoffBaseMs, backoffMaxMs } = config.delivery
    const exp = Math.min(backoffMaxMs, backoffBaseMs * 2 ** Math.max(0, attempts - 1))
    const jittered = exp / 2 + (Math.random() * exp) / 2
    return Math.max(jittered, Math.min(retryAfterMs ?? 0, 3_600_000))
  }

  async function deliver(d: Delivery): Promise<void> {
    const receiver = receivers.get(d.receiver)
    const incident = await deps.getIncident(d.incidentId)
    const finish = async (state: Delivery['state'], sent: boolean, extra: Partial<Delivery> = {}) => {
      const ended = { ...d, ...extra, state }
      await queue.finish(ended, now(), sent)
      const seconds = state === 'delivered' ? Math.max(0, (now() - Date.parse(d.at)) / 1000) : undefined
      await deps.metrics.notification({ receiver: d.receiver, result: state, seconds })
    }
    if (!receiver) return finish('dead', false, { lastError: `receiver ${d.receiver} is no longer configured` })
    const skip = skipReason(d, incident)
    if (skip) return finish('skipped', false, { note: skip })
    if (!PAGING.has(d.kind) && !(await queue.wasSentTo(d.incidentId, d.receiver)))
      return finish('skipped', false, { note: 'nothing was sent to this receiver for the incident' })
    if (PAGING.has(d.kind)) {
      const muted = await deps.silences.mutedBy(incidentLabels(incident!), now())
      if (muted) return finish('muted', false, { note: `silence ${muted.id}` })
    }
    const attempt: Delivery = { ...d, attempts: d.attempts + 1 }
    const notification: Notification = {
      key: d.key,
      kind: d.kind,
      level: d.level,
      incident: incident!,
      url: urlFor(d.incidentId),
      at: d.at,
    }
    try {
      await receiver.send(notification, AbortSignal.timeout(config.delivery.timeoutMs))
      d = attempt
      await finish('delivered', true)
    } catch (err) {
      const e = err instanceof DeliveryError ? err : new DeliveryError((err as Error).message)
      const lastError = e.message.slice(0, 500)
      if (e.permanent || attempt.attempts >= config.delivery.maxAttempts) {
        d = attempt
        log('warn', 'notification dead-lettered', {
          key: d.key,
          receiver: d.receiver,
          attempts: attempt.attempts,
          error: lastError,
        })
        await finish('dead', false, { lastError })
        return
      }
      await queue.retryLater({ ...attempt, lastError }, now() + backoff(attempt.attempts, e.retryAfterMs))
      await deps.metrics.notification({ receiver: d.receiver, result: 'failed' })
    }
  }

  async function work(): Promise<void> {
    // One claim at a time: two would both see the same free slots and take too many lanes.
    if (claiming) return
    const room = config.delivery.concurrency - inFlight
    if (room <= 0) return
    claiming = true
    let due: Delivery[]
    try {
      due = await queue.claim(now(), config.delivery.timeoutMs + LEASE_MARGIN_MS, room)
    } finally {
      claiming = false
    }
    for (const d of due) {
      inFlight++
      void track(
        deliver(d)
          .catch((err) =>
            log('error', 'notification delivery failed unexpectedly', { key: d.key, error: (err as Error).message }),
          )
          .finally(() => {
            inFlight--
            // A slot is free: take the next due delivery now rather than at the next tick.
            if (!stopped) void work().catch(() => {})
          }),
      )
    }
  }

  // ---- Repeat and escalation --------------------------------------------------------------------

  async function startTracking(id: string, at: number, targets: string[], repeatMs: number, escalates: boolean) {
    const raw = await redis.get(trackKey(id))
    const t: Tracking = raw
      ? (JSON.parse(raw) as Tracking)
      : { firstAt: at, lastPageAt: at, level: 1, repeats: 0, repeatMs, receivers: [] }
    t.lastPageAt = Math.max(t.lastPageAt, at)
    t.repeatMs = Math.min(t.repeatMs, repeatMs)
    t.receivers = [...new Set([...t.receivers, ...targets])]
    await saveTracking(id, t, escalates)
  }

  async function saveTracking(id: string, t: Tracking, escalates: boolean) {
    const policy = config.escalation
    const nextLevel =
      escalates && policy && t.level < policy.levels.length ? t.firstAt + t.level * policy.afterMs : Infinity
    const next = Math.min(t.lastPageAt + t.repeatMs, nextLevel)
    const m = redis.multi().set(trackKey(id), JSON.stringify(t), 'EX', 30 * 86400)
    if (Number.isFinite(next)) m.zadd(TRACKING, next, id)
    else m.zrem(TRACKING, id)
    await m.exec()
  }

  async function untrack(id: string) {
    await redis.multi().zrem(TRACKING, id).del(trackKey(id)).exec()
  }

  async function clock(): Promise<void> {
    const due = await redis.zrangebyscore(TRACKING, '-inf', now(), 'LIMIT', 0, 100)
    for (const id of due) {
      const [incident, raw] = await Promise.all([deps.getIncident(id), redis.get(trackKey(id))])
      if (!incident || !raw || isClosed(incident) || incident.acknowledgement) {
        await untrack(id)
        continue
      }
      const t = JSON.parse(raw) as Tracking
      const policy = config.escalation
      const escalates = !!policy && policy.severities.includes(incident.severity)
      const t0 = now()
      const atIso = new Date(t0).toISOString()
      const muted = await deps.silences.mutedBy(incidentLabels(incident), t0)
      if (escalates && policy && t.level < policy.levels.length && t0 >= t.firstAt + t.level * policy.afterMs) {
        t.level++
        if (!muted)
          for (const receiver of policy.levels[t.level - 1])
            await queue.enqueue(delivery(id, 'repeat', receiver, t.level, atIso, t0, `level-${t.level}`))
        t.receivers = [...new Set([...t.receivers, ...policy.levels[t.level - 1]])]
        t.lastPageAt = t0
      } else if (t0 >= t.lastPageAt + t.repeatMs) {
        t.repeats++
        if (!muted)
          for (const receiver of t.receivers)
            await queue.enqueue(delivery(id, 'repeat', receiver, t.level, atIso, t0, `repeat-${t.repeats}`))
        t.lastPageAt = t0
      }
      await saveTracking(id, t, escalates)
    }
  }

  // ---- Loops -------------------------------------------------------------------------------------

  async function ensureGroup() {
    try {
      await redis.xgroup('CREATE', NOTIFY_OUTBOX, GROUP, '0', 'MKSTREAM')
    } catch (err) {
      if (!/BUSYGROUP/.test((err as Error).message)) throw err
    }
  }

  const loop = async (name: string, once: () => Promise<void>, pauseMs: number) => {
    while (!stopped) {
      try {
        await once()
      } catch (err) {
        if (stopped) break
        log('warn', `notifier ${name} pass failed; retrying`, { error: (err as Error).message })
        await new Promise((r) => setTimeout(r, 1000))
      }
      if (pauseMs) await new Promise((r) => setTimeout(r, pauseMs))
    }
  }

  const ready = ensureGroup()
  const loops = ready.then(() =>
    Promise.all([
      loop('outbox', () => readOutbox(true), 0),
      loop('delivery', work, tickMs),
      loop('clock', clock, tickMs * 4),
    ]),
  )
  void loops.catch((err) => log('error', 'notifier stopped', { error: (err as Error).message }))

  return {
    async drainOnce() {
      await ready
      await readOutbox(false)
      await work()
      await Promise.all([...running])
      await clock()
    },
    async stop() {
      stopped = true
      reader.disconnect()
      await Promise.allSettled([...running])
      await Promise.allSettled([...receivers.values()].map((r) => r.close?.()))
    },
  }
}

export type { IncidentEvent }
