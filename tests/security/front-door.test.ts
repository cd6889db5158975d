/**
 * The front door against a real Sentinel: every route the running process serves (read from its
 * routers through GET /api/routes, never from a list kept here) refuses an anonymous request
 * unless it is public by design; Motia's routes are absent with the Workbench off and admin-only
 * with it on; headers; the body cap; a fuzz of every POST route; garbage on every kind of socket.
 */
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import net from 'node:net'
import { after, before, describe, it } from 'node:test'
import WebSocket from 'ws'
import { sleep, waitFor } from '../helpers/ports'
import { startRedis, type TestRedis } from '../helpers/redis'
import { type SentinelInstance, startSentinel } from '../helpers/sentinel'
import { TOPICS } from '../../src/platform/events/topics'

/** Routes public by design (issue #17): anything else must refuse a request without a key. */
const PUBLIC = [
  /^GET \/healthz$/,
  /^GET \/metrics$/,
  /^POST \/slack\/actions$/,
  /^GET \/$/,
  /^GET \/dashboard\.(html|js|css)$/,
  /^GET \/(js\/)?[\w.-]+\.(js|css|svg|png|ico)$/,
]
const isPublic = (method: string, path: string) => PUBLIC.some((re) => re.test(`${method} ${path}`))

interface RouteEntry {
  method: string
  path: string
  zone: string
}

/** A concrete path for a route pattern: parameters and wildcards filled in. */
const samplePath = (pattern: string) =>
  pattern.replace(/:(\w+)/g, (_m, name) => (name === 'id' ? 'inc_none_0' : 'x')).replace(/\*/g, 'x')

/** Case and slash variants a router might also match. */
const variants = (p: string) => [p, `${p}/`, p.toUpperCase(), p.replace(/^\//, '//')]

async function request(url: string, method: string, headers: Record<string, string> = {}, body?: string | Buffer) {
  const res = await fetch(url, { method, headers, body, redirect: 'manual' })
  const text = await res.text()
  return { status: res.status, text, headers: res.headers }
}

function rssKb(pid: number): number {
  const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return m ? Number(m[1]) : 0
}

/** Local addresses a TCP port listens on, from /proc/net/tcp{,6}. */
function listeningAddresses(port: number): string[] {
  const out: string[] = []
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = ''
    try {
      text = readFileSync(file, 'utf8')
    } catch {
      continue
    }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/)
      if (cols.length < 4 || cols[3] !== '0A') continue // 0A: LISTEN
      const [addrHex, portHex] = cols[1].split(':')
      if (parseInt(portHex, 16) !== port) continue
      if (addrHex.length === 8)
        out.push(
          addrHex
            .match(/../g)!
            .reverse()
            .map((h) => parseInt(h, 16))
            .join('.'),
        )
      else out.push(addrHex === '00000000000000000000000000000000' ? '::' : addrHex)
    }
  }
  return out
}

async function routesOf(sentinel: SentinelInstance): Promise<{ routes: RouteEntry[]; websocket: string }> {
  const res = await sentinel.get('/api/routes', 'admin')
  assert.equal(res.status, 200, JSON.stringify(res.body))
  return res.body
}

/** Sends raw bytes on a new connection and waits for the server to answer or close. */
function rawExchange(port: number, payload: Buffer | string, waitMs = 300): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1')
    let got = ''
    socket.on('data', (d) => (got += d.toString('latin1')))
    socket.on('error', () => resolve(got))
    socket.on('close', () => resolve(got))
    socket.on('connect', () => {
      socket.write(payload)
      setTimeout(() => socket.destroy(), waitMs)
    })
  })
}

describe('front door (Workbench off, the default)', () => {
  let redis: TestRedis
  let sentinel: SentinelInstance

  before(async () => {
    redis = await startRedis()
    // The default body cap (1 MiB): a body of that size was an E2BIG 500 when Motia put it on a command line.
    sentinel = await startSentinel({ redisPort: redis.port, env: { WORKBENCH: 'false' } })
  })
  after(async () => {
    await sentinel?.cleanup()
    await redis?.stop()
  })

  it('every route the process serves refuses an anonymous request unless it is public by design', async () => {
    const { routes, websocket } = await routesOf(sentinel)
    assert.equal(websocket, 'refused')
    // The table is read from the routers: Motia's own routes are in it, so nothing is missed.
    for (const must of [
      'POST /emit',
      'GET /__motia/state',
      'POST /__motia/state/delete',
      'POST /__motia/bullmq/queues/:name/pause',
      'GET /api/incidents',
    ]) {
      assert.ok(
        routes.some((r) => `${r.method} ${r.path}` === must),
        `${must} is in the route table`,
      )
    }
    let probed = 0
    for (const route of routes) {
      const methods = route.method === 'ALL' ? ['GET', 'POST'] : [route.method]
      for (const method of methods) {
        const base = samplePath(route.path === '*' ? '/x' : route.path)
        if (isPublic(method, route.path)) {
          const res = await request(sentinel.url + base, method)
          assert.ok(res.status < 500 || route.path === '/healthz', `${method} ${base}: public, answered ${res.status}`)
          continue
        }
        for (const p of variants(base)) {
          const res = await request(
            sentinel.url + p,
            method,
            method === 'POST' ? { 'content-type': 'application/json' } : {},
            method === 'POST' ? '{}' : undefined,
          )
          const expected = method === 'OPTIONS' ? [403] : [401]
          assert.ok(
            expected.includes(res.status),
            `${method} ${p} without a key answered ${res.status}: ${res.text.slice(0, 200)}`,
          )
          assert.equal(res.headers.get('access-control-allow-origin'), null, `${method} ${p}: no CORS header`)
          probed++
        }
      }
    }
    assert.ok(probed > 100, `probed ${probed} route variants`)
  })

  it("Motia's routes are absent even for an admin while the Workbench is off", async () => {
    for (const [method, p] of [
      ['POST', '/emit'],
      ['GET', '/__motia/state'],
      ['POST', '/__motia/state/delete'],
      ['POST', '/__motia/bullmq/queues/x/pause'],
      ['GET', '/__motia'],
    ] as const) {
      const res = await request(
        sentinel.url + p,
        method,
        { authorization: `Bearer ${sentinel.keys.admin}`, 'content-type': 'application/json' },
        method === 'POST' ? JSON.stringify({ topic: TOPICS.remediationApproved, data: {} }) : undefined,
      )
      assert.equal(res.status, 404, `${method} ${p} as admin: ${res.status} ${res.text}`)
    }
    const viewer = await request(
      `${sentinel.url}/emit`,
      'POST',
      { authorization: `Bearer ${sentinel.keys.viewer}` },
      '{}',
    )
    assert.equal(viewer.status, 403)
  })

  it('refuses every WebSocket upgrade, with or without a key', async () => {
    for (const headers of [{}, { authorization: `Bearer ${sentinel.keys.admin}` }]) {
      const status = await new Promise<number>((resolve) => {
        const ws = new WebSocket(`ws://127.0.0.1:${sentinel.port}/`, { headers })
        ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0))
        ws.on('open', () => {
          ws.close()
          resolve(101)
        })
        ws.on('error', () => resolve(-1))
      })
      assert.equal(status, 404)
    }
  })

  it('sets the security headers and no X-Powered-By; CORS is off', async () => {
    const page = await request(`${sentinel.url}/`, 'GET')
    assert.equal(page.status, 200)
    const csp = page.headers.get('content-security-policy') ?? ''
    assert.match(csp, /frame-ancestors 'none'/)
    assert.match(csp, /script-src 'self'(;|$)/)
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/)
    assert.equal(page.headers.get('x-frame-options'), 'DENY')
    const api = await request(`${sentinel.url}/api/incidents`, 'GET', {
      authorization: `Bearer ${sentinel.keys.viewer}`,
      origin: 'https://evil.example',
    })
    assert.equal(api.status, 200)
    assert.equal(api.headers.get('x-powered-by'), null)
    assert.equal(api.headers.get('access-control-allow-origin'), null)
    const preflight = await request(`${sentinel.url}/api/incidents`, 'OPTIONS', {
      origin: 'https://evil.example',
      'access-control-request-method': 'GET',
    })
    assert.equal(preflight.status, 403)
    assert.equal(preflight.headers.get('access-control-allow-origin'), null)
  })

  it('caps bodies on the stream, declared or chunked, before authentication; accepts a body up to the cap whole', async () => {
    const cap = 1024 * 1024
    // Over the cap with a declared length: refused unread, even without a key.
    const declared = await request(
      `${sentinel.url}/api/trigger-alert`,
      'POST',
      { 'content-type': 'application/json' },
      Buffer.alloc(cap + 1, 0x20),
    )
    assert.equal(declared.status, 413)
    // Over the cap, chunked: counted as it arrives.
    const chunks = [Buffer.alloc(cap / 2, 0x20), Buffer.alloc(cap / 2, 0x20), Buffer.alloc(10, 0x20)]
    const stream = new ReadableStream({
      pull(controller) {
        const c = chunks.shift()
        if (c) controller.enqueue(c)
        else controller.close()
      },
    })
    const chunked = await fetch(`${sentinel.url}/api/trigger-alert`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${sentinel.keys.admin}` },
      body: stream,
      duplex: 'half',
    } as RequestInit).then(
      (r) => r.status,
      () => 413, // the server may close before the client has sent everything
    )
    assert.equal(chunked, 413)
    // Exactly the cap: accepted whole (a JSON value padded with spaces to the cap).
    const json = '{"type":"disk","resource":"/","value":1}'
    const padded = Buffer.concat([Buffer.from(json), Buffer.alloc(cap - json.length, 0x20)])
    const whole = await request(
      `${sentinel.url}/api/trigger-alert`,
      'POST',
      { 'content-type': 'application/json', authorization: `Bearer ${sentinel.keys.admin}` },
      padded,
    )
    assert.equal(whole.status, 202, whole.text)
    const deep = await request(
      `${sentinel.url}/api/trigger-alert`,
      'POST',
      { 'content-type': 'application/json', authorization: `Bearer ${sentinel.keys.admin}` },
      '['.repeat(50_000) + ']'.repeat(50_000),
    )
    assert.equal(deep.status, 400)
    assert.match(deep.text, /nests deeper than/)
  })

  it('fuzz: 1 200 random, malformed, huge and deep bodies across every POST route: no 5xx, no crash, memory bounded', async () => {
    const { routes } = await routesOf(sentinel)
    const posts = routes.filter((r) => r.method === 'POST' || r.method === 'ALL').map((r) => samplePath(r.path))
    assert.ok(posts.length >= 10, `${posts.length} POST routes`)
    let seed = 0x5eed
    const rand = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff
      return seed / 0x7fffffff
    }
    const pick = <T>(xs: T[]) => xs[Math.floor(rand() * xs.length)]
    const randomValue = (depth: number): unknown => {
      const k = rand()
      if (depth > 4 || k < 0.3)
        return pick([
          null,
          true,
          false,
          0,
          -1,
          1e308,
          'x',
          '',
          '\u0000\ud800',
          'a'.repeat(1000),
          '../../etc/passwd',
          'inc_none_0',
        ])
      if (k < 0.6) return Array.from({ length: Math.floor(rand() * 5) }, () => randomValue(depth + 1))
      return Object.fromEntries(
        Array.from({ length: Math.floor(rand() * 5) }, () => [
          pick([
            'type',
            'resource',
            'value',
            'reason',
            'faults',
            'alerts',
            '__proto__',
            'constructor',
            'comment',
            'version',
            'x',
          ]),
          randomValue(depth + 1),
        ]),
      )
    }
    const bodies: (() => { body: Buffer; type: string })[] = [
      () => ({ body: Buffer.from(JSON.stringify(randomValue(0))), type: 'application/json' }),
      () => ({
        body: Buffer.from(JSON.stringify(randomValue(0)).slice(0, Math.floor(rand() * 20))),
        type: 'application/json',
      }),
      () => ({
        body: Buffer.from(Array.from({ length: 64 + Math.floor(rand() * 2000) }, () => Math.floor(rand() * 256))),
        type: pick(['application/json', 'text/plain', 'application/octet-stream', 'application/x-www-form-urlencoded']),
      }),
      () => ({ body: Buffer.from('['.repeat(1000 + Math.floor(rand() * 20000))), type: 'application/json' }),
      () => ({ body: Buffer.from('{"a":'.repeat(500) + '1' + '}'.repeat(500)), type: 'application/json' }),
      () => ({ body: Buffer.alloc(200_000 + Math.floor(rand() * 1_200_000), 0x5b), type: 'application/json' }),
      () => ({ body: Buffer.from('"' + '\\u0000'.repeat(5000) + '"'), type: 'application/json; charset=utf-16' }),
      () => ({ body: Buffer.alloc(0), type: 'application/json' }),
    ]
    const pid = sentinel.pid()
    const rssBefore = rssKb(pid)
    let rssPeak = rssBefore
    const statuses = new Map<number, number>()
    const failures: string[] = []
    let sent = 0
    const total = 1200
    const worker = async () => {
      while (sent < total) {
        const n = sent++
        const route = pick(posts)
        const { body, type } = pick(bodies)()
        const headers: Record<string, string> = { 'content-type': type }
        if (n % 4 !== 0) headers.authorization = `Bearer ${sentinel.keys.admin}`
        try {
          const res = await fetch(sentinel.url + route, { method: 'POST', headers, body })
          await res.arrayBuffer()
          statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1)
          if (res.status >= 500) failures.push(`${route} ${type} ${body.length} B: ${res.status}`)
        } catch (err) {
          // Only a body over the cap may have its connection closed under it.
          if (body.length <= 1024 * 1024) failures.push(`${route} ${body.length} B: ${(err as Error).message}`)
        }
        if (n % 50 === 0) rssPeak = Math.max(rssPeak, rssKb(pid))
      }
    }
    await Promise.all(Array.from({ length: 8 }, worker))
    rssPeak = Math.max(rssPeak, rssKb(pid))
    assert.deepEqual(failures, [], `statuses: ${JSON.stringify([...statuses])}`)
    assert.ok(sent >= 1000)
    assert.ok([...statuses.keys()].every((s) => s < 500))
    const health = await request(`${sentinel.url}/healthz`, 'GET')
    assert.equal(health.status, 200)
    // Eight requests in flight, each at most the cap: the peak stays far below what a 1 GB parser allowed.
    assert.ok(
      rssPeak - rssBefore < 200 * 1024,
      `RSS grew ${(rssPeak - rssBefore) / 1024} MB (before ${rssBefore / 1024} MB)`,
    )
  })

  it('garbage on the socket (raw bytes, broken HTTP, bad stream tokens) never ends the process', async () => {
    const port = sentinel.port
    const payloads: (string | Buffer)[] = [
      Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919) % 256)),
      'GET / HTTP/9.9\r\n\r\n',
      'POST /api/trigger-alert HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n',
      'POST /api/trigger-alert HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\nzz\r\n',
      'POST /api/alerts/alertmanager HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\nContent-Length: 20\r\n\r\n',
      `GET /${'a'.repeat(100_000)} HTTP/1.1\r\nHost: x\r\n\r\n`,
      'GET /api/stream?token=%ZZ HTTP/1.1\r\nHost: x\r\n\r\n',
      'GET /api/stream?token=a.b.c HTTP/1.1\r\nHost: x\r\nLast-Event-ID: ../../\u0000\r\n\r\n',
      'GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: garbage\r\nSec-WebSocket-Version: 13\r\n\r\n\x81\xff',
      'POST /slack/actions HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 7\r\n\r\npayload',
    ]
    for (const p of payloads) await rawExchange(port, p)
    // A stream opened with a valid token, then sent garbage headers on reconnect.
    const token = (await sentinel.post('/api/stream/token', {}, 'viewer')).body.token as string
    for (const lastEventId of ['', 'NaN', '-1', '9'.repeat(400), '1-2-3', '\u00ff']) {
      const controller = new AbortController()
      const res = await fetch(`${sentinel.url}/api/stream?token=${encodeURIComponent(token)}`, {
        headers: { 'last-event-id': lastEventId },
        signal: controller.signal,
      }).catch(() => undefined)
      assert.ok(!res || res.status < 500, `Last-Event-ID ${lastEventId.slice(0, 20)}: ${res?.status}`)
      controller.abort()
    }
    await sleep(200)
    const health = await request(`${sentinel.url}/healthz`, 'GET')
    assert.equal(health.status, 200)
  })
})

describe('front door with the Workbench on', () => {
  let redis: TestRedis
  let sentinel: SentinelInstance

  before(async () => {
    redis = await startRedis()
    sentinel = await startSentinel({ redisPort: redis.port, env: { WORKBENCH: 'true' } })
  })
  after(async () => {
    await sentinel?.cleanup()
    await redis?.stop()
  })

  it("serves Motia's routes and the Workbench to admins only (a browser's Basic credentials included)", async () => {
    const { routes, websocket } = await routesOf(sentinel)
    assert.equal(websocket, 'admin')
    const framework = routes.filter((r) => r.zone === 'framework' && r.path !== '*')
    assert.ok(
      framework.some((r) => r.path.startsWith('/__motia')),
      'the Workbench is mounted',
    )
    const basic = (key: string) => `Basic ${Buffer.from(`anyone:${key}`).toString('base64')}`
    for (const route of framework) {
      const p = samplePath(route.path)
      const method = route.method === 'ALL' ? 'GET' : route.method
      const anonymous = await request(sentinel.url + p, method)
      assert.equal(anonymous.status, 401, `${method} ${p} anonymous: ${anonymous.status}`)
      const viewer = await request(sentinel.url + p, method, { authorization: basic(sentinel.keys.viewer) })
      assert.equal(viewer.status, 403, `${method} ${p} viewer: ${viewer.status}`)
    }
    const challenge = await request(`${sentinel.url}/__motia`, 'GET')
    assert.match(challenge.headers.get('www-authenticate') ?? '', /^Basic /)
    const page = await request(`${sentinel.url}/__motia`, 'GET', { authorization: basic(sentinel.keys.admin) })
    assert.equal(page.status, 200)
    // The admin reaches Motia, but Motia's "*" CORS header does not go out.
    assert.equal(page.headers.get('access-control-allow-origin'), null)
  })

  it("binds the Workbench's hot-reload port to HOST", async () => {
    const hmr = sentinel.port + 21678
    const addresses = await waitFor(
      () => {
        const a = listeningAddresses(hmr)
        return a.length ? a : undefined
      },
      { timeoutMs: 20_000, what: 'the hot-reload port to listen' },
    )
    assert.deepEqual(addresses, ['127.0.0.1'])
  })

  it('survives garbage WebSocket frames from an admin, on the main port and the hot-reload port', async () => {
    const closeCode = await new Promise<number>((resolve, reject) => {
      const ws = new WebSocket(`ws://127.0.0.1:${sentinel.port}/`, {
        headers: { authorization: `Bearer ${sentinel.keys.admin}` },
      })
      ws.on('open', () => {
        ws.send('this is not JSON {')
        ws.send(Buffer.from([0xff, 0x00, 0x13]))
      })
      ws.on('close', (code) => resolve(code))
      ws.on('error', reject)
      ws.on('unexpected-response', (_q, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)))
    })
    assert.equal(closeCode, 1007)
    const anonymous = await new Promise<number>((resolve) => {
      const ws = new WebSocket(`ws://127.0.0.1:${sentinel.port}/`)
      ws.on('unexpected-response', (_q, res) => resolve(res.statusCode ?? 0))
      ws.on('open', () => resolve(101))
      ws.on('error', () => resolve(-1))
    })
    assert.equal(anonymous, 401)
    await new Promise<void>((resolve) => {
      const ws = new WebSocket(`ws://127.0.0.1:${sentinel.port + 21678}/`, 'vite-hmr')
      ws.on('open', () => {
        ws.send('not json at all')
        ws.send('{"type":"custom","event":"x","data":')
        setTimeout(() => {
          ws.terminate()
          resolve()
        }, 300)
      })
      ws.on('error', () => resolve())
    })
    await sleep(300)
    const health = await request(`${sentinel.url}/healthz`, 'GET')
    assert.equal(health.status, 200)
  })
})

describe('CORS_ORIGINS and METRICS_TOKEN', () => {
  let redis: TestRedis
  let sentinel: SentinelInstance
  const metricsToken = 'metrics-token-0123456789abcdef0123'

  before(async () => {
    redis = await startRedis()
    sentinel = await startSentinel({
      redisPort: redis.port,
      env: { CORS_ORIGINS: 'https://ops.example.com', METRICS_TOKEN: metricsToken },
    })
  })
  after(async () => {
    await sentinel?.cleanup()
    await redis?.stop()
  })

  it('answers CORS for the named origin only, without credentials', async () => {
    const ok = await request(`${sentinel.url}/api/incidents`, 'OPTIONS', {
      origin: 'https://ops.example.com',
      'access-control-request-method': 'GET',
    })
    assert.equal(ok.status, 204)
    assert.equal(ok.headers.get('access-control-allow-origin'), 'https://ops.example.com')
    assert.equal(ok.headers.get('access-control-allow-credentials'), null)
    const other = await request(`${sentinel.url}/api/incidents`, 'GET', {
      origin: 'https://evil.example',
      authorization: `Bearer ${sentinel.keys.viewer}`,
    })
    assert.equal(other.headers.get('access-control-allow-origin'), null)
  })

  it('/metrics needs the token when METRICS_TOKEN is set', async () => {
    assert.equal((await request(`${sentinel.url}/metrics`, 'GET')).status, 401)
    assert.equal(
      (await request(`${sentinel.url}/metrics`, 'GET', { authorization: 'Bearer wrong-token-wrong-token-wrong' }))
        .status,
      401,
    )
    const res = await request(`${sentinel.url}/metrics`, 'GET', { authorization: `Bearer ${metricsToken}` })
    assert.equal(res.status, 200)
    assert.match(res.text, /sentinel_/)
  })
})
