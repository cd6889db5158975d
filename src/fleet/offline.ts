/**
 * A node agent cut off from Redis keeps its node safe: it goes on restarting crashed watched
 * containers under the last policy the controller sent it (whether restarts are allowed at all,
 * the freeze windows, the rate limit), records every action in a journal on its own disk (each
 * line fsynced before the next step), and uploads the journal when it reconnects. The controller
 * turns each entry into the incident it would have opened (src/fleet/controller.ts →
 * recordOfflineEntry), marked as handled offline, and verifies it through the usual flow.
 *
 * Nothing is lost or done twice: the journal is written before the upload and an entry is marked
 * uploaded only once the controller's stream has it; the incident id comes from the container and
 * its death's time (as on the online path), so an entry uploaded twice, or a death that reached
 * the controller too, finds its incident instead of opening another; and the restart itself is
 * idempotent against the time of the death.
 *
 * Deliberately narrower than the controller's policy: only deaths are handled offline (no
 * unhealthy containers, no other actions), a clean exit (0, or 143 from a SIGTERM) without an OOM
 * kill is taken for `docker stop` and left alone, and a container Docker restarts itself is left
 * to Docker.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeFileSync, writeSync } from 'node:fs'
import path from 'node:path'
import { incidentIdForEvent } from '../act/container-events'
import { restartContainer } from '../actions/restart-container/index'
import { activeFreeze, describeFreeze } from '../decide/freeze'
import { parseFreezeWindow } from '../platform/config/freeze-windows'
import type { SentinelConfig } from '../platform/config/index'
import { containerName, dockerWillRestart, inspectContainer, isWatchedLabels } from '../platform/docker/client'
import type { DockerEvent } from '../platform/docker/events'

/** What the controller allows an agent to do alone (sent as a request, kept on the agent's disk). */
export interface OfflinePolicy {
  /** Restarts allowed at all (not in shadow mode, restart_container allowed). */
  restart: boolean
  /** Per container, at most this many restarts within the window. */
  maxActions: number
  windowSeconds: number
  /** FREEZE_WINDOWS specs: no restart while one is open. */
  freezeWindows: string[]
  /** When the controller made it. */
  issuedAt: string
}

/** The controller's policy for its agents, from its configuration. */
export function offlinePolicyOf(cfg: SentinelConfig, now = new Date()): OfflinePolicy {
  const allowed = cfg.ALLOWED_ACTIONS.length === 0 || cfg.ALLOWED_ACTIONS.includes(restartContainer.id)
  return {
    restart: allowed && !cfg.SHADOW_MODE,
    maxActions: cfg.RATE_LIMIT_MAX_ACTIONS,
    windowSeconds: cfg.RATE_LIMIT_WINDOW_SECONDS,
    freezeWindows: cfg.FREEZE_WINDOWS.map((w) => w.spec),
    issuedAt: now.toISOString(),
  }
}

export type OfflineOutcome = 'restarted' | 'rate_limited' | 'frozen' | 'not_allowed' | 'failed'

/** One death handled while cut off, as journalled and uploaded. */
export interface OfflineEntry {
  /** The incident id the online path would have given this death. */
  incidentId: string
  node: string
  containerId: string
  name: string
  image: string
  exitCode: number | null
  oomKilled: boolean
  diedAt: string
  handledAt: string
  outcome: OfflineOutcome
  reason: string
  result?: Record<string, unknown>
  error?: string
  /** The policy it was handled under. */
  policyIssuedAt: string | null
}

/** Appends one JSON line and fsyncs it before returning. */
function appendDurably(file: string, line: string): void {
  const fd = openSync(file, 'a', 0o600)
  try {
    writeSync(fd, line + '\n')
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
}

function readLines<T>(file: string): T[] {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return []
    throw err
  }
  const out: T[] = []
  for (const line of text.split('\n')) {
    if (!line.trim()) continue
    try {
      out.push(JSON.parse(line) as T)
    } catch {
      // A line torn by a crash mid-write: the entry before it was complete, this one never counted.
    }
  }
  return out
}

/** The agent's journal of offline actions and its last policy, under its data directory. */
export class OfflineJournal {
  private readonly entries: string
  private readonly uploaded: string
  private readonly policyFile: string

  constructor(readonly dir: string) {
    mkdirSync(dir, { recursive: true, mode: 0o700 })
    this.entries = path.join(dir, 'offline-actions.jsonl')
    this.uploaded = path.join(dir, 'offline-uploaded.jsonl')
    this.policyFile = path.join(dir, 'policy.json')
  }

  record(entry: OfflineEntry): void {
    appendDurably(this.entries, JSON.stringify(entry))
  }

  /** Entries not yet on the controller's stream, oldest first. */
  pending(): OfflineEntry[] {
    const done = new Set(readLines<{ incidentId: string }>(this.uploaded).map((u) => u.incidentId))
    return readLines<OfflineEntry>(this.entries).filter((e) => !done.has(e.incidentId))
  }

  markUploaded(incidentId: string): void {
    appendDurably(this.uploaded, JSON.stringify({ incidentId, at: new Date().toISOString() }))
  }

  /** Restarts of this container journalled since `sinceMs` (the offline rate limit). */
  restartsSince(containerId: string, sinceMs: number): number {
    return readLines<OfflineEntry>(this.entries).filter(
      (e) => e.containerId === containerId && e.outcome === 'restarted' && Date.parse(e.handledAt) >= sinceMs,
    ).length
  }

  savePolicy(policy: OfflinePolicy): void {
    const tmp = `${this.policyFile}.${process.pid}.tmp`
    writeFileSync(tmp, JSON.stringify(policy), { mode: 0o600 })
    const fd = openSync(tmp, 'r')
    fsyncSync(fd)
    closeSync(fd)
    renameSync(tmp, this.policyFile)
  }

  policy(): OfflinePolicy | null {
    try {
      return JSON.parse(readFileSync(this.policyFile, 'utf8')) as OfflinePolicy
    } catch {
      return null
    }
  }
}

/** Checks a policy sent by the controller before it is kept (a bad one is refused, the last one stays). */
export function parseOfflinePolicy(body: unknown): OfflinePolicy {
  const p = body as Partial<OfflinePolicy>
  const int = (v: unknown, min: number, max: number) =>
    typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max
  if (
    typeof p?.restart !== 'boolean' ||
    !int(p.maxActions, 1, 1000) ||
    !int(p.windowSeconds, 1, 86400 * 7) ||
    !Array.isArray(p.freezeWindows) ||
    typeof p.issuedAt !== 'string'
  ) {
    throw Object.assign(new Error('not an offline policy'), { statusCode: 400 })
  }
  for (const spec of p.freezeWindows) parseFreezeWindow(String(spec))
  return p as OfflinePolicy
}

/**
 * One engine event seen while Redis is out of reach: a watched container's death is handled here
 * under the kept policy and journalled; anything else is not needed offline. Returns the entry,
 * or null when nothing was to be done.
 */
export async function handleOfflineEvent(
  event: DockerEvent,
  deps: { node: string; journal: OfflineJournal; config: SentinelConfig; now?: () => number },
): Promise<OfflineEntry | null> {
  if (event.Type !== 'container' || event.Action !== 'die' || !isWatchedLabels(event.Actor?.Attributes)) return null
  const id = event.Actor.ID
  const info = await inspectContainer(id).catch(() => null)
  // Gone, being removed, already back, or Docker's own policy restarts it: nothing to do here.
  if (!info || !isWatchedLabels(info.Config.Labels)) return null
  if (info.State.Running || info.State.Restarting || info.State.Dead || info.State.Status === 'removing') return null
  if (dockerWillRestart(info)) return null
  const exitCode = Number(event.Actor.Attributes?.exitCode ?? info.State.ExitCode)
  const oomKilled = info.State.OOMKilled === true
  if (!oomKilled && (exitCode === 0 || exitCode === 143)) return null
  const now = deps.now?.() ?? Date.now()
  const diedAt = new Date(Math.floor(Number(event.timeNano) / 1e6)).toISOString()
  const policy = deps.journal.policy()
  const base = {
    incidentId: incidentIdForEvent(id, event.timeNano),
    node: deps.node,
    containerId: id,
    name: containerName(info),
    image: info.Config.Image ?? '',
    exitCode: Number.isFinite(exitCode) ? exitCode : null,
    oomKilled,
    diedAt,
    policyIssuedAt: policy?.issuedAt ?? null,
  }
  const journal = (e: Omit<OfflineEntry, keyof typeof base | 'handledAt'>): OfflineEntry => {
    const entry: OfflineEntry = { ...base, handledAt: new Date(deps.now?.() ?? Date.now()).toISOString(), ...e }
    deps.journal.record(entry)
    return entry
  }
  if (!policy) return journal({ outcome: 'not_allowed', reason: 'no policy received from the controller yet' })
  if (!policy.restart) return journal({ outcome: 'not_allowed', reason: 'the policy allows no automatic restart' })
  const freeze = activeFreeze(
    now,
    policy.freezeWindows.map((s) => parseFreezeWindow(s)),
  )
  if (freeze) return journal({ outcome: 'frozen', reason: `in a freeze window: ${describeFreeze(freeze)}` })
  const recent = deps.journal.restartsSince(id, now - policy.windowSeconds * 1000)
  if (recent >= policy.maxActions) {
    return journal({
      outcome: 'rate_limited',
      reason: `${recent} restart(s) of this container in the last ${policy.windowSeconds} s (at most ${policy.maxActions})`,
    })
  }
  try {
    const result = await restartContainer.execute(
      { containerId: id },
      { incidentId: base.incidentId, actor: `agent-offline@${deps.node}`, since: diedAt, node: deps.node },
    )
    return journal({ outcome: 'restarted', reason: 'restarted under the last policy while cut off', result })
  } catch (err) {
    return journal({ outcome: 'failed', reason: 'the restart failed', error: (err as Error).message })
  }
}
