/**
 * What Sentinel reads of the host's processes from /proc: each one's stat (state, parent, CPU
 * ticks, start time), its argv, and CPU use over a short sample. Used by the analyser (the busiest
 * processes as evidence) and by kill_process (which process to end, and whether it still lives).
 */
import { readdir, readFile } from 'node:fs/promises'
import path from 'node:path'

/** Linux's USER_HZ; 100 on every mainstream architecture (`getconf CLK_TCK`). */
export const CLOCK_TICKS_PER_SECOND = 100

export interface ProcStat {
  pid: number
  /** The command name (at most 15 bytes; it may hold spaces and parentheses). */
  comm: string
  /** R, S, D, Z, T, X... */
  state: string
  ppid: number
  /** utime + stime, in clock ticks. */
  cpuTicks: number
  /** Start time after boot in clock ticks: with the pid, it names one process for its whole life. */
  startTime: number
}

/** `/proc/<pid>/stat`'s text; undefined when it does not parse. */
export function parseProcStat(pid: number, text: string): ProcStat | undefined {
  // comm is in parentheses and may itself hold spaces and parentheses: split after the last ')'.
  const open = text.indexOf('(')
  const close = text.lastIndexOf(')')
  if (open < 0 || close < open) return undefined
  const f = text.slice(close + 2).split(' ')
  // f[0] is field 3 (state); field n is f[n - 3].
  const ppid = Number(f[1])
  const utime = Number(f[11])
  const stime = Number(f[12])
  const startTime = Number(f[19])
  if (!f[0] || ![ppid, utime, stime, startTime].every(Number.isFinite)) return undefined
  return { pid, comm: text.slice(open + 1, close), state: f[0], ppid, cpuTicks: utime + stime, startTime }
}

/** The process's stat; undefined when it is gone (or was never there). */
export async function readProcStat(pid: number, procRoot = '/proc'): Promise<ProcStat | undefined> {
  try {
    return parseProcStat(pid, await readFile(path.join(procRoot, String(pid), 'stat'), 'utf8'))
  } catch {
    return undefined
  }
}

/** argv of a process; empty for kernel threads and processes that are gone. */
export async function readArgv(pid: number, procRoot = '/proc'): Promise<string[]> {
  try {
    const raw = await readFile(path.join(procRoot, String(pid), 'cmdline'), 'utf8')
    const trimmed = raw.replace(/\0+$/, '')
    return trimmed === '' ? [] : trimmed.split('\0')
  } catch {
    return []
  }
}

/** Every pid in /proc now. */
export async function listPids(procRoot = '/proc'): Promise<number[]> {
  return (await readdir(procRoot)).filter((n) => /^\d+$/.test(n)).map(Number)
}

export interface CpuUse {
  pid: number
  startTime: number
  comm: string
  ppid: number
  /** Percent of one CPU over the sample (above 100 for multi-threaded processes), to 0.1. */
  cpuPercent: number
}

async function statsNow(procRoot: string): Promise<ProcStat[]> {
  const all = await Promise.all((await listPids(procRoot)).map((pid) => readProcStat(pid, procRoot)))
  return all.filter((s): s is ProcStat => !!s)
}

/**
 * The processes that used CPU over `sampleMs`, busiest first. A process is named by pid and start
 * time: a pid reused by another process mid-sample is left out, as are processes that used none.
 */
export async function sampleCpu(sampleMs: number, procRoot = '/proc'): Promise<CpuUse[]> {
  const before = new Map((await statsNow(procRoot)).map((s) => [s.pid, s]))
  const t0 = process.hrtime.bigint()
  await new Promise((r) => setTimeout(r, sampleMs))
  const after = await statsNow(procRoot)
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9
  const out: CpuUse[] = []
  for (const s of after) {
    const b = before.get(s.pid)
    if (!b || b.startTime !== s.startTime) continue
    const delta = s.cpuTicks - b.cpuTicks
    if (delta <= 0) continue
    out.push({
      pid: s.pid,
      startTime: s.startTime,
      comm: s.comm,
      ppid: s.ppid,
      cpuPercent: Math.round((delta / CLOCK_TICKS_PER_SECOND / seconds) * 1000) / 10,
    })
  }
  return out.sort((a, b) => b.cpuPercent - a.cpuPercent)
}
