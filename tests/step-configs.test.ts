/**
 * The launcher reads step configs in its own process (scripts/step-configs.mjs) instead of through
 * Motia's one-process-per-step collector: the two must hand Motia the same configs.
 */
import assert from 'node:assert/strict'
import { readdirSync } from 'node:fs'
import path from 'node:path'
import { describe, it } from 'node:test'
import { getStepConfig } from '@motiadev/core'
import { createJiti } from 'jiti'
import { z } from 'zod'
import { motiaStepConfig } from '../scripts/step-configs.mjs'

const ROOT = path.resolve(import.meta.dirname, '..')
const STEPS = readdirSync(path.join(ROOT, 'steps'), { recursive: true })
  .map(String)
  .filter((f) => f.endsWith('.step.ts'))
  .sort()
  .map((f) => path.join(ROOT, 'steps', f))

describe('step configs read in process', () => {
  it('equal what Motia reads through a process per step, for every step', async () => {
    const jiti = createJiti(import.meta.url)
    // Motia's collector, a few at a time (each starts a Node process).
    const theirs = new Map<string, unknown>()
    for (let i = 0; i < STEPS.length; i += 6)
      await Promise.all(STEPS.slice(i, i + 6).map(async (f) => theirs.set(f, await getStepConfig(f, ROOT))))
    assert.ok(STEPS.length > 20, `found ${STEPS.length} steps`)
    for (const file of STEPS) {
      const mod = (await jiti.import(file)) as { config: Record<string, unknown> }
      assert.deepEqual(motiaStepConfig(mod.config), theirs.get(file), path.relative(ROOT, file))
    }
  })

  it('stops on a schema Motia cannot turn into JSON Schema, as Motia does', () => {
    assert.throws(
      () => motiaStepConfig({ type: 'api', bodySchema: z.string().transform((s) => s.length) }),
      /Transforms/,
    )
  })
})
