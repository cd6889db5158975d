/**
 * Turns a model's reply into a validated analysis. R1 thinks aloud before answering; its thinking
 * is kept apart and never read as the answer. The answer is one JSON object, possibly in a
 * ```json fence or surrounded by prose; anything else is a failed attempt.
 */
import { validateParams, type CatalogEntry } from './catalog'
import { analysisSchema, type Analysis } from './schema'

const RISK_ORDER = { low: 0, medium: 1, high: 2 } as const

export class AnalysisParseError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'AnalysisParseError'
  }
}

/** Separates `<think>` blocks (and a dangling `</think>` prefix) from the answer. */
export function splitReasoning(content: string): { answer: string; reasoning: string } {
  const thoughts: string[] = []
  let answer = content.replace(/<think>([\s\S]*?)<\/think>/gi, (_m, t: string) => {
    thoughts.push(t.trim())
    return ''
  })
  // An opening tag never closed: the reply was cut off mid-thought, so there is no answer after it.
  const open = answer.search(/<think>/i)
  if (open >= 0) {
    thoughts.push(answer.slice(open + 7).trim())
    answer = answer.slice(0, open)
  }
  // Some providers put `<think>` in the prompt template, so only the closing tag comes back.
  const close = answer.toLowerCase().lastIndexOf('</think>')
  if (close >= 0) {
    thoughts.unshift(answer.slice(0, close).trim())
    answer = answer.slice(close + 8)
  }
  return { answer: answer.trim(), reasoning: thoughts.filter(Boolean).join('\n\n') }
}

/** Every top-level `{...}` span, matched with string and escape awareness. */
function braceSpans(text: string): string[] {
  const spans: string[] = []
  let depth = 0
  let start = -1
  let inString = false
  let escaped = false
  for (let i = 0; i < text.length; i++) {
    const c = text[i]
    if (inString) {
      if (escaped) escaped = false
      else if (c === '\\') escaped = true
      else if (c === '"') inString = false
      continue
    }
    if (c === '"' && depth > 0) inString = true
    else if (c === '{') {
      if (depth === 0) start = i
      depth++
    } else if (c === '}' && depth > 0) {
      depth--
      if (depth === 0) spans.push(text.slice(start, i + 1))
    }
  }
  return spans
}

function parseObjects(texts: string[]): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = []
  for (const t of texts) {
    try {
      const v = JSON.parse(t.trim()) as unknown
      if (v && typeof v === 'object' && !Array.isArray(v)) out.push(v as Record<string, unknown>)
    } catch {}
  }
  return out
}

function pickOne(objects: Record<string, unknown>[]): Record<string, unknown> | undefined {
  if (objects.length === 1) return objects[0]
  const answers = objects.filter((o) => 'root_cause' in o)
  const distinct = new Set(answers.map((o) => JSON.stringify(o)))
  return distinct.size === 1 ? answers[0] : undefined
}

/** The one JSON object in `answer`: from a fenced block first, else from the surrounding prose. */
export function extractJsonObject(answer: string): Record<string, unknown> {
  if (!answer.trim()) throw new AnalysisParseError('empty answer (only reasoning, or nothing)')
  const fenced = [...answer.matchAll(/```[ \t]*(?:json|JSON|json5)?[ \t]*\r?\n?([\s\S]*?)```/g)].map((m) => m[1])
  if (fenced.length > 0) {
    const objects = parseObjects(fenced)
    const one = pickOne(objects)
    if (one) return one
    if (objects.length > 1) throw new AnalysisParseError('several different JSON objects in the answer')
  }
  const objects = parseObjects(braceSpans(answer))
  const one = pickOne(objects)
  if (one) return one
  if (objects.length > 1) throw new AnalysisParseError('several different JSON objects in the answer')
  throw new AnalysisParseError(`no valid JSON object in the answer: ${JSON.stringify(answer.slice(0, 120))}`)
}

/** Validates the object's shape, and that its proposed fix names a catalog action with valid params. */
export function validateAnalysis(value: unknown, catalog: CatalogEntry[]): Analysis {
  const parsed = analysisSchema.safeParse(value)
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(answer)'}: ${i.message}`).join('; ')
    throw new AnalysisParseError(`answer does not match the schema: ${problems}`)
  }
  const analysis = parsed.data
  if (analysis.proposed_fix) {
    const entry = catalog.find((c) => c.id === analysis.proposed_fix!.action)
    if (!entry) throw new AnalysisParseError(`proposed action "${analysis.proposed_fix.action}" is not in the catalog`)
    const problem = validateParams(entry, analysis.proposed_fix.params)
    if (problem) throw new AnalysisParseError(`params for ${entry.id} are invalid: ${problem}`)
    // The model may judge a fix riskier than the catalog does, never safer.
    if (RISK_ORDER[analysis.risk_level] < RISK_ORDER[entry.risk]) analysis.risk_level = entry.risk
  }
  return analysis
}

/** The whole path from a reply's content (and reasoning field) to a valid analysis. */
export function parseReply(
  content: string,
  reasoningField: string | undefined,
  catalog: CatalogEntry[],
): { analysis: Analysis; reasoning: string } {
  const { answer, reasoning } = splitReasoning(content)
  const allReasoning = [reasoningField?.trim(), reasoning].filter(Boolean).join('\n\n')
  const analysis = validateAnalysis(extractJsonObject(answer), catalog)
  return { analysis, reasoning: allReasoning }
}
