/**
 * A minimal read-only Docker Engine API client over the unix socket, for step processes:
 * dockerode costs ~150 ms to import, which every step invocation would pay. Actions and the
 * event watcher, which run in the long-lived main process, use dockerode.
 */
import http from 'node:http'
import { getConfig } from '../config/index'

export class EngineApiError extends Error {
  constructor(
    public readonly statusCode: number,
    message: string,
  ) {
    super(message)
    this.name = 'EngineApiError'
  }
}

export function engineGet<T>(apiPath: string, timeoutMs = 5000): Promise<T> {
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
