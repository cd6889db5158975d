/**
 * A minimal read-only Docker Engine API client over the unix socket, for step processes:
 * dockerode costs ~150 ms to import, which every step invocation would pay. Actions and the
 * event watcher, which run in the long-lived main process, use dockerode.
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
