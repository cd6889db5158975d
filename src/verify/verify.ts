/**
 * Verification after a fix: the action's own check (container running and healthy, directories
 * empty, process gone) and, for metric alerts, the metric that raised the alert read again from its
 * source (./remeasure), until both have been good for a settle time, or give up at a deadline.
 * Then resolve, or roll back (where the action can) and escalate. When the metric could not be read
 * at all, the incident is escalated without a rollback. A metric read through a PromQL range
 * (`rate(...[1m])`) gets that range on top of the deadline: it still averages in the time before
 * the fix. A disk still full after clean_sandbox may have its quarantine purged (./disk-purge).
 */
import { getAction } from '../actions/catalog'
import type { ActionDefinition, VerifyResult } from '../actions/types'
import { getConfig } from '../platform/config/index'
import { findWatchedContainer } from '../platform/docker/engine-api'
import type { AuditLog } from '../platform/store/audit'
import type { IncidentStore } from '../platform/store/incidents'
import {
  escalate,
  isClosed,
  isTerminal,
  recordRollback,
  recordVerification,
  resolve,
} from '../platform/store/lifecycle'
import type { Alert, Incident } from '../platform/store/model'
import { NOT_REVERSIBLE_AFTER_PURGE, purgeQuarantineForDisk } from './disk-purge'
import {
  lookbackMs,
  remeasure,
  remeasureOptionsFromConfig,
  remeasures,
  type Remeasurement,
  type RemeasureOptions,
} from './remeasure'
import { isLocalNode, nodeOfAlert, runActionOp, verifyOnNode } from '../actions/on-node'

/** The most a PromQL range may add to the verification deadline (the step itself times out at 600 s). */
export const MAX_LOOKBACK_MS = 5 * 60_000

export interface VerifyOptions {
  timeoutMs: number
  stableMs: number
  pollMs?: number
}

/** Polls `check` until it has been ok for `stableMs` without a break, or `timeoutMs` passes. */
export async function verifyUntilStable(
  check: () => Promise<VerifyResult>,
  opts: VerifyOptions,
): Promise<VerifyResult & { checks: number }> {
  const poll = opts.pollMs ?? 100
  const deadline = Date.now() + opts.timeoutMs
  let okSince: number | null = null
  let last: VerifyResult = { ok: false, detail: 'not checked' }
  let checks = 0
  for (;;) {
    try {
      last = await check()
    } catch (err) {
      last = { ok: false, detail: `check failed: ${(err as Error).message}` }
    }
    checks++
    const now = Date.now()
    if (last.ok) {
      okSince ??= now
      if (now - okSince >= opts.stableMs) return { ...last, checks }
    } else {
      okSince = null
    }
    if (now >= deadline)
      return { ...last, ok: false, detail: `not stable within ${opts.timeoutMs} ms: ${last.detail}`, checks }
    await new Promise((r) => setTimeout(r, poll))
  }
}

/** The action whose verify() re-measures this incident: the one that ran, or the natural fix. */
export function verifierFor(incident: Incident): { action: ActionDefinition; params: Record<string, unknown> } | null {
  const decision = incident.decision
  if (decision?.actionId) {
    const action = getAction(decision.actionId)
    if (action) return { action, params: decision.params }
  }
  if (incident.resource.kind === 'container') {
    const action = getAction('restart_container')
    if (action) return { action, params: { containerId: incident.resource.id } }
  }
  return null
}

export interface VerifyDeps {
  store: IncidentStore
  audit: AuditLog
  actor: string
  /** Where the alert's metric is read again; default: from the configuration. */
  remeasure?: RemeasureOptions
}

/**
 * The action's own check, then (for metric alerts, once that passes) the metric that raised the
 * alert, read again: the fix holds only when both do. `metricReadings` counts the times the metric
 * could be read at all.
 */
export function metricVerifier(alert: Alert, own: () => Promise<VerifyResult>, opts: RemeasureOptions) {
  const state = { metricReadings: 0 }
  const check = async (): Promise<VerifyResult> => {
    const result = await own()
    if (!result.ok || !remeasures(alert)) return result
    const m = await remeasure(alert, opts)
    if (m.status !== 'unavailable') state.metricReadings++
    return {
      ok: m.status === 'under',
      detail: `${result.detail}; ${m.detail}`,
      data: { ...(result.data ?? {}), remeasure: m },
    }
  }
  return { check, state }
}

export async function verifyIncident(
  incidentId: string,
  opts: VerifyOptions,
  deps: VerifyDeps,
): Promise<{ incident: Incident; ok: boolean; skipped?: string }> {
  const incident = await deps.store.get(incidentId)
  if (!incident) throw new Error(`incident ${incidentId} not found`)
  if (isTerminal(incident)) {
    return { incident, ok: incident.status === 'resolved', skipped: `incident is ${incident.status}` }
  }
  const verifier = verifierFor(incident)
  if (!verifier) {
    // No fix ran (none was proposed) and nothing checks this kind of resource without one.
    const kind = incident.resource.kind
    const detail = `nothing checks ${/^[aeiou]/.test(kind) ? 'an' : 'a'} ${kind} alert without a fix`
    const updated = await deps.store.update(incidentId, (i) =>
      recordVerification(i, {
        actor: deps.actor,
        summary: `nothing to verify against: ${detail}`,
        data: { ok: false, detail },
      }),
    )
    return { incident: updated, ok: false }
  }
  // A container check inspects the container again and again: only one carrying the watch label
  // (from the label-filtered listing) is looked at, whatever container the incident names.
  // On another node, its agent makes the same check against its own engine (src/fleet/agent.ts).
  const target = typeof verifier.params.containerId === 'string' ? verifier.params.containerId : undefined
  const local = isLocalNode(nodeOfAlert(incident.alert))
  if (target && local && (await findWatchedContainer(target).catch(() => undefined)) === null) {
    const detail = `no container carrying the watch label answers to "${target}" (removed, or not watched): nothing was checked`
    const updated = await deps.store.update(incidentId, (i) =>
      recordVerification(i, {
        actor: deps.actor,
        summary: `verification failed: ${detail}`,
        data: { ok: false, detail },
      }),
    )
    await deps.audit.append({
      kind: 'incident.verified',
      actor: deps.actor,
      incidentId,
      resource: incident.resource.name,
      outcome: 'failed',
      data: { detail },
    })
    return { incident: updated, ok: false }
  }
  const ctx = { incidentId, actor: deps.actor, since: incident.alert.at, node: nodeOfAlert(incident.alert) }
  const byMetric = remeasures(incident.alert)
  const { check, state } = metricVerifier(
    incident.alert,
    () => verifyOnNode(verifier.action, verifier.params, ctx),
    deps.remeasure ?? remeasureOptionsFromConfig(getConfig()),
  )
  const lookback = byMetric ? Math.min(lookbackMs(incident.alert), MAX_LOOKBACK_MS) : 0
  // A metric changes per scrape or sample, not per 100 ms.
  const window = { ...opts, timeoutMs: opts.timeoutMs + lookback, pollMs: opts.pollMs ?? (byMetric ? 500 : undefined) }
  let result = await verifyUntilStable(check, window)
  let m = result.data?.remeasure as Remeasurement | undefined
  const purged = result.ok ? null : await purgeQuarantineForDisk(incident, m, deps)
  if (purged) {
    result = await verifyUntilStable(check, window)
    m = result.data?.remeasure as Remeasurement | undefined
  }
  // The action did what it checks for, but the metric could never be read (its source is down):
  // nothing says the fix failed, nothing says it worked. Undoing it blind would bring back the
  // state that raised the alert, so it stays in place and a person decides.
  const unreadable = byMetric && m?.status === 'unavailable' && state.metricReadings === 0
  const after = purged ? ' (after deleting the quarantine)' : ''
  const updated = await deps.store.update(incidentId, (i) =>
    recordVerification(i, {
      actor: deps.actor,
      summary: result.ok ? `verified${after}: ${result.detail}` : `verification failed${after}: ${result.detail}`,
      data: {
        ok: result.ok,
        detail: result.detail,
        checks: result.checks,
        ...(result.data ?? {}),
        ...(byMetric ? { metricReadings: state.metricReadings } : {}),
        ...(lookback ? { lookbackMs: lookback, timeoutMs: window.timeoutMs } : {}),
        ...(purged ? { quarantinePurged: purged } : {}),
        ...(unreadable
          ? {
              rollback: false,
              rollbackSkipped: 'the metric that raised the alert could not be re-measured; the action is left in place',
            }
          : {}),
        ...(purged && !result.ok ? { rollback: false, rollbackSkipped: NOT_REVERSIBLE_AFTER_PURGE } : {}),
      },
    }),
  )
  await deps.audit.append({
    kind: 'incident.verified',
    actor: deps.actor,
    incidentId,
    resource: incident.resource.name,
    outcome: result.ok ? 'ok' : unreadable ? 'unverifiable' : 'failed',
    data: { detail: result.detail, ...(m ? { remeasure: m } : {}) },
  })
  return { incident: updated, ok: result.ok }
}

export async function resolveIncident(incidentId: string, deps: VerifyDeps, summary = 'resolved'): Promise<Incident> {
  // Resolved already (a replayed event), or closed otherwise meanwhile (suppressed): nothing to do.
  let resolved = false
  const incident = await deps.store.update(
    incidentId,
    (i) => (resolved = !isClosed(i) && resolve(i, { actor: deps.actor, summary })),
  )
  if (!resolved) return incident
  await deps.audit.append({
    kind: 'incident.resolved',
    actor: deps.actor,
    incidentId,
    resource: incident.resource.name,
    outcome: 'resolved',
  })
  return incident
}

/**
 * Why no fix ran, for an escalation: the decision's reason, and what the analysis found when it
 * proposed no fix (a disk alert with nothing to clean: "the sandbox is empty...").
 */
export function noFixReason(incident: Incident): string {
  const d = incident.decision
  if (!d) return 'nothing was decided'
  if (d.rule === 'no-fix') {
    const found = (incident.analysis as { root_cause?: unknown } | undefined)?.root_cause
    return typeof found === 'string' && found
      ? `the analysis proposed none: ${found.replace(/\.$/, '')}`
      : 'the analysis proposed none'
  }
  return d.reasons.at(0) ?? d.rule
}

/**
 * Rolls back the executed action where it has a rollback, then escalates to an admin. `why` is
 * the caller's reason for a fix that did not hold; when no fix ran at all (none was proposed, the
 * container's own restart policy was left to act), the escalation says so instead.
 */
export async function rollbackAndEscalate(incidentId: string, deps: VerifyDeps, why: string): Promise<Incident> {
  const incident = await deps.store.get(incidentId)
  if (!incident) throw new Error(`incident ${incidentId} not found`)
  if (isTerminal(incident)) return incident
  const fixRan = incident.actions.some((a) => a.status === 'succeeded' || a.status === 'rolled_back')
  if (!fixRan) why = `no fix ran (${noFixReason(incident)})`
  const executed = [...incident.actions].reverse().find((a) => a.status === 'succeeded')
  const action = executed ? getAction(executed.actionId) : undefined
  const lastVerification = [...incident.timeline].reverse().find((t) => t.stage === 'verified')
  // "Left in place" speaks of a fix: with none, the verification's detail is the reason.
  const skip =
    fixRan && lastVerification?.data?.rollback === false
      ? String(lastVerification.data.rollbackSkipped ?? 'verification asked not to roll back')
      : undefined
  const detail = lastVerification?.data?.detail
  if (skip) why = `${skip}: ${detail ?? why}`
  else if (detail) why = `${why}: ${detail}`
  let undo = ''
  if (executed && action?.rollback && !skip) {
    undo = `; ${action.id} rolled back`
    try {
      const result = await runActionOp(
        'rollback',
        action,
        executed.params,
        { incidentId, actor: deps.actor, since: incident.alert.at, node: nodeOfAlert(incident.alert) },
        executed.result ?? {},
      )
      await deps.store.update(incidentId, (i) =>
        recordRollback(i, {
          actionId: executed.actionId,
          ok: true,
          actor: deps.actor,
          summary: `${action.id} rolled back`,
          data: result,
        }),
      )
      await deps.audit.append({
        kind: 'action.rolled_back',
        actor: deps.actor,
        incidentId,
        resource: incident.resource.name,
        outcome: 'succeeded',
        data: { actionId: action.id, result },
      })
    } catch (err) {
      undo = `; the rollback of ${action.id} failed: ${(err as Error).message}`
      await deps.store.update(incidentId, (i) =>
        recordRollback(i, {
          actionId: executed.actionId,
          ok: false,
          actor: deps.actor,
          summary: `rollback of ${action.id} failed: ${(err as Error).message}`,
          data: { ok: false },
        }),
      )
      await deps.audit.append({
        kind: 'action.rolled_back',
        actor: deps.actor,
        incidentId,
        resource: incident.resource.name,
        outcome: 'failed',
        data: { actionId: action.id, error: (err as Error).message },
      })
    }
  }
  // Ended meanwhile (the alert cleared, a person closed it): it stays as it is.
  const escalated = await deps.store.update(
    incidentId,
    (i) =>
      !isTerminal(i) &&
      escalate(i, {
        actor: deps.actor,
        summary: `escalated to an admin: ${why}${undo}`,
        data: {
          approverRole: 'admin',
          ...(skip ? { actionLeftInPlace: true } : {}),
          ...(fixRan ? {} : { fixRan: false }),
        },
      }),
  )
  if (escalated.status !== 'escalated') return escalated
  await deps.audit.append({
    kind: 'incident.escalated',
    actor: deps.actor,
    incidentId,
    resource: incident.resource.name,
    outcome: 'escalated',
    data: { why },
  })
  return escalated
}

/** Why the incident was escalated, as its timeline says (for notifications). */
export function escalationSummary(incident: Incident): string | undefined {
  return [...incident.timeline].reverse().find((t) => t.stage === 'escalated')?.summary
}
