/**
 * The evidence record: everything the rule analyser gathered about one incident, as one plain,
 * serialisable object with every source capped (see CAPS) and the whole bounded in size. The
 * fault rules read only this, the LLM is shown it, and the incident keeps it, so a person, the
 * model and the rules all judge from the same facts.
 */
import type { ActionRecord, AlertType, Decision, ResourceRef } from '../../platform/store/model'

/** How much of each source a record keeps at most. */
export const CAPS = {
  /** Log lines kept (the newest), each at most `logLineChars`. */
  logLines: 60,
  logLineChars: 240,
  /** Error-looking lines kept from the longer tail read. */
  errorLines: 8,
  /** Points of each series (evenly thinned, the newest always kept). */
  seriesPoints: 60,
  openIncidents: 10,
  previousIncidents: 10,
  envNames: 40,
  processes: 5,
  probes: 10,
  healthLog: 3,
  healthOutputChars: 200,
  detailEntries: 12,
  detailChars: 160,
  problems: 10,
  /** The whole record as JSON, in bytes. */
  totalBytes: 12 * 1024,
} as const

/** [time in ms since the epoch, value], oldest first. */
export type Point = [number, number]

export interface Series {
  /** What the values are: percent, bytes, ms... when known. */
  unit?: string
  /** Where the points came from: prometheus, collectors, ... */
  source?: string
  points: Point[]
}

export interface ProcessEntry {
  pid: number
  name: string
  /** Redacted, at most 120 characters. */
  command: string
  rssBytes: number
  /** Percent of one CPU over the sample (can pass 100 for a multi-threaded process). */
  cpuPercent?: number
  /** The container it runs in (full id), from its cgroup. */
  containerId?: string
  /** That container carries the watch label (from the label-filtered listing). */
  containerWatched?: boolean
  /** Not pid 1, not Sentinel nor its parent, not protected, not in a container: kill_process may name it. */
  killable: boolean
}

export interface ProbeEntry {
  target: string
  status?: number
  ok?: boolean
  ms?: number
  error?: string
}

/**
 * One fresh probe of the alert's endpoint at analysis time (only for a target of PROBE_TARGETS, never
 * a URL the alert alone names), compared with the alert's threshold.
 */
export interface Recheck {
  /** The target as shown (no credentials). */
  target: string
  at: string
  /** To the end of the body; a timeout counts as the whole timeout. */
  ms: number
  ok: boolean
  status?: number
  error?: string
  timeoutMs: number
  /** The alert's threshold (or, for an anomaly, the top of its expected range) it was compared with. */
  threshold?: number
  /**
   * under: answered within the threshold; over: answered slower, or timed out; failed: no answer
   * (refused, not resolved, an HTTP 5xx); unknown: no threshold to compare with.
   */
  verdict: 'under' | 'over' | 'failed' | 'unknown'
}

/**
 * The incident was decided before this analysis, by the container fast path (a death is restarted
 * at once, in the main process): the analysis only enriches it, and proposing the same fix runs
 * nothing twice.
 */
export interface DecidedBefore {
  actionId: string | null
  route: Decision['route']
  at: string
  /** Where that action got to when the analysis started, when it ran. */
  actionStatus?: ActionRecord['status']
}

export interface IncidentRef {
  id: string
  type: string
  resource: string
  status: string
  openedAt: string
  node?: string
}

export interface DirEntry {
  bytes: number
  files: number
  largest: Array<{ path: string; bytes: number }>
}

export interface Evidence {
  version: 1
  gatheredAt: string
  alert: {
    type: AlertType
    metric: string
    value: number | null
    threshold: number | null
    resource: ResourceRef
    at: string
    /** The host the alert is about (a node / instance / host label, or a host resource), when it names one. */
    node?: string
    /** False when the alert is about another host than this one: nothing on this host is to blame then. */
    thisHost: boolean
    /** The alert's scalar details (exit code, OOM flag, scores...), redacted and capped. */
    details?: Record<string, string | number | boolean | null>
  }
  /** Set when the alert names a container no watched container answers to: nothing about it was read. */
  unwatchedContainer?: string
  container?: {
    id: string
    name: string
    exists: boolean
    image?: string
    /** When the image the container runs was built (Docker's image Created). */
    imageCreatedAt?: string
    /** When the container was created: the last time its image or configuration could change. */
    createdAt?: string
    running?: boolean
    status?: string
    exitCode?: number
    oomKilled?: boolean
    error?: string
    restartCount?: number
    restartPolicy?: string
    startedAt?: string
    finishedAt?: string
    /** 0 when it has none. */
    memoryLimitBytes?: number
    /** CPUs it may use (NanoCpus / 1e9); absent when unlimited. */
    cpuLimit?: number
    /** Environment variable names, never their values. */
    envNames?: string[]
    health?: { status: string; failingStreak: number; log: Array<{ exitCode: number; output: string; end: string }> }
    usage?: { memoryBytes: number; memoryLimitBytes: number; memoryPercent: number; cpuPercent?: number }
  }
  /** The exit code the death event carried (the container may be running again by now). */
  eventExitCode?: number
  logs?: {
    /** The newest lines, redacted, each cut to CAPS.logLineChars. */
    lines: string[]
    /** Error-looking lines among the longer tail read, newest last. */
    errorLines: string[]
    /** Lines the tail read held. */
    linesRead: number
  }
  /** Restart history, honestly: Docker's count and last start / finish, and this resource's earlier incidents. */
  restarts?: {
    count?: number
    lastStartedAt?: string
    lastFinishedAt?: string
    /** When earlier incidents on the same resource opened (newest first). */
    previousIncidents?: string[]
    note: string
  }
  /** The alert's own metric over the recent past. */
  metricHistory?: Series
  /** The container's memory (bytes and percent of its limit) and CPU (percent of a core), from the collectors. */
  memoryHistory?: Series
  memoryPercentHistory?: Series
  cpuHistory?: Series
  host?: {
    cores?: number
    memTotalBytes?: number
    memAvailableBytes?: number
    memoryUsedPercent?: number
    load1?: number
    load5?: number
    /** The monitor's latest readings of this host. */
    readings?: Array<{ metric: string; value: number; at: string }>
  }
  processes?: {
    byRss?: ProcessEntry[]
    byCpu?: ProcessEntry[]
    cpuSampleMs?: number
  }
  sandbox?: {
    dir: string
    subdirs: Record<'logs' | 'temp' | 'cache' | 'data', DirEntry>
    cleanableBytes: number
    totalBytes: number
    filesystem?: { usedPercent: number; freeBytes: number }
  }
  probes?: ProbeEntry[]
  /** A fresh probe of the endpoint, made for this analysis (a configured probe target only). */
  recheck?: Recheck
  /** The decision taken before the analysis ran (the container fast path), when there was one. */
  decidedBefore?: DecidedBefore
  /** Other open incidents on the same node, newest first. */
  openIncidents?: IncidentRef[]
  /** Look-ups that failed (each said once); a rule can only use what was read. */
  problems: string[]
  /** What was cut to keep the record within CAPS.totalBytes. */
  truncated?: string[]
}
