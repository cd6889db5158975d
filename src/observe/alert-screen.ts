/**
 * Alerts that name a container (Alertmanager's webhook, the monitor) follow the event path's
 * rules, whatever the alert says: a container without the watch label is neither looked into nor
 * acted on, and a watched one that was removed or stopped on purpose is left as it is. Alertmanager
 * only knows that a container is down, not why; the event path saw why.
 *
 * Whether a container is watched comes from the listing filtered by the watch label, never from
 * inspecting it: a name in an alert (anyone with an operator key can send one) must not make
 * Sentinel look into a container it does not watch.
 */
import { getConfig } from '../platform/config/index'
import {
  inspectWatched,
  listWatchedContainers,
  matchWatchedContainer,
  type WatchedContainer,
} from '../platform/docker/engine-api'
import { containerRef, type Alert } from '../platform/store/model'
import type { StoppedOnPurpose, StopRecord } from './stopped-on-purpose'

export interface ScreenedAlert {
  /** The alert, its container resource named by full id and name when it is a watched container. */
  alert: Alert
  /** Why Sentinel leaves it alone, or null when it goes into the flow. */
  leaveAlone: string | null
}

export async function screenContainerAlerts(
  alerts: Alert[],
  deps: { stops: StoppedOnPurpose; log?: (msg: string, data: Record<string, unknown>) => void },
): Promise<ScreenedAlert[]> {
  const refs = alerts.map(containerRef)
  const pass = () => alerts.map((alert) => ({ alert, leaveAlone: null }))
  if (!refs.some(Boolean)) return pass()
  let watched: WatchedContainer[]
  try {
    watched = await listWatchedContainers()
  } catch (err) {
    // Docker not answering (perhaps the very problem alerted on): the alerts go on; the analysis
    // asks the same listing before it reads anything, and no fix runs without Docker.
    deps.log?.('could not list the watched containers; container alerts go on unscreened', {
      error: (err as Error).message,
    })
    return pass()
  }
  const { key, value } = getConfig().WATCH_LABEL
  return Promise.all(
    alerts.map(async (alert, n): Promise<ScreenedAlert> => {
      const ref = refs[n]
      if (!ref) return { alert, leaveAlone: null }
      const container = matchWatchedContainer(watched, ref)
      if (!container) {
        return {
          alert,
          leaveAlone: `no container carrying the watch label ${key}=${value} answers to "${ref}" (removed, or not watched): Sentinel neither looks into it nor acts on it`,
        }
      }
      // The resource by full id, as the event path names it: the fix the analysis proposes (by
      // id) is then recognisably aimed at the incident's own container.
      const named =
        alert.resource.kind === 'container'
          ? { ...alert, resource: { ...alert.resource, id: container.id, name: container.name } }
          : alert
      if (container.state === 'removing' || container.state === 'dead') {
        return { alert: named, leaveAlone: `container ${container.name} is being removed: nothing to heal` }
      }
      if (container.state === 'exited' || container.state === 'created') {
        const stop = await deps.stops.get(container.id)
        if (stop && (await endedTheLastRun(container, stop))) {
          return {
            alert: named,
            leaveAlone: `container ${container.name} was stopped on purpose (${stop.how}, at ${stop.at}): it stays stopped whatever the alert says`,
          }
        }
      }
      return { alert: named, leaveAlone: null }
    }),
  )
}

/** A stop recorded before the container's latest start says nothing about this run (a start the event path did not see). */
async function endedTheLastRun(container: WatchedContainer, stop: StopRecord): Promise<boolean> {
  try {
    const info = await inspectWatched<{ State?: { StartedAt?: string } }>(container)
    const startedMs = Date.parse(info.State?.StartedAt ?? '')
    return !(startedMs > Date.parse(stop.at))
  } catch {
    // Cannot tell: the record stands, as leaving a container stopped is the safe side.
    return true
  }
}
