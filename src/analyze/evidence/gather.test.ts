/**
 * The evidence record gathered from real containers (a crash loop on a missing variable with a
 * secret in its environment, a killed one, one whose dependency refuses it), the providers the
 * flow injects (history, the container's readings, open and earlier incidents), a failing
 * provider, an alert about another host, and the fresh probe of a latency alert on an endpoint
 * (a configured target only).
 */
import { randomBytes } from 'node:crypto'
const LABEL_KEY = `sentinel.unit-${randomBytes(3).toString('hex')}`
process.env.WATCH_LABEL = `${LABEL_KEY}=true`

import assert from 'node:assert/strict'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import os from 'node:os'
import { after, before, describe, test } from 'node:test'
import type { Alert, AlertType } from '../../platform/store/model'
import {
  docker,
  killMainProcess,
  removeContainers,
  runContainer,
  state,
  uniqueName,
} from '../../../tests/helpers/docker'
import { waitFor } from '../../../tests/helpers/ports'
import { analyseWithRules } from '../rules/index'
import { sizeOf } from './bound'
import { CAPS } from './types'

const names: string[] = []
after(() => removeContainers(...names))

function alert(type: AlertType, over: Partial<Alert> = {}): Alert {
  return {
    fingerprint: `${type}:test`,
    type,
    severity: 'warning',
    metric: type,
    value: null,
    threshold: null,
    resource: { kind: 'host', id: os.hostname(), name: os.hostname() },
    labels: {},
    source: 'test',
    at: new Date().toISOString(),
    ...over,
  }
}

async function container(prefix: string, cmd: string[], args: string[] = []) {
  const name = uniqueName(prefix)
  names.push(name)
  const id = await runContainer(name, { cmd, args, labels: { [LABEL_KEY]: 'true' } })
  return { id, name, resource: { kind: 'container' as const, id, name } }
}

const exited = (name: string) =>
  waitFor(async () => !(await state(name)).Running, { timeoutMs: 20_000, what: 'container to exit' })

test('a crash on a missing variable: bad config, no restart; env names kept, values never', async () => {
  const secret = `s3cr3t-${randomBytes(6).toString('hex')}`
  const c = await container(
    'badcfg',
    ['sh', '-c', 'echo "starting"; echo "FATAL: environment variable DATABASE_URL is not set" >&2; exit 1'],
    ['-e', `DATABASE_PASSWORD=${secret}`, '-e', 'APP_MODE=prod'],
  )
  await exited(c.name)
  const r = await analyseWithRules(alert('container_down', { resource: c.resource, details: { exitCode: 1 } }))
  assert.equal(r.cause, 'bad_config', r.root_cause)
  assert.equal(r.proposed_fix, null)
  const rec = r.evidenceRecord
  assert.ok(rec.container?.envNames?.includes('DATABASE_PASSWORD'))
  assert.ok(rec.container?.envNames?.includes('APP_MODE'))
  assert.ok(!JSON.stringify(r).includes(secret), 'no environment value anywhere')
  assert.ok(rec.logs?.lines.some((l) => l.includes('DATABASE_URL')))
  assert.ok(rec.container?.imageCreatedAt && Number.isFinite(Date.parse(rec.container.imageCreatedAt)))
  assert.ok(rec.container?.createdAt)
  assert.equal(rec.container?.exitCode, 1)
  assert.equal(rec.restarts?.count, 0)
  assert.ok(sizeOf(rec) <= CAPS.totalBytes)
})

test('a killed container: killed, restart, exit 137 in the evidence', async () => {
  const c = await container('killed', ['sh', '-c', 'while true; do sleep 1; done; true'])
  await waitFor(async () => (await state(c.name)).Running, { timeoutMs: 20_000, what: 'container to run' })
  await killMainProcess(c.name)
  await exited(c.name)
  const r = await analyseWithRules(alert('container_down', { resource: c.resource, details: { exitCode: 137 } }))
  assert.equal(r.cause, 'killed', r.root_cause)
  assert.deepEqual(r.proposed_fix, { action: 'restart_container', params: { containerId: c.id } })
  assert.ok(r.evidence.some((l) => l.includes('exit code 137')))
})

test('killed and restarted by the fast path before the analysis: the decision is evidence, the restart the fix', async () => {
  const c = await container('killed-again', ['sh', '-c', 'while true; do sleep 1; done; true'])
  await waitFor(async () => (await state(c.name)).Running, { timeoutMs: 20_000, what: 'container to run' })
  await killMainProcess(c.name)
  await exited(c.name)
  await docker('start', c.name)
  await waitFor(async () => (await state(c.name)).Running, { timeoutMs: 20_000, what: 'container to run again' })
  const a = alert('container_down', { resource: c.resource, details: { exitCode: 137 } })
  const at = new Date().toISOString()
  const incident = {
    id: 'inc_fastpath',
    alert: a,
    decision: {
      route: 'auto',
      risk: 'low',
      actionId: 'restart_container',
      params: { containerId: c.id },
      reasons: [],
      rule: 'test',
      decidedAt: at,
    },
    actions: [{ actionId: 'restart_container', params: {}, status: 'succeeded', startedAt: at }],
  }
  const decided = await analyseWithRules(incident as never)
  assert.equal(decided.cause, 'killed', decided.root_cause)
  assert.deepEqual(decided.proposed_fix, { action: 'restart_container', params: { containerId: c.id } })
  assert.deepEqual(decided.evidenceRecord.decidedBefore, {
    actionId: 'restart_container',
    route: 'auto',
    at,
    actionStatus: 'succeeded',
  })
  // The same alert with no decision before (an Alertmanager ContainerDown that came late): nothing to do.
  const late = await analyseWithRules({ ...incident, decision: undefined, actions: [] } as never)
  assert.equal(late.cause, 'killed', late.root_cause)
  assert.equal(late.proposed_fix, null)
  assert.equal(late.evidenceRecord.decidedBefore, undefined)
})

test('a refused dependency: dependency unreachable, no restart', async () => {
  const c = await container('dep', [
    'sh',
    '-c',
    'echo "connecting to db:5432"; echo "Error: connect ECONNREFUSED 172.18.0.9:5432" >&2; exit 1',
  ])
  await exited(c.name)
  const r = await analyseWithRules(alert('container_down', { resource: c.resource, details: { exitCode: 1 } }))
  assert.equal(r.cause, 'dependency_unreachable', r.root_cause)
  assert.equal(r.proposed_fix, null)
})

test('the providers: a steady climb of the container memory is a leak; incidents and history are recorded', async () => {
  const c = await container('leak', ['sh', '-c', 'while true; do sleep 1; done; true'])
  await waitFor(async () => (await state(c.name)).Running, { timeoutMs: 20_000, what: 'container to run' })
  const now = Date.now()
  const climb = Array.from({ length: 90 }, (_, i): [number, number] => [
    now - (89 - i) * 20_000,
    (50 + i) * 1024 * 1024,
  ])
  const seenBy: string[] = []
  const r = await analyseWithRules(
    {
      id: 'inc_self',
      alert: alert('memory', {
        resource: c.resource,
        metric: 'container_memory_bytes',
        value: 139e6,
        threshold: 120e6,
      }),
    } as never,
    {
      history: async () => climb,
      containerSeries: async (x) => {
        seenBy.push(x.name)
        return { memory: { unit: 'bytes', points: climb } }
      },
      openIncidents: async () => [
        { id: 'inc_self', type: 'memory', resource: c.name, status: 'open', openedAt: new Date().toISOString() },
        { id: 'inc_other', type: 'cpu', resource: 'x', status: 'open', openedAt: new Date().toISOString() },
      ],
      previousIncidents: async () => ['2025-01-01T00:00:00.000Z'],
    },
  )
  assert.deepEqual(seenBy, [c.name])
  assert.equal(r.cause, 'memory_leak', r.root_cause)
  assert.deepEqual(r.proposed_fix, { action: 'restart_container', params: { containerId: c.id } })
  const rec = r.evidenceRecord
  assert.equal(rec.memoryHistory?.points.length, CAPS.seriesPoints, 'downsampled')
  assert.deepEqual(
    rec.openIncidents?.map((i) => i.id),
    ['inc_other'],
  )
  assert.deepEqual(rec.restarts?.previousIncidents, ['2025-01-01T00:00:00.000Z'])
  assert.ok(rec.host?.cores)
})

test('a failing provider becomes a problem, not a throw', async () => {
  const r = await analyseWithRules(alert('disk', { resource: { kind: 'filesystem', id: '/', name: '/' } }), {
    sandboxDir: '/nonexistent-sandbox-' + randomBytes(3).toString('hex'),
    history: async () => {
      throw new Error('redis down')
    },
  })
  assert.ok(r.evidenceRecord.problems.some((p) => p.includes('redis down')))
})

test('a CPU alert about another host: no process of this host is read or proposed', async () => {
  const r = await analyseWithRules(
    alert('cpu', {
      resource: { kind: 'host', id: 'db-7.example.invalid:9100', name: 'db-7.example.invalid:9100' },
      labels: { instance: 'db-7.example.invalid:9100' },
      value: 99,
      threshold: 90,
    }),
    { cpuSampleMs: 100 },
  )
  assert.equal(r.proposed_fix, null)
  assert.equal(r.evidenceRecord.alert.thisHost, false)
  assert.equal(r.evidenceRecord.processes, undefined)
  assert.match(r.root_cause, /another host/)
})

describe('a fresh probe of a latency alert on an endpoint', () => {
  let server: http.Server
  let base = ''
  const hits: string[] = []
  before(async () => {
    server = http.createServer((req, res) => {
      hits.push(req.url ?? '')
      // /hang never answers: the probe's timeout ends it.
      if (req.url === '/hang') return
      res.writeHead(200, { 'content-type': 'text/plain' })
      res.end('ok')
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  })
  after(() => {
    server.closeAllConnections()
    server.close()
  })
  const latency = (url: string, threshold: number) =>
    alert('latency', {
      metric: 'latency_ms',
      value: threshold * 2,
      threshold,
      resource: { kind: 'endpoint', id: url, name: url },
    })

  test('a configured target is probed once, by its configured URL, and compared with the threshold', async () => {
    hits.length = 0
    const target = `${base}/fast`
    const r = await analyseWithRules(latency(target, 60_000), { probeTargets: [`${base}/other`, target] })
    assert.deepEqual(hits, ['/fast'])
    const rc = r.evidenceRecord.recheck!
    assert.equal(rc.target, target)
    assert.equal(rc.status, 200)
    assert.equal(rc.verdict, 'under')
    // Twice the threshold, at most 10 s.
    assert.equal(rc.timeoutMs, 10_000)
    assert.ok(
      r.evidence.some((l) => l.startsWith(`fresh probe of ${target}`)),
      r.evidence.join('\n'),
    )
  })

  test('a URL only the alert names is never probed', async () => {
    hits.length = 0
    const r = await analyseWithRules(latency(`${base}/not-configured`, 1000), { probeTargets: [`${base}/fast`] })
    const r2 = await analyseWithRules(latency(`${base}/fast`, 1000))
    assert.deepEqual(hits, [])
    assert.equal(r.evidenceRecord.recheck, undefined)
    assert.equal(r2.evidenceRecord.recheck, undefined)
  })

  test('no answer within twice the threshold: over, timed out', async () => {
    const target = `${base}/hang`
    const r = await analyseWithRules(latency(target, 100), { probeTargets: [target] })
    const rc = r.evidenceRecord.recheck!
    assert.equal(rc.timeoutMs, 200)
    assert.equal(rc.error, 'timeout')
    assert.equal(rc.verdict, 'over')
  })
})
