/**
 * Change-freeze windows: while one is active, Sentinel does not change anything by itself. The
 * windows are read from FREEZE_WINDOWS with the configuration (src/platform/config/freeze-windows.ts,
 * which documents the syntax); this says which is in force at a given time.
 *
 * DST: a start time that does not exist that day (in the spring-forward gap) starts when the
 * clock resumes, shifted by the gap (02:30 → 03:30); a start time that happens twice (fall-back)
 * starts at the first of the two. Each day starts a window at most once per matching time.
 */
import type { CronFields, FreezeWindow } from '../platform/config/freeze-windows'

export interface ActiveFreeze {
  window: FreezeWindow
  startedAt: Date
  endsAt: Date
}

const HOUR = 3_600_000

const formatters = new Map<string, Intl.DateTimeFormat>()
function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone)
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    })
    formatters.set(timeZone, f)
  }
  return f
}

interface Wall {
  year: number
  month: number
  day: number
  hour: number
  minute: number
  second: number
}

/** The wall-clock fields of an instant in a time zone. */
export function wallClock(ms: number, timeZone: string): Wall {
  const out: Record<string, number> = {}
  for (const p of formatter(timeZone).formatToParts(new Date(ms)))
    if (p.type !== 'literal') out[p.type] = Number(p.value)
  return { year: out.year, month: out.month, day: out.day, hour: out.hour, minute: out.minute, second: out.second }
}

/** How far the zone's wall clock is ahead of UTC at an instant, in ms. */
const offsetAt = (ms: number, timeZone: string): number => {
  const w = wallClock(ms, timeZone)
  return Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute, w.second) - Math.floor(ms / 1000) * 1000
}

/**
 * The instant a wall-clock time happens in a zone. Of two (fall-back), the first; of none
 * (spring-forward gap), the same wall time read with the offset from before the gap, which lands
 * after the gap by its length.
 */
export function zonedToInstant(
  year: number,
  month: number,
  day: number,
  hour: number,
  minute: number,
  timeZone: string,
): number {
  const asUtc = Date.UTC(year, month - 1, day, hour, minute)
  const offsets = new Set([
    offsetAt(asUtc - 24 * HOUR, timeZone),
    offsetAt(asUtc, timeZone),
    offsetAt(asUtc + 24 * HOUR, timeZone),
  ])
  const matches: number[] = []
  for (const o of offsets) {
    const t = asUtc - o
    const w = wallClock(t, timeZone)
    if (w.year === year && w.month === month && w.day === day && w.hour === hour && w.minute === minute) matches.push(t)
  }
  if (matches.length > 0) return Math.min(...matches)
  return asUtc - offsetAt(asUtc - 24 * HOUR, timeZone)
}

function endOf(start: number, window: FreezeWindow): number {
  if (window.duration.days === 0) return start + window.duration.ms
  const w = wallClock(start, window.timeZone)
  const d = new Date(Date.UTC(w.year, w.month - 1, w.day + window.duration.days))
  return (
    zonedToInstant(d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate(), w.hour, w.minute, window.timeZone) +
    window.duration.ms
  )
}

function dayMatches(c: CronFields, year: number, month: number, day: number): boolean {
  if (!c.months.has(month)) return false
  const dom = c.daysOfMonth.has(day)
  const dow = c.daysOfWeek.has(new Date(Date.UTC(year, month - 1, day)).getUTCDay())
  if (c.domAny && c.dowAny) return true
  if (c.domAny) return dow
  if (c.dowAny) return dom
  return dom || dow
}

/** Every start of the window in [fromMs, toMs], oldest first. */
export function windowStarts(window: FreezeWindow, fromMs: number, toMs: number): number[] {
  const out: number[] = []
  const first = wallClock(fromMs - 24 * HOUR, window.timeZone)
  const last = wallClock(toMs + 24 * HOUR, window.timeZone)
  const lastDay = Date.UTC(last.year, last.month - 1, last.day)
  for (let d = Date.UTC(first.year, first.month - 1, first.day); d <= lastDay; d += 24 * HOUR) {
    const date = new Date(d)
    const [y, mo, da] = [date.getUTCFullYear(), date.getUTCMonth() + 1, date.getUTCDate()]
    if (!dayMatches(window.cron, y, mo, da)) continue
    // Zone offsets lie within -12 h..+14 h, so these two instants bracket the whole local day. When the
    // offset is the same at both, the day has no DST change and each time converts by plain arithmetic.
    const before = offsetAt(d - 14 * HOUR, window.timeZone)
    const steady = before === offsetAt(d + 36 * HOUR, window.timeZone)
    for (const h of window.cron.hours) {
      for (const mi of window.cron.minutes) {
        const t = steady ? d + h * HOUR + mi * 60_000 - before : zonedToInstant(y, mo, da, h, mi, window.timeZone)
        if (t >= fromMs && t <= toMs) out.push(t)
      }
    }
  }
  return [...new Set(out)].sort((a, b) => a - b)
}

/**
 * The freeze in force at `now`, or null. When several overlap, the one that lasts longest is
 * returned, since that is when changes may resume.
 */
export function activeFreeze(now: Date | number, windows: FreezeWindow[]): ActiveFreeze | null {
  const nowMs = typeof now === 'number' ? now : now.getTime()
  let best: ActiveFreeze | null = null
  for (const w of windows) {
    // A start longer ago than the longest this window can last (days may be 25 h with DST) cannot matter.
    const reach = w.duration.days * 25 * HOUR + w.duration.ms
    // The end only moves later as the start does, so the latest start so far decides for this window.
    const starts = windowStarts(w, nowMs - reach, nowMs)
    if (starts.length === 0) continue
    const start = starts[starts.length - 1]
    const end = endOf(start, w)
    if (nowMs < end && (!best || end > best.endsAt.getTime()))
      best = { window: w, startedAt: new Date(start), endsAt: new Date(end) }
  }
  return best
}

/** "weekend freeze (0 22 * * FRI|2d12h|Europe/Berlin) until 2025-03-10T09:00:00.000Z" */
export const describeFreeze = (f: ActiveFreeze) =>
  `${f.window.label ? `${f.window.label} (${f.window.spec})` : f.window.spec} until ${f.endsAt.toISOString()}`
