/**
 * The raw Engine API client against the real Docker engine (the session's dockerd), plus a unix
 * socket that never answers for the timeout. The watch label is this file's own, so the listing
 * sees only the containers made here.
 */
import { randomBytes } from 'node:crypto'
const LABEL_KEY = `sentinel.engine-api-${randomBytes(3).toString('hex')}`
process.env.WATCH_LABEL = `${LABEL_KEY}=true`

import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { removeContainers, runContainer, uniqueName } from '../../../tests/helpers/docker'
import {
  dockerSpan,
  EngineApiError,
  engineGet,
  engineRequest,
  inspectWatched,
  listWatchedContainers,
} from './engine-api'

describe('dockerSpan', () => {
  it('names each Engine API call by its operation, with the container it names', () => {
    const cases: Array<[string, string, string, string | undefined]> = [
      ['GET', '/containers/abc123/json', 'docker.inspect', 'abc123'],
      ['GET', '/v1.43/containers/abc123/json?size=1', 'docker.inspect', 'abc123'],
      ['POST', '/containers/abc123/start?', 'docker.start', 'abc123'],
      ['POST', '/containers/web%2D1/restart?t=10', 'docker.restart', 'web-1'],
      ['POST', '/containers/abc123/update', 'docker.update', 'abc123'],
      ['POST', '/containers/create?name=x', 'docker.create', undefined],
      ['GET', '/containers/json?all=1', 'docker.list', undefined],
      ['GET', '/containers/abc123/logs?stdout=1', 'docker.logs', 'abc123'],
      ['DELETE', '/containers/abc123?force=true', 'docker.remove', 'abc123'],
      ['GET', '/events?filters=x', 'docker.events', undefined],
    ]
    for (const [method, path, name, container] of cases) {
      const span = dockerSpan(method, path)
      assert.equal(span.name, name, path)
      assert.equal(span.attrs['docker.container'], container, path)
      assert.equal(span.attrs['http.request.method'], method)
    }
  })
})

describe('the Engine API client, against the real engine', () => {
  const watched = uniqueName('engine-api')
  const unwatched = uniqueName('engine-api-other')
  let watchedId: string
  let unwatchedId: string
  let dir: string

  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'sentinel-test-engine-api-'))
    ;[watchedId, unwatchedId] = await Promise.all([
      runContainer(watched, { labels: { [LABEL_KEY]: 'true' } }),
      runContainer(unwatched, { labels: { [LABEL_KEY]: 'false' } }),
    ])
  })

  after(async () => {
    await removeContainers(watched, unwatched)
    rmSync(dir, { recursive: true, force: true })
  })

  it('reads JSON: a filtered listing and an inspect', async () => {
    const filters = encodeURIComponent(JSON.stringify({ label: [LABEL_KEY] }))
    const listed = await engineGet<Array<{ Id: string; Names: string[]; Labels: Record<string, string> }>>(
      `/containers/json?filters=${filters}`,
    )
    assert.deepEqual(listed.map((c) => c.Id).sort(), [watchedId, unwatchedId].sort())
    const info = await engineGet<{ Id: string; Name: string; State: { Running: boolean } }>(
      `/containers/${watchedId}/json`,
      { socketPath: '/var/run/docker.sock' },
    )
    assert.equal(info.Name, `/${watched}`)
    assert.equal(info.State.Running, true)
  })

  it('lists only the containers carrying the watch label, and inspects them by their id', async () => {
    const list = await listWatchedContainers()
    assert.deepEqual(
      list.map((c) => [c.id, c.name, c.state]),
      [[watchedId, watched, 'running']],
    )
    assert.equal((await inspectWatched<{ Id: string }>(list[0])).Id, watchedId)
  })

  it('reads bytes as they come: /_ping answers OK', async () => {
    assert.equal((await engineRequest('/_ping')).toString('utf8'), 'OK')
  })

  it("an error answer keeps Docker's status and message, and names the call", async () => {
    const missing = uniqueName('missing')
    const err = await engineGet(`/containers/${missing}/json`).then(
      () => assert.fail('a missing container was found'),
      (e: unknown) => e,
    )
    assert.ok(err instanceof EngineApiError)
    assert.equal(err.statusCode, 404)
    assert.equal(err.code, undefined)
    assert.match(err.message, new RegExp(`^docker GET /containers/${missing}/json: 404 No such container: ${missing}$`))
  })

  it('a body that is not JSON is an error, not a crash', async () => {
    await assert.rejects(
      engineGet('/_ping'),
      (e: unknown) =>
        e instanceof EngineApiError &&
        e.code === 'EBADJSON' &&
        e.statusCode === undefined &&
        /invalid JSON/.test(e.message),
    )
  })

  it('no engine at the socket: unreachable, with the system code', async () => {
    const socketPath = path.join(dir, 'no-such.sock')
    await assert.rejects(
      engineGet('/containers/json', { socketPath }),
      (e: unknown) =>
        e instanceof EngineApiError &&
        e.code === 'ENOENT' &&
        e.message === `docker unreachable at ${socketPath}: ENOENT`,
    )
  })

  it('an engine that never answers times out', async () => {
    const socketPath = path.join(dir, 'silent.sock')
    const held: net.Socket[] = []
    const server = net.createServer((s) => held.push(s))
    await new Promise<void>((resolve) => server.listen(socketPath, resolve))
    try {
      const t0 = Date.now()
      await assert.rejects(
        engineRequest('/_ping', { socketPath, timeoutMs: 300 }),
        (e: unknown) =>
          e instanceof EngineApiError && e.code === 'ETIMEDOUT' && /timed out after 300 ms/.test(e.message),
      )
      const ms = Date.now() - t0
      assert.ok(ms >= 250 && ms < 3000, `gave up after ${ms} ms`)
    } finally {
      for (const s of held) s.destroy()
      await new Promise((r) => server.close(r))
    }
  })
})
