/**
 * Scoring of the fault suite (npm run bench:rca): the expected fix per cause (the one table of
 * it), each case's verdict, the confusion table (expected × got cause), the accuracies and the
 * share of prompts that carried the decisive evidence. Pure functions: bench/rca/score.test.ts
 * runs them without Docker.
 */
import { CAUSES, isCause, type Cause } from '../../src/analyze/causes'

/** The faults the suite produces: every cause but the catch-alls. */
export const FAULTS = [
  'oom',
  'memory_leak',
  'cpu_hog',
  'disk_fill',
  'bad_config',
  'dependency_unreachable',
  'slow_downstream',
  'port_in_use',
  'killed',
  'clean_exit',
  'transient',
] as const satisfies readonly Cause[]
export type Fault = (typeof FAULTS)[number]

/** A healthy container: right when it opens no incident. */
export const CONTROL = 'control'
/** The "cause" of a case that opened no incident (a control's right answer). */
export const NONE = 'none'
export type Got = Cause | typeof NONE

/**
 * The fix each cause calls for (score "right fix"): the actions that count as right, or null when
 * no fix is safe (the right answer is then no proposed fix at all). oom expects a raised limit
 * because every oom scenario here runs under a memory limit (without one, a restart would be the
 * fix). This is the only place the bench states it.
 */
export const EXPECTED_FIX: Record<Fault, readonly string[] | null> = {
  oom: ['update_memory_limit'],
  memory_leak: ['restart_container'],
  cpu_hog: ['restart_container', 'scale_out'],
  disk_fill: ['clean_sandbox'],
  bad_config: null,
  dependency_unreachable: null,
  slow_downstream: null,
  port_in_use: null,
  killed: ['restart_container'],
  clean_exit: ['restart_container'],
  transient: null,
}

export const describeFix = (fix: readonly string[] | null): string => (fix ? fix.join('|') : 'none')

/** The cause an analysis names; absent or not a known label → unknown, and says it was absent. */
export function causeOf(analysis: Record<string, unknown> | undefined): { cause: Cause; absent: boolean } {
  const c = analysis?.cause
  if (c === undefined || c === null) return { cause: 'unknown', absent: true }
  return { cause: isCause(c) ? c : 'unknown', absent: false }
}

/** The action of the analysis's proposed fix, or null. */
export function fixOf(analysis: Record<string, unknown> | undefined): string | null {
  const fix = analysis?.proposed_fix as { action?: unknown } | null | undefined
  return fix && typeof fix.action === 'string' ? fix.action : null
}

export interface CaseResult {
  fault: Fault | typeof CONTROL
  variant: number
  /** The container, mount point or URL the case is about. */
  resource: string
  title: string
  incidentId?: string
  expectedCause: Got
  gotCause: Got
  /** The analysis carried no `cause` field (counted as unknown). */
  causeAbsent: boolean
  expectedFix: readonly string[] | null
  gotFix: string | null
  analyser?: string
  fallbackReason?: string
  rootCause?: string
  rightCause: boolean
  rightFix: boolean
  /** LLM pass: whether a prompt about the case carried the decisive evidence. */
  evidence?: boolean
  /** LLM pass: prompts received for the case. */
  prompts?: number
  seconds: number
  note?: string
}

/** The verdict on a fault case, from its analysed incident (or none). */
export function scoreFault(
  c: { fault: Fault; variant: number; resource: string; title: string; seconds: number; note?: string },
  incident: { id: string; analysis?: Record<string, unknown> } | undefined,
): CaseResult {
  const expectedFix = EXPECTED_FIX[c.fault]
  const base = { ...c, expectedCause: c.fault, expectedFix }
  if (!incident) {
    return {
      ...base,
      gotCause: NONE,
      causeAbsent: false,
      gotFix: null,
      rightCause: false,
      rightFix: false,
      note: c.note ?? 'no incident opened in time',
    }
  }
  const { cause, absent } = causeOf(incident.analysis)
  const gotFix = fixOf(incident.analysis)
  const a = incident.analysis ?? {}
  return {
    ...base,
    incidentId: incident.id,
    gotCause: cause,
    causeAbsent: absent,
    gotFix,
    analyser: typeof a.analyser === 'string' ? a.analyser : undefined,
    fallbackReason: typeof a.fallbackReason === 'string' ? a.fallbackReason : undefined,
    rootCause: typeof a.root_cause === 'string' ? a.root_cause : undefined,
    rightCause: cause === c.fault,
    rightFix: expectedFix === null ? gotFix === null : gotFix !== null && expectedFix.includes(gotFix),
    ...(incident.analysis ? {} : { note: c.note ?? 'incident never analysed' }),
  }
}

/** The verdict on a healthy control: right when it opened no incident. */
export function scoreControl(
  c: { resource: string; title: string; seconds: number },
  incidents: Array<{ id: string; analysis?: Record<string, unknown> }>,
): CaseResult {
  const first = incidents[0]
  const { cause, absent } = first ? causeOf(first.analysis) : { cause: NONE as Got, absent: false }
  return {
    fault: CONTROL,
    variant: 0,
    ...c,
    incidentId: first?.id,
    expectedCause: NONE,
    gotCause: first ? cause : NONE,
    causeAbsent: absent,
    expectedFix: null,
    gotFix: first ? fixOf(first.analysis) : null,
    rightCause: !first,
    rightFix: !first,
    ...(first ? { note: `${incidents.length} incident(s) on a healthy container` } : {}),
  }
}

export interface Confusion {
  rows: Got[]
  cols: Got[]
  /** counts[expected][got] */
  counts: Record<string, Record<string, number>>
}

/** Expected × got cause. Rows: the expected labels present; columns: those and every label got. */
export function confusion(results: CaseResult[]): Confusion {
  const order: Got[] = [...FAULTS, 'crash', 'unknown', NONE]
  const counts: Record<string, Record<string, number>> = {}
  const rowSet = new Set<Got>()
  const colSet = new Set<Got>()
  for (const r of results) {
    rowSet.add(r.expectedCause)
    colSet.add(r.expectedCause)
    colSet.add(r.gotCause)
    counts[r.expectedCause] ??= {}
    counts[r.expectedCause][r.gotCause] = (counts[r.expectedCause][r.gotCause] ?? 0) + 1
  }
  const sorted = (s: Set<Got>) => order.filter((x) => s.has(x))
  return { rows: sorted(rowSet), cols: sorted(colSet), counts }
}

const SHORT: Record<string, string> = {
  memory_leak: 'leak',
  cpu_hog: 'cpu',
  disk_fill: 'disk',
  bad_config: 'config',
  dependency_unreachable: 'dep',
  slow_downstream: 'slow',
  port_in_use: 'port',
  clean_exit: 'exit0',
  transient: 'trans',
  unknown: 'unk',
}
export const shortLabel = (label: string): string => SHORT[label] ?? label

/** The confusion table as text: one row per expected label, its count per got label, `.` for 0. */
export function formatConfusion(c: Confusion): string {
  const header = ['expected \\ got', ...c.cols.map(shortLabel)]
  const rows = c.rows.map((r) => [r, ...c.cols.map((col) => String(c.counts[r]?.[col] ?? '.'))])
  return formatTable([header, ...rows], { alignRight: (i) => i > 0 })
}

export interface Ratio {
  right: number
  total: number
  /** right / total, 0 when total is 0. */
  share: number
}
const ratio = (right: number, total: number): Ratio => ({ right, total, share: total ? right / total : 0 })

export interface Accuracy {
  /** Over the fault cases. */
  cause: Ratio
  fix: Ratio
  /** Over fault cases and controls. */
  causeWithControls: Ratio
  fixWithControls: Ratio
  /** Analyses without a `cause` field (counted as unknown). */
  causeAbsent: number
  /** Fault cases that opened no incident in time. */
  missed: number
}

export function accuracy(results: CaseResult[]): Accuracy {
  const faults = results.filter((r) => r.fault !== CONTROL)
  const count = (xs: CaseResult[], f: (r: CaseResult) => boolean) => xs.filter(f).length
  return {
    cause: ratio(
      count(faults, (r) => r.rightCause),
      faults.length,
    ),
    fix: ratio(
      count(faults, (r) => r.rightFix),
      faults.length,
    ),
    causeWithControls: ratio(
      count(results, (r) => r.rightCause),
      results.length,
    ),
    fixWithControls: ratio(
      count(results, (r) => r.rightFix),
      results.length,
    ),
    causeAbsent: count(results, (r) => r.causeAbsent),
    missed: count(faults, (r) => r.gotCause === NONE),
  }
}

export interface EvidenceShare {
  perFault: Partial<Record<Fault, Ratio>>
  overall: Ratio
  /** Fault cases for which the stand-in received no prompt at all. */
  withoutPrompt: number
}

/** Per fault and overall: the cases whose prompt carried the decisive evidence (no prompt: it did not). */
export function evidenceShare(results: CaseResult[]): EvidenceShare {
  const faults = results.filter((r): r is CaseResult & { fault: Fault } => r.fault !== CONTROL)
  const perFault: Partial<Record<Fault, Ratio>> = {}
  for (const f of FAULTS) {
    const xs = faults.filter((r) => r.fault === f)
    if (xs.length) perFault[f] = ratio(xs.filter((r) => r.evidence === true).length, xs.length)
  }
  return {
    perFault,
    overall: ratio(faults.filter((r) => r.evidence === true).length, faults.length),
    withoutPrompt: faults.filter((r) => !r.prompts).length,
  }
}

export const pct = (r: Ratio): string =>
  `${r.right}/${r.total} (${r.total ? ((100 * r.right) / r.total).toFixed(0) : '-'}%)`

/** Columns padded to their widest cell, two spaces apart. */
export function formatTable(rows: string[][], opts: { alignRight?: (col: number) => boolean } = {}): string {
  const widths: number[] = []
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)))
  return rows
    .map((row) =>
      row
        .map((cell, i) => (opts.alignRight?.(i) ? cell.padStart(widths[i]) : cell.padEnd(widths[i])))
        .join('  ')
        .trimEnd(),
    )
    .join('\n')
}

/** The short column names of the confusion table, for its legend. */
export const CAUSE_LEGEND = Object.keys(CAUSES)
  .filter((k) => shortLabel(k) !== k)
  .map((k) => `${shortLabel(k)}=${k}`)
  .join(' ')
