/**
 * Motia compiles each step's relative imports file by file and cannot resolve a directory import
 * (`../config` for `../config/index.ts`): the start fails at run time. This keeps them out.
 */
import assert from 'node:assert/strict'
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import path from 'node:path'
import { it } from 'node:test'

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
