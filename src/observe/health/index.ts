/**
 * /healthz: each dependency as up, down (with the reason) or not_configured. Sentinel can work
 * (HTTP 200) as long as Redis is up; everything else degrades a feature, not the service.
 */
import type { Redis } from 'ioredis'
import type { SentinelConfig } from '../../platform/config/index'
import { dockerSocketPresent } from '../../platform/docker/client'
import { engineRequest } from '../../platform/docker/engine-api'
import type { WatcherStatus } from '../../platform/docker/watcher'
import { Monitor } from '../monitor'

export type ComponentHealth =
  { status: 'up'; detail?: string } | { status: 'down'; reason: string } | { status: 'not_configured'; detail?: string }

/** Where the monitor's readings come from, as its last collection recorded it (null before the first one). */
export interface MonitoringSource {
  source: 'prometheus' | 'collectors' | null
  reason: string
  /** Since when this source has been in use. */
  since: string | null
  /** The last collection. */
  checkedAt: string | null
}

export interface HealthReport {
  status: 'ok' | 'unavailable'
  components: Record<'redis' | 'docker' | 'prometheus' | 'llm' | 'slack', ComponentHealth>
  monitoring: MonitoringSource
  checkedAt: string
}

const withDeadline = <T>(p: Promise<T>, ms: number, what: string) =>
  Promise.race([
    p,
    new Promise<never>((_, rej) =>
      setTimeout(() => rej(new Error(`${what} did not answer within ${ms} ms`)), ms).unref(),
    ),
  ])

async function checkRedis(redis: Redis): Promise<ComponentHealth> {
  try {
    const pong = await withDeadline(redis.ping(), 1000, 'redis PING')
    return pong === 'PONG' ? { status: 'up' } : { status: 'down', reason: `unexpected reply ${pong}` }
  } catch (err) {
    return { status: 'down', reason: (err as Error).message }
  }
}

async function checkDocker(cfg: SentinelConfig, watcher?: WatcherStatus): Promise<ComponentHealth> {
  if (!dockerSocketPresent())
    return { status: 'down', reason: `no Docker socket at ${cfg.DOCKER_SOCKET}; containers are not watched` }
  try {
    await engineRequest('/_ping', { socketPath: cfg.DOCKER_SOCKET, timeoutMs: 1000 })
  } catch (err) {
    return { status: 'down', reason: (err as Error).message }
  }
  if (watcher && watcher.state === 'down') return { status: 'down', reason: `event stream: ${watcher.reason}` }
  return { status: 'up', detail: watcher?.state === 'up' ? 'watching events' : 'reachable' }
}

async function checkPrometheus(cfg: SentinelConfig): Promise<ComponentHealth> {
  if (!cfg.PROMETHEUS_URL)
    return { status: 'not_configured', detail: "PROMETHEUS_URL is not set: Sentinel's own host collectors are used" }
  try {
    const res = await withDeadline(fetch(`${cfg.PROMETHEUS_URL}/-/ready`), 1500, 'prometheus')
    return res.ok ? { status: 'up' } : { status: 'down', reason: `/-/ready answered ${res.status}` }
  } catch (err) {
    return { status: 'down', reason: (err as Error).message }
  }
}

async function monitoringSource(redis: Redis): Promise<MonitoringSource> {
  try {
    // The monitor runs in step processes; what it last used is in Redis, where the status API reads it too.
    const s = await withDeadline(new Monitor({ redis, history: false }).sourceStatus(), 1000, 'redis (monitor source)')
    if (!s) return { source: null, reason: 'the monitor has not collected yet', since: null, checkedAt: null }
    return {
      source: s.source === 'prometheus' ? 'prometheus' : 'collectors',
      reason: s.reason,
      since: s.since,
      checkedAt: s.checkedAt,
    }
  } catch (err) {
    return { source: null, reason: `unknown: ${(err as Error).message}`, since: null, checkedAt: null }
  }
}

export async function healthReport(cfg: SentinelConfig, redis: Redis, watcher?: WatcherStatus): Promise<HealthReport> {
  const [r, d, p, m] = await Promise.all([
    checkRedis(redis),
    checkDocker(cfg, watcher),
    checkPrometheus(cfg),
    monitoringSource(redis),
  ])
  const monitoring: MonitoringSource =
    r.status === 'up' ? m : { source: null, reason: 'unknown: redis is down', since: null, checkedAt: null }
  const llm: ComponentHealth = cfg.OPENROUTER_API_KEY
    ? { status: 'up', detail: `model ${cfg.OPENROUTER_MODEL}` }
    : { status: 'not_configured', detail: 'OPENROUTER_API_KEY is not set: the rule analyser answers' }
  const slack: ComponentHealth =
    cfg.SLACK_BOT_TOKEN && cfg.SLACK_SIGNING_SECRET
      ? { status: 'up', detail: `channel ${cfg.SLACK_CHANNEL ?? '(none)'}` }
      : {
          status: 'not_configured',
          detail: 'SLACK_BOT_TOKEN / SLACK_SIGNING_SECRET not set: approvals go through the API',
        }
  return {
    status: r.status === 'up' ? 'ok' : 'unavailable',
    components: { redis: r, docker: d, prometheus: p, llm, slack },
    monitoring,
    checkedAt: new Date().toISOString(),
  }
}
