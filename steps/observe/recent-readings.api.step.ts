import type { ApiRouteConfig } from 'motia'
import type { ApiStep } from '../../src/platform/events/steps'
import { protect } from '../../middlewares/api.middleware'
import { parseOr400 } from '../../src/platform/http/errors'
import { RecentReadings, recentReadingsBody, recentReadingsQuery } from '../../src/observe/recent-readings'
import { getRedis } from '../../src/platform/store/redis'

export const config = {
  type: 'api',
  name: 'RecentReadings',
  description:
    'The readings of the last hour per series (what the monitor recorded each tick), for the dashboard to draw its charts on load',
  path: '/api/readings/recent',
  method: 'GET',
  emits: [],
  flows: ['sentinel'],
  middleware: protect('read'),
  queryParams: [
    { name: 'minutes', description: 'how far back: 1 to 60 (default 60)' },
    {
      name: 'metric',
      description:
        'only these metrics, repeated or comma-separated (cpu_busy_percent, memory_used_percent, disk_used_percent, latency_ms, container_cpu_percent...)',
    },
    { name: 'maxPoints', description: 'at most this many points per series, evenly thinned: 2 to 3600 (default 720)' },
  ],
} satisfies ApiRouteConfig

// One store per process (the API runs in the main process: no client per request).
let recent: RecentReadings | undefined
const store = () => (recent ??= new RecentReadings(getRedis()))

export const handler: ApiStep<typeof config> = async (req) => {
  const q = parseOr400(recentReadingsQuery, req.queryParams, 'query')
  return { status: 200, body: await recentReadingsBody(store(), q) }
}
