/**
 * GET /api/incidents/:id/postmortem against a real Sentinel: an incident driven through it (a
 * watched container's main process killed from the host, restarted and resolved) has a postmortem
 * with its whole timeline, as Markdown or as JSON; a postmortem stored in the archive is served as
 * stored; an unknown id is a 404 naming it.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { openArchive } from '../../src/history/archive/open'
import { storePostmortem } from '../../src/history/postmortem'
import { killMainProcess, removeContainers, runContainer, state, uniqueName } from '../helpers/docker'
import { startRedis, type TestRedis } from '../helpers/redis'
import { PROJECT_ROOT, resolvedIncidentFor, type SentinelInstance, startSentinel, WATCHED } from '../helpers/sentinel'

describe('postmortem API', () => {
  let redis: TestRedis
  let sentinel: SentinelInstance
  const containers: string[] = []

  before(async () => {
    redis = await startRedis()
    sentinel = await startSentinel({ redisPort: redis.port, env: { VERIFY_STABLE_SECONDS: '0.5' } })
  })
  after(async () => {
    await removeContainers(...containers)
    await sentinel?.cleanup()
    await redis?.stop()
  })

  it('tells an incident driven through Sentinel: its timeline, as Markdown or JSON; 404 naming an unknown id', async () => {
    const name = uniqueName('postmortem')
    containers.push(name)
    await runContainer(name, { labels: WATCHED })
    assert.equal((await state(name)).Running, true)
    await killMainProcess(name)
    const incident = await resolvedIncidentFor(sentinel, name, { timeoutMs: 45_000, what: 'the incident resolved' })

    const md = await sentinel.get(`/api/incidents/${incident.id}/postmortem`, 'viewer')
    assert.equal(md.status, 200)
    assert.equal(md.headers.get('content-type'), 'text/markdown; charset=utf-8')
    const text = md.body as string
    assert.match(text, new RegExp(`^# Postmortem: `))
    assert.ok(text.includes(`\`${incident.id}\``))
    assert.ok(text.includes(name), 'names the container')
    const rows = text.split('\n').filter((l) => /^\| \d{4}-\d\d-\d\d /.test(l))
    // Its timeline when served; entries may only have been added since it was read above.
    assert.ok(rows.length >= incident.timeline.length, `${rows.length} rows for ${incident.timeline.length} entries`)
    for (const e of incident.timeline as Array<{ stage: string; summary: string; actor: string }>)
      assert.ok(
        rows.some((r) => r.includes(`| ${e.stage} |`) && r.includes(e.actor)),
        `timeline entry ${e.stage} by ${e.actor}`,
      )
    assert.match(text, /\| restart_container \| succeeded \|/)
    assert.match(text, /## Verification\n\n- .* verified/)

    const json = await sentinel.get(`/api/incidents/${incident.id}/postmortem`, 'viewer', {
      accept: 'application/json',
    })
    assert.equal(json.status, 200)
    assert.match(json.headers.get('content-type') ?? '', /application\/json/)
    assert.deepEqual(Object.keys(json.body).sort(), ['draftedBy', 'markdown', 'stored'])
    assert.equal(json.body.stored, false)
    assert.equal(json.body.draftedBy, 'template')
    assert.match(json.body.markdown, /## Timeline/)

    const missing = await sentinel.get('/api/incidents/inc_none_0/postmortem', 'viewer')
    assert.equal(missing.status, 404)
    assert.match(missing.body.message, /incident inc_none_0 not found/)
    assert.equal((await sentinel.get('/api/incidents/not-an-id/postmortem', 'viewer')).status, 400)
    assert.equal((await sentinel.get(`/api/incidents/${incident.id}/postmortem`, null)).status, 401)

    // Stored in the archive (as the archiver does): served as stored.
    const db = await openArchive({ DATABASE_URL: undefined, DATA_DIR: sentinel.dataDir, projectRoot: PROJECT_ROOT })
    try {
      await storePostmortem(db, incident.id, `# Postmortem kept for ${incident.id}\n`, 'llm:test/model')
    } finally {
      await db.close()
    }
    const stored = await sentinel.get(`/api/incidents/${incident.id}/postmortem`, 'viewer', {
      accept: 'application/json',
    })
    assert.deepEqual(stored.body, {
      markdown: `# Postmortem kept for ${incident.id}\n`,
      draftedBy: 'llm:test/model',
      stored: true,
    })
  })
})
