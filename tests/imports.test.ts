/**
 * Motia compiles each step's relative imports file by file and cannot resolve a directory import
 * (`../config` for `../config/index.ts`): the start fails at run time. This keeps them out.
 */
import assert from 'node:assert/strict'
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import path from 'node:path'
import { it } from 'node:test'
import { LAYER_NAMES } from '../scripts/layers'

const root = path.resolve(import.meta.dirname, '..')
function* files(dir: string): Generator<string> {
  for (const name of readdirSync(dir)) {
    const p = path.join(dir, name)
    if (name === 'node_modules' || name.startsWith('.')) continue
    if (statSync(p).isDirectory()) yield* files(p)
    else if (/\.ts$/.test(name) && !/\.test\.ts$/.test(name)) yield p
  }
}

it('step-reachable code imports files statically, never directories', () => {
  const bad: string[] = []
  for (const dir of ['steps', 'src', 'middlewares']) {
    for (const file of files(path.join(root, dir))) {
      const text = readFileSync(file, 'utf8')
      for (const m of text.matchAll(/from\s+['"](\.{1,2}\/[^'"]+)['"]/g)) {
        const target = path.resolve(path.dirname(file), m[1])
        if (existsSync(target) && statSync(target).isDirectory()) bad.push(`${path.relative(root, file)}: ${m[1]}`)
        if (m[1].endsWith('.js')) bad.push(`${path.relative(root, file)}: ${m[1]} (no .js on relative imports)`)
      }
      // Motia's compiler only follows static `from '...'` imports: a relative dynamic import is
      // never compiled and fails in the step process.
      for (const m of text.matchAll(/import\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*\)/g)) {
        bad.push(`${path.relative(root, file)}: import('${m[1]}') (use a static import for project files)`)
      }
    }
  }
  assert.deepEqual(bad, [])
})

/**
 * The layers, lowest first (scripts/layers.ts). A module may import its own layer and the layers below it, never one
 * above: the platform (config, store, docker, telemetry, auth, events, http, stream) knows no
 * stage, the actions know no stage, and the stages follow the pipeline, so a change to a later
 * stage can never break an earlier one. `chaos` (fault injection for game days) sits above the
 * stages it exercises; `app` wires everything into the running process.
 */
const LAYERS = LAYER_NAMES
const layerOf = (file: string): number => {
  const top = path.relative(path.join(root, 'src'), file).split(path.sep)[0]
  return LAYERS.indexOf(top)
}

it('src/ holds exactly the layers, each importing only its own layer and those below it', () => {
  const tops = readdirSync(path.join(root, 'src')).filter((n) => statSync(path.join(root, 'src', n)).isDirectory())
  assert.deepEqual(
    tops.filter((t) => !LAYERS.includes(t)),
    [],
    `unknown folders in src/ (add them to LAYERS in order)`,
  )
  const bad: string[] = []
  for (const file of files(path.join(root, 'src'))) {
    const from = layerOf(file)
    const text = readFileSync(file, 'utf8')
    for (const m of text.matchAll(/(?:from|import)\s*\(?\s*['"](\.{1,2}\/[^'"]+)['"]/g)) {
      const target = path.resolve(path.dirname(file), m[1])
      const rel = path.relative(root, target)
      if (!rel.startsWith(`src${path.sep}`)) {
        bad.push(
          `${path.relative(root, file)}: ${m[1]} (src/ never imports outside src/: test fixtures live in tests/)`,
        )
        continue
      }
      const to = layerOf(target)
      if (to > from) bad.push(`${path.relative(root, file)} (${LAYERS[from]}) imports ${LAYERS[to]}: ${m[1]}`)
    }
  }
  assert.deepEqual(bad, [])
})
