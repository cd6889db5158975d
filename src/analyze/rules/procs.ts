/**
 * Host processes from /proc: memory (VmRSS from status) and CPU time (utime + stime from stat,
 * read by the platform's procfs), with the container each one runs in, read from its cgroup path.
 */
import { readFile } from 'node:fs/promises'
import path from 'node:path'
import { type CpuUse, listPids, readArgv, readProcStat, sampleCpu } from '../../platform/host/procfs'

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

export function parseRssBytes(status: string): number {
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(status)
  return m ? Number(m[1]) * 1024 : 0
}

export function containerIdFromCgroup(cgroup: string): string | undefined {
  const m = /(?:docker[-/]|\/containerd[-/]|cri-containerd-)([0-9a-f]{64})/.exec(cgroup)
  return m?.[1]
}

async function readProcess(procRoot: string, pid: number): Promise<ProcessInfo | undefined> {
  const stat = await readProcStat(pid, procRoot)
  if (!stat) return undefined
  const dir = path.join(procRoot, String(pid))
  try {
    const [status, argv, cgroup] = await Promise.all([
      readFile(path.join(dir, 'status'), 'utf8'),
      readArgv(pid, procRoot),
      readFile(path.join(dir, 'cgroup'), 'utf8').catch(() => ''),
    ])
    return {
      pid,
      name: stat.comm,
      command: argv.join(' ').slice(0, 300),
      rssBytes: parseRssBytes(status),
      cpuTicks: stat.cpuTicks,
      containerId: containerIdFromCgroup(cgroup),
    }
  } catch {
    // The process exited between the directory listing and the read.
    return undefined
  }
}

/** Every user-space process (kernel threads have no command line and no RSS). */
export async function listProcesses(procRoot = '/proc'): Promise<ProcessInfo[]> {
  const all = await Promise.all((await listPids(procRoot)).map((pid) => readProcess(procRoot, pid)))
  return all.filter((p): p is ProcessInfo => !!p && p.command !== '')
}

export async function topByRss(limit = 5, procRoot = '/proc'): Promise<ProcessInfo[]> {
  return (await listProcesses(procRoot)).sort((a, b) => b.rssBytes - a.rssBytes).slice(0, limit)
}

/** The user-space processes that used the most CPU time over a short sample. */
export async function topByCpu(sampleMs = 500, limit = 5, procRoot = '/proc'): Promise<CpuSample[]> {
  const busiest = (await sampleCpu(sampleMs, procRoot)).slice(0, limit * 2)
  const detailed = await Promise.all(busiest.map(async (u) => ({ u, p: await readProcess(procRoot, u.pid) })))
  return detailed
    .filter((x): x is { u: CpuUse; p: ProcessInfo } => !!x.p && x.p.command !== '')
    .slice(0, limit)
    .map(({ u, p }) => ({ ...p, cpuPercent: u.cpuPercent }))
}
