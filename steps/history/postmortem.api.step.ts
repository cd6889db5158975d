import type { ApiRouteConfig } from 'motia'
import type { ApiStep } from '../../src/platform/events/steps'
import { protect } from '../../middlewares/api.middleware'
import { historyArchive } from '../../src/history/archive/open'
import type { SqlClient } from '../../src/history/archive/sql'
import { postmortemFor } from '../../src/history/postmortem'
import { isArchiveUnavailable } from '../../src/history/unavailable'
import { HttpError, notFound, parseOr400 } from '../../src/platform/http/errors'
import { incidentIdPath } from '../../src/platform/http/requests'
import { AuditLog } from '../../src/platform/store/audit'
import { IncidentStore } from '../../src/platform/store/incidents'

export const config = {
  type: 'api',
  name: 'GetPostmortem',
  description:
    'The postmortem of an incident as Markdown (JSON { markdown, draftedBy, stored } with Accept: application/json): the stored one, else written now from the incident',
  path: '/api/incidents/:id/postmortem',
  method: 'GET',
  emits: [],
  flows: ['sentinel'],
  middleware: protect('read'),
} satisfies ApiRouteConfig

export const handler: ApiStep<typeof config> = async (req, { logger }) => {
  const { id } = parseOr400(incidentIdPath, req.pathParams, 'path')
  const deps = { store: new IncidentStore(), audit: new AuditLog() }
  // Redis still holds the recent incidents: without the archive, the postmortem is written from there.
  const archiveDown = (err: unknown) =>
    logger.warn('the incident archive is unavailable; the postmortem is written from Redis', {
      error: (err as Error).message,
    })
  let db: SqlClient | null = null
  try {
    db = await historyArchive()
  } catch (err) {
    archiveDown(err)
  }
  let served
  try {
    served = await postmortemFor(id, { ...deps, db })
  } catch (err) {
    if (!db || err instanceof HttpError || !isArchiveUnavailable(err)) throw err
    archiveDown(err)
    served = await postmortemFor(id, { ...deps, db: null })
  }
  if (!served) throw notFound(`incident ${id}`)
  const accept = String(req.headers.accept ?? '')
  if (/\bapplication\/json\b/i.test(accept) && !/\btext\/markdown\b/i.test(accept)) return { status: 200, body: served }
  return {
    status: 200,
    headers: { 'Content-Type': 'text/markdown; charset=utf-8', 'X-Postmortem-Drafted-By': served.draftedBy },
    body: served.markdown,
  }
}
