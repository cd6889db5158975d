/**
 * Keeps an evidence record within its size: each source is capped as it is read (CAPS), and the
 * whole record, serialised, within CAPS.totalBytes (12 KiB: a tenth of the model's context at
 * most, and small enough to store with the incident). What does not fit is cut in a fixed order,
 * the least telling first, and each cut is named in `truncated`.
 */
import { CAPS, type Evidence, type Point } from './types'

/** Evenly spaced points of a series, oldest first, always keeping the newest. */
export function thinPoints(points: Point[], max: number = CAPS.seriesPoints): Point[] {
  const sorted = points
    .filter((p) => Array.isArray(p) && Number.isFinite(p[0]) && Number.isFinite(p[1]))
    .sort((a, b) => a[0] - b[0])
  if (sorted.length <= max) return sorted
  if (max <= 1) return sorted.slice(-1)
  const out: Point[] = []
  const step = (sorted.length - 1) / (max - 1)
  for (let i = 0; i < max; i++) out.push(sorted[Math.round(i * step)])
  return out
}

export const sizeOf = (e: unknown): number => Buffer.byteLength(JSON.stringify(e))

/** One cut: returns false when it had nothing left to cut. */
type Cut = [string, (e: Evidence) => boolean]

function halve<T>(list: T[] | undefined, min: number, keep: 'newest' | 'first'): T[] | undefined {
  if (!list || list.length <= min) return undefined
  const n = Math.max(min, Math.floor(list.length / 2))
  return keep === 'newest' ? list.slice(-n) : list.slice(0, n)
}

const CUTS: Cut[] = [
  [
    'host.readings',
    (e) => {
      if (!e.host?.readings) return false
      delete e.host.readings
      return true
    },
  ],
  [
    'openIncidents',
    (e) => {
      const l = halve(e.openIncidents, 2, 'first')
      if (!l) return false
      e.openIncidents = l
      return true
    },
  ],
  [
    'container.envNames',
    (e) => {
      const l = halve(e.container?.envNames, 8, 'first')
      if (!l) return false
      e.container!.envNames = l
      return true
    },
  ],
  ...(['metricHistory', 'memoryHistory', 'memoryPercentHistory', 'cpuHistory'] as const).map((k): Cut => [
    k,
    (e) => {
      const s = e[k]
      if (!s || s.points.length <= 12) return false
      s.points = thinPoints(s.points, Math.max(12, Math.floor(s.points.length / 2)))
      return true
    },
  ]),
  [
    'logs.lines',
    (e) => {
      const l = halve(e.logs?.lines, 10, 'newest')
      if (!l) return false
      e.logs!.lines = l
      return true
    },
  ],
  [
    'processes',
    (e) => {
      const p = e.processes
      const rss = halve(p?.byRss, 2, 'first')
      const cpu = halve(p?.byCpu, 2, 'first')
      if (!rss && !cpu) return false
      if (rss) p!.byRss = rss
      if (cpu) p!.byCpu = cpu
      return true
    },
  ],
  [
    'probes',
    (e) => {
      const l = halve(e.probes, 3, 'newest')
      if (!l) return false
      e.probes = l
      return true
    },
  ],
  [
    'logs.errorLines',
    (e) => {
      const l = halve(e.logs?.errorLines, 2, 'newest')
      if (!l) return false
      e.logs!.errorLines = l
      return true
    },
  ],
  [
    'container.health.log',
    (e) => {
      const l = halve(e.container?.health?.log, 1, 'newest')
      if (!l) return false
      e.container!.health!.log = l
      return true
    },
  ],
  // Last resort, whole sections, so the bound always holds.
  ...(
    [
      'openIncidents',
      'metricHistory',
      'memoryHistory',
      'memoryPercentHistory',
      'cpuHistory',
      'processes',
      'probes',
      'logs',
      'host',
      'restarts',
      'sandbox',
    ] as const
  ).map((k): Cut => [
    `${k} (dropped)`,
    (e) => {
      if (e[k] === undefined) return false
      delete e[k]
      return true
    },
  ]),
  [
    'alert.details (dropped)',
    (e) => {
      if (!e.alert.details) return false
      delete e.alert.details
      return true
    },
  ],
  [
    'container.envNames (dropped)',
    (e) => {
      if (!e.container?.envNames) return false
      delete e.container.envNames
      return true
    },
  ],
  [
    'container.health (dropped)',
    (e) => {
      if (!e.container?.health) return false
      delete e.container.health
      return true
    },
  ],
]

/**
 * The record within `maxBytes` of JSON (a copy; the input is not changed). Every list is first
 * held to its cap; then, while too large, the cuts above run in order until one fits.
 */
export function boundEvidence(input: Evidence, maxBytes: number = CAPS.totalBytes): Evidence {
  const e = structuredClone(input)
  const truncated = new Set(e.truncated ?? [])
  e.problems = e.problems.slice(0, CAPS.problems).map((p) => p.slice(0, 300))
  if (e.openIncidents && e.openIncidents.length > CAPS.openIncidents) {
    e.openIncidents = e.openIncidents.slice(0, CAPS.openIncidents)
    truncated.add('openIncidents')
  }
  if (e.logs) {
    e.logs.lines = e.logs.lines.slice(-CAPS.logLines).map((l) => l.slice(0, CAPS.logLineChars))
    e.logs.errorLines = e.logs.errorLines.slice(-CAPS.errorLines).map((l) => l.slice(0, CAPS.logLineChars))
  }
  for (const k of ['metricHistory', 'memoryHistory', 'memoryPercentHistory', 'cpuHistory'] as const) {
    const s = e[k]
    if (s && s.points.length > CAPS.seriesPoints) s.points = thinPoints(s.points)
  }
  if (e.container?.envNames && e.container.envNames.length > CAPS.envNames) {
    e.container.envNames = e.container.envNames.slice(0, CAPS.envNames)
    truncated.add('container.envNames')
  }
  if (e.probes) e.probes = e.probes.slice(-CAPS.probes)
  const fits = (extra?: string) => {
    const marks = extra ? new Set([...truncated, extra]) : truncated
    return sizeOf(marks.size > 0 ? { ...e, truncated: [...marks] } : e) <= maxBytes
  }
  if (!fits()) {
    for (const [name, cut] of CUTS) {
      // The marker is counted in the size, so the answer is within the bound with it.
      while (!fits(name)) {
        if (!cut(e)) break
        truncated.add(name)
      }
      if (fits()) break
    }
  }
  if (truncated.size > 0) e.truncated = [...truncated]
  return e
}
