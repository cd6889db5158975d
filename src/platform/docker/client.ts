/**
 * Docker access through dockerode. Only containers carrying the watch label are ever acted on;
 * `assertWatched` is the gate every action goes through.
 */
import { existsSync } from 'node:fs'
import type Docker from 'dockerode'
import { getConfig } from '../config/index'
import { childSpanActive } from '../telemetry/tracing'
import { engineGet, findWatchedContainer, tracedDockerCall } from './engine-api'

let docker: Docker | undefined

/** dockerode, loaded on first use (it is heavy; read-only callers use engine-api instead). */
export async function getDocker(): Promise<Docker> {
  if (!docker) {
    const { default: Dockerode } = await import('dockerode')
    docker = new Dockerode({ socketPath: getConfig().DOCKER_SOCKET })
    traceModem(docker.modem as unknown as Modem)
  }
  return docker
}

type DialCallback = (err: unknown, data?: unknown) => void
interface Modem {
  dial(options: { path: string; method: string }, callback: DialCallback): void
}

/**
 * Every dockerode call (start, restart, update, create, inspect...) goes through the modem's
 * dial: tracing it there gives each one a `docker.*` child span without touching the actions.
 */
function traceModem(modem: Modem): void {
  const dial = modem.dial.bind(modem)
  modem.dial = (options, callback) => {
    if (!childSpanActive()) return dial(options, callback)
    // The path is read now: dial prefixes it with the API version.
    let answer: { err: unknown; data?: unknown } | undefined
    tracedDockerCall(
      options.method,
      options.path,
      () =>
        new Promise<void>((resolve, reject) =>
          dial(options, (err, data) => {
            answer = { err, data }
            if (err) reject(err)
            else resolve()
          }),
        ),
    ).then(
      () => callback(null, answer!.data),
      (err) => callback(answer ? answer.err : err),
    )
  }
}

export function dockerSocketPresent(): boolean {
  return existsSync(getConfig().DOCKER_SOCKET)
}

export class NotWatchedError extends Error {
  constructor(containerId: string) {
    super(`container ${containerId} does not carry the watch label; Sentinel will not touch it`)
    this.name = 'NotWatchedError'
  }
}

export function isWatchedLabels(labels: Record<string, string> | undefined | null): boolean {
  const { key, value } = getConfig().WATCH_LABEL
  return !!labels && labels[key] === value
}

export type ContainerInfo = Awaited<ReturnType<Docker.Container['inspect']>>

export async function inspectContainer(id: string): Promise<ContainerInfo> {
  return engineGet<ContainerInfo>(`/containers/${encodeURIComponent(id)}/json`)
}

/** Inspects the container and throws unless it carries the watch label. */
/**
 * The container `ref` names, when it carries the watch label. It is looked up in a listing
 * filtered by the label first, so an unwatched container is never inspected; the inspect's labels
 * are checked again, in case the container was replaced in between.
 */
export async function assertWatched(ref: string): Promise<ContainerInfo> {
  const watched = await findWatchedContainer(ref)
  if (!watched) throw new NotWatchedError(ref)
  const info = await inspectContainer(watched.id)
  if (!isWatchedLabels(info.Config.Labels)) throw new NotWatchedError(ref)
  return info
}

export function containerName(info: Pick<ContainerInfo, 'Name'>): string {
  return info.Name.replace(/^\//, '')
}

/** True when Docker itself will restart the container (its restart policy covers this exit). */
export function dockerWillRestart(info: ContainerInfo): boolean {
  const policy = info.HostConfig?.RestartPolicy?.Name ?? ''
  if (policy === 'always' || policy === 'unless-stopped') return true
  if (policy === 'on-failure') {
    const max = info.HostConfig?.RestartPolicy?.MaximumRetryCount ?? 0
    return info.State.ExitCode !== 0 && (max === 0 || info.RestartCount < max)
  }
  return false
}

export type ContainerHealth = 'running' | 'healthy' | 'starting' | 'unhealthy' | 'not_running' | 'missing'

export async function containerHealth(id: string): Promise<{ health: ContainerHealth; info?: ContainerInfo }> {
  let info: ContainerInfo
  try {
    info = await inspectContainer(id)
  } catch (err) {
    if ((err as { statusCode?: number }).statusCode === 404) return { health: 'missing' }
    throw err
  }
  if (!info.State.Running || info.State.Restarting) return { health: 'not_running', info }
  const h = info.State.Health?.Status
  if (!h || h === 'none') return { health: 'running', info }
  if (h === 'healthy') return { health: 'healthy', info }
  if (h === 'starting') return { health: 'starting', info }
  return { health: 'unhealthy', info }
}

export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms)
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer)) as Promise<T>
}
