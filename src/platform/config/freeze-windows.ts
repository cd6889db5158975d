/**
 * FREEZE_WINDOWS, read and validated with the rest of the configuration. While a window is active,
 * Sentinel does not change anything by itself (src/decide/freeze.ts says when one is).
 *
 * Syntax (FREEZE_WINDOWS): windows separated by `;`, each `<cron>|<duration>|<time zone>[|<label>]`
 *   cron       five fields, minute hour day-of-month month day-of-week, in the window's time zone:
 *              `*`, numbers, ranges `a-b`, lists `a,b`, steps `*\/n` and `a-b/n`; months JAN-DEC and
 *              weekdays SUN-SAT by name too; weekday 0 and 7 are both Sunday. When both day fields
 *              are restricted a day matches either (as in cron).
 *   duration   one or more of `<n>d`, `<n>h`, `<n>m`, e.g. `60h`, `2d12h`, `90m`, at most 31 days.
 *              Days are calendar days (the same wall-clock time N days later); hours and minutes are
 *              elapsed time. So `2d12h` from Friday 22:00 ends Monday 10:00 wall-clock even across a
 *              DST change, while `60h` ends exactly 60 hours later.
 *   time zone  an IANA name such as Europe/Berlin, America/New_York or UTC.
 *   label      free text shown in decisions (no `;` or `|`).
 *   Example: `0 22 * * FRI|2d12h|Europe/Berlin|weekend freeze;30 1 * * *|2h|UTC|nightly backup`
 */

export interface FreezeWindow {
  /** The text it was parsed from, for messages. */
  spec: string
  label?: string
  timeZone: string
  cron: CronFields
  duration: { days: number; ms: number }
}

export interface CronFields {
  minutes: number[]
  hours: number[]
  daysOfMonth: Set<number>
  months: Set<number>
  daysOfWeek: Set<number>
  /** Whether the day fields were `*` (cron's either-day rule depends on it). */
  domAny: boolean
  dowAny: boolean
}

export class FreezeConfigError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'FreezeConfigError'
  }
}

const MONTHS = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC']
const DAYS = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT']
const MAX_DURATION_DAYS = 31
const HOUR = 3_600_000

function parseField(
  text: string,
  name: string,
  min: number,
  max: number,
  names?: string[],
): { values: Set<number>; any: boolean } {
  const values = new Set<number>()
  const num = (s: string): number => {
    const byName = names?.indexOf(s.toUpperCase()) ?? -1
    if (byName >= 0) return byName + (name === 'month' ? 1 : 0)
    if (!/^\d+$/.test(s))
      throw new FreezeConfigError(`${name} field "${text}": "${s}" is not a number${names ? ' or a name' : ''}`)
    const n = Number(s)
    if (n < min || n > max) throw new FreezeConfigError(`${name} field "${text}": ${n} is outside ${min}-${max}`)
    return n
  }
  for (const part of text.split(',')) {
    const m = /^([^/]+)(?:\/(\d+))?$/.exec(part)
    if (!m) throw new FreezeConfigError(`${name} field "${text}": cannot read "${part}"`)
    const step = m[2] === undefined ? 1 : Number(m[2])
    if (step < 1) throw new FreezeConfigError(`${name} field "${text}": a step must be at least 1`)
    let lo: number
    let hi: number
    if (m[1] === '*') {
      lo = min
      hi = max
    } else if (m[1].includes('-')) {
      const [a, b, extra] = m[1].split('-')
      if (extra !== undefined) throw new FreezeConfigError(`${name} field "${text}": cannot read "${part}"`)
      lo = num(a)
      hi = num(b)
      if (lo > hi) throw new FreezeConfigError(`${name} field "${text}": range ${a}-${b} runs backwards`)
    } else {
      lo = num(m[1])
      hi = m[2] === undefined ? lo : max
    }
    for (let v = lo; v <= hi; v += step) values.add(v)
  }
  return { values, any: text === '*' }
}

export function parseCron(text: string): CronFields {
  const fields = text.trim().split(/\s+/)
  if (fields.length !== 5)
    throw new FreezeConfigError(
      `cron "${text}" must have 5 fields (minute hour day-of-month month day-of-week), found ${fields.length}`,
    )
  const minute = parseField(fields[0], 'minute', 0, 59)
  const hour = parseField(fields[1], 'hour', 0, 23)
  const dom = parseField(fields[2], 'day-of-month', 1, 31)
  const month = parseField(fields[3], 'month', 1, 12, MONTHS)
  const dow = parseField(fields[4], 'day-of-week', 0, 7, DAYS)
  if (dow.values.delete(7)) dow.values.add(0)
  return {
    minutes: [...minute.values].sort((a, b) => a - b),
    hours: [...hour.values].sort((a, b) => a - b),
    daysOfMonth: dom.values,
    months: month.values,
    daysOfWeek: dow.values,
    domAny: dom.any,
    dowAny: dow.any,
  }
}

export function parseDuration(text: string): { days: number; ms: number } {
  const t = text.trim()
  const m = /^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?$/.exec(t)
  if (!t || !m)
    throw new FreezeConfigError(`duration "${text}" must look like 60h, 2d12h or 90m (units d, h, m in that order)`)
  const days = Number(m[1] ?? 0)
  const ms = Number(m[2] ?? 0) * HOUR + Number(m[3] ?? 0) * 60_000
  if (days === 0 && ms === 0) throw new FreezeConfigError(`duration "${text}" must be longer than zero`)
  if (days * 24 * HOUR + ms > MAX_DURATION_DAYS * 24 * HOUR)
    throw new FreezeConfigError(`duration "${text}" is longer than ${MAX_DURATION_DAYS} days`)
  return { days, ms }
}

export function checkTimeZone(timeZone: string): string {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone })
    return timeZone
  } catch {
    throw new FreezeConfigError(
      `time zone "${timeZone}" is not an IANA time zone name (for example Europe/Berlin or UTC)`,
    )
  }
}

/** Parses one window: `<cron>|<duration>|<time zone>[|<label>]`. */
export function parseFreezeWindow(text: string): FreezeWindow {
  const parts = text.split('|').map((s) => s.trim())
  if (parts.length < 3 || parts.length > 4)
    throw new FreezeConfigError(`window "${text}" must be <cron>|<duration>|<time zone>[|<label>]`)
  const [cronText, durationText, timeZone, label] = parts
  return {
    spec: text.trim(),
    label: label || undefined,
    timeZone: checkTimeZone(timeZone),
    cron: parseCron(cronText),
    duration: parseDuration(durationText),
  }
}

/** Parses FREEZE_WINDOWS. Errors name the variable and the window (counted from 1). */
export function parseFreezeWindows(value: string | undefined, varName = 'FREEZE_WINDOWS'): FreezeWindow[] {
  if (value === undefined || value.trim() === '') return []
  const items = value.split(';')
  return items.map((item, i) => {
    if (item.trim() === '')
      throw new FreezeConfigError(`${varName}: window ${i + 1} of ${items.length} is empty (remove the extra ";")`)
    try {
      return parseFreezeWindow(item)
    } catch (err) {
      throw new FreezeConfigError(`${varName}: window ${i + 1} of ${items.length}: ${(err as Error).message}`)
    }
  })
}
