/**
 * Which step processes may hold which secret. Motia starts a Node process per step invocation and,
 * left alone, hands each one the main process's whole environment; /proc/<pid>/environ of every one
 * of them is readable by the same user. The main-process-only secrets are removed for all of them
 * (secrets.ts). The two a step does use are handed only to the steps that can reach the module that
 * uses them:
 *  - OPENROUTER_API_KEY: the LLM client (src/analyze/analysis.ts), reached by the analysis step;
 *  - SLACK_BOT_TOKEN: the flow's Slack messages (src/approve/slack/notify.ts), reached by the
 *    approval and outcome steps.
 * "Can reach" is the step file's static import closure, read from the sources (relative imports;
 * `import type` carries no code, so it does not count). A step that cannot reach the user of a
 * secret gets the environment without it, and its name in SENTINEL_SCRUBBED_SECRETS so that its
 * configuration neither reads it back from `.env` nor calls a set-all-or-none group incomplete.
 * REDIS_PASSWORD stays for every step process: each one opens the incident store.
 * scripts/motia-start.mjs applies this to every step process it spawns; tests/step-secrets.test.ts
 * checks that every module naming one of these secrets is covered.
 */
import { existsSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { scrubbedSecrets, SCRUBBED_SECRETS_VARIABLE } from './secrets'

/** Each step-scoped secret, and the modules (project-relative) that use its value. */
export const STEP_SECRET_USERS = {
  OPENROUTER_API_KEY: ['src/analyze/analysis.ts'],
  SLACK_BOT_TOKEN: ['src/approve/slack/notify.ts'],
} as const satisfies Record<string, readonly string[]>

export type StepSecret = keyof typeof STEP_SECRET_USERS

// import ... from '<spec>', export ... from '<spec>', import '<spec>', import('<spec>'), require('<spec>')
const IMPORT_PATTERNS = [
  /^\s*(import|export)\s+(type\s+)?[^'"]*?\sfrom\s*['"]([^'"]+)['"]/gm,
  /^\s*import\s*['"]([^'"]+)['"]/gm,
  /\b(?:import|require)\(\s*['"]([^'"]+)['"]\s*\)/g,
]
const EXTENSIONS = ['', '.ts', '.tsx', '.mts', '.js', '.mjs', '/index.ts', '/index.js']

/** The project-relative files a module imports directly (value imports of relative paths only). */
export function directImports(file: string, projectRoot: string): string[] {
  const absolute = path.resolve(projectRoot, file)
  const text = readFileSync(absolute, 'utf8')
  const specifiers: string[] = []
  for (const match of text.matchAll(IMPORT_PATTERNS[0])) if (!match[2]) specifiers.push(match[3])
  for (const match of text.matchAll(IMPORT_PATTERNS[1])) specifiers.push(match[1])
  for (const match of text.matchAll(IMPORT_PATTERNS[2])) specifiers.push(match[1])
  const out: string[] = []
  for (const specifier of specifiers) {
    if (!specifier.startsWith('.')) continue // a package: not Sentinel's code
    const base = path.resolve(path.dirname(absolute), specifier).replace(/\.js$/, '')
    const found = EXTENSIONS.map((ext) => base + ext).find((candidate) => isFile(candidate))
    if (found) out.push(path.relative(projectRoot, found))
  }
  return out
}

const isFile = (candidate: string) =>
  existsSync(candidate) && !candidate.endsWith('/') && /\.[cm]?[jt]sx?$/.test(candidate)

/** Every project file `entry` reaches through value imports, itself included. */
export function importClosure(entry: string, projectRoot: string): Set<string> {
  const seen = new Set<string>()
  const pending = [path.relative(projectRoot, path.resolve(projectRoot, entry))]
  while (pending.length) {
    const file = pending.pop()!
    if (seen.has(file)) continue
    seen.add(file)
    pending.push(...directImports(file, projectRoot))
  }
  return seen
}

/** The step-scoped secrets a module closure needs. */
export function secretsNeeded(closure: Set<string>): Set<StepSecret> {
  const needed = new Set<StepSecret>()
  for (const [secret, users] of Object.entries(STEP_SECRET_USERS) as [StepSecret, readonly string[]][])
    if (users.some((user) => closure.has(user))) needed.add(secret)
  return needed
}

const closures = new Map<string, Set<string>>()

/**
 * The environment for a process running `stepFile` (project-relative or absolute source path): `env`
 * without the step-scoped secrets the step cannot reach; `configured` names the secrets the
 * configuration holds (those set only in `.env` included). The closure is computed once per step file
 * per process. A file that cannot be read keeps none of them.
 */
export function environmentForStep(
  env: NodeJS.ProcessEnv,
  stepFile: string,
  projectRoot: string,
  configured: ReadonlySet<string> = new Set(),
): NodeJS.ProcessEnv {
  let closure = closures.get(stepFile)
  if (!closure) {
    try {
      closure = importClosure(stepFile, projectRoot)
    } catch {
      closure = new Set()
    }
    closures.set(stepFile, closure)
  }
  const needed = secretsNeeded(closure)
  const out: NodeJS.ProcessEnv = { ...env }
  const removed = scrubbedSecrets(env)
  for (const secret of Object.keys(STEP_SECRET_USERS) as StepSecret[]) {
    if (needed.has(secret)) continue
    // Set in the environment, or only in `.env` (the configuration holds it): either way, named.
    if (out[secret] !== undefined || configured.has(secret)) removed.add(secret)
    delete out[secret]
  }
  if (removed.size) out[SCRUBBED_SECRETS_VARIABLE] = [...removed].join(',')
  return out
}
