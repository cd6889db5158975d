/**
 * A watched container that dies again while its `container_down` incident is still open.
 *
 * One incident per problem: a second death does not open a second incident while the first is
 * open. What it does depends on whether the incident's fix has run yet, judged when the death is
 * handled (the container's events are handled in order, after the fast path's own restart):
 *
 * - **Before the fix ran** (no decision yet, an approval pending, the restart waiting for a slot or
 *   for another worker's claim): the death is merged into the incident with a note. The fix still
 *   to run inspects the container when it runs, finds it dead and starts it.
 * - **After the fix ran** (a restart was started or done under the incident, or Docker's own restart
 *   policy was left to act and verification is on): the fix is spent, and only noting the death
 *   would lose it: the container would stay down while verification, having seen it up, resolves
 *   the incident. So the container is restarted again, under the same incident:
 *   - through the policy first (allow-list, freeze, shadow mode, and the restart rate limit, which
 *     counts this death as one more restart of the container): when it does not route the restart
 *     to `auto`, the incident is escalated with the policy's reason (a verifying incident cannot go
 *     back to waiting for an approval), and the container is left for an admin;
 *   - with the restart's idempotence against the death's own time (`since`): a container already
 *     started after this death (by the restart still in flight, by Docker, by a person) is left as
 *     it is;
 *   - keyed by the death: the claim (ExecutionStore) and the rate-limit member use the id this
 *     death's own incident would have (`incidentIdForEvent`), so the same Docker event delivered
 *     twice, or replayed after a restart of Sentinel, restarts the container once and counts once;
 *     and if the incident closes meanwhile and the death opens its own incident after all, that
 *     incident finds the restart done instead of running it a second time;
 *   - audited (`policy.decided`, `action.executed`, `incident.escalated`, each with `diedAgain` and
 *     `deathId`) and on the incident's timeline as notes (the death with the policy's verdict, then
 *     the restart's outcome), each written once per death.
 *   A failed restart escalates the incident, as a failed fix does. The verification in progress
 *   (VerifyRemediation polls until the container has been up for the settle time) sees the death
 *   and the new start, and resolves or escalates on what it sees; no new verification is started.
 *   (When verification had passed just before the death, the incident resolves with the container
 *   started again but that start not checked: a death after it opens a new incident, as usual.)
 * - **Escalated** (with an admin already: the fix failed, or the rate limit was reached): noted;
 *   nothing more runs by itself, as for any escalated incident.
 * - **Closed meanwhile** (resolved between the look-up and now): the caller opens the death's own
 *   incident, which takes the usual path.
 *
 * The lifecycle has no operation for "a fix ran again under an incident that is verifying"
 * (startRemediation would move it back to `remediating`, which it does not allow): the second run
 * is recorded with `note` entries, and the incident's `actions` list keeps the first run only.
 */
import { getAction } from '../actions/catalog'
import { policyDeps, remediationSlots, slotLaneFor } from '../decide/deps'
import { decide } from '../decide/index'
import type { SentinelConfig } from '../platform/config/index'
import { dockerWillRestart, inspectContainer } from '../platform/docker/client'
import type { AuditLog } from '../platform/store/audit'
import type { ExecutionStore } from '../platform/store/executions'
import type { IncidentStore } from '../platform/store/incidents'
import { escalate, isClosed, isTerminal, note } from '../platform/store/lifecycle'
import type { Alert, Decision, Incident } from '../platform/store/model'
import { nodeOfAlert, runActionOp } from '../actions/on-node'

export const RESTART = 'restart_container'

export interface DiedAgainDeps {
  config: SentinelConfig
  store: IncidentStore
  executions: ExecutionStore
  audit: AuditLog
  actor: string
  /** How long another worker's claim on the restart is trusted (remediationLeaseMs). */
  leaseMs: number
  /** The term of the duty the death is handled under (src/platform/lease/); checked before the restart. */
  fence?: { duty: string; token: number; check(): Promise<void> }
}

/** The death: its alert, the id its own incident would have, and its title. */
export interface Death {
  alert: Alert
  deathId: string
  title: string
}

export type DiedAgainOutcome =
  | { kind: 'merged' }
  | { kind: 'left-for-admin' }
  | { kind: 'docker-restarts' }
  | { kind: 'not-run'; route: Decision['route'] }
  | { kind: 'restarted'; result: Record<string, unknown> }
  | { kind: 'already-done' }
  | { kind: 'failed'; error: string }
  | { kind: 'closed' }

/**
 * Has the incident's fix run? A restart started (or done) under it, or, when Docker's own restart
 * policy was left to act, verification is on.
 */
export function fixHasRun(incident: Incident): boolean {
  if (incident.actions.length > 0) return true
  return incident.decision?.route === 'defer' && incident.status === 'verifying'
}

/** Handles a death on `open`, the container's `container_down` incident, which is not closed. */
export async function onDiedAgain(open: Incident, death: Death, deps: DiedAgainDeps): Promise<DiedAgainOutcome> {
  const { alert, title } = death
  const base = { at: alert.at, ...(alert.details ?? {}) }
  if (isClosed(open)) return { kind: 'closed' }
  if (isTerminal(open)) {
    await noteOnce(
      deps,
      open.id,
      death,
      'died',
      `${title} again; this incident is ${open.status}: left for an admin`,
      base,
    )
    return { kind: 'left-for-admin' }
  }
  if (!fixHasRun(open)) {
    await noteOnce(
      deps,
      open.id,
      death,
      'died',
      `${title} again while this incident is open; its fix, still to run, covers it`,
      base,
    )
    return { kind: 'merged' }
  }
  if (open.decision?.route === 'defer') {
    // Docker's own restart policy is the fix: it restarts the container again unless it gave up.
    let dockerRestarts = false
    try {
      const info = await inspectContainer(open.resource.id)
      dockerRestarts = info.State.Running || info.State.Restarting || dockerWillRestart(info)
    } catch {
      // Gone or unreachable: the policy decides below and the restart reports what it finds.
    }
    if (dockerRestarts) {
      await noteOnce(
        deps,
        open.id,
        death,
        'died',
        `${title} again; its own restart policy restarts it, and verification checks it`,
        base,
      )
      return { kind: 'docker-restarts' }
    }
  }

  const params = { containerId: open.resource.id }
  const decision = await decide(
    // The death's own id is the rate limit's member: the same event handled twice counts once.
    {
      incident: { id: death.deathId, type: open.type, resource: open.resource },
      proposal: { actionId: RESTART, params },
    },
    policyDeps(deps.config),
  )
  const auto = decision.route === 'auto'
  const verdict = auto
    ? `restarting it again under this incident (${decision.reasons.at(-1)})`
    : `not restarted again: ${decision.reasons.at(-1) ?? decision.rule}`
  const noted = await noteOnce(deps, open.id, death, 'died', `${title} again after its fix ran; ${verdict}`, {
    ...base,
    decision,
  })
  if (noted)
    await deps.audit.append({
      kind: 'policy.decided',
      actor: deps.actor,
      incidentId: open.id,
      resource: open.resource.name,
      outcome: decision.route,
      data: { ...decision, diedAgain: true, deathId: death.deathId },
    })
  if (!auto) {
    // Shadow mode records and runs nothing, as for a first death; anything else needs a person.
    if (decision.route === 'shadow') return { kind: 'not-run', route: decision.route }
    const why = `${title} again after its fix ran, and ${decision.reasons.at(-1) ?? decision.rule}`
    if ((await escalateOpen(deps, open, death, why)) === 'closed') return { kind: 'closed' }
    return { kind: 'not-run', route: decision.route }
  }
  return restartAgain(open, death, params, deps)
}

async function restartAgain(
  open: Incident,
  death: Death,
  params: { containerId: string },
  deps: DiedAgainDeps,
): Promise<DiedAgainOutcome> {
  const { store, executions, audit, actor } = deps
  const action = getAction(RESTART)!
  const slots = remediationSlots(deps.config)
  // A start of a container that died: under the node's cap on recoveries at once; busy: thrown, so
  // the event is handled again later.
  const lane = slotLaneFor({ type: 'container_down', alert: open.alert }, RESTART)
  if (!(await slots.acquire(death.deathId, lane))) throw new Error('all recovery slots are busy; retrying the restart')
  try {
    const current = await store.get(open.id)
    if (!current || isClosed(current)) return { kind: 'closed' }
    if (deps.fence) {
      // A controller whose term is over never acts; thrown, the death is handled again by the
      // duty's new leader (its events are replayed there).
      await deps.fence.check().catch(async (err: Error) => {
        await audit.append({
          kind: 'action.fenced',
          actor,
          incidentId: open.id,
          resource: open.resource.name,
          outcome: 'fenced',
          data: {
            actionId: RESTART,
            deathId: death.deathId,
            duty: deps.fence!.duty,
            token: deps.fence!.token,
            reason: err.message,
          },
        })
        throw err
      })
    }
    const existing = await executions.claim(death.deathId, RESTART, actor)
    if (existing && existing.status !== 'started') {
      // Restarted for this death already (a replayed event): its outcome is on the timeline, once.
      const done =
        existing.status === 'succeeded'
          ? { ok: true as const, result: existing.result ?? {} }
          : { ok: false as const, error: existing.error ?? 'failed' }
      await recordOutcome(deps, open, death, done)
      return { kind: 'already-done' }
    }
    if (existing && existing.owner !== actor && Date.now() - Date.parse(existing.startedAt) < deps.leaseMs)
      throw new Error(`the restart for this death is running elsewhere (${existing.owner}); checking again later`)
    // A claim of ours left 'started' (a crash): the restart is idempotent against `since`, run it again.
    const ctx = { incidentId: open.id, actor, since: death.alert.at, node: nodeOfAlert(open.alert) }
    let before: Record<string, unknown>
    try {
      before = await runActionOp('snapshot', action, params, ctx)
    } catch (err) {
      before = { error: `snapshot failed: ${(err as Error).message}` }
    }
    let outcome: { ok: true; result: Record<string, unknown> } | { ok: false; error: string }
    try {
      outcome = { ok: true, result: await runActionOp('execute', action, params, ctx) }
    } catch (err) {
      outcome = { ok: false, error: (err as Error).message }
    }
    await executions.finish(
      death.deathId,
      RESTART,
      outcome.ok ? { status: 'succeeded', result: outcome.result } : { status: 'failed', error: outcome.error },
    )
    await audit.append({
      kind: 'action.executed',
      actor,
      incidentId: open.id,
      resource: open.resource.name,
      outcome: outcome.ok ? 'succeeded' : 'failed',
      data: {
        actionId: RESTART,
        params,
        ...(outcome.ok ? { result: outcome.result } : { error: outcome.error }),
        diedAgain: true,
        deathId: death.deathId,
      },
    })
    if ((await recordOutcome(deps, open, death, outcome, before)) === 'closed') return { kind: 'closed' }
    return outcome.ok ? { kind: 'restarted', result: outcome.result } : { kind: 'failed', error: outcome.error }
  } finally {
    await slots.release(death.deathId, lane)
  }
}

/**
 * The restart's outcome on the timeline (once per death); a failure escalates the incident, unless
 * it is terminal already. 'closed': it failed and the incident had closed meanwhile.
 */
async function recordOutcome(
  deps: DiedAgainDeps,
  open: Incident,
  death: Death,
  outcome: { ok: true; result: Record<string, unknown> } | { ok: false; error: string },
  before?: Record<string, unknown>,
): Promise<'ok' | 'escalated' | 'terminal' | 'closed'> {
  const data = {
    actionId: RESTART,
    ...(outcome.ok ? { result: outcome.result } : { error: outcome.error }),
    ...(before ? { before } : {}),
  }
  const summary = outcome.ok
    ? `${RESTART} again: ${String(outcome.result.performed ?? 'done')}`
    : `${RESTART} again failed: ${outcome.error}`
  await noteOnce(deps, open.id, death, 'acted', summary, data)
  if (outcome.ok) return 'ok'
  const why = `${death.title} again after its fix ran, and restarting it again failed: ${outcome.error}`
  return escalateOpen(deps, open, death, why)
}

/** Escalates the incident unless it is terminal already; 'closed' when it was closed meanwhile. */
async function escalateOpen(
  deps: DiedAgainDeps,
  open: Incident,
  death: Death,
  why: string,
): Promise<'escalated' | 'terminal' | 'closed'> {
  let escalated = false
  const updated = await deps.store.update(
    open.id,
    (i) =>
      (escalated =
        !isTerminal(i) &&
        escalate(i, {
          actor: deps.actor,
          summary: `escalated to an admin: ${why}`,
          data: { approverRole: 'admin', diedAgain: true, deathId: death.deathId },
        })),
  )
  if (!escalated) return isClosed(updated) ? 'closed' : 'terminal'
  await deps.audit.append({
    kind: 'incident.escalated',
    actor: deps.actor,
    incidentId: open.id,
    resource: open.resource.name,
    outcome: 'escalated',
    data: { why, diedAgain: true, deathId: death.deathId },
  })
  return 'escalated'
}

/** A note about this death, written once (a replayed event finds it there). True when written now. */
async function noteOnce(
  deps: DiedAgainDeps,
  incidentId: string,
  death: Death,
  step: 'died' | 'acted',
  summary: string,
  data: Record<string, unknown>,
): Promise<boolean> {
  let written = false
  await deps.store.update(incidentId, (i) => {
    if (i.timeline.some((t) => t.stage === 'note' && t.data?.deathId === death.deathId && t.data?.step === step))
      return false
    return (written = note(i, { actor: deps.actor, summary, data: { ...data, deathId: death.deathId, step } }))
  })
  return written
}
