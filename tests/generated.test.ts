/**
 * Files generated from the source and checked in, because their readers have no build step: the
 * README's "How it is built" section (scripts/structure.ts) and the dashboard's lifecycle module
 * (scripts/lifecycle-module.ts). This fails when either is stale; `npm run generate` rewrites both.
 */
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { it } from 'node:test'
import { lifecycleModuleIsCurrent } from '../scripts/lifecycle-module'
import { withStructure } from '../scripts/structure'

it('the README describes the tree as it is', () => {
  const readme = readFileSync(path.join(import.meta.dirname, '..', 'README.md'), 'utf8')
  assert.ok(readme.includes('<!-- structure:begin'), 'README.md has a generated "How it is built" section')
  assert.equal(readme, withStructure(readme), 'README.md is stale: run npm run generate')
})

it("the dashboard's lifecycle module is the server's lifecycle", () => {
  assert.ok(lifecycleModuleIsCurrent(), 'public/js/lifecycle.js is stale: run npm run generate')
})
