/**
 * The answer when no fault rule fires: the generic one each alert type had before the rules were
 * split by cause (cause `crash` for a container that exited with an error, `unknown` otherwise),
 * so what was right then stays right. On another host's alert nothing is proposed.
 */
import type { AlertType } from '../../../platform/store/model'
import type { Evidence } from '../../evidence/types'
import { logLines } from './describe'
import {
  deathExitCode,
  exitMeaning,
  formatBytes,
  knownContainer,
  restartedBefore,
  restartFix,
  verdict,
  type FaultVerdict,
} from './types'

const unknown = (root_cause: string, confidence: number, extra: Partial<FaultVerdict> = {}): FaultVerdict =>
  verdict({ cause: 'unknown', root_cause, evidence: [], proposed_fix: null, risk_level: 'low', confidence, ...extra })

function inspectFailed(e: Evidence): boolean {
  return !!e.container?.exists && e.container.status === undefined
}

function containerDown(e: Evidence): FaultVerdict {
  const ref = e.container
  const code = deathExitCode(e)
  if (ref && inspectFailed(e))
    return unknown(
      `Container ${e.alert.resource.name} stopped${code !== undefined ? ` and ${exitMeaning(code)}` : ''}; Docker could not be asked for more.`,
      0.4,
      {
        evidence: code !== undefined ? [`exit code from the event: ${code}`] : [],
        proposed_fix: { action: 'restart_container', params: { containerId: ref.id } },
      },
    )
  const c = knownContainer(e)
  if (!c)
    return unknown(`Container ${e.alert.resource.name} no longer exists (removed); there is nothing to restart.`, 0.8, {
      evidence: [`docker inspect ${ref?.id ?? e.alert.resource.id}: no such container`],
    })
  const exit = code ?? 0
  const before = restartedBefore(e)
  if (c.running && before)
    return verdict({
      cause: 'crash',
      root_cause: `Container ${c.name} ${exitMeaning(exit)}. ${before}; it is running again.`,
      evidence: [],
      proposed_fix: restartFix(e),
      risk_level: 'low',
      confidence: 0.6,
    })
  if (c.running)
    return verdict({
      cause: 'crash',
      root_cause: `Container ${c.name} ${exitMeaning(exit)} and is running again (restarted since), so no action is needed now.`,
      evidence: [],
      proposed_fix: null,
      risk_level: 'low',
      confidence: 0.6,
    })
  const crashLoop = (c.restartCount ?? 0) >= 5
  const errorLogged = logLines(e).some((l) => l.startsWith('log (error)'))
  return verdict({
    cause: 'crash',
    root_cause: crashLoop
      ? `Container ${c.name} ${exitMeaning(exit)} after ${c.restartCount} restarts: a crash loop a restart is unlikely to end.`
      : `Container ${c.name} ${exitMeaning(exit)}${errorLogged ? '; its last log lines show the error' : ''}.`,
    evidence: [],
    proposed_fix: restartFix(e),
    risk_level: 'low',
    confidence: crashLoop ? 0.3 : errorLogged ? 0.7 : 0.6,
  })
}

function containerUnhealthy(e: Evidence): FaultVerdict {
  const ref = e.container!
  if (inspectFailed(e))
    return unknown(
      `Container ${e.alert.resource.name} failed its health check; Docker could not be asked for more.`,
      0.4,
      {
        proposed_fix: { action: 'restart_container', params: { containerId: ref.id } },
      },
    )
  const c = knownContainer(e)
  if (!c) return unknown(`Container ${e.alert.resource.name} failed its health check; it no longer exists.`, 0.4)
  const lastOutput = c.health?.log.filter((l) => l.exitCode !== 0).pop()?.output
  return unknown(
    `Container ${c.name} is running but fails its health check${lastOutput ? ` (${lastOutput.slice(0, 120)})` : ''}; the service inside has stopped answering.`,
    (c.restartCount ?? 0) >= 5 ? 0.4 : 0.7,
    { proposed_fix: { action: 'restart_container', params: { containerId: c.id } } },
  )
}

const elsewhere = (e: Evidence, what: string): FaultVerdict =>
  unknown(
    `${what} on ${e.alert.node ?? e.alert.resource.name}, another host than this one: nothing here is to blame and Sentinel acts on nothing there.`,
    0.3,
    { evidence: [`the alert is about ${e.alert.node ?? e.alert.resource.name}, not this host`] },
  )

function memory(e: Evidence): FaultVerdict {
  const c = knownContainer(e)
  if (c)
    return unknown(
      `Container ${c.name} holds ${c.usage ? formatBytes(c.usage.memoryBytes) : 'much'} memory${c.memoryLimitBytes ? '' : ' without a memory limit'}, with no steady climb or limit pressure seen; a restart frees it.`,
      0.4,
      { proposed_fix: c.running ? { action: 'restart_container', params: { containerId: c.id } } : null },
    )
  if (e.container) return unknown(`Memory alert on ${e.alert.resource.name}; Docker could not be asked for more.`, 0.2)
  if (!e.alert.thisHost) return elsewhere(e, 'Memory is high')
  const top = e.processes?.byRss?.[0]
  if (!top) return unknown('Memory is high but no process could be read from /proc.', 0.2)
  if (top.containerId)
    return unknown(
      `Process ${top.name} (pid ${top.pid}) in container ${top.containerId.slice(0, 12)} holds the most memory (${formatBytes(top.rssBytes)}).`,
      0.45,
      {
        evidence: top.containerWatched
          ? []
          : [
              `container ${top.containerId.slice(0, 12)} does not carry the watch label (or Docker could not say): Sentinel does not act on it`,
            ],
        proposed_fix: top.containerWatched
          ? { action: 'restart_container', params: { containerId: top.containerId } }
          : null,
      },
    )
  return unknown(
    `Process ${top.name} (pid ${top.pid}) holds the most memory on the host (${formatBytes(top.rssBytes)}).`,
    0.4,
    {
      proposed_fix: top.killable ? { action: 'kill_process', params: { pid: top.pid } } : null,
      risk_level: 'high',
    },
  )
}

function cpu(e: Evidence): FaultVerdict {
  const c = knownContainer(e)
  if (c)
    return unknown(
      `Container ${c.name} is ${c.status ?? 'not running'}; its CPU alert has no fix while it does not run.`,
      0.3,
    )
  if (!e.alert.thisHost) return elsewhere(e, 'CPU is high')
  return unknown('CPU is high but no process used CPU time over the sample.', 0.2)
}

function disk(e: Evidence): FaultVerdict {
  if (!e.alert.thisHost) return elsewhere(e, 'The disk is filling')
  const s = e.sandbox
  if (!s) return unknown('The disk is filling; the sandbox could not be measured.', 0.2, { risk_level: 'medium' })
  if (s.cleanableBytes === 0)
    return unknown(
      s.totalBytes > 0
        ? `The sandbox's data/ holds ${formatBytes(s.subdirs.data.bytes)} and nothing cleanable; the space is taken by data that must be kept, or outside the sandbox.`
        : 'The sandbox is empty: the space is taken outside it.',
      0.5,
      { risk_level: 'medium' },
    )
  return unknown(
    `data/ holds most of the sandbox (${formatBytes(s.subdirs.data.bytes)}); cleaning logs, temp and cache would free only ${formatBytes(s.cleanableBytes)}.`,
    0.4,
    { risk_level: 'medium' },
  )
}

function latency(e: Evidence): FaultVerdict {
  const probes = e.probes ?? []
  const failed = probes.filter((p) => p.error || p.ok === false || (p.status !== undefined && p.status >= 500))
  const times = probes.map((p) => p.ms).filter((x): x is number => typeof x === 'number')
  if (!e.container) {
    // Why a slow downstream could not be named: the fresh probe, or this host's CPU.
    const r = e.recheck
    const host = e.host?.readings?.find((x) => x.metric === 'cpu_busy_percent')?.value
    const again = r
      ? `; probed again for this analysis it ${r.error ? `failed (${r.error})` : `answered in ${r.ms} ms`}`
      : ''
    const why = !r
      ? ''
      : r.verdict === 'under'
        ? `${again}, back under the threshold, but the series does not show a short excursion after a normal stretch, so it cannot be called transient`
        : r.verdict === 'over'
          ? `${again}, and this host's CPU is ${host !== undefined ? `${host}%` : 'unknown'}, so a slow downstream cannot be told from a busy host`
          : again
    return unknown(
      `Responses from ${e.alert.resource.name} are slow${failed.length ? ` and ${failed.length} of ${probes.length} probes failed` : ''}${why}; no container is known for it, so nothing in the catalog applies.`,
      0.3,
    )
  }
  const c = knownContainer(e)
  if (!c) return unknown(`The container behind ${e.alert.resource.name} no longer exists.`, 0.7)
  if (c.running === false)
    return verdict({
      cause: 'crash',
      root_cause: `The container behind ${e.alert.resource.name} is not running (${c.status}).`,
      evidence: [],
      proposed_fix: { action: 'restart_container', params: { containerId: c.id } },
      risk_level: 'low',
      confidence: 0.7,
    })
  if (failed.length > 0 && failed.length === probes.length)
    return unknown(
      `Every probe of ${e.alert.resource.name} failed while its container runs: the service inside is stuck.`,
      0.55,
      { proposed_fix: { action: 'restart_container', params: { containerId: c.id } } },
    )
  return unknown(
    `${e.alert.resource.name} responds slowly${times.length ? ` (up to ${Math.max(...times)} ms)` : ''} and its CPU could not be read, so a busy service cannot be told from a slow downstream; more replicas may help.`,
    0.35,
    { proposed_fix: { action: 'scale_out', params: { containerId: c.id } }, risk_level: 'medium' },
  )
}

function anomaly(e: Evidence): FaultVerdict {
  return unknown(
    `${e.alert.metric} on ${e.alert.resource.name} departs from its usual behaviour; the metric does not point to a cause the rules know, so a person should look.`,
    0.2,
  )
}

function nodeDown(e: Evidence): FaultVerdict {
  return unknown(
    `the node agent on ${e.alert.resource.name} stopped beating: the host is down, cut off from Redis, or its agent stopped; no automatic fix exists for a lost host, so a person should look.`,
    0.3,
  )
}

function serviceDegraded(e: Evidence): FaultVerdict {
  return unknown(
    `the Swarm service ${e.alert.resource.name} runs fewer tasks than it should, or its tasks keep failing; the rules read no more than the alert about it, so a person should look.`,
    0.3,
  )
}

const FALLBACKS: Record<AlertType, (e: Evidence) => FaultVerdict> = {
  container_down: containerDown,
  container_unhealthy: containerUnhealthy,
  memory,
  cpu,
  disk,
  latency,
  anomaly,
  node_down: nodeDown,
  service_degraded: serviceDegraded,
}

/** The generic answer for `type` (the alert's, or the kind an anomaly resembles). */
export function fallbackVerdict(e: Evidence, type: AlertType): FaultVerdict {
  return FALLBACKS[type](e)
}
