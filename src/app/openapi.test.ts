import assert from 'node:assert/strict'
import { readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { it } from 'node:test'
import { INCIDENT_STATUSES, STATUS_GROUPS } from '../platform/store/lifecycle'
import { listQuery } from '../report/incidents'
import { ENDPOINTS, openApiDocument } from './openapi'

it('documents every API step, with the schemas that validate its requests', () => {
  const doc = openApiDocument() as any
  const root = path.resolve(import.meta.dirname, '..', '..')
  const apiSteps = readdirSync(path.join(root, 'steps'), { recursive: true })
    .map(String)
    .filter((f) => f.endsWith('.api.step.ts'))
    .map((f) => readFileSync(path.join(root, 'steps', f), 'utf8'))
    .map((t) => ({
      path: /path: '([^']+)'/.exec(t)![1].replace(/:(\w+)/g, '{$1}'),
      method: /method: '(\w+)'/.exec(t)![1].toLowerCase(),
    }))
  for (const s of apiSteps) assert.ok(doc.paths[s.path]?.[s.method], `${s.method} ${s.path} is documented`)
  // Routes of the main process itself rather than steps (src/app/runtime.ts, src/app/http/).
  const mainProcess = ['/api/alerts/alertmanager', '/api/stream', '/api/stream/token', '/api/containers', '/api/routes']
  assert.equal(
    ENDPOINTS.filter((e) => e.path.startsWith('/api/') && !mainProcess.includes(e.path)).length,
    apiSteps.length,
    'no documented endpoint without a step',
  )
  const trigger = doc.paths['/api/trigger-alert'].post.requestBody.content['application/json'].schema
  assert.deepEqual(trigger.properties.type.enum, ['memory', 'cpu', 'disk', 'latency', 'container_down'])
  assert.ok(doc.paths['/api/incidents'].get.parameters.some((p: any) => p.name === 'cursor' && p.in === 'query'))
})

it("documents the incident statuses and their groups from the lifecycle, as the API's filters validate them", () => {
  const doc = openApiDocument() as any
  const params = doc.paths['/api/incidents'].get.parameters
  assert.deepEqual(params.find((p: any) => p.name === 'status').schema.enum, [...INCIDENT_STATUSES])
  assert.deepEqual(params.find((p: any) => p.name === 'group').schema.enum, [...STATUS_GROUPS])
  assert.deepEqual(doc.components.schemas.IncidentStatus.enum, [...INCIDENT_STATUSES])
  assert.match(doc.components.schemas.IncidentStatus.description, /analyzing: .*\(active; then open, awaiting_approval/)
  assert.deepEqual(doc.components.schemas.IncidentStatusGroup.enum, [...STATUS_GROUPS])
  assert.equal(listQuery.safeParse({ status: 'analyzing', group: 'needs_person' }).success, true)
  assert.equal(listQuery.safeParse({ status: 'thinking' }).success, false)
})
