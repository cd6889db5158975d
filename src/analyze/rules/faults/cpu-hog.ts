/**
 * A CPU hog, one process using its cores. In a watched container the container is scaled out (its
 * CPU alert) or restarted (a host alert whose busiest process runs in it); on this host the process
 * may be killed, by an admin, when it is one Sentinel may kill. An alert about another host names
 * no process here.
 */
import type { Evidence } from '../../evidence/types'
import { knownContainer, verdict, type FaultRule } from './types'

/** CPU percent of one core at or above which a container or process is taken as saturated. */
export const BUSY_PERCENT = 80

export function judgeCpuHog(e: Evidence) {
  const c = knownContainer(e)
  const top = e.processes?.byCpu?.[0]
  if (c) {
    if (!c.running) return null
    const cpu = c.usage?.cpuPercent
    const inside = (e.processes?.byCpu ?? []).find((p) => p.containerId && c.id.startsWith(p.containerId))
    const busy = cpu !== undefined && cpu >= BUSY_PERCENT
    // A latency alert is a CPU problem only when the container is saturated.
    if (e.alert.type === 'latency' && !busy) return null
    const ev = [
      ...(cpu !== undefined ? [`container ${c.name} at ${cpu}% CPU`] : []),
      ...(inside ? [`pid ${inside.pid} ${inside.name} in it at ${inside.cpuPercent}% CPU over the sample`] : []),
    ]
    return verdict({
      cause: 'cpu_hog',
      root_cause:
        e.alert.type === 'latency'
          ? `${e.alert.resource.name} is slow because its container is CPU-saturated (${cpu}%): more replicas would share the load.`
          : `Container ${c.name} is CPU-bound${cpu !== undefined ? ` (${cpu}% CPU)` : ''}${inside ? `, in ${inside.name} (pid ${inside.pid}, ${inside.cpuPercent}%)` : ''}: more replicas would share the load.`,
      evidence: ev,
      proposed_fix: { action: 'scale_out', params: { containerId: c.id } },
      risk_level: 'medium',
      confidence: busy ? 0.6 : 0.5,
    })
  }
  if (e.alert.type !== 'cpu' || !e.alert.thisHost || !top) return null
  const ev = [`pid ${top.pid} ${top.name} (${top.command}) at ${top.cpuPercent}% CPU over the sample`]
  if (top.containerId) {
    const watched = top.containerWatched === true
    return verdict({
      cause: 'cpu_hog',
      root_cause: `Process ${top.name} (pid ${top.pid}) in container ${top.containerId.slice(0, 12)} uses the most CPU (${top.cpuPercent}%).`,
      evidence: watched
        ? ev
        : [
            ...ev,
            `container ${top.containerId.slice(0, 12)} does not carry the watch label (or Docker could not say): Sentinel does not act on it`,
          ],
      proposed_fix: watched ? { action: 'restart_container', params: { containerId: top.containerId } } : null,
      risk_level: 'low',
      confidence: 0.45,
    })
  }
  const hog = (top.cpuPercent ?? 0) >= BUSY_PERCENT
  return verdict({
    cause: 'cpu_hog',
    root_cause: `Process ${top.name} (pid ${top.pid}) uses the most CPU on the host (${top.cpuPercent}% of a core over the sample)${hog ? ': a runaway process' : ''}.`,
    evidence: top.killable ? ev : [...ev, `pid ${top.pid} is one Sentinel never kills`],
    proposed_fix: top.killable ? { action: 'kill_process', params: { pid: top.pid } } : null,
    risk_level: 'high',
    confidence: hog ? 0.6 : 0.4,
  })
}

export const cpuHog: FaultRule = { cause: 'cpu_hog', appliesTo: ['cpu', 'latency'], judge: judgeCpuHog }
