/**
 * What the stand-in LLM was sent, and whether it carried a fault's decisive evidence. The tests
 * read only the user messages (the system message is the same for every incident: instructions,
 * the action catalog, possibly the cause labels) with the cause labels' own descriptions taken
 * out, so that a label's wording ("OOM-killed") is never taken for evidence.
 */
import { CAUSES } from '../../src/analyze/causes'

interface ChatBody {
  messages?: Array<{ role?: string; content?: unknown }>
}

/** The user messages of a chat-completions request body, without the cause descriptions. */
export function promptText(body: unknown): string {
  const messages = (body as ChatBody | undefined)?.messages ?? []
  let text = messages
    .filter((m) => m.role !== 'system')
    .map((m) =>
      typeof m.content === 'string'
        ? m.content
        : Array.isArray(m.content)
          ? m.content.map((p: { text?: string }) => p?.text ?? '').join('\n')
          : '',
    )
    .join('\n')
  for (const description of Object.values(CAUSES)) text = text.split(description).join(' ')
  return text
}

/** The values of the `<ISO time> <number>` lines (a metric history as the prompt lists it), in order. */
export function seriesValues(text: string): number[] {
  const out: number[] = []
  for (const m of text.matchAll(
    /^\s*\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z?\s+(-?\d+(?:\.\d+)?(?:e[+-]?\d+)?)\s*$/gim,
  ))
    out.push(Number(m[1]))
  return out
}

/**
 * A steady rise: at least `minPoints` points, most steps (`monotone`, default 70 %) not down, and
 * the last at least `minRise` above the first.
 */
export function rising(values: number[], opts: { minPoints?: number; minRise: number; monotone?: number }): boolean {
  const n = values.length
  if (n < (opts.minPoints ?? 5)) return false
  let up = 0
  for (let i = 1; i < n; i++) if (values[i] >= values[i - 1]) up++
  return up / (n - 1) >= (opts.monotone ?? 0.7) && values[n - 1] - values[0] >= opts.minRise
}

/** The series went over the threshold and, after its peak, came back under it. */
export function recovered(values: number[], threshold: number): boolean {
  if (!values.length) return false
  let peak = 0
  for (let i = 1; i < values.length; i++) if (values[i] > values[peak]) peak = i
  return values[peak] > threshold && values.slice(peak + 1).some((v) => v <= threshold)
}

/** At least `min` points over the threshold, the last one among them. */
export function sustainedOver(values: number[], threshold: number, min = 3): boolean {
  return values.length > 0 && values[values.length - 1] > threshold && values.filter((v) => v > threshold).length >= min
}

/** The numbers that follow `key` (JSON `"key": n`, `key=n` or `key n`) anywhere in the text. */
export function numbersAfter(text: string, key: string): number[] {
  const re = new RegExp(`${key}["']?\\s*[:=]?\\s*(-?\\d+(?:\\.\\d+)?)`, 'gi')
  return [...text.matchAll(re)].map((m) => Number(m[1]))
}

/** OOMKilled=true in any of its spellings (`"oomKilled": true`, `OOMKilled=true`, `oom_killed: true`). */
export const OOM_TRUE = /\boom_?killed\b["']?\s*[:=]\s*["']?true\b/i

/** The exit codes the text shows, in any spelling (`"exitCode": 137`, `exit code 137`, `ExitCode=137`). */
export function exitCodes(text: string): number[] {
  return [...text.matchAll(/\bexit[ _]?code\b["']?\s*[:=]?\s*(\d+)(?![\d.])/gi)].map((m) => Number(m[1]))
}

export function exitCodeShown(text: string, code: number): boolean {
  return exitCodes(text).includes(code)
}
