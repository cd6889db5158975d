import type { ApiRouteConfig } from 'motia'
import type { ApiStep } from '../../src/platform/events/steps'
import { protect } from '../../middlewares/api.middleware'
import { notFound, parseOr400 } from '../../src/platform/http/errors'
import { incidentIdPath } from '../../src/platform/http/requests'
import { archivedIncident } from '../../src/history/query'
import { withArchive } from '../../src/history/unavailable'

export const config = {
  type: 'api',
  name: 'HistoryIncident',
  description: 'One archived incident whole, with its audit entries (oldest first) and its postmortem',
  path: '/api/history/:id',
  method: 'GET',
  emits: [],
  flows: ['sentinel'],
  middleware: protect('read'),
} satisfies ApiRouteConfig

export const handler: ApiStep<typeof config> = async (req, { logger }) => {
  const { id } = parseOr400(incidentIdPath, req.pathParams, 'path')
  return withArchive(
    async (db) => {
      const found = await archivedIncident(db, id)
      if (!found) throw notFound(`archived incident ${id}`)
      return { status: 200, body: found }
    },
    (msg, data) => logger.warn(msg, data),
  )
}
