/**
 * Resident memory and CPU time of a set of processes, read from /proc: a process group (the
 * controller Sentinel runs in a group of its own, with the step processes Motia spawns) or a
 * process and its descendants (a node agent). Sampled on a timer by ResourceSampler; CPU is the
 * change in utime + stime over the sampled window, so a process that exits mid-window only loses
 * its own share.
 */
import { execFileSync } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'

const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100
  } catch {
    return 100
  }
})()

interface ProcStat {
  pid: number
  ppid: number
  pgrp: number
  /** utime + stime, in seconds. */
  cpuS: number
}

function readStat(pid: number): ProcStat | null {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // The command name (field 2) may hold spaces and parentheses: the fields after it follow the last ')'.
    const rest = text.slice(text.lastIndexOf(')') + 2).split(' ')
    return {
      pid,
      ppid: Number(rest[1]),
      pgrp: Number(rest[2]),
      cpuS: (Number(rest[11]) + Number(rest[12])) / CLK_TCK,
    }
  } catch {
    return null
  }
}

function rssBytes(pid: number): number {
  try {
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return m ? Number(m[1]) * 1024 : 0
  } catch {
    return 0
  }
}

function allStats(): ProcStat[] {
  const out: ProcStat[] = []
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue
    const s = readStat(Number(name))
    if (s) out.push(s)
  }
  return out
}

/** Which processes a figure covers. */
export type ProcessSet = { group: number } | { tree: number }

function members(set: ProcessSet, stats: ProcStat[]): ProcStat[] {
  if ('group' in set) return stats.filter((s) => s.pgrp === set.group)
  const inTree = new Set([set.tree])
  // Parents come before children in most listings, but not always: loop until nothing is added.
  for (let added = true; added;) {
    added = false
    for (const s of stats)
      if (!inTree.has(s.pid) && inTree.has(s.ppid)) {
        inTree.add(s.pid)
        added = true
      }
  }
  return stats.filter((s) => inTree.has(s.pid))
}

export interface ResourceFigures {
  /** Median of the sampled RSS sums, bytes. */
  rssMedian: number
  rssMax: number
  /** CPU over the window, percent of one core. */
  cpuPercent: number
  processes: number
}

/** Samples named process sets every `everyMs` from start() to stop(). */
export class ResourceSampler {
  private timer?: NodeJS.Timeout
  private readonly rss = new Map<string, number[]>()
  private readonly cpuByPid = new Map<string, Map<number, { first: number; last: number }>>()
  private readonly procCount = new Map<string, number>()
  private startedAt = 0
  private stoppedAt = 0
  private sampled = false

  constructor(
    private readonly sets: Record<string, ProcessSet>,
    private readonly everyMs = 1000,
  ) {}

  start(): void {
    this.startedAt = Date.now()
    this.sample()
    this.timer = setInterval(() => this.sample(), this.everyMs)
  }

  stop(): Record<string, ResourceFigures> {
    if (this.timer) clearInterval(this.timer)
    this.sample()
    this.stoppedAt = Date.now()
    const wallS = Math.max(0.001, (this.stoppedAt - this.startedAt) / 1000)
    const out: Record<string, ResourceFigures> = {}
    for (const name of Object.keys(this.sets)) {
      const rss = [...(this.rss.get(name) ?? [0])].sort((a, b) => a - b)
      let cpuS = 0
      for (const { first, last } of this.cpuByPid.get(name)?.values() ?? []) cpuS += last - first
      out[name] = {
        rssMedian: rss[Math.floor((rss.length - 1) / 2)],
        rssMax: rss[rss.length - 1],
        cpuPercent: (cpuS / wallS) * 100,
        processes: this.procCount.get(name) ?? 0,
      }
    }
    return out
  }

  private sample(): void {
    const stats = allStats()
    const first = !this.sampled
    this.sampled = true
    for (const [name, set] of Object.entries(this.sets)) {
      const ps = members(set, stats)
      const list = this.rss.get(name) ?? []
      list.push(ps.reduce((sum, p) => sum + rssBytes(p.pid), 0))
      this.rss.set(name, list)
      const cpu = this.cpuByPid.get(name) ?? new Map<number, { first: number; last: number }>()
      for (const p of ps) {
        const seen = cpu.get(p.pid)
        // A process born inside the window counts from zero: all its CPU time was spent in it.
        if (seen) seen.last = p.cpuS
        else cpu.set(p.pid, { first: first ? p.cpuS : 0, last: p.cpuS })
      }
      this.cpuByPid.set(name, cpu)
      this.procCount.set(name, Math.max(this.procCount.get(name) ?? 0, ps.length))
    }
  }
}
