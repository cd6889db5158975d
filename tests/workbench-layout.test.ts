/** motia-workbench.json lays out every step of the flow, and only steps that exist. */
import assert from 'node:assert/strict'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { it } from 'node:test'

const root = path.resolve(import.meta.dirname, '..')

it('motia-workbench.json places every step file, and only existing ones', () => {
  const [flow] = JSON.parse(readFileSync(path.join(root, 'motia-workbench.json'), 'utf8')) as {
    id: string
    config: Record<string, { x: number; y: number }>
  }[]
  assert.equal(flow.id, 'sentinel')
  const steps = readdirSync(path.join(root, 'steps'), { recursive: true })
    .map(String)
    .filter((f) => f.endsWith('.step.ts'))
    .map((f) => `steps/${f}`)
    .sort()
  assert.deepEqual(Object.keys(flow.config).sort(), steps)
  for (const f of Object.keys(flow.config)) assert.ok(existsSync(path.join(root, f)), f)
})
