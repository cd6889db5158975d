/** Durations as the routing file writes them, in Alertmanager's and Prometheus's form: `30s`, `5m`, `4h`, `1d`, `1h30m`, `250ms`. */
import { z } from 'zod'

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 }
const PART = /(\d+(?:\.\d+)?)(ms|s|m|h|d|w)/g

/** Milliseconds, or throws naming the text. */
export function parseDuration(text: string): number {
  const t = text.trim()
  if (!/^(?:\d+(?:\.\d+)?(?:ms|s|m|h|d|w))+$/.test(t))
    throw new Error(`${JSON.stringify(text)} is not a duration (write 30s, 5m, 4h, 1d or 1h30m)`)
  let ms = 0
  for (const [, n, unit] of t.matchAll(PART)) ms += Number(n) * UNIT_MS[unit]
  return Math.round(ms)
}

/** A duration field: text in the file, milliseconds once parsed; `min` and `max` in ms. */
export const durationField = (min: number, max: number) =>
  z.string().transform((v, ctx) => {
    try {
      const ms = parseDuration(v)
      if (ms < min || ms > max) {
        ctx.addIssue({
          code: 'custom',
          message: `${v} is out of range (${formatDuration(min)} to ${formatDuration(max)})`,
        })
        return z.NEVER
      }
      return ms
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: (err as Error).message })
      return z.NEVER
    }
  })

export function formatDuration(ms: number): string {
  if (ms === 0) return '0s'
  const units: [string, number][] = [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1000],
    ['ms', 1],
  ]
  let rest = ms
  let out = ''
  for (const [u, size] of units) {
    const n = Math.floor(rest / size)
    if (n > 0) {
      out += `${n}${u}`
      rest -= n * size
    }
  }
  return out
}
