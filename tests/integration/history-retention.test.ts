/**
 * Retention end to end on a real Sentinel: an incident resolved longer ago than
 * INCIDENT_RETENTION_DAYS leaves Redis at the next sweep (one runs at every start), and the
 * history API still answers for it from the archive, whole, with its audit entries.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { sleep, waitFor } from '../helpers/ports'
import { startRedis, type TestRedis } from '../helpers/redis'
import { PROJECT_ROOT, type SentinelInstance, startSentinel } from '../helpers/sentinel'

// 0.0001 days: 8.64 s.
const RETENTION_DAYS = 0.0001
const RETENTION_MS = RETENTION_DAYS * 86_400_000

/** The README's Alertmanager example, about an endpoint of this test's own. */
function webhook(file: string, url: string): unknown {
  const text = readFileSync(path.join(PROJECT_ROOT, 'examples', file), 'utf8')
  return JSON.parse(text.replaceAll('http://shop.example.invalid/health', url))
}

describe('retention: Redis lets go, the archive keeps', () => {
  let redis: TestRedis
  let sentinel: SentinelInstance
  const url = `http://retention-${randomBytes(4).toString('hex')}.example.invalid/health`

  before(async () => {
    redis = await startRedis()
    sentinel = await startSentinel({
      redisPort: redis.port,
      env: { INCIDENT_RETENTION_DAYS: String(RETENTION_DAYS) },
    })
  })
  after(async () => {
    await sentinel?.cleanup()
    await redis?.stop()
  })

  it('an incident resolved past the retention is gone from Redis and still in the history', async () => {
    const fired = await sentinel.post('/api/alerts/alertmanager', webhook('alertmanager-payload.json', url), 'operator')
    assert.equal(fired.status, 200, JSON.stringify(fired.body))
    const [id] = fired.body.opened as string[]
    assert.ok(id, 'an incident opened')
    // Let the flow finish with it (it cannot fix an endpoint: it escalates), then the alert clears.
    await waitFor(async () => (await sentinel.get(`/api/incidents/${id}`, 'viewer')).body?.status === 'escalated', {
      timeoutMs: 30_000,
      what: 'the incident to be escalated',
    })
    const cleared = await sentinel.post(
      '/api/alerts/alertmanager',
      webhook('alertmanager-resolved.json', url),
      'operator',
    )
    assert.deepEqual(cleared.body.resolved, [id])
    const resolved = (await sentinel.get(`/api/incidents/${id}`, 'viewer')).body

    // Archived at its last version (the archiver copies within seconds).
    await waitFor(
      async () => {
        const h = await sentinel.get(`/api/history/${id}`, 'viewer')
        return h.status === 200 && h.body.incident.version === resolved.version
      },
      { timeoutMs: 30_000, what: 'the resolved incident to be archived' },
    )

    // Past the retention, a restart sweeps (once at start).
    const waitMs = Date.parse(resolved.resolvedAt ?? resolved.updatedAt) + RETENTION_MS + 1000 - Date.now()
    if (waitMs > 0) await sleep(waitMs)
    await sentinel.stop()
    await sentinel.restart()
    await waitFor(async () => (await sentinel.get(`/api/incidents/${id}`, 'viewer')).status === 404, {
      timeoutMs: 30_000,
      what: 'retention to take the incident out of Redis',
    })
    const listed = await sentinel.get('/api/incidents?limit=200', 'viewer')
    assert.ok(!listed.body.incidents.some((i: { id: string }) => i.id === id), 'not in the live list')

    const kept = await sentinel.get(`/api/history/${id}`, 'viewer')
    assert.equal(kept.status, 200)
    assert.deepEqual(kept.body.incident, resolved, 'the archive holds it whole')
    assert.ok(
      kept.body.audit.some((e: { kind: string }) => e.kind.startsWith('incident.')),
      'with its audit entries',
    )
    const found = await sentinel.get(`/api/history?resource=${encodeURIComponent(url)}`, 'viewer')
    assert.deepEqual(
      found.body.incidents.map((r: { id: string }) => r.id),
      [id],
    )
    assert.equal(found.body.incidents[0].status, 'resolved')
  })
})
