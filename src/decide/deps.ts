/** The policy's dependencies built from the configuration, shared by the fast path and the flow. */
import type { SentinelConfig } from '../platform/config/index'
import { activeFreeze, describeFreeze } from './freeze'
import type { PolicyDeps } from './index'
import { takeRateLimit } from './rate-limit'
import { acquire, LEASES_KEY, release } from './concurrency'

export function policyDeps(cfg: SentinelConfig): PolicyDeps {
  const windows = cfg.FREEZE_WINDOWS
  return {
    config: cfg,
    takeRateLimit: (a, r, i) => takeRateLimit(a, r, i, cfg.RATE_LIMIT_MAX_ACTIONS, cfg.RATE_LIMIT_WINDOW_SECONDS),
    activeFreeze: (now) => {
      const f = activeFreeze(now, windows)
      return f ? describeFreeze(f) : null
    },
  }
}

/**
 * Which cap an action runs under. The cap on remediations at once (MAX_CONCURRENT_REMEDIATIONS)
 * bounds how much a wrong diagnosis can disturb at the same moment: a restart, a memory limit, a
 * scale-out change something that runs. Starting a watched container that died changes nothing
 * that runs, and holding it to the same small cap made a burst of 30 deaths on one node come back
 * several times slower than Docker's own restart policy, which starts them all at once
 * (bench:fleet -- --burst 30). Such a recovery has its own cap per node
 * (MAX_CONCURRENT_RECOVERIES), which bounds the load put on one engine; the rate limit per
 * container and every other guardrail still apply.
 */
export type SlotLane = { kind: 'remediation' } | { kind: 'recovery'; node: string }

export const REMEDIATION_LANE: SlotLane = { kind: 'remediation' }

/** The node of an incident from this host's own engine, in lane keys. */
const LOCAL_NODE = 'local'

export function slotLaneFor(
  incident: { type: string; alert: { labels?: Record<string, string> } },
  actionId: string | null | undefined,
): SlotLane {
  if (incident.type === 'container_down' && actionId === 'restart_container')
    return { kind: 'recovery', node: incident.alert.labels?.node || LOCAL_NODE }
  return REMEDIATION_LANE
}

export const recoveryLeasesKey = (node: string) => `${LEASES_KEY}:recovery:${node}`

export interface RemediationSlots {
  acquire(incidentId: string, lane?: SlotLane): Promise<boolean>
  release(incidentId: string, lane?: SlotLane): Promise<void>
}

/** The caps on actions running at once (see SlotLane), shared in Redis by every process. */
export function remediationSlots(cfg: SentinelConfig): RemediationSlots {
  const ttlMs = cfg.REMEDIATION_LEASE_SECONDS * 1000
  return {
    acquire: (incidentId, lane = REMEDIATION_LANE) =>
      lane.kind === 'recovery'
        ? acquire(incidentId, cfg.MAX_CONCURRENT_RECOVERIES, ttlMs, { key: recoveryLeasesKey(lane.node) })
        : acquire(incidentId, cfg.MAX_CONCURRENT_REMEDIATIONS, ttlMs),
    release: (incidentId, lane = REMEDIATION_LANE) =>
      release(incidentId, lane.kind === 'recovery' ? { key: recoveryLeasesKey(lane.node) } : {}),
  }
}
