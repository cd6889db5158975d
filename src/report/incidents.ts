/** Listing and reading incidents for the API. */
import { z } from 'zod'
import type { IncidentStore } from '../platform/store/incidents'
import { groupOf, INCIDENT_STATUSES, STATUS_GROUPS } from '../platform/store/lifecycle'
import type { Incident } from '../platform/store/model'
import { firstValue } from '../platform/http/requests'

export const listQuery = z.object({
  /** The statuses and their groups are the lifecycle's (src/platform/store/lifecycle.ts). */
  status: z.preprocess(firstValue, z.enum(INCIDENT_STATUSES).optional()),
  /** active (Sentinel is on it), needs_person (awaiting approval, escalated) or closed. */
  group: z.preprocess(firstValue, z.enum(STATUS_GROUPS).optional()),
  severity: z.preprocess(firstValue, z.enum(['critical', 'warning', 'info']).optional()),
  type: z.preprocess(firstValue, z.string().max(64).optional()),
  resource: z.preprocess(firstValue, z.string().max(256).optional()),
  since: z.preprocess(firstValue, z.iso.datetime({ offset: true }).optional()),
  until: z.preprocess(firstValue, z.iso.datetime({ offset: true }).optional()),
  limit: z.preprocess(firstValue, z.coerce.number().int().min(1).max(200).default(50)),
  cursor: z.preprocess(firstValue, z.string().regex(/^\d+$/, 'a cursor from a previous page').optional()),
  /** summary (default): what a list shows; full: every incident whole, as GET /api/incidents/:id gives it. */
  view: z.preprocess(firstValue, z.enum(['summary', 'full']).default('summary')),
})
export type ListQuery = z.infer<typeof listQuery>

/** A page of incidents as JSON text, ready to send (the API serves it as is). */
export interface IncidentPage {
  json: string
  count: number
}

const hasFilter = (q: ListQuery) => !!(q.status || q.group || q.severity || q.type || q.resource)

/**
 * One page, newest first: summaries by default (`view=full` for whole incidents), as the stored
 * JSON texts joined: the list is the API's most frequent call, and parsing then re-serialising
 * 50 incidents of ~4 KB each was most of its cost. Filtered pages parse to test each one.
 */
export async function listIncidentsJson(store: IncidentStore, q: ListQuery): Promise<IncidentPage> {
  const texts: string[] = []
  let lastOpenedMs: number | undefined
  let before = q.cursor ? Number(q.cursor) : q.until ? Date.parse(q.until) + 1 : undefined
  const after = q.since ? Date.parse(q.since) : undefined
  const filtered = hasFilter(q)
  const matches = (i: Pick<Incident, 'status' | 'severity' | 'type' | 'resource'>) =>
    (!q.status || i.status === q.status) &&
    (!q.group || groupOf(i.status) === q.group) &&
    (!q.severity || i.severity === q.severity) &&
    (!q.type || i.type === q.type) &&
    (!q.resource || i.resource.name === q.resource || i.resource.id === q.resource)
  // Scan pages of the time index until the page is full or the index runs out; unfiltered, the
  // first page read is the answer.
  const pageSize = filtered ? 200 : q.limit
  for (let scanned = 0; texts.length < q.limit && scanned < 20_000;) {
    const page = await store.listStored({ limit: pageSize, beforeMs: before, afterMs: after, view: q.view })
    if (page.length === 0) break
    scanned += page.length
    for (const stored of page) {
      if (filtered && !matches(JSON.parse(stored.json) as Pick<Incident, 'status' | 'severity' | 'type' | 'resource'>))
        continue
      texts.push(stored.json)
      lastOpenedMs = stored.openedMs
      if (texts.length === q.limit) break
    }
    before = page[page.length - 1].openedMs
    if (page.length < pageSize) break
  }
  const nextCursor =
    texts.length === q.limit && lastOpenedMs !== undefined ? JSON.stringify(String(lastOpenedMs)) : 'null'
  return { json: `{"incidents":[${texts.join(',')}],"nextCursor":${nextCursor}}`, count: texts.length }
}
