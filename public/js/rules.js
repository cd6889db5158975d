/*
 * What the page decides from the data, in one place and without the DOM (the Node tests import
 * it): which incidents count as open, the colour a status or a container state shows, whether a
 * rollback can work, and how an approval's action reads. Kept apart from rendering so the rules
 * can be read (and checked against the server's) at a glance.
 */
import { fmtParams } from './format.js'
import { LIFECYCLE } from './lifecycle.js'

/** Statuses by group, from the server's lifecycle (generated: ./lifecycle.js). */
const inGroup = (...groups) => LIFECYCLE.statuses.filter((s) => groups.includes(s.group)).map((s) => s.id)
/** Incidents Sentinel is still working on, or waiting on a person for. */
export const IN_PROGRESS = LIFECYCLE.statuses.filter((s) => !s.terminal).map((s) => s.id)
/**
 * Counted as open: every status that is not closed. An escalated incident is one Sentinel gave up
 * on and handed to a person: it needs attention most of all, it is not closed.
 */
export const OPEN_STATUSES = inGroup('active', 'needs_person')
export const isOpen = (status) => OPEN_STATUSES.includes(status)
/** Waiting for a person: a decision to make, or an escalation to handle. */
const NEEDS_PERSON = inGroup('needs_person')
export const needsPerson = (status) => NEEDS_PERSON.includes(status)
/** The label the server gives a status ("Awaiting approval"), or the status itself. */
export const statusLabel = (status) => LIFECYCLE.statuses.find((s) => s.id === status)?.label ?? status

/**
 * Whether a person can still take the incident (POST /api/incidents/:id/ack answers 409 otherwise):
 * it is not closed and nobody has acknowledged it yet. The role is the caller's to check.
 */
export const acknowledgeable = (inc) => !!inc && isOpen(inc.status) && !inc.acknowledgement

/**
 * The colour family of an incident status (its dot and badge): resolved green, escalated red,
 * waiting for approval amber, new or being analysed orange, being fixed or verified blue,
 * suppressed grey.
 */
export function statusTone(status) {
  switch (status) {
    case 'resolved':
      return 'ok'
    case 'escalated':
      return 'bad'
    case 'awaiting_approval':
      return 'warn'
    case 'open':
    case 'analyzing':
      return 'alert'
    case 'remediating':
    case 'verifying':
      return 'progress'
    default:
      return 'muted'
  }
}

/**
 * The colour of a container card, from the container's own live state (Docker's events and the
 * container listing), never from its incident: green as soon as it runs (and is not failing a
 * health check), red when it is down or unhealthy, amber in between.
 */
export function containerTone(c) {
  if (!c) return 'muted'
  switch (c.state) {
    case 'running':
      if (c.health === 'unhealthy') return 'bad'
      if (c.health === 'starting') return 'warn'
      return 'ok'
    case 'down':
      return 'bad'
    case 'restarting':
    case 'paused':
      return 'warn'
    default:
      return 'muted'
  }
}

export function containerToneText(c) {
  const name = c.name || c.id
  switch (containerTone(c)) {
    case 'ok':
      return `Green: ${name} is running${c.health === 'healthy' ? ' and healthy' : ''}.`
    case 'bad':
      return c.state === 'running'
        ? `Red: ${name} runs but fails its health check.`
        : `Red: ${name} is down${Number.isFinite(Number(c.exitCode)) ? ` (exit code ${c.exitCode}${c.oomKilled ? ', OOM-killed' : ''})` : ''}.`
    case 'warn':
      return `Amber: ${name} is ${c.state === 'running' ? 'starting its health check' : c.state}.`
    default:
      return `${name}: state unknown.`
  }
}

/**
 * Actions that can be undone: those with a rollback() in src/actions/ (clean_sandbox moves files
 * back from its quarantine, scale_out removes the replica, update_memory_limit restores the old
 * limit, scale_service restores the replica count, rollback_service rolls forward again while
 * nobody changed the service since). restart_container, restart_service and kill_process cannot be
 * undone. The dashboard test checks this list against the action catalog.
 */
export const REVERSIBLE_ACTIONS = [
  'clean_sandbox',
  'rollback_service',
  'scale_out',
  'scale_service',
  'update_memory_limit',
]

/**
 * Why POST /api/incidents/:id/rollback would refuse (409) this incident, or null when it can work.
 * Mirrors src/verify/manual-rollback.ts: it rolls back the last action that succeeded, and refuses
 * when there is none (never run, failed, or rolled back already), when that action has no
 * rollback, or when its undo is gone (clean_sandbox's quarantine deleted to free a full disk).
 */
export function rollbackBlocker(inc) {
  if (!inc || !Array.isArray(inc.actions)) return 'the incident is not loaded in full'
  const executed = [...inc.actions].reverse().find((a) => a && a.status === 'succeeded')
  if (!executed) {
    if (inc.actions.some((a) => a && a.status === 'rolled_back')) return 'its action was rolled back already'
    if (inc.actions.some((a) => a && a.status === 'started')) return 'its action is still running'
    return 'no action has been executed'
  }
  if (!REVERSIBLE_ACTIONS.includes(executed.actionId)) return `${executed.actionId} cannot be undone`
  if (executed.result && executed.result.reversible === false) {
    const why = executed.result.notReversibleWhy
    return `${executed.actionId} cannot be undone any more${why ? `: ${why}` : ''}`
  }
  return null
}

/** The process a kill_process names, for a person: "pid 4242: python3 burn.py". */
export function killTarget(params, command) {
  const pid = params && params.pid
  if (pid === undefined || pid === null) return 'the busiest allow-listed process at the time it runs'
  return command
    ? `pid ${pid}: ${command}`
    : `pid ${pid} (its command line could not be read: the process may have exited)`
}

/** An action and its parameters for a person; a kill_process names the process's command line. */
export function describeAction(actionId, params, command) {
  if (!actionId) return 'no action'
  if (actionId === 'kill_process') return `kill_process: end ${killTarget(params, command)}`
  const p = fmtParams(params)
  return p ? `${actionId} (${p})` : actionId
}
