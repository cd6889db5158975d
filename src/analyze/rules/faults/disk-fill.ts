/**
 * A disk filled by logs, temporary files or cache: the sandbox's cleanable directories hold a
 * real share of it, which clean_sandbox frees (data/ is never touched). Only for this host: the
 * sandbox measured is this host's.
 */
import type { Evidence } from '../../evidence/types'
import { formatBytes, verdict, type FaultRule } from './types'

export function judgeDiskFill(e: Evidence) {
  const s = e.sandbox
  if (!s || !e.alert.thisHost || s.cleanableBytes === 0 || s.totalBytes === 0) return null
  const share = s.cleanableBytes / s.totalBytes
  if (share < 0.1) return null
  const [biggest] = (['logs', 'temp', 'cache'] as const)
    .map((k) => [k, s.subdirs[k]] as const)
    .sort((a, b) => b[1].bytes - a[1].bytes)
  const ev = [
    `logs, temp and cache hold ${formatBytes(s.cleanableBytes)} of the sandbox's ${formatBytes(s.totalBytes)} (${Math.round(share * 100)}%)`,
    `${biggest[0]}/ holds ${formatBytes(biggest[1].bytes)} in ${biggest[1].files} files${biggest[1].largest[0] ? `, largest ${biggest[1].largest[0].path} (${formatBytes(biggest[1].largest[0].bytes)})` : ''}`,
  ]
  return verdict({
    cause: 'disk_fill',
    root_cause:
      share >= 0.5
        ? `Sandbox ${biggest[0]}/ is filling the disk: logs, temp and cache hold ${formatBytes(s.cleanableBytes)} (${Math.round(share * 100)}% of the sandbox), which cleaning frees.`
        : `data/ holds most of the sandbox (${formatBytes(s.subdirs.data.bytes)}); cleaning logs, temp and cache frees only ${formatBytes(s.cleanableBytes)}.`,
    evidence: ev,
    proposed_fix: { action: 'clean_sandbox', params: {} },
    risk_level: 'medium',
    confidence: share >= 0.5 ? 0.5 + 0.4 * share : 0.35,
  })
}

export const diskFill: FaultRule = { cause: 'disk_fill', appliesTo: ['disk'], judge: judgeDiskFill }
