/**
 * A minimal read-only Docker Engine API client over the unix socket, for step processes:
 * dockerode costs ~150 ms to import, which every step invocation would pay. Actions and the
 * event watcher, which run in the long-lived main process, use dockerode.
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

export class EngineApiError extends Error {
  constructor(
    public readonly statusCode: number,
    message: string,
  ) {
    super(message)
    this.name = 'EngineApiError'
  }
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
  if (!verb && (id === 'create' || id === 'json' || id === 'prune')) return { name: `docker.${id === 'json' ? 'list' : id}`, attrs }
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

export function engineGet<T>(apiPath: string, timeoutMs = 5000): Promise<T> {
  return tracedDockerCall('GET', apiPath, () => get<T>(apiPath, timeoutMs))
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
  return listed.map((c) => ({ id: c.Id, name: (c.Names?.[0] ?? '').replace(/^\//, ''), state: c.State ?? '' }) as WatchedContainer)
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

function get<T>(apiPath: string, timeoutMs: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { socketPath: getConfig().DOCKER_SOCKET, path: apiPath, method: 'GET', timeout: timeoutMs },
      (res) => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('end', () => {
          const body = Buffer.concat(chunks).toString('utf8')
          if ((res.statusCode ?? 500) >= 400) {
            let message = body
            try {
              message = (JSON.parse(body) as { message?: string }).message ?? body
            } catch {}
            reject(new EngineApiError(res.statusCode ?? 500, message))
            return
          }
          try {
            resolve(JSON.parse(body) as T)
          } catch (err) {
            reject(err)
          }
        })
      },
    )
    req.on('timeout', () => req.destroy(new Error(`docker GET ${apiPath} timed out after ${timeoutMs} ms`)))
    req.on('error', reject)
    req.end()
  })
}
