/**
 * Synthetic incidents for bench/history: documents shaped like the ones the flow stores (alert,
 * analysis with evidence, decision, actions, snapshots, timeline, approvals on some), spread over
 * the last `days` days across nodes, resources and types, from a seeded generator so two runs
 * archive the same data.
 */
import type { Incident } from '../../src/platform/store/model'

/** mulberry32: small, fast, seeded. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const TYPES = ['container_down', 'memory', 'cpu', 'disk', 'latency', 'anomaly'] as const
const CAUSES = ['oom', 'crash_loop', 'bad_config', 'disk_full', 'cpu_saturation', 'dependency_down', 'transient']
const WORDS = ['checkout', 'payments', 'search', 'gateway', 'auth', 'billing', 'catalog', 'ledger', 'mailer', 'cache']

export function syntheticIncident(n: number, rand: () => number, nowMs: number, days: number): Incident {
  const type = TYPES[Math.floor(rand() * TYPES.length)]
  const node = `node-${Math.floor(rand() * 8)}`
  const service = WORDS[Math.floor(rand() * WORDS.length)]
  const name = `${service}-${Math.floor(rand() * 30)}`
  const opened = nowMs - Math.floor(rand() * days * 86_400_000)
  const iso = (ms: number) => new Date(ms).toISOString()
  const detected = opened - Math.floor(rand() * 20_000)
  const cause = CAUSES[Math.floor(rand() * CAUSES.length)]
  const roll = rand()
  const status = roll < 0.8 ? 'resolved' : roll < 0.9 ? 'escalated' : 'suppressed'
  const needsApproval = rand() < 0.2
  const resolvedMs = opened + 5_000 + Math.floor(rand() * 600_000)
  const resource = { kind: 'container' as const, id: `${n.toString(16).padStart(12, '0')}`, name }
  const actionOk = status === 'resolved'
  const id = `inc_${opened.toString(36)}_${n.toString(16).padStart(8, '0')}`
  return {
    id,
    fingerprint: `${type}:${name}`,
    type,
    severity: rand() < 0.3 ? 'critical' : 'warning',
    status,
    title: `${name} on ${node}: ${type.replace('_', ' ')} (${cause.replace('_', ' ')})`,
    resource,
    alert: {
      fingerprint: `${type}:${name}`,
      type,
      severity: 'warning',
      metric: type === 'container_down' ? 'container_running' : `${type}_percent`,
      value: Math.round(rand() * 100),
      threshold: 90,
      resource,
      labels: { node, service, container: name },
      source: type === 'container_down' ? 'docker-events' : 'collector',
      at: iso(detected),
      details: { exitCode: 137, oomKilled: cause === 'oom' },
    },
    analysis: {
      analyser: rand() < 0.7 ? 'rules' : 'llm',
      cause,
      root_cause: `${service} ${cause.replace('_', ' ')}: the ${name} process ${cause === 'oom' ? 'was killed by the kernel OOM killer' : 'failed its checks'} after a ${WORDS[Math.floor(rand() * WORDS.length)]} deploy`,
      confidence: Math.round(rand() * 100) / 100,
      evidence: { restarts: Math.floor(rand() * 5), memoryPercent: Math.round(rand() * 100), log: 'x'.repeat(300) },
    },
    decision: {
      route: needsApproval ? 'approval' : status === 'escalated' ? 'escalate' : 'auto',
      risk: needsApproval ? 'medium' : 'low',
      actionId: 'restart_container',
      params: { containerId: resource.id },
      reasons: ['restart_container is low risk for a dead container', 'rate limit 1/3 used'],
      rule: 'container_down',
      decidedAt: iso(opened + 1_000),
    },
    approval: needsApproval
      ? {
          status: 'approved',
          approverRole: 'operator',
          risk: 'medium',
          actionId: 'restart_container',
          params: {},
          requestedAt: iso(opened + 1_500),
          expiresAt: iso(opened + 900_000),
          decidedBy: 'user:alice',
          decidedAt: iso(opened + 1_500 + Math.floor(rand() * 300_000)),
          decidedByRole: 'operator',
        }
      : undefined,
    actions:
      status === 'suppressed'
        ? []
        : [
            {
              actionId: 'restart_container',
              params: { containerId: resource.id },
              status: actionOk ? 'succeeded' : 'failed',
              startedAt: iso(opened + 2_000),
              finishedAt: iso(opened + 4_000),
              result: { restarted: actionOk },
            },
          ],
    snapshots: [{ containerId: resource.id, state: 'exited', restartCount: Math.floor(rand() * 4) }],
    timeline: [
      { stage: 'detected', at: iso(opened), actor: 'sentinel:docker-watcher', summary: `${name} died` },
      { stage: 'analyzed', at: iso(opened + 800), actor: 'step:AnalyzeIncident', summary: cause },
      { stage: 'decided', at: iso(opened + 1_000), actor: 'step:DecideRemediation', summary: 'restart' },
      { stage: 'acted', at: iso(opened + 4_000), actor: 'step:ExecuteRemediation', summary: 'restarted' },
      status === 'resolved'
        ? { stage: 'resolved', at: iso(resolvedMs), actor: 'step:VerifyRemediation', summary: 'running again' }
        : status === 'escalated'
          ? { stage: 'escalated', at: iso(resolvedMs), actor: 'step:VerifyRemediation', summary: 'still failing' }
          : { stage: 'suppressed', at: iso(resolvedMs), actor: 'sentinel', summary: 'stopped on purpose' },
    ],
    openedAt: iso(opened),
    updatedAt: iso(resolvedMs),
    resolvedAt: status === 'resolved' ? iso(resolvedMs) : undefined,
    version: 6,
  }
}
