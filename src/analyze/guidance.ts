/**
 * What people and the past say about an incident, beside what the machine shows: the team's
 * runbook for it (./runbooks) and the resource's past incidents (./memory). Both are looked up
 * once per analysis, after the rule analyser has named a cause (runbooks may match on it), given to
 * the LLM, and applied to whichever answer stands: the runbook is cited in the evidence and its
 * action preferred (on the incident's own target), and each past incident is one evidence line.
 * A failed look-up never fails the analysis: it becomes a problem line in the evidence.
 */
import { alertOf, type Alert, type Incident, type RiskLevel } from '../platform/store/model'
import type { Cause } from './causes'
import type { Evidence } from './evidence/types'
import type { ProposedFix } from './llm/schema'
import { memoryEvidence, type PastIncident } from './memory'
import { citation, loadRunbooks, matchRunbook, runbookFix, type RunbookCitation } from './runbooks/index'

export interface GuidanceDeps {
  /** RUNBOOKS_DIR; without it no runbook is looked for. */
  runbooksDir?: string
  /** The resource's most similar past incidents, given the rules' cause. */
  recall?: (cause: Cause) => Promise<PastIncident[]>
}

export interface Guidance {
  runbook?: RunbookCitation
  similar: PastIncident[]
  /** Look-ups that failed, and runbook files skipped: said in the evidence. */
  problems: string[]
}

export async function gatherGuidance(input: Incident | Alert, cause: Cause, deps: GuidanceDeps): Promise<Guidance> {
  const alert = alertOf(input)
  const problems: string[] = []
  let runbook: RunbookCitation | undefined
  if (deps.runbooksDir) {
    const loaded = loadRunbooks(deps.runbooksDir)
    problems.push(...loaded.problems.map((p) => `runbook skipped: ${p}`))
    const found = matchRunbook(loaded.runbooks, {
      type: alert.type,
      resource: alert.resource.name,
      cause,
      labels: alert.labels ?? {},
    })
    if (found) runbook = citation(found)
  }
  let similar: PastIncident[] = []
  if (deps.recall) {
    try {
      similar = await deps.recall(cause)
    } catch (err) {
      problems.push(`past incidents could not be read: ${(err as Error).message}`)
    }
  }
  return { ...(runbook ? { runbook } : {}), similar, problems }
}

interface Answer {
  evidence: string[]
  proposed_fix: ProposedFix | null
  risk_level: RiskLevel
}

/**
 * The answer with the guidance applied: the runbook cited (unless the answer cites it already) and
 * its action preferred, the past incidents and problems as evidence lines.
 */
export function applyGuidance<A extends Answer>(answer: A, guidance: Guidance, evidence: Evidence | undefined): A {
  const lines = [...answer.evidence]
  let fix = answer.proposed_fix
  let risk = answer.risk_level
  const rb = guidance.runbook
  if (rb) {
    if (!lines.some((l) => l.includes(`runbook ${rb.id}`))) lines.push(`runbook ${rb.id}: ${rb.title} (${rb.path})`)
    const container = evidence?.container?.exists ? evidence.container : undefined
    const preferred = runbookFix(rb, fix, {
      ...(container ? { containerId: container.id } : {}),
      ...(container?.memoryLimitBytes ? { memoryLimitBytes: container.memoryLimitBytes } : {}),
    })
    if (preferred) {
      lines.push(preferred.note)
      if (preferred.fix !== fix) {
        fix = preferred.fix
        risk = preferred.risk
      }
    }
  }
  lines.push(...memoryEvidence(guidance.similar), ...guidance.problems)
  return { ...answer, evidence: lines, proposed_fix: fix, risk_level: risk }
}
