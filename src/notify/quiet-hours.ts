/**
 * Quiet hours: named time intervals (Alertmanager's `time_intervals`, simplified) during which a
 * route holds its notifications below `critical` until the interval ends. A held notification is
 * delivered when the quiet hours end, unless the incident closed in the meantime (then nobody
 * needed to hear about it). Critical incidents always page.
 *
 *   quiet_hours:
 *     - name: nights
 *       times: [{ start: '22:00', end: '07:00' }]   # an interval may cross midnight
 *       weekdays: [monday, tuesday, wednesday, thursday, friday]   # the day the interval starts
 *       location: Europe/Berlin                      # IANA zone; UTC when left out
 */
import { z } from 'zod'

const WEEKDAYS = ['sunday', 'monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday'] as const
const clock = z
  .string()
  .regex(/^([01]\d|2[0-3]):[0-5]\d$|^24:00$/, 'a time of day as HH:MM (00:00 to 24:00)')
  .transform((v) => Number(v.slice(0, 2)) * 60 + Number(v.slice(3)))

export const quietHoursSchema = z
  .object({
    name: z.string().min(1),
    times: z
      .array(z.object({ start: clock, end: clock }).strict())
      .min(1)
      .refine((ts) => ts.every((t) => t.start !== t.end), 'start and end must differ'),
    weekdays: z.array(z.enum(WEEKDAYS)).min(1).optional(),
    location: z
      .string()
      .default('UTC')
      .refine((tz) => {
        try {
          new Intl.DateTimeFormat('en-US', { timeZone: tz })
          return true
        } catch {
          return false
        }
      }, 'an IANA time zone such as UTC or Europe/Berlin'),
  })
  .strict()
export type QuietHours = z.infer<typeof quietHoursSchema>

const formatters = new Map<string, Intl.DateTimeFormat>()
function localParts(at: Date, tz: string): { weekday: number; minute: number } {
  let f = formatters.get(tz)
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: tz,
      weekday: 'long',
      hour: '2-digit',
      minute: '2-digit',
      hourCycle: 'h23',
    })
    formatters.set(tz, f)
  }
  const parts = Object.fromEntries(f.formatToParts(at).map((p) => [p.type, p.value]))
  return {
    weekday: WEEKDAYS.indexOf(String(parts.weekday).toLowerCase() as (typeof WEEKDAYS)[number]),
    minute: Number(parts.hour) * 60 + Number(parts.minute),
  }
}

/** When the quiet interval that `at` falls in ends (ms), or null when `at` is not in one. */
function endOf(q: QuietHours, at: number): number | null {
  const { weekday, minute } = localParts(new Date(at), q.location)
  const dayAllowed = (d: number) => !q.weekdays || q.weekdays.includes(WEEKDAYS[(d + 7) % 7])
  for (const { start, end } of q.times) {
    let left: number | null = null
    if (start < end) {
      if (minute >= start && minute < end && dayAllowed(weekday)) left = end - minute
    } else if (minute >= start && dayAllowed(weekday)) left = 1440 - minute + end
    else if (minute < end && dayAllowed(weekday - 1)) left = end - minute
    if (left !== null) return at - (at % 60_000) + left * 60_000
  }
  return null
}

/**
 * The end of the quiet hours `at` falls in (following intervals that run into each other), or
 * null when none of `intervals` holds `at`.
 */
export function quietUntil(intervals: readonly QuietHours[], at: number): number | null {
  let until: number | null = null
  let t = at
  for (let hops = 0; hops < 32; hops++) {
    const ends = intervals.map((q) => endOf(q, t)).filter((e): e is number => e !== null)
    if (ends.length === 0) break
    until = Math.max(...ends)
    t = until
  }
  return until
}
