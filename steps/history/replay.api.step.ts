import type { ApiRouteConfig } from 'motia'
import type { ApiStep } from '../../src/platform/events/steps'
import { protect } from '../../middlewares/api.middleware'
import { parseReplayRequest, replayBody, runReplay } from '../../src/history/replay'
import { withArchive } from '../../src/history/unavailable'
import { getConfig } from '../../src/platform/config/index'
import { caller } from '../../src/platform/http/requests'
import { AuditLog } from '../../src/platform/store/audit'

export const config = {
  type: 'api',
  name: 'ReplayPolicy',
  description:
    'Replay archived incidents of a period through the current policy or overrides of it: what it would decide now next to what it decided then. Nothing runs (admin)',
  path: '/api/replay',
  method: 'POST',
  emits: [],
  flows: ['sentinel'],
  middleware: protect('replay'),
  bodySchema: replayBody,
} satisfies ApiRouteConfig

export const handler: ApiStep<typeof config> = async (req, { logger }) => {
  const { keyId } = caller(req.headers)
  const request = parseReplayRequest(req.body)
  return withArchive(
    async (db) => ({
      status: 200,
      body: await runReplay(request, `key:${keyId}`, { db, config: getConfig(), audit: new AuditLog() }),
    }),
    (msg, data) => logger.warn(msg, data),
  )
}
