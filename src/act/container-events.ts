/**
 * The fast path for container failures, run in the main process on Docker's event stream: a
 * watched container dies → an incident opens → the policy decides → the restart runs at once →
 * `incident.acted` hands the incident to the Motia flow (verify, resolve). The LLM is never on
 * this path; analysis enriches the incident afterwards. A container that dies again while its
 * incident is open is merged into it when the incident's restart is still to run, and restarted
 * again under it when the restart has run already (./died-again.ts): a death is never only noted
 * on an incident whose fix is spent.
 */
import { createHash } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import type { SentinelConfig } from '../platform/config/index'
import {
  containerName,
  type ContainerInfo,
  dockerWillRestart,
  getDocker,
  inspectContainer,
  isWatchedLabels,
} from '../platform/docker/client'
import { EngineApiError } from '../platform/docker/engine-api'
import { decide } from '../decide/index'
import { policyDeps, remediationSlots } from '../decide/deps'
import { saveDecision } from '../decide/stage'
import type { AuditLog } from '../platform/store/audit'
import type { ExecutionStore } from '../platform/store/executions'
import type { IncidentStore } from '../platform/store/incidents'
import { isClosed, note, suppress } from '../platform/store/lifecycle'
import type { Alert, Incident } from '../platform/store/model'
import { withIncidentSpan } from '../platform/telemetry/tracing'
import { type RemediateDeps, type RemediateOutcome, remediate, remediationLeaseMs } from './remediate'
import { StoppedOnPurpose } from '../observe/stopped-on-purpose'
import { type DiedAgainDeps, onDiedAgain } from './died-again'
import type { DockerEvent } from '../platform/docker/events'
import { type FlowEmit, TOPICS } from '../platform/events/topics'

export type Emit = FlowEmit

export interface ContainerEventDeps {
  config: SentinelConfig
  store: IncidentStore
  executions: ExecutionStore
  audit: AuditLog
  emit: Emit
  log: (level: 'info' | 'warn' | 'error', msg: string, data?: Record<string, unknown>) => void
  /** Where deliberate stops are kept for the other intakes; default: in Sentinel's Redis. */
  stops?: StoppedOnPurpose
  /**
   * The engine the events come from: this host's (the default), or a node's, reached through its
   * agent (src/fleet/remote-engine.ts). Its name goes on every alert as the `node` label.
   */
  engine?: ContainerEngine
  /** The term of the duty this handler works under (several controllers): every action is fenced by it. */
  fence?: RemediateDeps['fence']
}

/** What the fast path reads from a Docker engine: a container's state, and the watched ones. */
export interface ContainerEngine {
  node: string
  inspect(id: string): ReturnType<typeof inspectContainer>
  listContainers(opts: { all: boolean; filters: Record<string, string[]> }): Promise<{ Id: string }[]>
}

/** This host's engine, through its socket. */
export function localEngine(node: string): ContainerEngine {
  return {
    node,
    inspect: (id) => inspectContainer(id),
    listContainers: async (opts) => (await getDocker()).listContainers(opts),
  }
}

export const ACTOR = 'sentinel:docker-watcher'
// A SIGTERM sent through the API before a death means `docker stop`, `docker restart` or the engine
// shutting down: stopped on purpose, and Docker's own restart policies leave such containers alone
// too. The SIGKILL that follows when the process ignores the SIGTERM (after the stop timeout) does
// not change that; a SIGKILL alone (`docker kill`) is not a stop, for Docker as for Sentinel. The
// window covers long stop timeouts (`docker stop -t 120`).
const DELIBERATE_WINDOW_MS = 5 * 60_000
// Docker's die event and the container's FinishedAt are written moments apart.
const HANDLED_SLACK_MS = 5000
const isTerm = (signal: string | undefined) => signal === '15' || signal === 'SIGTERM' || signal === 'TERM'

/** Incident ids derived from the event, so a replayed event finds its incident instead of opening another. */
export function incidentIdForEvent(containerId: string, timeNano: number | string): string {
  const ms = Math.floor(Number(timeNano) / 1e6)
  const h = createHash('sha256').update(`${containerId}:${timeNano}`).digest('hex').slice(0, 10)
  return `inc_${ms.toString(36)}_${h}`
}

// A failure that cannot be recorded (Redis down, Docker not answering) is retried, with backoff,
// for this long: an action is never taken without its incident, and a death is never dropped
// because the store was briefly away. The watcher keeps its position before an event until the
// event is handled, so a restart in the meantime replays it.
const RETRY_FIRST_MS = 500
/** How long the inspect a death was checked with stands for the container's restart policy. */
const INSPECT_REUSE_MS = 5000
const RETRY_MAX_MS = 10_000
const RETRY_FOR_MS = 15 * 60_000

export class ContainerEventHandler {
  /** The last signal sent to each container through the API, and when the last SIGTERM was. */
  private readonly apiKills = new Map<string, { signal: string; at: number; termAt?: number }>()
  private readonly chains = new Map<string, Promise<void>>()
  private readonly stopping = new AbortController()
  private stopsStore?: StoppedOnPurpose

  private readonly engine: ContainerEngine
  /**
   * The inspect a death was just checked with, reused to decide who restarts it: on a remote node
   * each inspect is a round trip through the node's agent, and a burst of deaths waits on them.
   */
  private readonly inspectedAtDeath = new Map<string, { at: number; info: ContainerInfo }>()

  constructor(private readonly deps: ContainerEventDeps) {
    this.engine = deps.engine ?? localEngine(deps.config.NODE_NAME)
  }

  private get stops(): StoppedOnPurpose {
    return (this.stopsStore ??= this.deps.stops ?? new StoppedOnPurpose())
  }

  /** Ends the retries in progress (at shutdown); their events are replayed at the next start. */
  stop(): void {
    this.stopping.abort()
  }

  /** Picks up an incident left open (recovery), in order with that container's events. */
  resume(incident: Incident): Promise<void> {
    return this.inOrder(
      incident.resource.id,
      async () => {
        const current = await this.deps.store.get(incident.id)
        if (current && (current.status === 'open' || current.status === 'remediating')) await this.decideAndAct(current)
      },
      'resume',
    )
  }

  /** Events of one container are handled in order; different containers in parallel. Rejects when handling finally failed. */
  handle(event: DockerEvent): Promise<void> {
    if (event.Type !== 'container') return Promise.resolve()
    return this.inOrder(event.Actor.ID, () => this.dispatch(event), event.Action)
  }

  /**
   * Runs `work` after the container's earlier work, retrying failures. The promise returned
   * rejects when the work finally failed (so the watcher keeps its position before the event);
   * the container's later work runs either way.
   */
  private inOrder(id: string, work: () => Promise<void>, what: string): Promise<void> {
    const prev = this.chains.get(id) ?? Promise.resolve()
    const run = prev.then(() => this.withRetry(work, id, what))
    const next = run.catch((err) =>
      this.deps.log('error', 'container event handling failed', {
        containerId: id,
        action: what,
        error: (err as Error).message,
      }),
    )
    this.chains.set(id, next)
    void next.finally(() => {
      if (this.chains.get(id) === next) this.chains.delete(id)
    })
    return run
  }

  private async withRetry(work: () => Promise<void>, id: string, what: string): Promise<void> {
    const deadline = Date.now() + RETRY_FOR_MS
    let delay = RETRY_FIRST_MS
    for (;;) {
      try {
        return await work()
      } catch (err) {
        if (this.stopping.signal.aborted || Date.now() + delay > deadline) throw err
        this.deps.log('warn', 'container event handling failed; retrying', {
          containerId: id,
          action: what,
          error: (err as Error).message,
          retryInMs: delay,
        })
        await sleep(delay, undefined, { signal: this.stopping.signal }).catch(() => {})
        if (this.stopping.signal.aborted) throw err
        delay = Math.min(delay * 2, RETRY_MAX_MS)
      }
    }
  }

  /**
   * Watched containers that died in a gap of the event stream, before the replay starts and after
   * the last event a previous run handled (on a first start, any time before it; or a Sentinel
   * down for longer than the replay window), are found by looking at them: no event will ever
   * report those deaths. A clean exit (0, or 143 from a
   * SIGTERM) without an OOM kill looks like `docker stop` and is left alone, as Docker's own
   * restart policies leave stopped containers alone; any other exit opens an incident that takes
   * the usual path. The incident id comes from the container and its FinishedAt, so starting
   * again finds the same incident instead of opening another.
   */
  async sweepDead(gap: { fromMs: number | null; toMs: number }): Promise<{ opened: string[]; leftAlone: string[] }> {
    if (gap.fromMs !== null && gap.fromMs >= gap.toMs) return { opened: [], leftAlone: [] }
    const { key, value } = this.deps.config.WATCH_LABEL
    const listed = await this.engine.listContainers({
      all: true,
      filters: { label: [`${key}=${value}`], status: ['exited', 'dead'] },
    })
    const opened: string[] = []
    const leftAlone: string[] = []
    for (const c of listed) {
      await this.inOrder(
        c.Id,
        async () => {
          const info = await this.engine.inspect(c.Id)
          if (!isWatchedLabels(info.Config.Labels) || info.State.Running || info.State.Restarting) return
          const finishedMs = Date.parse(info.State.FinishedAt)
          // Never started (FinishedAt is year 1), or outside the gap: the replay reports it, or a
          // previous run handled it.
          if (!(finishedMs > 0) || finishedMs >= gap.toMs || (gap.fromMs !== null && finishedMs < gap.fromMs)) return
          const name = containerName(info)
          // Handled already (its event reached a previous run, which kept its position before a
          // failed event, say): the newest incident of this container's deaths is about it or later.
          const last = await this.deps.store.lastIncidentFor(`container_down:${c.Id}`)
          if (last && Date.parse(last.alert.at) >= finishedMs - HANDLED_SLACK_MS) return
          const exitCode = info.State.ExitCode
          const oomKilled = info.State.OOMKilled === true
          // Half-removed (a `docker rm` that failed): nothing to start.
          if (info.State.Dead || info.State.Status === 'removing') {
            leftAlone.push(name)
            return
          }
          if (!oomKilled && (exitCode === 0 || exitCode === 143)) {
            leftAlone.push(name)
            await this.stops.record({
              containerId: c.Id,
              name,
              at: new Date(finishedMs).toISOString(),
              how: `found stopped at start-up with a clean exit (${exitCode}), taken for docker stop`,
            })
            this.deps.log('info', 'watched container found stopped at start-up with a clean exit; left alone', {
              container: name,
              exitCode,
              finishedAt: info.State.FinishedAt,
            })
            return
          }
          const alert: Alert = {
            fingerprint: `container_down:${c.Id}`,
            type: 'container_down',
            severity: 'critical',
            metric: 'container_running',
            value: 0,
            threshold: 1,
            resource: { kind: 'container', id: c.Id, name },
            labels: { container: name, image: info.Config.Image ?? '', node: this.engine.node },
            source: 'docker inspect (found dead at start-up)',
            at: new Date(finishedMs).toISOString(),
            details: { exitCode, oomKilled, foundAtStartUp: true },
          }
          const incident = await this.openAndRemediate(
            alert,
            incidentIdForEvent(c.Id, `${finishedMs}000000`),
            `container ${name} was found dead at start-up (exit code ${exitCode}${oomKilled ? ', OOM-killed' : ''})`,
          )
          if (incident) opened.push(name)
        },
        'sweep',
      )
    }
    return { opened, leftAlone }
  }

  private async dispatch(event: DockerEvent): Promise<void> {
    const attrs = event.Actor.Attributes ?? {}
    const id = event.Actor.ID
    if (event.Action === 'kill') {
      const at = Math.floor(event.timeNano / 1e6)
      const termAt = isTerm(attrs.signal) ? at : this.apiKills.get(id)?.termAt
      this.apiKills.set(id, { signal: attrs.signal ?? '', at, ...(termAt !== undefined ? { termAt } : {}) })
      return
    }
    // A new run: signals sent to the previous one say nothing about this one's death.
    if (event.Action === 'start') this.apiKills.delete(id)
    if (!isWatchedLabels(attrs)) return
    if (event.Action === 'start') return this.stops.forget(id)
    if (event.Action === 'die') return this.onDie(event)
    if (event.Action.startsWith('health_status') && event.Action.includes('unhealthy')) return this.onUnhealthy(event)
    if (event.Action === 'destroy') return this.onDestroy(event)
  }

  private async onDie(event: DockerEvent): Promise<void> {
    const id = event.Actor.ID
    const attrs = event.Actor.Attributes ?? {}
    const name = attrs.name ?? id.slice(0, 12)
    const atMs = Math.floor(event.timeNano / 1e6)
    // Forgotten only once this death is handled: a retry must still see that it was a `docker stop`.
    const kill = this.apiKills.get(id)
    if (kill?.termAt !== undefined && atMs - kill.termAt < DELIBERATE_WINDOW_MS) {
      const reason = 'stopped through the Docker API (SIGTERM): deliberate, not a failure'
      await this.stops.record({
        containerId: id,
        name,
        at: new Date(atMs).toISOString(),
        how: 'docker stop (SIGTERM through the Docker API)',
      })
      await this.deps.audit.append({
        kind: 'container.stopped',
        actor: ACTOR,
        resource: name,
        outcome: 'ignored',
        data: { containerId: id, reason },
      })
      this.apiKills.delete(id)
      return
    }
    // `docker rm -f` kills the container (a SIGKILL, like a crash) after marking it for removal:
    // there is nothing left to restart, and trying would only fail and escalate.
    if (await this.removedOrBeingRemoved(id)) {
      this.inspectedAtDeath.delete(id)
      await this.deps.audit.append({
        kind: 'container.removed',
        actor: ACTOR,
        resource: name,
        outcome: 'ignored',
        data: {
          containerId: id,
          exitCode: attrs.exitCode ?? null,
          reason: 'the container was removed (docker rm -f): deliberate, not a crash',
        },
      })
      this.apiKills.delete(id)
      return
    }
    const exitCode = Number(attrs.exitCode ?? NaN)
    const alert: Alert = {
      fingerprint: `container_down:${id}`,
      type: 'container_down',
      severity: 'critical',
      metric: 'container_running',
      value: 0,
      threshold: 1,
      resource: { kind: 'container', id, name },
      labels: { container: name, image: attrs.image ?? '', node: this.engine.node },
      source: 'docker events (die)',
      at: new Date(atMs).toISOString(),
      details: { exitCode: Number.isNaN(exitCode) ? null : exitCode, ...(kill ? { apiSignal: kill.signal } : {}) },
    }
    try {
      await this.openAndRemediate(
        alert,
        incidentIdForEvent(id, event.timeNano),
        `container ${name} died (exit code ${attrs.exitCode ?? '?'})`,
      )
    } finally {
      this.inspectedAtDeath.delete(id)
    }
    this.apiKills.delete(id)
  }

  private async onUnhealthy(event: DockerEvent): Promise<void> {
    const id = event.Actor.ID
    const name = event.Actor.Attributes?.name ?? id.slice(0, 12)
    const atMs = Math.floor(event.timeNano / 1e6)
    const alert: Alert = {
      fingerprint: `container_unhealthy:${id}`,
      type: 'container_unhealthy',
      severity: 'critical',
      metric: 'container_healthy',
      value: 0,
      threshold: 1,
      resource: { kind: 'container', id, name },
      labels: { container: name, image: event.Actor.Attributes?.image ?? '', node: this.engine.node },
      source: 'docker events (health_status)',
      at: new Date(atMs).toISOString(),
    }
    await this.openAndRemediate(alert, incidentIdForEvent(id, event.timeNano), `container ${name} is unhealthy`)
  }

  /** Docker marks a container for removal before it kills it, and it is gone once the removal ends. */
  private async removedOrBeingRemoved(id: string): Promise<boolean> {
    try {
      const info = await this.engine.inspect(id)
      this.inspectedAtDeath.set(id, { at: Date.now(), info })
      return info.State.Status === 'removing' || info.State.Dead === true
    } catch (err) {
      // Anything but "no such container" (Docker not answering): healed as a death; the action reports what it finds.
      return err instanceof EngineApiError && err.statusCode === 404
    }
  }

  private async onDestroy(event: DockerEvent): Promise<void> {
    const id = event.Actor.ID
    await this.stops.forget(id)
    for (const fp of [`container_down:${id}`, `container_unhealthy:${id}`]) {
      const open = await this.deps.store.openIncidentFor(fp)
      if (!open) continue
      // Closed in the meantime (a person, the alert clearing): nothing to leave alone any more.
      let suppressed = false
      await this.deps.store.update(
        open.id,
        (i) =>
          (suppressed =
            !isClosed(i) && suppress(i, { actor: ACTOR, summary: 'the container was removed; nothing left to heal' })),
      )
      if (suppressed)
        await this.deps.audit.append({
          kind: 'incident.suppressed',
          actor: ACTOR,
          incidentId: open.id,
          resource: open.resource.name,
          outcome: 'container removed',
        })
    }
  }

  private diedAgainDeps(): DiedAgainDeps {
    const { config, store, executions, audit } = this.deps
    return {
      config,
      store,
      executions,
      audit,
      actor: ACTOR,
      leaseMs: remediationLeaseMs(config),
      ...(this.deps.fence ? { fence: this.deps.fence } : {}),
    }
  }

  openAndRemediate(alert: Alert, incidentId: string, title: string): Promise<Incident | null> {
    return this.openOrMerge(alert, incidentId, title, true)
  }

  private async openOrMerge(
    alert: Alert,
    incidentId: string,
    title: string,
    mayOpenAfterClose: boolean,
  ): Promise<Incident | null> {
    const { store, audit } = this.deps
    const { incident, created } = await store.open(alert, { title, actor: ACTOR, id: incidentId })
    if (!created) {
      if (incident.id !== incidentId) {
        // Another failure while its incident is still open: one incident per problem. A death after
        // that incident's restart ran is not only noted: it is restarted again (./died-again.ts).
        if (alert.type === 'container_down') {
          const outcome = await onDiedAgain(incident, { alert, deathId: incidentId, title }, this.diedAgainDeps())
          this.deps.log(
            outcome.kind === 'failed' ? 'warn' : 'info',
            'watched container died again while its incident is open',
            {
              container: alert.resource.name,
              incidentId: incident.id,
              deathId: incidentId,
              outcome: outcome.kind,
            },
          )
          // Closed meanwhile: the fingerprint is free, and this death opens its own incident.
          if (outcome.kind === 'closed' && mayOpenAfterClose) return this.openOrMerge(alert, incidentId, title, false)
          return null
        }
        await store.update(incident.id, (i) =>
          note(i, {
            actor: ACTOR,
            summary: `${title} again while this incident is open`,
            data: { at: alert.at, ...(alert.details ?? {}) },
          }),
        )
        return null
      }
      // This very event's incident, from an attempt that failed part-way (a retry) or from before a
      // restart: finish it. Deciding is skipped when done, and the action is claimed once.
      if (incident.status === 'open' || incident.status === 'remediating') return this.decideAndAct(incident)
      return null
    }
    // The incident's trace starts with the detection: from Docker's event to the incident recorded.
    const exitCode = (alert.details as { exitCode?: unknown } | undefined)?.exitCode
    const detected = {
      'alert.type': alert.type,
      'container.name': alert.resource.name,
      'container.exit_code': typeof exitCode === 'number' ? exitCode : undefined,
      outcome: 'opened',
    }
    const record = () =>
      audit.append({
        kind: 'incident.opened',
        actor: ACTOR,
        incidentId,
        resource: alert.resource.name,
        node: this.engine.node,
        data: { type: alert.type, fingerprint: alert.fingerprint, ...(alert.details ?? {}) },
      })
    await withIncidentSpan('container.detected', incidentId, detected, record, { startTime: alert.at })
    const acted = await this.decideAndAct(incident)
    // The analysis enriches the incident afterwards; it is never on the restart's path.
    await this.deps.emit(TOPICS.opened, { incidentId }, incidentId)
    return acted
  }

  /** Decides and, when the policy allows, acts now. Also the recovery path for a decided incident. */
  decideAndAct(incident: Incident): Promise<Incident> {
    // One span in the incident's trace; the Docker calls and the action are its children.
    return withIncidentSpan(
      'ContainerFastPath',
      incident.id,
      { 'alert.type': incident.type, 'container.name': incident.resource.name },
      async (span) => {
        const { current, outcome } = await this.decideAndActNow(incident)
        const d = current.decision
        span.setAttributes({ action: d?.actionId ?? undefined, risk: d?.risk, route: d?.route, outcome })
        return current
      },
    )
  }

  private async decideAndActNow(incident: Incident): Promise<{ current: Incident; outcome: string }> {
    const { store, audit, config, emit } = this.deps
    const containerId = incident.resource.id
    let current = incident
    // The inspect the decision was made with, which the action's snapshot may be made from.
    let inspected: ContainerInfo | undefined
    if (!current.decision) {
      let deferToDocker = false
      try {
        const seen = this.inspectedAtDeath.get(containerId)
        this.inspectedAtDeath.delete(containerId)
        inspected = seen && Date.now() - seen.at < INSPECT_REUSE_MS ? seen.info : await this.engine.inspect(containerId)
        deferToDocker = dockerWillRestart(inspected)
      } catch {
        // Gone or unreachable: the policy decides as usual and the action reports what it finds.
      }
      const decision = deferToDocker
        ? {
            route: 'defer' as const,
            risk: 'low' as const,
            actionId: null,
            params: {},
            rule: 'docker-restart-policy',
            reasons: ["the container's own restart policy restarts it; Sentinel verifies instead of acting"],
            decidedAt: new Date().toISOString(),
          }
        : await decide(
            { incident: current, proposal: { actionId: 'restart_container', params: { containerId } } },
            policyDeps(config),
          )
      // The flow's DecideRemediation saves its decisions the same way: same statuses, entries and audit.
      current = await saveDecision({ store, audit }, current.id, decision, 'sentinel:policy')
    }
    const decision = current.decision!
    if (decision.route === 'auto') {
      const outcome: RemediateOutcome = await remediate(current.id, {
        store,
        executions: this.deps.executions,
        audit,
        actor: ACTOR,
        leaseMs: remediationLeaseMs(config),
        slots: remediationSlots(config),
        ...(inspected ? { targetInspect: inspected } : {}),
        ...(this.deps.fence ? { fence: this.deps.fence } : {}),
      })
      // Audited by remediate(); the incident is left as it is for a person.
      if (outcome.kind === 'refused') return { current, outcome: outcome.kind }
      current = outcome.incident
      if (outcome.kind === 'executed' || outcome.kind === 'already-done') {
        await emit(TOPICS.acted, { incidentId: current.id }, current.id)
      } else if (outcome.kind === 'in-progress-elsewhere' || outcome.kind === 'busy') {
        setTimeout(() => void this.decideAndAct(current).catch(() => {}), outcome.retryInMs).unref()
      }
      return { current, outcome: outcome.kind }
    }
    // Shadow mode: the decision is recorded and nothing runs; the incident stays open for a person.
    if (decision.route === 'defer') {
      await emit(TOPICS.acted, { incidentId: current.id }, current.id)
    } else if (decision.route === 'approval') {
      await emit(TOPICS.approvalRequested, { incidentId: current.id }, current.id)
    }
    return { current, outcome: decision.route }
  }
}
