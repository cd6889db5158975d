/**
 * kill_process: ends a runaway host process, the busiest by CPU over a short sample (or a given
 * pid), and ONLY when its command line matches the allow-list (KILL_PROCESS_ALLOWLIST; empty by
 * default, so nothing is ever killed until an operator names what may be). Never PID 1, never
 * Sentinel or its parent, never redis-server, dockerd, containerd or Motia's node processes.
 * SIGTERM first, SIGKILL after a grace period. The process is named by pid AND start time from
 * selection to signal, so a pid reused by another process is never signalled. Not reversible.
 */
import os from 'node:os'
import path from 'node:path'
import { z } from 'zod'
import { redact } from '../../platform/telemetry/redact'
import { actionSetting, IncidentRecords, numberSetting, type ActionDefinition } from '../types'
import { readArgv, readProcStat, sampleCpu } from '../../platform/host/procfs'

const params = z.strictObject({
  /** A specific process; without it the busiest allow-listed process is chosen. */
  pid: z.number().int().min(2).max(4_194_304).optional(),
})
export type KillProcessParams = z.infer<typeof params>

export interface KillProcessOptions {
  /** Regexes matched against the command line (argv joined by spaces); default KILL_PROCESS_ALLOWLIST. */
  allowlist?: Array<string | RegExp>
  /** Between SIGTERM and SIGKILL; default KILL_PROCESS_GRACE_SECONDS or 5 s. */
  graceMs?: number
  /** The CPU sample; default 1 s. */
  sampleMs?: number
  /** A sampled process below this share of one CPU is not a runaway; default 10 (%). */
  minCpuPercent?: number
  /** Where per-incident records go; default `<DATA_DIR>/actions/kill_process`. */
  stateDir?: string
  procRoot?: string
}

export class KillRefusedError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'KillRefusedError'
  }
}

const PROTECTED_COMMANDS =
  /^(redis-server|redis-sentinel|dockerd|containerd|containerd-shim.*|docker-proxy|runc|systemd|init)$/

/** Why a process must never be killed, or null when it may be (if allow-listed). */
export function protectionReason(
  p: { pid: number; comm: string; argv: string[] },
  self = { pid: process.pid, ppid: process.ppid },
): string | null {
  if (p.pid <= 1) return 'PID 1'
  if (p.pid === self.pid) return 'Sentinel itself'
  if (p.pid === self.ppid) return "Sentinel's parent"
  if (p.argv.length === 0) return 'no command line (kernel thread or exiting)'
  // Some programs (redis-server) rewrite argv[0] to "redis-server 127.0.0.1:6379".
  const exe = path.basename(p.argv[0].split(/\s/)[0])
  if (PROTECTED_COMMANDS.test(exe) || PROTECTED_COMMANDS.test(p.comm)) return `protected command ${exe || p.comm}`
  const isNode = /^(node|nodejs|tsx|npm|npx)(\d|$)/.test(exe) || p.comm === 'node'
  if (isNode && p.argv.join(' ').includes('motia')) return 'Motia (Sentinel) process'
  return null
}

export interface KillTarget {
  pid: number
  startTime: number
  /** Redacted and shortened, for records and reports. */
  command: string
  cpuPercent: number | null
}

interface KillRecord extends KillTarget {
  incidentId: string
  selectedAt: string
  outcome?: 'terminated' | 'killed' | 'already-gone'
  finishedAt?: string
}

const shown = (argv: string[]) => redact(argv.join(' ')).slice(0, 300)

/** A process's command line as kill_process records it (redacted, shortened), for an approval to show; undefined when it is gone. */
export async function processCommand(pid: number, procRoot = '/proc'): Promise<string | undefined> {
  const argv = await readArgv(pid, procRoot)
  return argv.length ? shown(argv) : undefined
}

function resolved(opts: KillProcessOptions) {
  const allowlist = opts.allowlist
    ? opts.allowlist.map((r) => (typeof r === 'string' ? new RegExp(r) : r))
    : actionSetting('KILL_PROCESS_ALLOWLIST')
  return {
    allowlist,
    graceMs: opts.graceMs ?? numberSetting('KILL_PROCESS_GRACE_SECONDS') * 1000,
    sampleMs: opts.sampleMs ?? 1000,
    minCpuPercent: opts.minCpuPercent ?? 10,
    procRoot: opts.procRoot ?? '/proc',
  }
}

const allowed = (allowlist: RegExp[], argv: string[]) => {
  const command = argv.join(' ')
  return allowlist.some((r) => r.test(command))
}

/** The same process as selected: same pid, same start time, not yet dead (a zombie is dead). */
export async function isAlive(target: Pick<KillTarget, 'pid' | 'startTime'>, procRoot = '/proc'): Promise<boolean> {
  const s = await readProcStat(target.pid, procRoot)
  return !!s && s.startTime === target.startTime && s.state !== 'Z' && s.state !== 'X'
}

async function waitGone(target: KillTarget, ms: number, procRoot: string): Promise<boolean> {
  const deadline = Date.now() + ms
  for (;;) {
    if (!(await isAlive(target, procRoot))) return true
    if (Date.now() >= deadline) return false
    await new Promise((r) => setTimeout(r, 50))
  }
}

/**
 * SIGTERM, then SIGKILL after `graceMs`. Before each signal the pid must still name the selected
 * process (start time) with a still allow-listed command line (it may have exec'd something else).
 */
export async function terminate(
  target: KillTarget,
  o: { graceMs: number; allowlist: RegExp[]; procRoot?: string },
): Promise<'terminated' | 'killed' | 'already-gone'> {
  const procRoot = o.procRoot ?? '/proc'
  const send = async (signal: NodeJS.Signals): Promise<boolean> => {
    if (!(await isAlive(target, procRoot))) return false
    if (!allowed(o.allowlist, await readArgv(target.pid, procRoot)))
      throw new KillRefusedError(`process ${target.pid} no longer runs an allow-listed command`)
    try {
      process.kill(target.pid, signal)
      return true
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false
      throw err
    }
  }
  if (!(await send('SIGTERM'))) return 'already-gone'
  if (await waitGone(target, o.graceMs, procRoot)) return 'terminated'
  if (!(await send('SIGKILL'))) return 'terminated'
  if (await waitGone(target, 10_000, procRoot)) return 'killed'
  throw new Error(`process ${target.pid} is still there 10 s after SIGKILL (uninterruptible sleep?)`)
}

interface Considered {
  pid: number
  command: string
  cpuPercent: number | null
  eligible: boolean
  reason?: string
}

async function consider(
  pid: number,
  startTime: number,
  cpuPercent: number | null,
  r: ReturnType<typeof resolved>,
): Promise<{ c: Considered; target?: KillTarget }> {
  const stat = await readProcStat(pid, r.procRoot)
  const argv = await readArgv(pid, r.procRoot)
  const c: Considered = { pid, command: shown(argv), cpuPercent, eligible: false }
  if (!stat || stat.startTime !== startTime || stat.state === 'Z') return { c: { ...c, reason: 'exited' } }
  const reason =
    protectionReason({ pid, comm: stat.comm, argv }) ??
    (allowed(r.allowlist, argv) ? null : 'not allow-listed') ??
    (cpuPercent !== null && cpuPercent < r.minCpuPercent ? `below ${r.minCpuPercent}% CPU` : null)
  if (reason) return { c: { ...c, reason } }
  return { c: { ...c, eligible: true }, target: { pid, startTime, command: c.command, cpuPercent } }
}

/** The process to end: the given pid if it qualifies, else the busiest qualifying one. */
async function select(
  p: KillProcessParams,
  r: ReturnType<typeof resolved>,
): Promise<{ target?: KillTarget; considered: Considered[] }> {
  if (p.pid !== undefined) {
    const stat = await readProcStat(p.pid, r.procRoot)
    if (!stat)
      return { considered: [{ pid: p.pid, command: '', cpuPercent: null, eligible: false, reason: 'no such process' }] }
    const { c, target } = await consider(p.pid, stat.startTime, null, r)
    return { target, considered: [c] }
  }
  const considered: Considered[] = []
  for (const s of (await sampleCpu(r.sampleMs, r.procRoot)).slice(0, 50)) {
    const { c, target } = await consider(s.pid, s.startTime, s.cpuPercent, r)
    if (considered.length < 5 || target) considered.push(c)
    if (target) return { target, considered }
  }
  return { considered }
}

export function createKillProcess(opts: KillProcessOptions = {}): ActionDefinition<KillProcessParams> {
  const records = () => IncidentRecords.forAction<KillRecord>('kill_process', opts.stateDir)

  return {
    id: 'kill_process',
    risk: 'high',
    description:
      "End a runaway host process (SIGTERM, then SIGKILL after a grace period): the busiest by CPU, or the given pid, and only when its command line is on the operator's allow-list. Never PID 1, Sentinel, Redis, Docker or containerd. Not reversible. Params: optional pid.",
    params,

    async snapshot(p) {
      const r = resolved(opts)
      const { target, considered } = await select(p, r)
      return {
        candidate: target ?? null,
        considered,
        allowlist: r.allowlist.map(String),
        loadAverage: os.loadavg(),
        cpus: os.cpus().length,
      }
    },

    async execute(p, ctx) {
      const r = resolved(opts)
      const store = records()
      let record = await store.read(ctx.incidentId)
      if (record && !(await isAlive(record, r.procRoot))) {
        return {
          performed: 'none',
          reason: 'already done for this incident',
          pid: record.pid,
          command: record.command,
          outcome: record.outcome ?? 'gone',
        }
      }
      let considered: Considered[] = []
      if (!record) {
        if (r.allowlist.length === 0)
          throw new KillRefusedError(
            'KILL_PROCESS_ALLOWLIST is empty: kill_process kills nothing until an operator allow-lists commands',
          )
        const selection = await select(p, r)
        considered = selection.considered
        if (!selection.target) {
          const why = considered.map((c) => `${c.pid} ${c.command.slice(0, 60)}: ${c.reason}`).join('; ')
          throw new KillRefusedError(`no process may be killed${why ? ` (${why})` : ''}`)
        }
        record = { ...selection.target, incidentId: ctx.incidentId, selectedAt: new Date().toISOString() }
        // Recorded before the signal: a retry finishes this process, it never picks another one.
        await store.write(ctx.incidentId, record)
      }
      const outcome = await terminate(record, { graceMs: r.graceMs, allowlist: r.allowlist, procRoot: r.procRoot })
      await store.write(ctx.incidentId, { ...record, outcome, finishedAt: new Date().toISOString() })
      return {
        performed: outcome === 'already-gone' ? 'none' : 'killed',
        pid: record.pid,
        command: record.command,
        cpuPercent: record.cpuPercent,
        outcome,
        signal: outcome === 'killed' ? 'SIGKILL' : outcome === 'terminated' ? 'SIGTERM' : null,
        considered,
      }
    },

    async verify(_p, ctx) {
      const record = await records().read(ctx.incidentId)
      if (!record) return { ok: false, detail: 'no process was selected for this incident', data: {} }
      const data = { pid: record.pid, command: record.command, outcome: record.outcome ?? null }
      if (await isAlive(record, opts.procRoot))
        return { ok: false, detail: `process ${record.pid} is still running`, data }
      return { ok: true, detail: `process ${record.pid} is gone`, data }
    },
  }
}

export const killProcess = createKillProcess()
