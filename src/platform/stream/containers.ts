/**
 * The status of every watched container, kept in the main process from Docker's event stream and
 * published to the live stream as `container` events, so a dashboard card turns red the moment a
 * container dies and green when it runs again, without waiting for the next monitor tick.
 *
 * It only reports; it never acts. Events older than the last thing known about a container are
 * ignored: the watcher replays missed events after a restart, and the seed (a container listing
 * taken at start) is newer than any of them.
 */
import type { DockerEvent } from '../docker/events'

export type ContainerState = 'running' | 'down' | 'restarting' | 'paused' | 'removed'

export interface ContainerStatus {
  id: string
  name: string
  state: ContainerState
  /** From the container's health check, when it has one. */
  health?: 'healthy' | 'unhealthy' | 'starting'
  /** Times it came back after dying, since Sentinel started watching. */
  restarts: number
  exitCode?: number
  oomKilled?: boolean
  image?: string
  /** When the state last changed (ISO). */
  since: string
}

/** What a container listing gives for one container (dockerode's listContainers fits). */
export interface ListedContainer {
  Id: string
  Names?: string[]
  Image?: string
  State?: string
  Status?: string
  Labels?: Record<string, string>
}

export interface ContainerFeedOptions {
  isWatched: (labels: Record<string, string> | undefined) => boolean
  publish: (status: ContainerStatus) => void
  now?: () => number
}

const WATCH_EVENTS = new Set(['start', 'die', 'restart', 'pause', 'unpause', 'destroy', 'oom'])

function stateOfListing(state: string | undefined): ContainerState {
  if (state === 'running') return 'running'
  if (state === 'restarting') return 'restarting'
  if (state === 'paused') return 'paused'
  return 'down'
}

function healthOfStatus(status: string | undefined): ContainerStatus['health'] {
  if (!status) return undefined
  if (status.includes('(healthy)')) return 'healthy'
  if (status.includes('(unhealthy)')) return 'unhealthy'
  if (status.includes('(health: starting)')) return 'starting'
  return undefined
}

export class ContainerStatusFeed {
  private readonly byId = new Map<string, ContainerStatus & { atNano: number }>()
  private readonly now: () => number

  constructor(private readonly opts: ContainerFeedOptions) {
    this.now = opts.now ?? Date.now
  }

  /** Seeds the table from a listing of all containers (running or not) taken now. */
  seed(listing: ListedContainer[]): void {
    const atNano = this.now() * 1e6
    for (const c of listing) {
      if (!this.opts.isWatched(c.Labels)) continue
      const prev = this.byId.get(c.Id)
      if (prev && prev.atNano > atNano) continue
      const status = {
        id: c.Id,
        name: (c.Names?.[0] ?? c.Id.slice(0, 12)).replace(/^\//, ''),
        image: c.Image,
        state: stateOfListing(c.State),
        health: healthOfStatus(c.Status),
        restarts: prev?.restarts ?? 0,
        since: new Date(this.now()).toISOString(),
        atNano,
      }
      this.byId.set(c.Id, status)
    }
  }

  /** Takes one Docker event; publishes the container's new status when it changed. */
  onEvent(event: DockerEvent): void {
    if (event.Type !== 'container') return
    const attrs = event.Actor.Attributes ?? {}
    const action = event.Action.startsWith('health_status') ? 'health_status' : event.Action
    if (action !== 'health_status' && !WATCH_EVENTS.has(action)) return
    if (!this.opts.isWatched(attrs)) return
    const id = event.Actor.ID
    const prev = this.byId.get(id)
    if (prev && event.timeNano < prev.atNano) return
    const next: ContainerStatus & { atNano: number } = {
      id,
      name: attrs.name ?? prev?.name ?? id.slice(0, 12),
      image: attrs.image ?? prev?.image,
      state: prev?.state ?? 'running',
      health: prev?.health,
      restarts: prev?.restarts ?? 0,
      exitCode: prev?.exitCode,
      oomKilled: prev?.oomKilled,
      since: prev?.since ?? new Date(event.time * 1000).toISOString(),
      atNano: event.timeNano,
    }
    switch (action) {
      case 'start':
      case 'restart':
        if (prev && (prev.state === 'down' || prev.state === 'restarting')) next.restarts++
        next.state = 'running'
        next.health = undefined
        next.exitCode = undefined
        next.oomKilled = undefined
        break
      case 'die':
        next.state = 'down'
        next.health = undefined
        next.exitCode =
          attrs.exitCode !== undefined && /^\d+$/.test(attrs.exitCode) ? Number(attrs.exitCode) : undefined
        break
      case 'oom':
        next.oomKilled = true
        break
      case 'pause':
        next.state = 'paused'
        break
      case 'unpause':
        next.state = 'running'
        break
      case 'destroy':
        next.state = 'removed'
        break
      case 'health_status': {
        const h = event.Action.slice('health_status'.length).replace(/^:\s*/, '')
        next.health = h === 'healthy' || h === 'unhealthy' || h === 'starting' ? h : undefined
        break
      }
    }
    if (next.state !== prev?.state) next.since = new Date(Math.floor(event.timeNano / 1e6)).toISOString()
    if (next.state === 'removed') this.byId.delete(id)
    else this.byId.set(id, next)
    const { atNano: _drop, ...status } = next
    this.opts.publish(status)
  }

  /** Every watched container's status, by name. */
  list(): ContainerStatus[] {
    return [...this.byId.values()].map(({ atNano: _drop, ...s }) => s).sort((a, b) => a.name.localeCompare(b.name))
  }
}
