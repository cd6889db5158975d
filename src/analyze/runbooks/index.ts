/**
 * Runbooks: a team's own knowledge of its services, as Markdown files in RUNBOOKS_DIR (default
 * ./runbooks) with YAML front matter that says which incidents they are for. The best match is
 * shown on the incident, given to the LLM and cited in the analysis, and the catalogue action it
 * names is preferred to the analyser's. A team adds one by adding a file: the directory is read
 * again for every analysis (a handful of small files; step processes are fresh anyway).
 *
 *   ---
 *   title: Checkout runs out of memory
 *   match:                      # every field given must match; none given matches everything
 *     type: [container_down, memory]   # alert types
 *     cause: oom                       # the rule analyser's cause (src/analyze/causes.ts)
 *     resource: "checkout-*"           # container / service / host name, * and ? wildcards
 *     labels: { team: payments }       # the alert's and the container's labels
 *   action: update_memory_limit       # a catalogue action, or none (a person decides)
 *   ---
 *   What to check, who to call...
 *
 * A README.md there is documentation, not a runbook. A file that does not parse is named at start (the start fails, like any misconfiguration) and
 * skipped, with its problem, in an analysis that runs later. Bounded: at most MAX_RUNBOOKS files of
 * MAX_FILE_BYTES each are read; the body given to the LLM and stored is cut to BODY_CHARS.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs'
import path from 'node:path'
import { parse as parseYaml } from 'yaml'
import { z } from 'zod'
import { ACTIONS } from '../../actions/catalog'
import type { SentinelConfig } from '../../platform/config/index'
import type { RiskLevel } from '../../platform/store/model'
import { linearRegExp } from '../../platform/text/linear-regexp'
import { CAUSE_IDS, type Cause } from '../causes'
import type { ProposedFix } from '../llm/schema'
import { raisedMemoryLimit } from '../rules/index'

export const MAX_RUNBOOKS = 200
export const MAX_FILE_BYTES = 64 * 1024
export const BODY_CHARS = 4000

const ALERT_TYPES = ['container_down', 'container_unhealthy', 'memory', 'cpu', 'disk', 'latency', 'anomaly'] as const
// A runbook names a kind of fix, not a process: kill_process needs a pid only the evidence can give.
const RUNBOOK_ACTIONS = Object.keys(ACTIONS).filter((id) => id !== 'kill_process')

const oneOrMany = <T extends z.ZodTypeAny>(item: T) =>
  z.union([item, z.array(item).min(1)]).transform((v) => (Array.isArray(v) ? v : [v]) as z.infer<T>[])

const frontMatterSchema = z
  .object({
    id: z
      .string()
      .regex(/^[a-z0-9][a-z0-9._-]{0,63}$/, 'lower-case letters, digits, . _ - (at most 64)')
      .optional(),
    title: z.string().trim().min(1).max(200),
    match: z
      .object({
        type: oneOrMany(z.enum(ALERT_TYPES)).optional(),
        cause: oneOrMany(z.enum(CAUSE_IDS as [Cause, ...Cause[]])).optional(),
        resource: z.string().min(1).max(200).optional(),
        labels: z.record(z.string().max(200), z.string().max(200)).optional(),
      })
      .strict()
      .default({}),
    action: z
      .string()
      .refine((a) => a === 'none' || RUNBOOK_ACTIONS.includes(a), {
        message: `one of ${[...RUNBOOK_ACTIONS, 'none'].join(', ')}`,
      })
      .optional(),
  })
  .strict()

export interface Runbook {
  id: string
  title: string
  /** The file, relative to the runbooks directory's parent (as cited). */
  path: string
  match: {
    type?: string[]
    cause?: Cause[]
    resource?: string
    labels?: Record<string, string>
  }
  /** A catalogue action to prefer, or 'none' (no automatic fix: a person decides). */
  action?: string
  body: string
}

/** What an incident is matched on. */
export interface RunbookSubject {
  type: string
  resource: string
  cause?: string
  labels?: Record<string, string>
}

/** What an analysis keeps of its runbook (the page shows it; the LLM was given it). */
export interface RunbookCitation {
  id: string
  title: string
  path: string
  action?: string
  body: string
}

export class RunbookError extends Error {
  constructor(readonly problems: string[]) {
    super(`Runbooks are invalid:\n${problems.map((p) => `  - ${p}`).join('\n')}`)
    this.name = 'RunbookError'
  }
}

const FRONT_MATTER = /^---\r?\n([\s\S]*?)\r?\n---\r?\n?([\s\S]*)$/

/** One file's text as a runbook; throws an Error naming what is wrong. */
export function parseRunbook(text: string, file: string): Runbook {
  const m = FRONT_MATTER.exec(text)
  if (!m) throw new Error('no front matter (the file must start with a --- block)')
  let raw: unknown
  try {
    raw = parseYaml(m[1])
  } catch (err) {
    throw new Error(`front matter is not YAML: ${(err as Error).message.split('\n')[0]}`)
  }
  const parsed = frontMatterSchema.safeParse(raw ?? {})
  if (!parsed.success)
    throw new Error(parsed.error.issues.map((i) => `${i.path.join('.') || '(front matter)'}: ${i.message}`).join('; '))
  const fm = parsed.data
  return {
    id: fm.id ?? path.basename(file, '.md').toLowerCase(),
    title: fm.title,
    path: file,
    match: fm.match,
    ...(fm.action ? { action: fm.action } : {}),
    body: m[2].trim(),
  }
}

/** Every `*.md` in `dir` (sorted by name), and a problem per file that could not be used. */
export function loadRunbooks(dir: string): { runbooks: Runbook[]; problems: string[] } {
  let names: string[]
  try {
    names = readdirSync(dir)
      .filter((n) => n.endsWith('.md') && !n.startsWith('.') && n.toLowerCase() !== 'readme.md')
      .sort()
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    return { runbooks: [], problems: code === 'ENOENT' ? [] : [`${dir}: ${(err as Error).message}`] }
  }
  const problems: string[] = []
  if (names.length > MAX_RUNBOOKS) {
    problems.push(`${dir}: ${names.length} runbooks, only the first ${MAX_RUNBOOKS} are read`)
    names = names.slice(0, MAX_RUNBOOKS)
  }
  const runbooks: Runbook[] = []
  const ids = new Map<string, string>()
  const cited = path.basename(dir)
  for (const name of names) {
    const file = path.join(dir, name)
    try {
      const stat = statSync(file)
      if (!stat.isFile()) continue
      if (stat.size > MAX_FILE_BYTES) throw new Error(`larger than ${MAX_FILE_BYTES} bytes`)
      const runbook = parseRunbook(readFileSync(file, 'utf8'), `${cited}/${name}`)
      const clash = ids.get(runbook.id)
      if (clash) throw new Error(`id "${runbook.id}" is also the id of ${clash}`)
      ids.set(runbook.id, name)
      runbooks.push(runbook)
    } catch (err) {
      problems.push(`${cited}/${name}: ${(err as Error).message}`)
    }
  }
  return { runbooks, problems }
}

/** A `*` / `?` wildcard pattern as an anchored test (no other regex syntax), of a lower-cased name. */
function wildcard(pattern: string): RegExp {
  const body = pattern
    .toLowerCase()
    .split('')
    .map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[.+^${}()|[\]\\/-]/g, '\\$&')))
    .join('')
    .replace(/(\.\*)+/g, '.*') // ** is *
  return linearRegExp(`^${body}$`)
}

/** How specific a runbook's match is, when every field given matches the subject; else null. */
export function matchScore(runbook: Runbook, subject: RunbookSubject): number | null {
  const m = runbook.match
  let score = 0
  if (m.type) {
    if (!m.type.includes(subject.type)) return null
    score += 1
  }
  if (m.cause) {
    if (!subject.cause || !m.cause.includes(subject.cause as Cause)) return null
    score += 2
  }
  if (m.resource) {
    if (!wildcard(m.resource).test(subject.resource.toLowerCase())) return null
    score += m.resource.includes('*') || m.resource.includes('?') ? 2 : 3
  }
  if (m.labels) {
    for (const [key, value] of Object.entries(m.labels)) if (subject.labels?.[key] !== value) return null
    score += Object.keys(m.labels).length
  }
  return score
}

/** The most specific runbook for the subject (the first by file name among equals), if any. */
export function matchRunbook(runbooks: Runbook[], subject: RunbookSubject): Runbook | undefined {
  let best: { runbook: Runbook; score: number } | undefined
  for (const runbook of runbooks) {
    const score = matchScore(runbook, subject)
    if (score !== null && (!best || score > best.score)) best = { runbook, score }
  }
  return best?.runbook
}

export function citation(runbook: Runbook): RunbookCitation {
  return {
    id: runbook.id,
    title: runbook.title,
    path: runbook.path,
    ...(runbook.action ? { action: runbook.action } : {}),
    body: runbook.body.length > BODY_CHARS ? `${runbook.body.slice(0, BODY_CHARS)}\n[…]` : runbook.body,
  }
}

/** RUNBOOKS_DIR, resolved against the project root. */
export function runbooksDirOf(cfg: Pick<SentinelConfig, 'projectRoot' | 'RUNBOOKS_DIR'>): string {
  return path.resolve(cfg.projectRoot, cfg.RUNBOOKS_DIR)
}

/** Checks every runbook at start: throws one RunbookError naming every bad file. */
export function checkRunbooks(dir: string): Runbook[] {
  const { runbooks, problems } = loadRunbooks(dir)
  if (problems.length) throw new RunbookError(problems)
  return runbooks
}

/** What the runbook's fix needs to know of the incident's target. */
export interface RunbookTarget {
  /** The watched container the incident is about, when it is about one. */
  containerId?: string
  /** Its memory limit (update_memory_limit raises it as the analyser would). */
  memoryLimitBytes?: number
}

export interface RunbookFix {
  fix: ProposedFix | null
  /** The catalogue's risk for the fix (low when there is none). */
  risk: RiskLevel
  /** For the analysis's evidence: what the runbook changed, or why it could not. */
  note: string
}

/**
 * The runbook's action as the incident's fix, or undefined when the runbook names none. The
 * action is the runbook's; the target is the incident's own (a runbook never names one), so a
 * container action applies only when the incident is about a watched container.
 */
export function runbookFix(
  runbook: Pick<Runbook, 'id' | 'action'>,
  current: ProposedFix | null,
  target: RunbookTarget,
): RunbookFix | undefined {
  const action = runbook.action
  if (!action) return undefined
  const cite = `runbook ${runbook.id}`
  if (action === 'none') return { fix: null, risk: 'low', note: `${cite}: no automatic fix, a person decides` }
  const definition = ACTIONS[action]
  if (current?.action === action)
    return { fix: current, risk: definition.risk, note: `${cite} names the same fix (${action})` }
  let params: Record<string, unknown> | undefined
  if (action === 'clean_sandbox') params = {}
  else {
    const containerId = (current?.params?.containerId as string | undefined) ?? target.containerId
    if (containerId && action === 'update_memory_limit') {
      if (target.memoryLimitBytes) params = { containerId, memoryBytes: raisedMemoryLimit(target.memoryLimitBytes) }
    } else if (containerId) params = { containerId }
  }
  if (!params || !definition.params.safeParse(params).success)
    return {
      fix: current,
      risk: current ? (ACTIONS[current.action]?.risk ?? 'high') : 'low',
      note: `${cite} names ${action}, which does not apply to this incident (${params ? 'its parameters are not valid' : 'no target for it'}): the analyser's fix stands`,
    }
  return { fix: { action, params }, risk: definition.risk, note: `${cite} prefers ${action}` }
}
