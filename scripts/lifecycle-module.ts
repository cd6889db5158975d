/**
 * Writes public/js/lifecycle.js, the dashboard's copy of the incident lifecycle (statuses, labels,
 * groups, allowed next statuses), from src/platform/store/lifecycle.ts. The dashboard has no build
 * step, so the module is generated and checked in; tests/generated.test.ts fails when it differs
 * from the lifecycle, so a status added on the server cannot be missing on the page.
 */
import { readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { lifecycleDescription } from '../src/platform/store/lifecycle'

const root = path.resolve(import.meta.dirname, '..')
export const LIFECYCLE_MODULE = path.join(root, 'public', 'js', 'lifecycle.js')

export function lifecycleModule(): string {
  return [
    '/*',
    ' * The incident lifecycle as the server defines it: statuses with their labels, groups and next',
    ' * statuses. Generated from src/platform/store/lifecycle.ts by `npm run generate`: do not edit.',
    ' */',
    `export const LIFECYCLE = ${JSON.stringify(lifecycleDescription(), null, 2)}`,
    '',
  ].join('\n')
}

export const lifecycleModuleIsCurrent = () => readFileSync(LIFECYCLE_MODULE, 'utf8') === lifecycleModule()

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(import.meta.filename)) {
  writeFileSync(LIFECYCLE_MODULE, lifecycleModule())
  console.log('public/js/lifecycle.js written from the lifecycle')
}
