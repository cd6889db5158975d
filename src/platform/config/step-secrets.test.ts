import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { describe, it } from 'node:test'
import { scrubbedSecrets } from './secrets'
import { directImports, environmentForStep, importClosure, STEP_SECRET_USERS, type StepSecret } from './step-secrets'

const ROOT = path.resolve(import.meta.dirname, '..', '..', '..')

function stepFiles(dir = 'steps'): string[] {
  return readdirSync(path.join(ROOT, dir), { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory()
      ? stepFiles(`${dir}/${entry.name}`)
      : entry.name.endsWith('.step.ts')
        ? [`${dir}/${entry.name}`]
        : [],
  )
}

describe('step-scoped secrets', () => {
  it('follows value imports of every kind, and not type-only ones', () => {
    const root = mkdtempSync(path.join(tmpdir(), 'step-secrets-'))
    try {
      mkdirSync(path.join(root, 'lib'))
      for (const name of ['a', 'b', 'c', 'd', 'e', 'types']) writeFileSync(path.join(root, 'lib', `${name}.ts`), '')
      writeFileSync(path.join(root, 'lib', 'index.ts'), `export * from './e'\n`)
      writeFileSync(
        path.join(root, 'entry.ts'),
        [
          `import { x } from './lib/a'`,
          `import type { T } from './lib/types'`,
          `export { y } from './lib/b.js'`,
          `import './lib/c'`,
          `const later = () => import('./lib/d')`,
          `import {\n  z,\n} from './lib'`,
          `import pkg from 'zod'`,
        ].join('\n'),
      )
      assert.deepEqual(directImports('entry.ts', root).sort(), [
        'lib/a.ts',
        'lib/b.ts',
        'lib/c.ts',
        'lib/d.ts',
        'lib/index.ts',
      ])
      assert.ok(importClosure('entry.ts', root).has('lib/e.ts'), 'through the index re-export')
      assert.ok(!importClosure('entry.ts', root).has('lib/types.ts'))
    } finally {
      rmSync(root, { recursive: true, force: true })
    }
  })

  it('gives the LLM key to the analysis step only, the bot token to the Slack steps only', () => {
    const env = { PATH: '/bin', OPENROUTER_API_KEY: 'llm-key', SLACK_BOT_TOKEN: 'bot-token', REDIS_PASSWORD: 'pw' }
    const analysis = environmentForStep(env, 'steps/analyze/analyze-incident.step.ts', ROOT)
    assert.equal(analysis.OPENROUTER_API_KEY, 'llm-key')
    assert.equal(analysis.SLACK_BOT_TOKEN, undefined)
    assert.equal(analysis.REDIS_PASSWORD, 'pw')
    assert.deepEqual([...scrubbedSecrets(analysis)], ['SLACK_BOT_TOKEN'])

    const approval = environmentForStep(env, 'steps/approve/request-approval.step.ts', ROOT)
    assert.equal(approval.SLACK_BOT_TOKEN, 'bot-token')
    assert.equal(approval.OPENROUTER_API_KEY, undefined)

    const events = environmentForStep(env, 'steps/observe/monitor.cron.step.ts', ROOT)
    assert.equal(events.OPENROUTER_API_KEY, undefined)
    assert.equal(events.SLACK_BOT_TOKEN, undefined)
    assert.equal(events.REDIS_PASSWORD, 'pw')
    assert.deepEqual([...scrubbedSecrets(events)].sort(), ['OPENROUTER_API_KEY', 'SLACK_BOT_TOKEN'])
    assert.equal(env.OPENROUTER_API_KEY, 'llm-key', 'the given environment is not changed')
  })

  it('names a secret set only in .env, keeps earlier scrubbed names, and fails closed on an unknown file', () => {
    const env = { SENTINEL_SCRUBBED_SECRETS: 'SLACK_SIGNING_SECRET' }
    const out = environmentForStep(env, 'steps/observe/monitor.cron.step.ts', ROOT, new Set(['OPENROUTER_API_KEY']))
    assert.deepEqual([...scrubbedSecrets(out)].sort(), ['OPENROUTER_API_KEY', 'SLACK_SIGNING_SECRET'])
    const unknown = environmentForStep({ OPENROUTER_API_KEY: 'k' }, 'steps/nowhere.step.ts', ROOT)
    assert.equal(unknown.OPENROUTER_API_KEY, undefined)
  })

  // A module that reads a step-scoped secret from the configuration, in a step process that was not
  // given it, would silently see it unset: every such read must be reachable only by granted steps.
  it('covers every read of a step-scoped secret in the code a step process runs', () => {
    const read = (secret: string) => new RegExp(`[\\w)\\]]\\??\\.${secret}\\b`)
    const processSteps = stepFiles().filter((file) => !file.endsWith('.api.step.ts')) // API steps run in the main process
    assert.ok(processSteps.length >= 10, `found ${processSteps.length} step files`)
    const problems: string[] = []
    for (const step of processSteps) {
      const closure = importClosure(step, ROOT)
      for (const secret of Object.keys(STEP_SECRET_USERS) as StepSecret[]) {
        const granted = STEP_SECRET_USERS[secret].some((user) => closure.has(user))
        for (const file of closure) {
          if (!granted && read(secret).test(readFileSync(path.join(ROOT, file), 'utf8')))
            problems.push(`${step} reaches ${file}, which reads ${secret}, but is not given it`)
        }
      }
    }
    assert.deepEqual(problems, [])
    // The users named exist and do read their secret.
    for (const [secret, users] of Object.entries(STEP_SECRET_USERS))
      for (const user of users) assert.match(readFileSync(path.join(ROOT, user), 'utf8'), read(secret), user)
  })
})
