/**
 * The evidence providers the AnalyzeIncident step hands the rule analyser, built from the flow's
 * stores: the container's recent memory and CPU and the host's latest readings from the recent
 * readings in Redis (src/observe/recent-readings.ts, what the monitor recorded), and the open and
 * earlier incidents from one page of the incident store's summaries (read once per analysis).
 */
import type { Redis } from 'ioredis'
import { RecentReadings } from '../../observe/recent-readings'
import type { IncidentStore } from '../../platform/store/incidents'
import type { ResourceRef } from '../../platform/store/model'
import type { IncidentSummary } from '../../platform/store/summary'
import type { ContainerSeries, EvidenceOptions } from './gather'
import { isThisHost } from './host'
import { CAPS } from './types'

/** Incidents read to find the open ones and this resource's earlier ones. */
const INCIDENTS_READ = 100

export function evidenceProviders(
  redis: Redis,
  store: Pick<IncidentStore, 'listStored'>,
  opts: { nodeInstance?: string; recent?: RecentReadings } = {},
): Pick<EvidenceOptions, 'containerSeries' | 'hostReadings' | 'openIncidents' | 'previousIncidents'> {
  const recent = opts.recent ?? new RecentReadings(redis)
  let page: Promise<IncidentSummary[]> | undefined
  const summaries = () =>
    (page ??= store
      .listStored({ limit: INCIDENTS_READ, view: 'summary' })
      .then((rows) => rows.map((r) => JSON.parse(r.json) as IncidentSummary)))
  return {
    containerSeries: async (c): Promise<ContainerSeries> => {
      const all = await recent.read({
        metrics: ['container_memory_bytes', 'container_memory_percent', 'container_cpu_percent'],
        maxPoints: CAPS.seriesPoints,
      })
      const mine = all.filter(
        (s) => s.resource.kind === 'container' && (s.resource.name === c.name || s.resource.id === c.id),
      )
      const pick = (metric: string) => {
        const s = mine.find((x) => x.metric === metric)
        return s ? { unit: s.unit, source: 'collectors', points: s.points } : undefined
      }
      return {
        memory: pick('container_memory_bytes'),
        memoryPercent: pick('container_memory_percent'),
        cpu: pick('container_cpu_percent'),
      }
    },
    hostReadings: async () => {
      const all = await recent.read({ metrics: ['memory_used_percent', 'cpu_busy_percent'], maxPoints: 1 })
      return all
        .filter((s) => s.resource.kind === 'host' && isThisHost(s.resource.name, opts.nodeInstance))
        .map((s) => {
          const [at, value] = s.points[s.points.length - 1]
          return { metric: s.metric, value: Math.round(value * 10) / 10, at: new Date(at).toISOString() }
        })
    },
    openIncidents: async () =>
      (await summaries())
        .filter((s) => s.statusGroup !== 'closed')
        .map((s) => ({ id: s.id, type: s.type, resource: s.resource.name, status: s.status, openedAt: s.openedAt })),
    previousIncidents: async (resource: ResourceRef, incidentId?: string) =>
      (await summaries())
        .filter((s) => s.id !== incidentId && s.resource.kind === resource.kind && s.resource.name === resource.name)
        .map((s) => s.openedAt)
        .slice(0, CAPS.previousIncidents),
  }
}
