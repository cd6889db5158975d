/**
 * What the chaos API steps do: write the desired state the engine (in the main process) converges
 * on, and read back its state and history with the incident each fault caused. Light imports only
 * (no dockerode): these run in step processes.
 */
import { randomBytes } from 'node:crypto'
import type { Redis } from 'ioredis'
import { HttpError } from '../platform/http/errors'
import type { SentinelConfig } from '../platform/config/index'
import { engineGet } from '../platform/docker/engine-api'
import type { AuditLog } from '../platform/store/audit'
import type { IncidentStore } from '../platform/store/incidents'
import { type FaultIncident, MATCH_WINDOW_MS, matchFaultsToIncidents } from './match'
import { ChaosStore, engineAlive, wantsRun } from './store'
import { CHAOS_LABEL, type ChaosDesired, type ChaosPlan, type FaultRecord } from './types'

export interface ChaosApiDeps {
  redis: Redis
  audit: Pick<AuditLog, 'append'>
  store: Pick<IncidentStore, 'list'>
  config: Pick<SentinelConfig, 'DOCKER_SOCKET' | 'WATCH_LABEL'>
}

/** Names of the running containers chaos may act on now (what the engine will re-check). */
async function eligibleNow(config: ChaosApiDeps['config'], targets?: string[]): Promise<string[] | { error: string }> {
  const labels = [`${CHAOS_LABEL.key}=${CHAOS_LABEL.value}`, `${config.WATCH_LABEL.key}=${config.WATCH_LABEL.value}`]
  try {
    const list = await engineGet<{ Names: string[] }[]>(
      `/containers/json?filters=${encodeURIComponent(JSON.stringify({ label: labels, status: ['running'] }))}`,
      { socketPath: config.DOCKER_SOCKET, timeoutMs: 3000 },
    )
    const names = list.map((c) => (c.Names[0] ?? '').replace(/^\//, '')).filter(Boolean)
    return targets ? names.filter((n) => targets.includes(n)) : names
  } catch (err) {
    return { error: (err as Error).message }
  }
}

export async function startChaos(plan: ChaosPlan, by: string, deps: ChaosApiDeps) {
  const chaos = new ChaosStore(deps.redis)
  const current = await chaos.desired()
  if (current && wantsRun(current))
    throw new HttpError(
      409,
      'chaos_running',
      `chaos run ${current.runId} is running until ${current.until}; stop it first (POST /api/chaos/stop)`,
    )
  const now = Date.now()
  const desired: ChaosDesired = {
    runId: `chaos_${now.toString(36)}_${randomBytes(4).toString('hex')}`,
    status: 'running',
    plan,
    requestedBy: by,
    requestedAt: new Date(now).toISOString(),
    until: new Date(now + plan.durationSec * 1000).toISOString(),
  }
  await chaos.setDesired(desired)
  await deps.audit.append({
    kind: 'chaos.requested',
    actor: by,
    outcome: 'running',
    data: { chaosId: desired.runId, plan, until: desired.until },
  })
  const [eligible, state] = await Promise.all([eligibleNow(deps.config, plan.targets), chaos.state()])
  const alive = engineAlive(state)
  return {
    runId: desired.runId,
    status: 'starting',
    until: desired.until,
    plan,
    eligible: Array.isArray(eligible) ? eligible : [],
    warnings: [
      ...(!alive
        ? ['no chaos engine is running in the Sentinel main process: nothing will happen until one starts']
        : []),
      ...(Array.isArray(eligible)
        ? eligible.length === 0 && Object.keys(plan.faults).some((k) => k !== 'fillTemp')
          ? [
              `no running container carries ${CHAOS_LABEL.key}=${CHAOS_LABEL.value} and ${deps.config.WATCH_LABEL.key}=${deps.config.WATCH_LABEL.value}${plan.targets ? ' among the targets' : ''}: container faults will be skipped`,
            ]
          : []
        : [`could not list containers: ${eligible.error}`]),
    ],
  }
}

export async function stopChaos(by: string, deps: Pick<ChaosApiDeps, 'redis' | 'audit'>) {
  const chaos = new ChaosStore(deps.redis)
  const current = await chaos.desired()
  if (!current || !wantsRun(current))
    return { status: 'idle', message: 'no chaos run is running', ...(current ? { runId: current.runId } : {}) }
  const stopped: ChaosDesired = { ...current, status: 'stopped', stoppedBy: by, stoppedAt: new Date().toISOString() }
  await chaos.setDesired(stopped)
  await deps.audit.append({
    kind: 'chaos.stop_requested',
    actor: by,
    outcome: 'stopping',
    data: { chaosId: current.runId },
  })
  return {
    status: 'stopping',
    runId: current.runId,
    message: 'the engine ends every fault in effect within a couple of seconds',
  }
}

export type FaultView = FaultRecord & { incident: FaultIncident | null }

export async function chaosStatus(
  opts: { limit: number; runId?: string },
  deps: Pick<ChaosApiDeps, 'redis' | 'store'>,
) {
  const chaos = new ChaosStore(deps.redis)
  const [desired, state, faults] = await Promise.all([
    chaos.desired(),
    chaos.state(),
    chaos.history(opts.limit, opts.runId),
  ])
  let matches = new Map<string, FaultIncident>()
  const injected = faults.filter((f) => f.outcome === 'injected')
  if (injected.length) {
    const oldest = Math.min(...injected.map((f) => Date.parse(f.at)))
    const newest = Math.max(...injected.map((f) => Date.parse(f.endedAt ?? f.at)))
    // Incidents opened from a window before the oldest fault (one open for an earlier fault may absorb a later one).
    const incidents = await deps.store.list({
      limit: 1000,
      afterMs: oldest - MATCH_WINDOW_MS,
      beforeMs: newest + MATCH_WINDOW_MS,
    })
    matches = matchFaultsToIncidents(faults, incidents)
  }
  const history: FaultView[] = faults.map((f) => ({ ...f, incident: matches.get(f.faultId) ?? null }))
  return {
    status: wantsRun(desired) ? 'running' : 'idle',
    desired,
    state,
    engine: { alive: engineAlive(state), heartbeatAt: state?.heartbeatAt ?? null },
    summary: {
      faults: faults.length,
      injected: injected.length,
      withIncident: history.filter((f) => f.incident).length,
      resolved: history.filter((f) => f.incident?.status === 'resolved').length,
    },
    history,
  }
}
