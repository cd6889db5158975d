/** Listing and reading incidents for the API. */
import { z } from 'zod'
import type { IncidentStore } from '../store/incidents'
import type { Incident } from '../store/model'

const one = (v: unknown) => (Array.isArray(v) ? v[0] : v)

export const listQuery = z.object({
  status: z.preprocess(one, z.enum(['open', 'analyzing', 'awaiting_approval', 'remediating', 'verifying', 'resolved', 'escalated', 'suppressed']).optional()),
  severity: z.preprocess(one, z.enum(['critical', 'warning', 'info']).optional()),
  type: z.preprocess(one, z.string().max(64).optional()),
  resource: z.preprocess(one, z.string().max(256).optional()),
  since: z.preprocess(one, z.iso.datetime({ offset: true }).optional()),
  until: z.preprocess(one, z.iso.datetime({ offset: true }).optional()),
  limit: z.preprocess(one, z.coerce.number().int().min(1).max(200).default(50)),
  cursor: z.preprocess(one, z.string().regex(/^\d+$/, 'a cursor from a previous page').optional()),
})
export type ListQuery = z.infer<typeof listQuery>

export async function listIncidents(store: IncidentStore, q: ListQuery): Promise<{ incidents: Incident[]; nextCursor: string | null }> {
  const out: Incident[] = []
  let before = q.cursor ? Number(q.cursor) : q.until ? Date.parse(q.until) + 1 : undefined
  const after = q.since ? Date.parse(q.since) : undefined
  const matches = (i: Incident) =>
    (!q.status || i.status === q.status) &&
    (!q.severity || i.severity === q.severity) &&
    (!q.type || i.type === q.type) &&
    (!q.resource || i.resource.name === q.resource || i.resource.id === q.resource)
  // Scan pages of the time index until the page is full or the index runs out.
  for (let scanned = 0; out.length < q.limit && scanned < 20_000; ) {
    const page = await store.list({ limit: 200, beforeMs: before, afterMs: after })
    if (page.length === 0) break
    scanned += page.length
    for (const inc of page) {
      if (matches(inc)) out.push(inc)
      if (out.length === q.limit) break
    }
    before = Date.parse(page[page.length - 1].openedAt)
    if (page.length < 200) break
  }
  const last = out[out.length - 1]
  return { incidents: out, nextCursor: out.length === q.limit && last ? String(Date.parse(last.openedAt)) : null }
}
