/**
 * The live stream's routes, served by the main process (a step process cannot hold a connection):
 *
 * - `POST /api/stream/token` (any role, API key in a header): a stream token valid for
 *   STREAM_TOKEN_TTL_SECONDS (a minute by default).
 *   EventSource cannot send headers, so the browser shows this token in the URL instead of its key.
 * - `GET /api/stream?token=...`: Server-Sent Events (curl users fetch a token first, too: one way
 *   in, and the key never appears in a URL or a proxy's access log).
 * - `GET /api/containers` (viewer): the current status of every watched container, so a page that
 *   just loaded has cards before the first `container` event.
 */
import type { Response, Router } from 'express'
import { checkApiRequest } from '../../platform/http/auth-context'
import { issueStreamToken } from '../../platform/auth/index'
import { getConfig } from '../../platform/config/index'
import type { CheckResult } from '../../platform/auth/index'
import type { StreamHub } from '../../platform/stream/hub'
import type { ContainerStatus } from '../../platform/stream/containers'

export interface StreamRouteDeps {
  hub: StreamHub
  containers: () => ContainerStatus[]
}

function refuse(res: Response, auth: CheckResult): void {
  if (auth.retryAfter) res.setHeader('Retry-After', String(auth.retryAfter))
  res.status(auth.status).json({ error: auth.error, message: auth.message })
}

export function mountStream(app: Router, deps: StreamRouteDeps): void {
  const ttlSeconds = getConfig().STREAM_TOKEN_TTL_SECONDS
  app.post('/api/stream/token', async (req, res) => {
    // A stream token is only ever obtained with a real key: never by showing another token.
    const auth = await checkApiRequest(req.headers, 'read')
    if (auth.status !== 200) return refuse(res, auth)
    const { token, expiresAt } = issueStreamToken(auth.role!, auth.keyId!, ttlSeconds)
    res.setHeader('Cache-Control', 'no-store')
    res.json({ token, expiresAt, ttlSeconds })
  })

  // The hub checks the token (and answers 401 without one).
  app.get('/api/stream', (req, res) => deps.hub.handler(req, res))

  app.get('/api/containers', async (req, res) => {
    const auth = await checkApiRequest(req.headers, 'read')
    if (auth.status !== 200) return refuse(res, auth)
    res.setHeader('Cache-Control', 'no-store')
    res.json({ containers: deps.containers() })
  })
}
