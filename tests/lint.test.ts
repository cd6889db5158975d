/**
 * The tree's style is checked like its behaviour: ESLint (typescript-eslint's recommended rules,
 * eslint.config.js) and Prettier (.prettierrc.json) over every file they cover. A lint error or an
 * unformatted file fails `npm test`; `npm run format` fixes the formatting.
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import path from 'node:path'
import { it } from 'node:test'

const root = path.resolve(import.meta.dirname, '..')
const bin = (name: string) => path.join(root, 'node_modules', '.bin', name)

it('ESLint finds no error', () => {
  const r = spawnSync(bin('eslint'), ['--max-warnings', '0', '.'], { cwd: root, encoding: 'utf8' })
  assert.equal(r.status, 0, `eslint:\n${r.stdout}${r.stderr}`)
})

it('every file is formatted as Prettier would write it', () => {
  const r = spawnSync(bin('prettier'), ['--check', '--log-level', 'warn', '.'], { cwd: root, encoding: 'utf8' })
  assert.equal(r.status, 0, `not formatted (run npm run format):\n${r.stdout}${r.stderr}`)
})
