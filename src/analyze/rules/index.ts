/**
 * The rule analyser: deterministic root-cause analysis for every alert type. It gathers one
 * bounded evidence record (../evidence/gather), runs every fault rule that applies to the alert
 * (./faults, one pure rule per cause), takes the most confident verdict, and falls back to the
 * generic answer of the alert type when none fires. It is the answer when no LLM is configured
 * and the fallback when the LLM fails, so it never throws: a failed look-up becomes evidence and
 * lowers the confidence.
 *
 * A container an alert names is looked into only when it carries the watch label, and that is
 * learnt from the label-filtered listing: an alert (anyone with an operator key can send one) must
 * not make Sentinel read an unwatched container's configuration or logs, nor propose to act on it.
 */
import { getConfig } from '../../platform/config/index'
import { findWatchedContainer, type WatchedContainer } from '../../platform/docker/engine-api'
import { isLocalNode, nodeOfAlert } from '../../actions/on-node'
import { alertOf, containerRef, type Alert, type AlertType, type Incident } from '../../platform/store/model'
import type { Cause } from '../causes'
import { boundEvidence } from '../evidence/bound'
import { alertSection, effectiveType, gatherEvidence, type EvidenceOptions } from '../evidence/gather'
import type { DecidedBefore, Evidence } from '../evidence/types'
import type { Analysis } from '../llm/schema'
import { describeEvidence, mergeEvidence } from './faults/describe'
import { fallbackVerdict } from './faults/fallback'
import { judge } from './faults/index'
import type { FaultVerdict } from './faults/types'
import { serviceVerdict } from './service'

function fallbackVerdictForService(alert: Alert, err: Error): FaultVerdict {
  const why = `rule analysis failed: ${err.message}`
  return {
    cause: 'unknown',
    root_cause: `service ${alert.resource.name}; the evidence could not be gathered.`,
    evidence: [why],
    confidence: 0.1,
    proposed_fix: null,
    risk_level: 'low',
  }
}

export { anomalyKind } from '../evidence/gather'
export { formatBytes, raisedMemoryLimit } from './faults/types'

export type RuleOptions = EvidenceOptions

export interface RuleAnalysis extends Analysis {
  cause: Cause
  /** The bounded evidence record the verdict was drawn from. */
  evidenceRecord: Evidence
  /** The raw facts gathered, for the LLM prompt and the incident record. */
  facts: Record<string, unknown>
  /** The container's log tail, when one was read. */
  logs?: string
  /** The container the alert names when no watched container answers to it (nothing was read). */
  unwatchedContainer?: string
}

const ALERT_TYPES = new Set<string>([
  'container_down',
  'container_unhealthy',
  'memory',
  'cpu',
  'disk',
  'latency',
  'anomaly',
] satisfies AlertType[])

/**
 * The decision the incident carried when the analysis began (the container fast path decides, and
 * restarts, a dead container before it is analysed), with where its action got to.
 */
export function decidedBeforeOf(input: Incident | Alert): DecidedBefore | undefined {
  if (!('alert' in input && input.alert)) return undefined
  const d = (input as Incident).decision
  if (!d) return undefined
  const action = d.actionId
    ? [...((input as Incident).actions ?? [])].reverse().find((a) => a.actionId === d.actionId)
    : undefined
  return {
    actionId: d.actionId,
    route: d.route,
    at: d.decidedAt,
    ...(action ? { actionStatus: action.status } : {}),
  }
}

/** A record with nothing read but the alert, for answers given before any gathering. */
function bareEvidence(alert: Alert, opts: RuleOptions, problems: string[], extra: Partial<Evidence> = {}): Evidence {
  return boundEvidence({
    version: 1,
    gatheredAt: new Date().toISOString(),
    alert: alertSection(alert, opts.nodeInstance),
    problems,
    ...extra,
  })
}

function bare(
  alert: Alert,
  opts: RuleOptions,
  root_cause: string,
  why: string,
  extra: Partial<RuleAnalysis> = {},
): RuleAnalysis {
  return {
    cause: 'unknown',
    root_cause,
    evidence: [why],
    proposed_fix: null,
    risk_level: 'low',
    confidence: 0.1,
    facts: {},
    evidenceRecord: bareEvidence(
      alert,
      opts,
      [why],
      extra.unwatchedContainer ? { unwatchedContainer: extra.unwatchedContainer } : {},
    ),
    ...extra,
  }
}

function notWatched(alert: Alert, opts: RuleOptions, ref: string): RuleAnalysis {
  const { key, value } = getConfig().WATCH_LABEL
  const why = `no container carrying the watch label ${key}=${value} answers to "${ref}": it was removed, or Sentinel does not watch it`
  return bare(
    alert,
    opts,
    `${alert.type} alert on ${alert.resource.name}, but ${why}; nothing about it is read and nothing is done to it.`,
    why,
    {
      unwatchedContainer: ref,
    },
  )
}

/** The verdict as the analysis, with the record's context lines after its own evidence. */
function analysisOf(v: FaultVerdict, alert: Alert, evidence: Evidence): Pick<RuleAnalysis, keyof Analysis | 'cause'> {
  let { root_cause, confidence } = v
  let lines = mergeEvidence(v.evidence, describeEvidence(evidence))
  const kind = effectiveType(alert)
  if (alert.type === 'anomaly') {
    const d = evidence.alert.details ?? {}
    const stats = Object.entries(d)
      .slice(0, 8)
      .map(([k, x]) => `${k}=${String(x)}`)
    const head = `anomaly on ${alert.metric} = ${alert.value ?? '?'}${stats.length ? ` (${stats.join(', ')})` : ''}`
    lines = [head, ...lines.filter((l) => l !== head)].slice(0, 30)
    if (kind !== 'anomaly') {
      root_cause = `Anomalous ${alert.metric} (read as a ${kind} problem): ${root_cause}`
      // An anomaly is a statistical signal, not a crossed threshold: trust the reading less.
      confidence = Math.round(confidence * 0.7 * 100) / 100
    }
  }
  return {
    cause: v.cause,
    root_cause,
    evidence: lines,
    proposed_fix: v.proposed_fix,
    risk_level: v.risk_level,
    confidence,
  }
}

export async function analyseWithRules(input: Incident | Alert, opts: RuleOptions = {}): Promise<RuleAnalysis> {
  const alert = alertOf(input)
  const incidentId = 'alert' in input && input.alert ? (input as Incident).id : undefined
  // A Swarm service (src/observe/swarm-services.ts): read again, its update weighed (./service).
  if (alert.type === 'service_degraded') {
    const v = await serviceVerdict(alert).catch((err: Error) => fallbackVerdictForService(alert, err))
    return { ...v, facts: {}, evidenceRecord: bareEvidence(alert, opts, v.proposed_fix ? [] : v.evidence.slice(0, 1)) }
  }
  if (!ALERT_TYPES.has(alert.type)) {
    const why = `no rule knows the alert type "${alert.type}"`
    return bare(alert, opts, `${alert.type} alert on ${alert.resource.name}, but ${why}.`, why)
  }
  try {
    const ref = containerRef(alert)
    let container: WatchedContainer | undefined
    const node = nodeOfAlert(alert)
    if (!isLocalNode(node)) {
      // Another host's: its engine is reached only through that node's agent, which does not serve
      // logs, stats or its processes and files to the analyser yet; the evidence gathered here would
      // be this host's. Say so rather than call the container unwatched or blame this host.
      const why = ref
        ? `container ${ref} runs on node ${node}, whose logs and stats the analyser does not read (its agent serves actions and state only)`
        : `${alert.resource.name} is on node ${node}, whose processes and files the analyser does not read (its agent reports its readings only)`
      return bare(alert, opts, `${alert.type} alert on ${alert.resource.name} (node ${node}); ${why}.`, why)
    }
    if (ref) {
      const watched = await findWatchedContainer(ref).catch((err: Error) => err)
      if (watched instanceof Error) {
        const why = `could not list the watched containers: ${watched.message}`
        return bare(
          alert,
          opts,
          `${alert.type} alert on ${alert.resource.name}; Docker could not say whether container ${ref} is watched, so nothing about it was read.`,
          why,
        )
      }
      if (!watched) return notWatched(alert, opts, ref)
      container = watched
    }
    const type = effectiveType(alert)
    if (!container && (type === 'container_down' || type === 'container_unhealthy')) {
      const why = 'the alert names no container'
      return bare(alert, opts, `${alert.type} alert on ${alert.resource.name}, but ${why}.`, why)
    }
    const { evidence, logs, facts } = await gatherEvidence(alert, opts, container, incidentId, decidedBeforeOf(input))
    const best = judge(evidence, type).best ?? fallbackVerdict(evidence, type)
    return {
      ...analysisOf(best, alert, evidence),
      evidenceRecord: evidence,
      facts,
      ...(logs !== undefined ? { logs } : {}),
    }
  } catch (err) {
    const why = `rule analysis failed: ${(err as Error).message}`
    return bare(alert, opts, `${alert.type} alert on ${alert.resource.name}; the evidence could not be gathered.`, why)
  }
}
