/**
 * Postmortems: a Markdown account of one incident, written from its stored facts (the incident
 * document and its audit entries) by a fixed template, so what it says can be traced line by line
 * to the record. With an LLM key set, the model may write the narrative parts only (the summary and
 * short narratives under the root cause and the follow-ups) from the same facts; those parts say
 * they were drafted by the model, and any failure of the model leaves the template's text.
 *
 * Everything is redacted (src/platform/telemetry/redact.ts) before it is rendered or sent: the
 * facts given to the model, and the Markdown stored or served.
 *
 * The archiver calls postmortemsOnArchive() after each commit: incidents that closed and were
 * critical or escalated get one postmortem each, once (the `postmortems` table), one model call at
 * a time, within a deadline past which the template is used.
 */
import type { PastIncident } from '../analyze/memory'
import type { Redis } from 'ioredis'
import { costUsd, TokenBudget, type Pricing } from '../analyze/llm/budget'
import { extractJsonObject, splitReasoning } from '../analyze/llm/parse'
import type { Evidence } from '../analyze/evidence/types'
import type { SentinelConfig } from '../platform/config/index'
import type { AuditEvent } from '../platform/store/audit'
import { isClosed } from '../platform/store/lifecycle'
import type { Incident, TimelineEntry } from '../platform/store/model'
import { redact, redactDeep } from '../platform/telemetry/redact'
import { incidentRow } from './archive/row'
import type { SqlClient } from './archive/sql'
import { archivedIncident } from './query'

/** How a postmortem draft's request to the LLM begins (tests tell it from an analysis by it). */
export const POSTMORTEM_FACTS_HEADING = 'Facts of incident'

/** Who wrote the narrative: the template, or `llm:<model>`. */
export type DraftedBy = 'template' | `llm:${string}`

/** The narrative parts the model may write; the template writes its own when absent. */
export interface Narrative {
  summary: string
  rootCause?: string
  followUps?: string
  /** The model that wrote them. */
  model: string
}

export interface PostmortemOptions {
  /** When the postmortem is written (shown at the end). Default now. */
  now?: Date
  /** The model's narrative, marked as drafted. */
  narrative?: Narrative
}

// ---- Formatting ---------------------------------------------------------------------------------

const ms = (iso: string | undefined | null): number | null => {
  const t = iso ? Date.parse(iso) : NaN
  return Number.isFinite(t) ? t : null
}

/** `2025-03-01 12:00:05 UTC` */
export const utc = (iso: string | number | undefined | null): string => {
  const t = typeof iso === 'number' ? iso : ms(iso ?? null)
  return t === null
    ? '—'
    : `${new Date(t)
        .toISOString()
        .replace('T', ' ')
        .replace(/\.\d+Z$/, '')} UTC`
}

/** `3 min 12 s`, `1 h 5 min`, `850 ms`. */
export function duration(msValue: number | null): string {
  if (msValue === null || !Number.isFinite(msValue)) return '—'
  const v = Math.max(0, msValue)
  if (v < 1000) return `${Math.round(v)} ms`
  const s = Math.round(v / 1000)
  if (s < 60) return `${s} s`
  const m = Math.floor(s / 60)
  if (m < 60) return `${m} min${s % 60 ? ` ${s % 60} s` : ''}`
  const h = Math.floor(m / 60)
  if (h < 48) return `${h} h${m % 60 ? ` ${m % 60} min` : ''}`
  return `${Math.floor(h / 24)} d${h % 24 ? ` ${h % 24} h` : ''}`
}

/** A value for one table cell or one line: no newlines, pipes escaped, capped. */
const cell = (v: unknown, max = 300): string => {
  const s = (typeof v === 'string' ? v : v === undefined || v === null ? '' : JSON.stringify(v)) ?? ''
  const one = s.replace(/\s*\r?\n\s*/g, ' ').replace(/\|/g, '\\|')
  return one.length > max ? `${one.slice(0, max - 1)}…` : one
}

/** Inline code that survives backticks in the value. */
const code = (v: unknown, max = 300): string => `\`${cell(v, max).replace(/`/g, "'")}\``

const list = (lines: string[]): string => lines.map((l) => `- ${l}`).join('\n')

/** Machine actors (Sentinel's own parts); anything else is a person or a person's tool. */
export const isPerson = (actor: string | undefined): boolean => !!actor && !/^(sentinel|step|system)(:|$)/.test(actor)

// ---- Facts --------------------------------------------------------------------------------------

interface AnalysisFacts {
  analyser?: string
  fallbackReason?: string
  cause?: string
  root_cause?: string
  evidence?: string[]
  confidence?: number
  risk_level?: string
  proposed_fix?: { action: string; params?: Record<string, unknown> } | null
  model?: string
  analyzedAt?: string
  evidenceRecord?: Evidence
  runbook?: { id: string; title: string; path: string; action?: string }
  similar?: PastIncident[]
}

/** The incident and its audit entries, redacted, with the figures every section uses. */
export interface PostmortemFacts {
  incident: Incident
  audit: AuditEvent[]
  analysis: AnalysisFacts
  detectedAt: number | null
  openedAt: number | null
  resolvedAt: number | null
  closedAt: number | null
  escalated: boolean
  rolledBack: boolean
}

export function postmortemFacts(incident: Incident, audit: AuditEvent[]): PostmortemFacts {
  const safe = redactDeep(incident)
  const row = incidentRow(safe, { node: 'n/a' })
  const entries = redactDeep(audit)
    .filter((e) => !e.incidentId || e.incidentId === incident.id)
    .sort((a, b) => (ms(a.at) ?? 0) - (ms(b.at) ?? 0))
  return {
    incident: safe,
    audit: entries,
    analysis: (safe.analysis ?? {}) as AnalysisFacts,
    detectedAt: row.detected_at,
    openedAt: row.opened_at || null,
    resolvedAt: row.resolved_at,
    closedAt: row.closed_at,
    escalated: row.escalated === 1,
    rolledBack: row.rolled_back === 1,
  }
}

const ROUTES: Record<string, string> = {
  auto: 'fix automatically',
  approval: 'ask a person to approve the fix',
  escalate: 'hand it to an admin',
  shadow: 'record the fix without running it (shadow mode)',
  defer: 'run nothing and verify instead',
}

// ---- Sections -----------------------------------------------------------------------------------

function templateSummary(f: PostmortemFacts): string {
  const i = f.incident
  const where = `${i.resource.kind} ${code(i.resource.name)}`
  const end =
    i.status === 'resolved'
      ? `It was resolved ${duration(f.resolvedAt !== null && f.openedAt !== null ? f.resolvedAt - f.openedAt : null)} after it opened.`
      : `It is ${i.status}${f.closedAt ? ` (since ${utc(f.closedAt)})` : ''}.`
  const d = i.decision
  const did = d
    ? `Sentinel decided to ${ROUTES[d.route] ?? d.route}${d.actionId ? ` (${code(d.actionId)}, ${d.risk} risk)` : ''}.`
    : 'No fix was decided.'
  const last = i.actions.at(-1)
  const ran = last ? ` The last action, ${code(last.actionId)}, ${last.status}.` : ''
  const rc = f.analysis.root_cause ? cell(f.analysis.root_cause, 400) : ''
  const cause = rc ? ` Root cause, as analysed: ${rc}${/[.!?]$/.test(rc) ? '' : '.'}` : ''
  return `A ${i.severity} ${i.type.replace(/_/g, ' ')} incident on ${where}. ${end} ${did}${ran}${cause}`
}

const draftedMark = (model: string) => `_Drafted by ${model} from the facts below; check before publishing._`

function impactSection(f: PostmortemFacts): string {
  const start = f.detectedAt ?? f.openedAt
  const end = f.resolvedAt ?? f.closedAt
  return [
    '| Detected | Opened | Resolved | Duration |',
    '| --- | --- | --- | --- |',
    `| ${utc(f.detectedAt)} | ${utc(f.openedAt)} | ${f.resolvedAt !== null ? utc(f.resolvedAt) : f.closedAt !== null ? `not resolved (closed ${utc(f.closedAt)})` : 'not resolved'} | ${
      start !== null && end !== null ? `${duration(end - start)} (from detection)` : 'ongoing'
    } |`,
  ].join('\n')
}

function detectionSection(f: PostmortemFacts): string {
  const a = f.incident.alert
  const vs =
    a.value !== null && a.value !== undefined
      ? `${a.value}${a.threshold !== null && a.threshold !== undefined ? ` against a threshold of ${a.threshold}` : ''}`
      : 'no value (an event)'
  const details = Object.entries(a.details ?? {})
    .filter(([, v]) => v === null || ['string', 'number', 'boolean'].includes(typeof v))
    .slice(0, 8)
    .map(([k, v]) => `${k}=${cell(v, 80)}`)
  return list([
    `Source: ${code(a.source)}`,
    `Metric: ${code(a.metric)}, value ${vs}`,
    `Observed at ${utc(a.at)}; the incident opened at ${utc(f.openedAt)} (time to detect: ${duration(
      f.detectedAt !== null && f.openedAt !== null ? f.openedAt - f.detectedAt : null,
    )})`,
    ...(details.length ? [`Details: ${details.join(', ')}`] : []),
  ])
}

function timelineSection(entries: TimelineEntry[]): string {
  if (!entries.length) return '_No timeline entries._'
  return [
    '| Time (UTC) | Stage | Actor | What happened |',
    '| --- | --- | --- | --- |',
    ...entries.map((e) => `| ${utc(e.at)} | ${e.stage} | ${cell(e.actor, 80)} | ${cell(e.summary, 400)} |`),
  ].join('\n')
}

/** The evidence record, in brief: what was read about the resource when it was analysed. */
function evidenceLines(ev: Evidence): string[] {
  const out: string[] = []
  const c = ev.container
  if (c)
    out.push(
      `Container ${code(c.name)}: ${c.exists ? (c.running ? 'running' : (c.status ?? 'not running')) : 'gone'}` +
        [
          c.image ? `, image ${code(c.image)}` : '',
          c.exitCode !== undefined ? `, exit code ${c.exitCode}` : '',
          c.oomKilled ? ', killed for memory (OOM)' : '',
          c.restartCount !== undefined ? `, ${c.restartCount} restarts` : '',
          c.memoryLimitBytes ? `, memory limit ${c.memoryLimitBytes} bytes` : '',
          c.health ? `, health ${c.health.status} (failing streak ${c.health.failingStreak})` : '',
        ].join(''),
    )
  if (ev.eventExitCode !== undefined) out.push(`The death event carried exit code ${ev.eventExitCode}`)
  if (ev.restarts) out.push(`Restarts: ${cell(ev.restarts.note, 300)}`)
  const series = (name: string, s?: { unit?: string; points: Array<[number, number]> }) => {
    if (!s?.points?.length) return
    const values = s.points.map((p) => p[1])
    out.push(
      `${name}: ${s.points.length} points, min ${Math.min(...values)}, max ${Math.max(...values)}, last ${values.at(-1)}${s.unit ? ` ${s.unit}` : ''}`,
    )
  }
  series('Metric history', ev.metricHistory)
  series('Memory', ev.memoryHistory)
  series('CPU', ev.cpuHistory)
  if (ev.host)
    out.push(
      `Host: ${[
        ev.host.cores !== undefined ? `${ev.host.cores} cores` : '',
        ev.host.memoryUsedPercent !== undefined ? `memory ${ev.host.memoryUsedPercent}% used` : '',
        ev.host.load1 !== undefined ? `load ${ev.host.load1}` : '',
      ]
        .filter(Boolean)
        .join(', ')}`,
    )
  const procs = ev.processes?.byRss ?? ev.processes?.byCpu
  if (procs?.length)
    out.push(
      `Top processes: ${procs
        .slice(0, 3)
        .map((p) => `${p.name} (pid ${p.pid}, ${p.rssBytes} bytes)`)
        .join('; ')}`,
    )
  if (ev.sandbox)
    out.push(`Sandbox ${code(ev.sandbox.dir)}: ${ev.sandbox.totalBytes} bytes, ${ev.sandbox.cleanableBytes} cleanable`)
  if (ev.recheck)
    out.push(
      `Re-probe of ${code(ev.recheck.target)} at ${utc(ev.recheck.at)}: ${ev.recheck.verdict} (${ev.recheck.ms} ms${ev.recheck.status ? `, HTTP ${ev.recheck.status}` : ''})`,
    )
  for (const p of ev.probes ?? [])
    out.push(`Probe ${code(p.target)}: ${p.ok ? 'ok' : 'failing'}${p.error ? ` (${cell(p.error, 120)})` : ''}`)
  if (ev.decidedBefore)
    out.push(
      `Decided before the analysis (fast path): ${ev.decidedBefore.route} ${ev.decidedBefore.actionId ?? ''}`.trim(),
    )
  if (ev.openIncidents?.length)
    out.push(
      `Other open incidents on the node: ${ev.openIncidents.map((o) => `${o.id} (${o.type} on ${o.resource})`).join(', ')}`,
    )
  if (ev.problems?.length) out.push(`Could not be read: ${ev.problems.map((p) => cell(p, 120)).join('; ')}`)
  // A fenced block indented under its list item; a fence inside a line cannot close it early.
  const block = (title: string, lines: string[]) =>
    `${title}\n\n  \`\`\`\n${lines.map((l) => `  ${l.replace(/```/g, "'''")}`).join('\n')}\n  \`\`\``
  if (ev.logs?.errorLines?.length) out.push(block('Error lines in the logs:', ev.logs.errorLines))
  else if (ev.logs?.lines?.length) out.push(block('Last log lines:', ev.logs.lines.slice(-10)))
  return out
}

function rootCauseSection(f: PostmortemFacts, narrative?: Narrative): string {
  const a = f.analysis
  const parts: string[] = []
  if (narrative?.rootCause) parts.push(`${narrative.rootCause.trim()}\n\n${draftedMark(narrative.model)}`)
  if (!a.root_cause && !a.cause) {
    parts.push('_The incident was not analysed._')
    return parts.join('\n\n')
  }
  parts.push(
    list([
      `Analyser: ${a.analyser ?? 'unknown'}${a.model && a.analyser === 'llm' ? ` (${a.model})` : ''}${a.fallbackReason ? ` — rules used because ${cell(a.fallbackReason, 200)}` : ''}`,
      `Cause: ${code(a.cause ?? 'unknown')}`,
      `Root cause: ${cell(a.root_cause ?? '—', 600)}`,
      `Confidence: ${typeof a.confidence === 'number' ? a.confidence : '—'}${a.risk_level ? `; risk ${a.risk_level}` : ''}`,
      `Proposed fix: ${a.proposed_fix ? `${code(a.proposed_fix.action)} ${code(a.proposed_fix.params ?? {}, 200)}` : 'none'}`,
    ]),
  )
  if (a.evidence?.length)
    parts.push(`Evidence the analysis cited:\n\n${list(a.evidence.slice(0, 12).map((e) => cell(e, 400)))}`)
  if (a.evidenceRecord) {
    const lines = evidenceLines(a.evidenceRecord)
    parts.push(
      `Evidence record (gathered ${utc(a.evidenceRecord.gatheredAt)}):\n\n${lines.length ? list(lines) : '- nothing was read'}`,
    )
  }
  if (a.runbook)
    parts.push(
      `Runbook: ${cell(a.runbook.title, 200)} (${code(a.runbook.path)}${a.runbook.action ? `, action ${code(a.runbook.action)}` : ''})`,
    )
  if (a.similar?.length)
    parts.push(
      `Similar past incidents on this resource:\n\n${list(
        a.similar.map(
          (s) =>
            `${code(s.id)} ${utc(s.openedAt)}: ${s.type}, ${s.status}${s.cause ? `, cause ${s.cause}` : ''}${s.fix ? `, fix ${s.fix.action} ${s.fix.status}` : ''}`,
        ),
      )}`,
    )
  return parts.join('\n\n')
}

function actionsSection(f: PostmortemFacts): string {
  const i = f.incident
  const parts: string[] = []
  const d = i.decision
  if (d) {
    parts.push(
      list([
        `Decision at ${utc(d.decidedAt)}: **${d.route}** — ${ROUTES[d.route] ?? d.route}`,
        `Risk ${d.risk}, rule ${code(d.rule)}${d.approverRole ? `, approver ${d.approverRole}` : ''}${d.actionId ? `, action ${code(d.actionId)} ${code(d.params, 200)}` : ''}`,
        `Why: ${d.reasons.map((r) => cell(r, 300)).join('; ') || '—'}`,
      ]),
    )
  } else parts.push('_The policy made no decision (the incident closed before one was needed)._')
  if (i.actions.length)
    parts.push(
      [
        '| Action | Status | Started | Finished | Parameters | Result or error |',
        '| --- | --- | --- | --- | --- | --- |',
        ...i.actions.map(
          (a) =>
            `| ${a.actionId} | ${a.status} | ${utc(a.startedAt)} | ${utc(a.finishedAt)} | ${cell(a.params, 160)} | ${cell(a.error ? `error: ${a.error}` : (a.result ?? ''), 240)} |`,
        ),
      ].join('\n'),
    )
  else parts.push('No action ran.')
  if (i.snapshots?.length)
    parts.push(
      `Snapshots taken before acting (${i.snapshots.length}):\n\n${list(
        i.snapshots.slice(0, 5).map((s) => cell(s, 200)),
      )}`,
    )
  return parts.join('\n\n')
}

function verificationSection(f: PostmortemFacts): string {
  const entries = f.incident.timeline.filter((e) => e.stage === 'verified' || e.stage === 'rolled_back')
  const rolled = f.incident.actions.filter((a) => a.status === 'rolled_back')
  if (!entries.length && !rolled.length) return '_Nothing was verified or rolled back._'
  return list([
    ...entries.map(
      (e) => `${utc(e.at)} — ${e.stage === 'verified' ? 'verified' : 'rolled back'}: ${cell(e.summary, 400)}`,
    ),
    ...rolled.map((a) => `Action ${code(a.actionId)} started ${utc(a.startedAt)} was rolled back`),
  ])
}

function peopleSection(f: PostmortemFacts): string {
  const i = f.incident
  const lines: string[] = []
  const ap = i.approval
  if (ap) {
    lines.push(
      `Approval requested ${utc(ap.requestedAt)} for ${ap.actionId ? code(ap.actionId) : 'the decision'} (${ap.risk} risk, ${ap.approverRole}): **${ap.status}**` +
        (ap.decidedBy
          ? ` by ${code(ap.decidedBy)}${ap.decidedByRole ? ` (${ap.decidedByRole})` : ''} at ${utc(ap.decidedAt)}`
          : '') +
        (ap.decidedAt && !ap.decidedBy ? ` at ${utc(ap.decidedAt)}` : '') +
        (ap.reason ? `; reason: ${cell(ap.reason, 300)}` : '') +
        (ap.comment ? `; comment: ${cell(ap.comment, 300)}` : ''),
    )
  }
  if (i.acknowledgement) lines.push(`Acknowledged by ${code(i.acknowledgement.by)} at ${utc(i.acknowledgement.at)}`)
  for (const e of i.timeline)
    if (isPerson(e.actor) && !['approved', 'rejected', 'acknowledged'].includes(e.stage))
      lines.push(`${utc(e.at)} — ${e.stage} by ${code(e.actor)}: ${cell(e.summary, 300)}`)
  const timelineKeys = new Set(i.timeline.map((e) => `${e.actor}@${ms(e.at)}`))
  for (const e of f.audit)
    if (isPerson(e.actor) && !timelineKeys.has(`${e.actor}@${ms(e.at)}`))
      lines.push(
        `${utc(e.at)} — audit ${code(e.kind)} by ${code(e.actor)}${e.outcome ? `: ${cell(e.outcome, 120)}` : ''}`,
      )
  return lines.length ? list(lines) : '_Nobody acted on this incident: Sentinel handled it alone._'
}

/** Follow-ups derived from the facts, then a checklist that always applies. */
export function followUps(f: PostmortemFacts): string[] {
  const i = f.incident
  const a = f.analysis
  const out: string[] = []
  const earlier = new Set([
    ...(a.similar ?? []).map((s) => s.id),
    ...(a.evidenceRecord?.restarts?.previousIncidents ?? []).map((p) => `at:${p}`),
  ])
  if (earlier.size)
    out.push(
      `${i.resource.kind} ${code(i.resource.name)} has had ${earlier.size} earlier incident(s): investigate why it keeps failing instead of fixing it again`,
    )
  if (f.rolledBack) out.push('The fix was rolled back: fix the problem by hand and find out why the fix did not hold')
  for (const act of i.actions.filter((x) => x.status === 'failed'))
    out.push(`Action ${code(act.actionId)} failed (${cell(act.error ?? 'no error recorded', 200)}): check why`)
  if (f.escalated)
    out.push(
      `It was escalated${i.decision?.route === 'escalate' ? ` (rule ${code(i.decision.rule)})` : ''}: review the policy — should it have been fixed automatically, or does it need a runbook?`,
    )
  if (i.approval?.status === 'expired') out.push('The approval expired unanswered: check who is paged and when')
  // Without a key the rules are the analyser by choice; a failed or skipped LLM is worth a look.
  if (a.analyser === 'rules' && a.fallbackReason && !a.fallbackReason.startsWith('no OPENROUTER'))
    out.push(`The LLM was not used (${cell(a.fallbackReason, 120)}): confirm the root cause by hand`)
  if (typeof a.confidence === 'number' && a.confidence < 0.5)
    out.push(`The analysis was unsure (confidence ${a.confidence}): confirm the root cause`)
  if (a.cause && !a.runbook) out.push(`No runbook matched cause ${code(a.cause)}: write one if this can happen again`)
  return out
}

/** Always on the list, whatever happened. */
const CHECKLIST = [
  'The root cause above is confirmed (or corrected)',
  'The alert fired early enough, at the right threshold',
  'Each follow-up has an owner and a date',
  'This postmortem has been read by the team that owns the resource',
]

/** The postmortem as Markdown, from the facts by the template (with the model's narrative when given). */
export function postmortemMarkdown(incident: Incident, audit: AuditEvent[], opts: PostmortemOptions = {}): string {
  const f = postmortemFacts(incident, audit)
  const i = f.incident
  const n = opts.narrative
  const narrative = n ? (redactDeep(n) as Narrative) : undefined
  const derived = followUps(f)
  const md = [
    `# Postmortem: ${cell(i.title, 200)}`,
    `Incident ${code(i.id)} · ${i.type} · ${i.severity} · ${i.resource.kind} ${code(i.resource.name)} · ${i.status}${i.test ? ' · test incident' : ''}`,
    '## Summary',
    narrative ? `${narrative.summary.trim()}\n\n${draftedMark(narrative.model)}` : templateSummary(f),
    '## Impact window',
    impactSection(f),
    '## Detection',
    detectionSection(f),
    '## Timeline',
    timelineSection(i.timeline),
    '## Root cause',
    rootCauseSection(f, narrative),
    '## What Sentinel did and why',
    actionsSection(f),
    '## Verification',
    verificationSection(f),
    '## What a person did',
    peopleSection(f),
    '## Follow-ups',
    ...(narrative?.followUps ? [`${narrative.followUps.trim()}\n\n${draftedMark(narrative.model)}`] : []),
    [...derived, ...CHECKLIST].map((l) => `- [ ] ${l}`).join('\n'),
    '---',
    `_Written ${utc((opts.now ?? new Date()).getTime())} from incident version ${i.version} and ${f.audit.length} audit entries${narrative ? `; narrative drafted by ${narrative.model}` : ' by the template'}._`,
  ].join('\n\n')
  // Redacted once more as a whole: a secret split across fields must not survive the joining.
  return redact(md) + '\n'
}

// ---- Drafting with the LLM --------------------------------------------------------------------

export interface DraftLlm {
  apiKey: string
  baseURL?: string
  model?: string
  /** The whole call ends by then. Default 20 000 ms. */
  deadlineMs?: number
  /** Default 1200. */
  maxTokens?: number
  pricing?: Pricing
  headers?: Record<string, string>
}

/** The model's output is bounded: a postmortem's narrative needs little, a reasoning model some room to think. */
export const POSTMORTEM_MAX_TOKENS = 2048

/** The drafting settings from the configuration, or null without a key. */
export function postmortemLlm(
  cfg: Pick<
    SentinelConfig,
    | 'OPENROUTER_API_KEY'
    | 'OPENROUTER_BASE_URL'
    | 'OPENROUTER_MODEL'
    | 'LLM_DEADLINE_SECONDS'
    | 'LLM_MAX_TOKENS'
    | 'LLM_PRICE_INPUT_PER_MTOK'
    | 'LLM_PRICE_OUTPUT_PER_MTOK'
  >,
): DraftLlm | null {
  if (!cfg.OPENROUTER_API_KEY) return null
  return {
    apiKey: cfg.OPENROUTER_API_KEY,
    baseURL: cfg.OPENROUTER_BASE_URL,
    model: cfg.OPENROUTER_MODEL,
    deadlineMs: cfg.LLM_DEADLINE_SECONDS * 1000,
    maxTokens: Math.min(cfg.LLM_MAX_TOKENS, POSTMORTEM_MAX_TOKENS),
    pricing: { inputPerMillion: cfg.LLM_PRICE_INPUT_PER_MTOK, outputPerMillion: cfg.LLM_PRICE_OUTPUT_PER_MTOK },
    headers: { 'X-Title': 'Sentinel' },
  }
}

export interface DraftDeps {
  llm?: DraftLlm | null
  /** The shared hourly token budget: past it the model is not asked. */
  budget?: TokenBudget
  now?: Date
  signal?: AbortSignal
}

export interface Draft {
  markdown: string
  draftedBy: DraftedBy
  /** Why the template was used although a model was configured. */
  fallbackReason?: string
}

/** The facts the model is given: bounded to FACTS_CHARS of JSON (about 4 000 tokens). */
export const FACTS_CHARS = 16_000

/** The facts as the model sees them: redacted, bounded; the largest parts go first when too big. */
export function factsForModel(f: PostmortemFacts): string {
  const i = f.incident
  const a = f.analysis
  const ev = a.evidenceRecord
  const facts: Record<string, unknown> = {
    incident: { id: i.id, title: i.title, type: i.type, severity: i.severity, status: i.status, resource: i.resource },
    alert: {
      source: i.alert.source,
      metric: i.alert.metric,
      value: i.alert.value,
      threshold: i.alert.threshold,
      at: i.alert.at,
      details: i.alert.details,
    },
    window: {
      detectedAt: utc(f.detectedAt),
      openedAt: utc(f.openedAt),
      resolvedAt: utc(f.resolvedAt),
      closedAt: utc(f.closedAt),
    },
    timeline: i.timeline.map((e) => ({ at: e.at, stage: e.stage, actor: e.actor, summary: e.summary })),
    analysis: {
      analyser: a.analyser,
      cause: a.cause,
      root_cause: a.root_cause,
      evidence: a.evidence,
      confidence: a.confidence,
      proposed_fix: a.proposed_fix,
      runbook: a.runbook ? { title: a.runbook.title, action: a.runbook.action } : undefined,
      similar: a.similar,
    },
    evidenceRecord: ev ? evidenceLines(ev) : undefined,
    decision: i.decision,
    actions: i.actions.map((x) => ({ ...x, result: x.result ? cell(x.result, 400) : undefined })),
    approval: i.approval ? { ...i.approval, slack: undefined } : undefined,
    acknowledgement: i.acknowledgement,
    peopleInAudit: f.audit
      .filter((e) => isPerson(e.actor))
      .map((e) => ({ at: e.at, kind: e.kind, actor: e.actor, outcome: e.outcome })),
    derivedFollowUps: followUps(f),
  }
  let text = JSON.stringify(facts)
  // Too big: the evidence record and the action results go first, then the timeline is cut from the middle.
  if (text.length > FACTS_CHARS) {
    facts.evidenceRecord = ev
      ? evidenceLines(ev)
          .slice(0, 6)
          .map((l) => cell(l, 200))
      : undefined
    facts.actions = i.actions.map((x) => ({ actionId: x.actionId, status: x.status, error: x.error }))
    text = JSON.stringify(facts)
  }
  if (text.length > FACTS_CHARS) {
    // A copy of the facts with the timeline's middle left out (facts describe the incident; they
    // are not the incident, whose timeline only the lifecycle writes).
    const t = facts.timeline as unknown[]
    Object.assign(facts, {
      timeline: [...t.slice(0, 20), { omitted: `${Math.max(0, t.length - 40)} entries` }, ...t.slice(-20)],
    })
    text = JSON.stringify(facts)
  }
  return text.length > FACTS_CHARS ? `${text.slice(0, FACTS_CHARS)}…(cut)` : text
}

const SYSTEM = [
  'You write the narrative parts of an incident postmortem for site reliability engineers.',
  'Use only the facts given; never invent times, numbers, names or causes. Be plain and brief.',
  'Answer with one JSON object only: {"summary": "3-5 sentences: what happened, impact, how it ended",',
  '"root_cause": "2-4 sentences on why it happened, citing the evidence", "follow_ups": "1-3 sentences on what should change"}.',
].join(' ')

type OpenAIModule = typeof import('openai')

/**
 * The postmortem with the model's narrative when a key is set and the model answers in time;
 * otherwise (no key, budget spent, an error, a timeout, an unusable answer) the template's.
 */
export async function draftPostmortem(incident: Incident, audit: AuditEvent[], deps: DraftDeps = {}): Promise<Draft> {
  const template = (fallbackReason?: string): Draft => ({
    markdown: postmortemMarkdown(incident, audit, { now: deps.now }),
    draftedBy: 'template',
    ...(fallbackReason ? { fallbackReason } : {}),
  })
  const llm = deps.llm
  if (!llm?.apiKey) return template()
  try {
    if (deps.budget && (await deps.budget.remaining()) <= 0) return template('hourly LLM token budget spent')
  } catch (err) {
    return template(`LLM token budget unavailable: ${(err as Error).message}`)
  }
  const model = llm.model ?? 'deepseek/deepseek-r1'
  const deadlineMs = llm.deadlineMs ?? 20_000
  const ctl = new AbortController()
  const timer = setTimeout(() => ctl.abort(new Error(`deadline of ${deadlineMs} ms reached`)), deadlineMs)
  const signal = deps.signal ? AbortSignal.any([ctl.signal, deps.signal]) : ctl.signal
  try {
    const mod: OpenAIModule = await import('openai')
    const client = new mod.OpenAI({
      apiKey: llm.apiKey,
      baseURL: llm.baseURL,
      maxRetries: 0,
      timeout: deadlineMs,
      defaultHeaders: llm.headers,
    })
    const facts = factsForModel(postmortemFacts(incident, audit))
    const completion = await client.chat.completions.create(
      {
        model,
        max_tokens: llm.maxTokens ?? 1200,
        stream: false,
        messages: [
          { role: 'system', content: SYSTEM },
          { role: 'user', content: `${POSTMORTEM_FACTS_HEADING} ${incident.id} (JSON):\n${facts}` },
        ],
      },
      { signal },
    )
    const u = completion.usage
    if (u && deps.budget) {
      const used = { promptTokens: u.prompt_tokens ?? 0, completionTokens: u.completion_tokens ?? 0 }
      await deps.budget
        .record(
          u.total_tokens ?? used.promptTokens + used.completionTokens,
          llm.pricing ? costUsd(used, llm.pricing) : 0,
        )
        .catch(() => {})
    }
    const content = completion.choices?.[0]?.message?.content ?? ''
    const answer = extractJsonObject(splitReasoning(content).answer)
    const text = (k: string, max: number): string | undefined => {
      const v = answer[k]
      return typeof v === 'string' && v.trim() ? cell(v.trim(), max).replace(/\\\|/g, '|') : undefined
    }
    const summary = text('summary', 1500)
    if (!summary) return template('the model gave no summary')
    const narrative: Narrative = {
      summary,
      rootCause: text('root_cause', 1200),
      followUps: text('follow_ups', 800),
      model,
    }
    return {
      markdown: postmortemMarkdown(incident, audit, { now: deps.now, narrative }),
      draftedBy: `llm:${model}`,
    }
  } catch (err) {
    const reason = signal.aborted ? ((signal.reason as Error)?.message ?? 'aborted') : (err as Error).message
    return template(`the model failed: ${String(reason).slice(0, 200)}`)
  } finally {
    clearTimeout(timer)
  }
}

// ---- Storage ----------------------------------------------------------------------------------

export interface StoredPostmortem {
  incidentId: string
  markdown: string
  draftedBy: string
  createdAt: number
}

/** Stores (or replaces) the postmortem of an incident. */
export async function storePostmortem(
  db: SqlClient,
  incidentId: string,
  markdown: string,
  draftedBy: string,
  now = Date.now(),
): Promise<void> {
  await db.run(
    `INSERT INTO postmortems (incident_id, markdown, drafted_by, created_at) VALUES (?, ?, ?, ?)
     ON CONFLICT (incident_id) DO UPDATE SET markdown = excluded.markdown, drafted_by = excluded.drafted_by,
       created_at = excluded.created_at`,
    [incidentId, markdown, draftedBy, now],
  )
}

export async function readPostmortem(db: SqlClient, incidentId: string): Promise<StoredPostmortem | null> {
  const rows = await db.all<{ incident_id: string; markdown: string; drafted_by: string; created_at: number }>(
    'SELECT incident_id, markdown, drafted_by, created_at FROM postmortems WHERE incident_id = ?',
    [incidentId],
  )
  const r = rows[0]
  return r
    ? { incidentId: r.incident_id, markdown: r.markdown, draftedBy: r.drafted_by, createdAt: Number(r.created_at) }
    : null
}

/** Closed, and critical or handed to a person at some point: worth a postmortem. */
export function deservesPostmortem(incident: Incident): boolean {
  if (!isClosed(incident)) return false
  return incident.severity === 'critical' || incidentRow(incident, { node: 'n/a' }).escalated === 1
}

/** What postmortemsOnArchive needs from the configuration: the model (when a key is set) and the shared token budget. */
export function postmortemDeps(
  cfg: Parameters<typeof postmortemLlm>[0] & Pick<SentinelConfig, 'LLM_HOURLY_TOKEN_BUDGET'>,
  redis: Pick<Redis, 'get' | 'multi'>,
): Pick<OnArchiveDeps, 'llm' | 'budget'> {
  const llm = postmortemLlm(cfg)
  return {
    llm: cfg.LLM_HOURLY_TOKEN_BUDGET > 0 ? llm : null,
    ...(llm ? { budget: new TokenBudget(redis, { tokensPerHour: cfg.LLM_HOURLY_TOKEN_BUDGET }) } : {}),
  }
}

export interface OnArchiveDeps extends Omit<DraftDeps, 'signal'> {
  /** The whole batch's model calls end by then; the rest get the template. Default 30 000 ms. */
  deadlineMs?: number
  /** The audit entries of an incident; default: the archive's. */
  auditOf?: (incidentId: string) => Promise<AuditEvent[]>
}

export interface OnArchiveResult {
  written: Array<{ incidentId: string; draftedBy: DraftedBy; fallbackReason?: string }>
}

/**
 * Writes the missing postmortems of the incidents just archived: those closed that were critical or
 * escalated, and have none yet. One at a time (one model call in flight at most), the model asked
 * only before the batch's deadline. Nothing to do costs no query; a retry writes nothing twice.
 */
export async function postmortemsOnArchive(
  db: SqlClient,
  incidents: Incident[],
  deps: OnArchiveDeps = {},
): Promise<OnArchiveResult> {
  const written: OnArchiveResult['written'] = []
  const candidates = [...new Map(incidents.filter(deservesPostmortem).map((i) => [i.id, i])).values()]
  if (!candidates.length) return { written }
  const have = new Set(
    (
      await db.all<{ incident_id: string }>(
        `SELECT incident_id FROM postmortems WHERE incident_id IN (${candidates.map(() => '?').join(', ')})`,
        candidates.map((i) => i.id),
      )
    ).map((r) => r.incident_id),
  )
  const todo = candidates.filter((i) => !have.has(i.id))
  if (!todo.length) return { written }
  const started = Date.now()
  const batchDeadline = deps.deadlineMs ?? 30_000
  const auditOf = deps.auditOf ?? (async (id: string) => (await archivedIncident(db, id))?.audit ?? [])
  for (const incident of todo) {
    const left = batchDeadline - (Date.now() - started)
    const llm =
      deps.llm && left > 1000 ? { ...deps.llm, deadlineMs: Math.min(deps.llm.deadlineMs ?? 20_000, left) } : null
    const draft = await draftPostmortem(incident, await auditOf(incident.id), { ...deps, llm })
    const fallbackReason =
      draft.fallbackReason ?? (deps.llm?.apiKey && !llm ? 'the batch deadline for LLM drafts had passed' : undefined)
    // Written only when still missing: another archiver (a second controller) may have raced this one.
    const { changes } = await db.run(
      `INSERT INTO postmortems (incident_id, markdown, drafted_by, created_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (incident_id) DO NOTHING`,
      [incident.id, draft.markdown, draft.draftedBy, Date.now()],
    )
    if (changes > 0)
      written.push({
        incidentId: incident.id,
        draftedBy: draft.draftedBy,
        ...(fallbackReason ? { fallbackReason } : {}),
      })
  }
  return { written }
}

// ---- Serving ------------------------------------------------------------------------------------

export interface ServedPostmortem {
  markdown: string
  draftedBy: string
  /** From the postmortems table (false: written now from the incident, not stored). */
  stored: boolean
}

/**
 * The postmortem GET /api/incidents/:id/postmortem serves: the stored one, else one written now by
 * the template (a read spends no LLM tokens, and an incident still open would be stored
 * half-told) from the incident in Redis, else its archived document, and its audit entries (the
 * archive's, else the audit log's). Null when no incident has that id. Without an archive (`db`
 * null: it could not be opened) Redis alone answers.
 */
export async function postmortemFor(
  incidentId: string,
  deps: {
    db: SqlClient | null
    store: { get(id: string): Promise<Incident | null> }
    audit: { read(limit: number, incidentId?: string): Promise<AuditEvent[]> }
    now?: Date
  },
): Promise<ServedPostmortem | null> {
  const stored = deps.db ? await readPostmortem(deps.db, incidentId) : null
  if (stored) return { markdown: stored.markdown, draftedBy: stored.draftedBy, stored: true }
  const archived = deps.db ? await archivedIncident(deps.db, incidentId) : null
  const incident = (await deps.store.get(incidentId)) ?? archived?.incident
  if (!incident) return null
  const audit = archived?.audit.length ? archived.audit : await deps.audit.read(AUDIT_READ_LIMIT, incidentId)
  return { markdown: postmortemMarkdown(incident, audit, { now: deps.now }), draftedBy: 'template', stored: false }
}

/** Audit entries of one incident read from the audit log at most. */
const AUDIT_READ_LIMIT = 500
