/** The policy's dependencies built from the configuration, shared by the fast path and the flow. */
import type { SentinelConfig } from '../platform/config/index'
import { activeFreeze, describeFreeze } from './freeze'
import type { PolicyDeps } from './index'
import { takeRateLimit } from './rate-limit'
import { acquire, release } from './concurrency'

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

/** The cap on remediations running at once (MAX_CONCURRENT_REMEDIATIONS), shared in Redis. */
export function remediationSlots(cfg: SentinelConfig) {
  return {
    acquire: (incidentId: string) =>
      acquire(incidentId, cfg.MAX_CONCURRENT_REMEDIATIONS, cfg.REMEDIATION_LEASE_SECONDS * 1000),
    release: (incidentId: string) => release(incidentId),
  }
}
