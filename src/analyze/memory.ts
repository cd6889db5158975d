/**
 * Incident memory: what happened to the same resource before, and what fixed it. A container that
 * was OOM-killed three times this week, each time fixed by a memory raise, is a different story
 * from a first death, and the analysis (rules and LLM alike) should be told. The past incidents
 * come from the store's per-resource index (src/platform/store/incidents.ts: the last 50 incidents
 * of a resource over 90 days, test incidents never added); when the archive exists, it will answer
 * instead. Only closed incidents count: an open one is not a lesson yet (it is in the evidence as
 * another open incident).
 */
import type { IncidentStore } from '../platform/store/incidents'
import type { Incident } from '../platform/store/model'
import type { IncidentSummary } from '../platform/store/summary'

export interface PastIncident {
  id: string
  openedAt: string
  type: string
  status: string
  /** The cause its analysis named (src/analyze/causes.ts), when it named one. */
  cause?: string
  rootCause?: string
  /** The fix that ran last, and how it ended; null when none ran. */
  fix: { action: string; status: string } | null
}

export interface RecallOptions {
  /** Past incidents returned. Default 3. */
  limit?: number
  /** The newest incidents of the resource considered. Default 20. */
  scan?: number
  /** The cause the rule analyser sees now: past incidents with the same cause rank first. */
  cause?: string
}

function pastIncident(s: IncidentSummary): PastIncident {
  return {
    id: s.id,
    openedAt: s.openedAt,
    type: s.type,
    status: s.status,
    ...(s.analysis?.cause ? { cause: s.analysis.cause } : {}),
    ...(s.analysis?.rootCause ? { rootCause: s.analysis.rootCause } : {}),
    fix: s.lastAction ? { action: s.lastAction.actionId, status: s.lastAction.status } : null,
  }
}

/**
 * The most similar closed incidents of the incident's resource: the same alert type and the same
 * cause rank first, then one a fix ended well, then the newest. Never the incident itself, never
 * a test incident (the index holds none; a test incident being analysed recalls nothing either).
 */
export async function recallSimilar(
  store: Pick<IncidentStore, 'recentOfResource'>,
  incident: Pick<Incident, 'id' | 'type' | 'resource' | 'test'>,
  opts: RecallOptions = {},
): Promise<PastIncident[]> {
  if (incident.test) return []
  const summaries = await store.recentOfResource(incident.resource, opts.scan ?? 20)
  const rank = (s: IncidentSummary) =>
    (s.type === incident.type ? 4 : 0) +
    (opts.cause && s.analysis?.cause === opts.cause ? 2 : 0) +
    (s.status === 'resolved' && s.lastAction?.status === 'succeeded' ? 1 : 0)
  return summaries
    .filter((s) => s.id !== incident.id && !s.test && s.statusGroup === 'closed')
    .map((s, order) => ({ s, order, rank: rank(s) }))
    .sort((a, b) => b.rank - a.rank || a.order - b.order)
    .slice(0, opts.limit ?? 3)
    .map(({ s }) => pastIncident(s))
}

/** One line of evidence per past incident, for the rule analyser's answer. */
export function memoryEvidence(past: PastIncident[]): string[] {
  return past.map(
    (p) =>
      `seen before: ${p.id} (${p.openedAt.slice(0, 16).replace('T', ' ')}, ${p.type}${p.cause ? `, ${p.cause}` : ''}) ended ${p.status}${p.fix ? ` after ${p.fix.action} (${p.fix.status})` : ' with no fix run'}`,
  )
}
