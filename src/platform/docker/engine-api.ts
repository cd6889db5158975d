/**
 * The one raw Docker Engine API client: GETs over the unix socket with node:http, for code that
 * runs in step processes (the analyser, the collectors, the health scores, the chaos API, the
 * logs). Importing dockerode takes hundreds of milliseconds (300 to 550 ms measured), which every
 * step invocation would pay; the actions and the event watcher, which run in the long-lived main
 * process, use dockerode (./client), whose calls are traced through the same `tracedDockerCall`.
 *
 * What a container holds (its configuration, logs, usage) is read only once the container is known
 * to carry the watch label, and that is learnt from a listing filtered by the label, never by
 * inspecting the container: a container Sentinel does not watch is not looked into at all. A
 * `WatchedContainer` can only come from that listing, so a reader that takes one cannot be handed
 * an arbitrary name from an alert.
 */
import http from 'node:http'
import { getConfig } from '../config/index'
import { childSpanActive, type SpanAttrs, withChildSpan } from '../telemetry/tracing'

/**
 * A failed Engine API call: Docker answered with an error (`statusCode`, Docker's message in the
 * message), or gave no usable answer (`code`: ENOENT, ECONNREFUSED, ETIMEDOUT, or EBADJSON for a
 * body that does not parse). The message names the call.
 */
export class EngineApiError extends Error {
  constructor(
    /** Docker's HTTP status; undefined when Docker did not answer. */
    public readonly statusCode: number | undefined,
    message: string,
    /** Why no usable answer came, when none did. */
    public readonly code?: string,
  ) {
    super(message)
    this.name = 'EngineApiError'
  }
}

export interface EngineCallOptions {
  /** Default: the configured DOCKER_SOCKET. */
  socketPath?: string
  /** How long the socket may stay silent; default 5000 ms. */
  timeoutMs?: number
}

/**
 * The span of one Engine API call: `docker.<operation>` (docker.inspect, docker.start,
 * docker.create, docker.list...) with the container it names.
 */
export function dockerSpan(method: string, apiPath: string): { name: string; attrs: SpanAttrs } {
  const pathname = apiPath.split('?')[0].replace(/^\/v[0-9.]+(?=\/)/, '')
  const attrs: SpanAttrs = { 'http.request.method': method.toUpperCase() }
  const [kind, id, verb] = pathname.split('/').filter(Boolean)
  if (kind !== 'containers' || !id) return { name: `docker.${kind ?? 'call'}`, attrs }
  if (!verb && (id === 'create' || id === 'json' || id === 'prune'))
    return { name: `docker.${id === 'json' ? 'list' : id}`, attrs }
  attrs['docker.container'] = decodeURIComponent(id)
  if (!verb) return { name: method.toUpperCase() === 'DELETE' ? 'docker.remove' : 'docker.container', attrs }
  return { name: `docker.${verb === 'json' ? 'inspect' : verb}`, attrs }
}

/** Runs one Engine API call in its span; without an active span, just the call. */
export function tracedDockerCall<T>(method: string, apiPath: string, call: () => Promise<T>): Promise<T> {
  if (!childSpanActive()) return call()
  const { name, attrs } = dockerSpan(method, apiPath)
  return withChildSpan(name, attrs, async (span) => {
    try {
      const result = await call()
      span.setAttribute('outcome', 'ok')
      return result
    } catch (err) {
      span.setAttribute('docker.status_code', (err as { statusCode?: number }).statusCode)
      throw err
    }
  })
}

/** The body of `GET apiPath`, as bytes (logs, `/_ping`), in its span. */
export function engineRequest(apiPath: string, opts: EngineCallOptions = {}): Promise<Buffer> {
  return tracedDockerCall('GET', apiPath, () => get(apiPath, opts))
}

/** The JSON body of `GET apiPath`, in its span. */
export function engineGet<T>(apiPath: string, opts: EngineCallOptions = {}): Promise<T> {
  return tracedDockerCall('GET', apiPath, async () => {
    const body = (await get(apiPath, opts)).toString('utf8')
    try {
      return JSON.parse(body) as T
    } catch (err) {
      throw new EngineApiError(undefined, `docker GET ${apiPath}: invalid JSON (${(err as Error).message})`, 'EBADJSON')
    }
  })
}

declare const listedWithTheWatchLabel: unique symbol

/** A container found in the listing filtered by the watch label (see the module's comment). */
export interface WatchedContainer {
  /** The full container id. */
  readonly id: string
  /** Without the leading slash. */
  readonly name: string
  /** Docker's state word: running, exited, created, paused, restarting, removing, dead. */
  readonly state: string
  readonly [listedWithTheWatchLabel]: true
}

interface ListedContainer {
  Id: string
  Names?: string[]
  State?: string
}

/** Every container carrying the watch label, stopped ones included. */
export async function listWatchedContainers(): Promise<WatchedContainer[]> {
  const { key, value } = getConfig().WATCH_LABEL
  const filters = encodeURIComponent(JSON.stringify({ label: [`${key}=${value}`] }))
  const listed = await engineGet<ListedContainer[]>(`/containers/json?all=1&filters=${filters}`)
  return listed.map(
    (c) => ({ id: c.Id, name: (c.Names?.[0] ?? '').replace(/^\//, ''), state: c.State ?? '' }) as WatchedContainer,
  )
}

/** The length of the short id `docker ps` prints; a shorter prefix is not taken for an id. */
export const SHORT_ID_LENGTH = 12

/**
 * The container `ref` names among `watched`, resolved as Docker resolves a reference: the full id,
 * else the name, else an id prefix (at least the short id) that only one container has. Null when
 * none matches.
 */
export function matchWatchedContainer(watched: readonly WatchedContainer[], ref: string): WatchedContainer | null {
  const wanted = ref.replace(/^\//, '')
  if (!wanted) return null
  const byId = watched.find((c) => c.id === wanted)
  if (byId) return byId
  const byName = watched.find((c) => c.name === wanted)
  if (byName) return byName
  if (wanted.length < SHORT_ID_LENGTH) return null
  const byPrefix = watched.filter((c) => c.id.startsWith(wanted))
  return byPrefix.length === 1 ? byPrefix[0] : null
}

/** The watched container `ref` names, or null when no container carrying the watch label matches. */
export async function findWatchedContainer(ref: string): Promise<WatchedContainer | null> {
  return matchWatchedContainer(await listWatchedContainers(), ref)
}

/** Docker's inspect of a watched container (by the id the listing gave, not by the caller's reference). */
export function inspectWatched<T>(container: WatchedContainer): Promise<T> {
  return engineGet<T>(`/containers/${encodeURIComponent(container.id)}/json`)
}

function get(apiPath: string, opts: EngineCallOptions): Promise<Buffer> {
  const socketPath = opts.socketPath ?? getConfig().DOCKER_SOCKET
  const timeoutMs = opts.timeoutMs ?? 5000
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath, path: apiPath, method: 'GET', timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('error', (err: NodeJS.ErrnoException) =>
        reject(new EngineApiError(undefined, `docker GET ${apiPath}: ${err.message}`, err.code)),
      )
      res.on('end', () => {
        const body = Buffer.concat(chunks)
        const status = res.statusCode ?? 500
        if (status < 400) return resolve(body)
        let message = body.toString('utf8')
        try {
          message = (JSON.parse(message) as { message?: string }).message ?? message
        } catch {}
        message = message.trim()
        reject(new EngineApiError(status, `docker GET ${apiPath}: ${status} ${message}`))
      })
    })
    req.on('timeout', () =>
      req.destroy(new EngineApiError(undefined, `docker GET ${apiPath} timed out after ${timeoutMs} ms`, 'ETIMEDOUT')),
    )
    req.on('error', (err: NodeJS.ErrnoException) =>
      reject(
        err instanceof EngineApiError
          ? err
          : new EngineApiError(undefined, `docker unreachable at ${socketPath}: ${err.code ?? err.message}`, err.code),
      ),
    )
    req.end()
  })
}
