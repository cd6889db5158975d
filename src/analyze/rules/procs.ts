/**
 * Host processes from /proc: memory (VmRSS from status) and CPU time (utime + stime from stat),
 * with the container each one runs in, read from its cgroup path.
 */
import { readdir, readFile } from 'node:fs/promises'
import path from 'node:path'

export interface ProcessInfo {
  pid: number
  name: string
  command: string
  rssBytes: number
  /** utime + stime in clock ticks. */
  cpuTicks: number
  containerId?: string
}

export interface CpuSample extends ProcessInfo {
  /** Percent of one CPU over the sample (can exceed 100 for multi-threaded processes). */
  cpuPercent: number
}

/** Linux's USER_HZ; 100 on every mainstream architecture (`getconf CLK_TCK`). */
export const CLOCK_TICKS_PER_SECOND = 100

export function parseStat(text: string): { name: string; cpuTicks: number } | undefined {
  const open = text.indexOf('(')
  const close = text.lastIndexOf(')')
  if (open < 0 || close < open) return undefined
  const fields = text.slice(close + 2).split(' ')
  // fields[0] is field 3 (state); utime and stime are fields 14 and 15.
  const utime = Number(fields[11])
  const stime = Number(fields[12])
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) return undefined
  return { name: text.slice(open + 1, close), cpuTicks: utime + stime }
}

export function parseRssBytes(status: string): number {
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(status)
  return m ? Number(m[1]) * 1024 : 0
}

export function containerIdFromCgroup(cgroup: string): string | undefined {
  const m = /(?:docker[-/]|\/containerd[-/]|cri-containerd-)([0-9a-f]{64})/.exec(cgroup)
  return m?.[1]
}

async function readProcess(procRoot: string, pid: number, withDetails: boolean): Promise<ProcessInfo | undefined> {
  const dir = path.join(procRoot, String(pid))
  try {
    const stat = parseStat(await readFile(path.join(dir, 'stat'), 'utf8'))
    if (!stat) return undefined
    if (!withDetails) return { pid, name: stat.name, command: '', rssBytes: 0, cpuTicks: stat.cpuTicks }
    const [status, cmdline, cgroup] = await Promise.all([
      readFile(path.join(dir, 'status'), 'utf8'),
      readFile(path.join(dir, 'cmdline'), 'utf8').catch(() => ''),
      readFile(path.join(dir, 'cgroup'), 'utf8').catch(() => ''),
    ])
    const command = cmdline.replace(/\0+$/, '').replace(/\0/g, ' ').slice(0, 300)
    return { pid, name: stat.name, command, rssBytes: parseRssBytes(status), cpuTicks: stat.cpuTicks, containerId: containerIdFromCgroup(cgroup) }
  } catch {
    // The process exited between the directory listing and the read.
    return undefined
  }
}

async function pids(procRoot: string): Promise<number[]> {
  return (await readdir(procRoot)).filter((n) => /^\d+$/.test(n)).map(Number)
}

/** Every user-space process (kernel threads have no command line and no RSS). */
export async function listProcesses(procRoot = '/proc'): Promise<ProcessInfo[]> {
  const all = await Promise.all((await pids(procRoot)).map((pid) => readProcess(procRoot, pid, true)))
  return all.filter((p): p is ProcessInfo => !!p && p.command !== '')
}

export async function topByRss(limit = 5, procRoot = '/proc'): Promise<ProcessInfo[]> {
  return (await listProcesses(procRoot)).sort((a, b) => b.rssBytes - a.rssBytes).slice(0, limit)
}

/** The processes that used the most CPU time over a short sample. */
export async function topByCpu(sampleMs = 500, limit = 5, procRoot = '/proc'): Promise<CpuSample[]> {
  const before = new Map<number, number>()
  for (const p of await Promise.all((await pids(procRoot)).map((pid) => readProcess(procRoot, pid, false)))) {
    if (p) before.set(p.pid, p.cpuTicks)
  }
  const t0 = process.hrtime.bigint()
  await new Promise((r) => setTimeout(r, sampleMs))
  const after = await Promise.all((await pids(procRoot)).map((pid) => readProcess(procRoot, pid, false)))
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9
  const deltas = after
    .filter((p): p is ProcessInfo => !!p && before.has(p.pid))
    .map((p) => ({ pid: p.pid, delta: p.cpuTicks - before.get(p.pid)! }))
    .filter((d) => d.delta > 0)
    .sort((a, b) => b.delta - a.delta)
    .slice(0, limit * 2)
  const detailed = await Promise.all(deltas.map(async (d) => ({ d, p: await readProcess(procRoot, d.pid, true) })))
  return detailed
    .filter((x): x is { d: { pid: number; delta: number }; p: ProcessInfo } => !!x.p && x.p.command !== '')
    .slice(0, limit)
    .map(({ d, p }) => ({ ...p, cpuPercent: Math.round((d.delta / CLOCK_TICKS_PER_SECOND / seconds) * 1000) / 10 }))
}
