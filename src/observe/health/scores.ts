/**
 * Gathers the health score inputs (score.ts) from what Sentinel knows: the watched containers'
 * state from the Docker Engine API, incidents from the store, the latest checks from the monitor.
 * Light imports only: GET /api/infrastructure-status runs this in a step process, /metrics in the
 * main process.
 */
import type { SentinelConfig } from '../../platform/config/index'
import { engineGet } from '../../platform/docker/engine-api'
import type { CheckStatus } from '../monitor'
import type { IncidentStore } from '../../platform/store/incidents'
import type { Incident } from '../../platform/store/model'
import { availabilityOf, type ContainerCondition, healthScore, type HealthScore, systemScore } from './score'

/** Restarts count over this window. */
export const RESTART_WINDOW_MS = 60 * 60_000
/** Escalated incidents stay "open" until closed; they are looked for this far back. */
const OPEN_LOOKBACK_MS = 24 * 60 * 60_000
const MAX_OPEN_FETCHED = 500

export interface ContainerHealth extends HealthScore {
  name: string
  id: string
  condition: ContainerCondition
}

export interface HealthView {
  system: HealthScore
  containers: ContainerHealth[]
  /** Why container scores are missing (Docker unreachable), when they are. */
  containersError?: string
  restartWindowSeconds: number
  at: string
}

export interface HealthDeps {
  config: Pick<SentinelConfig, 'DOCKER_SOCKET' | 'WATCH_LABEL'>
  store: Pick<IncidentStore, 'list' | 'openIds' | 'get'>
  /** The latest checks (Monitor.latestStatus().checks). */
  checks: () => Promise<CheckStatus[]>
  now?: () => number
}

interface ContainerSummary {
  Id: string
  Names: string[]
  State: string
  Status: string
}

export function conditionOf(c: Pick<ContainerSummary, 'State' | 'Status'>): ContainerCondition {
  if (c.State === 'paused') return 'paused'
  if (c.State === 'restarting') return 'restarting'
  if (c.State !== 'running') return 'down'
  if (c.Status.includes('(unhealthy)')) return 'unhealthy'
  if (c.Status.includes('(health: starting)')) return 'starting'
  if (c.Status.includes('(healthy)')) return 'healthy'
  return 'running'
}

const isOpen = (i: Incident) => !i.test && i.status !== 'resolved' && i.status !== 'suppressed'
const ratio = (c: Pick<CheckStatus, 'value' | 'threshold'>) =>
  c.threshold > 0 && Number.isFinite(c.value) ? c.value / c.threshold : NaN

export async function computeHealth(deps: HealthDeps): Promise<HealthView> {
  const now = deps.now?.() ?? Date.now()
  const label = `${deps.config.WATCH_LABEL.key}=${deps.config.WATCH_LABEL.value}`
  let containers: ContainerSummary[] = []
  let containersError: string | undefined
  const listing = engineGet<ContainerSummary[]>(
    `/containers/json?all=1&filters=${encodeURIComponent(JSON.stringify({ label: [label] }))}`,
    { socketPath: deps.config.DOCKER_SOCKET, timeoutMs: 3000 },
  ).catch((err) => {
    containersError = (err as Error).message
    return [] as ContainerSummary[]
  })
  const [listed, recent, openIds, checks] = await Promise.all([
    listing,
    deps.store.list({ limit: 1000, afterMs: now - OPEN_LOOKBACK_MS }),
    deps.store.openIds(),
    deps.checks().catch(() => [] as CheckStatus[]),
  ])
  containers = listed
  const known = new Set(recent.map((i) => i.id))
  const older = (
    await Promise.all(
      openIds
        .filter((id) => !known.has(id))
        .slice(0, MAX_OPEN_FETCHED)
        .map((id) => deps.store.get(id)),
    )
  ).filter((i): i is Incident => !!i)
  const open = [...recent, ...older].filter(isOpen)

  const views: ContainerHealth[] = containers.map((c) => {
    const name = (c.Names[0] ?? c.Id).replace(/^\//, '')
    const mine = (i: { resource: { kind: string; id: string; name: string } }) =>
      i.resource.kind === 'container' && (i.resource.id === c.Id || i.resource.name === name)
    const condition = conditionOf(c)
    const score = healthScore({
      availability: availabilityOf(condition),
      restarts: recent.filter(
        (i) => !i.test && i.type === 'container_down' && mine(i) && Date.parse(i.openedAt) >= now - RESTART_WINDOW_MS,
      ).length,
      openIncidents: open.filter(mine).length,
      thresholdRatios: checks.filter(mine).map(ratio),
    })
    return { name, id: c.Id, condition, ...score }
  })
  const hostChecks = checks.filter((c) => c.resource.kind !== 'container')
  const system = systemScore(
    {
      openIncidents: open.filter((i) => i.resource.kind !== 'container').length,
      thresholdRatios: hostChecks.map(ratio),
    },
    views,
  )
  return {
    system,
    containers: views.sort((a, b) => a.name.localeCompare(b.name)),
    ...(containersError ? { containersError } : {}),
    restartWindowSeconds: RESTART_WINDOW_MS / 1000,
    at: new Date(now).toISOString(),
  }
}

/** The scores as /metrics exposes them (sentinel_health_score{scope,container}). */
export async function healthScoresForMetrics(
  deps: HealthDeps,
): Promise<{ system: number; containers: Record<string, number> }> {
  const view = await computeHealth(deps)
  return { system: view.system.score, containers: Object.fromEntries(view.containers.map((c) => [c.name, c.score])) }
}
