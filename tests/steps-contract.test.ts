/**
 * The flow's contract, checked on the step configs Motia loads and on the source:
 *
 * - a topic is spelled only in src/platform/events/topics.ts: every `subscribes`, `emits`,
 *   `virtualSubscribes`, `virtualEmits`, `{ topic }` and `emit(...)` names it through `TOPICS`;
 * - every topic a step emits has a step subscribed to it (or is declared in EXTERNAL_OUTPUTS), and
 *   every topic a step subscribes to is emitted by a step or by the main process (drawn as a noop
 *   step's `virtualEmits`); every topic the main process emits is drawn that way;
 * - an event step's `input` is its topic's payload schema (TOPIC_PAYLOADS);
 * - every step config `satisfies` Motia's config type and its handler is typed from that config
 *   (src/platform/events/steps.ts), never by a hand-written `FlowContext<...>`.
 */
import assert from 'node:assert/strict'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import path from 'node:path'
import { describe, it } from 'node:test'
import ts from 'typescript'
import type { Emit, StepConfig } from 'motia'
import { EXTERNAL_OUTPUTS, TOPIC_PAYLOADS, TOPICS } from '../src/platform/events/topics'

const root = path.resolve(import.meta.dirname, '..')
const TOPICS_FILE = path.join(root, 'src', 'platform', 'events', 'topics.ts')
const TOPIC_VALUES = new Set<string>(Object.values(TOPICS))

function* tsFiles(dir: string): Generator<string> {
  for (const name of readdirSync(dir)) {
    const p = path.join(dir, name)
    if (name === 'node_modules' || name.startsWith('.')) continue
    if (statSync(p).isDirectory()) yield* tsFiles(p)
    else if (/\.(m?ts)$/.test(name) && !name.endsWith('.d.ts')) yield p
  }
}

const rel = (file: string) => path.relative(root, file)
const propName = (n: ts.PropertyName): string | undefined =>
  ts.isIdentifier(n) || ts.isStringLiteralLike(n) ? n.text : undefined

/** Config properties that hold topics, and the property of an event (`{ topic, data }`). */
const TOPIC_PROPS = new Set(['subscribes', 'emits', 'virtualSubscribes', 'virtualEmits', 'topic'])
/** Calls that put an event into the flow: `emit({ topic })`, `emit(topic, data)`, `enqueue(...)`. */
const EMIT_CALLS = new Set(['emit', 'enqueue'])
/** What a topic looks like when spelled by hand (`incident.opened`), as opposed to a log level. */
const looksLikeTopic = (s: string) => TOPIC_VALUES.has(s) || /^[a-z][a-z_]*\.[a-z][a-z_]*$/.test(s)

/** The string literals an expression in a topic position is made of (through ?:, ??, arrays and `{ topic }`). */
function literalsIn(node: ts.Node): ts.Node[] {
  if (ts.isStringLiteralLike(node) || ts.isTemplateExpression(node)) return [node]
  if (
    ts.isParenthesizedExpression(node) ||
    ts.isAsExpression(node) ||
    ts.isSatisfiesExpression(node) ||
    ts.isNonNullExpression(node)
  )
    return literalsIn(node.expression)
  if (ts.isConditionalExpression(node)) return [...literalsIn(node.whenTrue), ...literalsIn(node.whenFalse)]
  if (
    ts.isBinaryExpression(node) &&
    [ts.SyntaxKind.QuestionQuestionToken, ts.SyntaxKind.BarBarToken].includes(node.operatorToken.kind)
  )
    return [...literalsIn(node.left), ...literalsIn(node.right)]
  if (ts.isArrayLiteralExpression(node))
    return node.elements.flatMap((e) => literalsIn(ts.isSpreadElement(e) ? e.expression : e))
  if (ts.isObjectLiteralExpression(node))
    return node.properties.flatMap((p) =>
      ts.isPropertyAssignment(p) && propName(p.name) === 'topic' ? literalsIn(p.initializer) : [],
    )
  return []
}

const calleeName = (call: ts.CallExpression): string | undefined =>
  ts.isIdentifier(call.expression)
    ? call.expression.text
    : ts.isPropertyAccessExpression(call.expression)
      ? call.expression.name.text
      : undefined

const textOf = (n: ts.Node, sf: ts.SourceFile) => n.getText(sf)

/**
 * Topics spelled as strings in `source`: in a topic property (any string there), as the topic an
 * emit call or a queue job names, or, in a step file, anywhere a topic's exact name appears.
 */
export function topicLiterals(source: string, fileName: string, opts: { anywhere?: boolean } = {}): string[] {
  const sf = ts.createSourceFile(
    fileName,
    source,
    ts.ScriptTarget.Latest,
    true,
    fileName.endsWith('x') ? ts.ScriptKind.TSX : ts.ScriptKind.TS,
  )
  const found = new Map<number, string>()
  const flag = (n: ts.Node, why: string) => {
    const { line } = sf.getLineAndCharacterOfPosition(n.getStart(sf))
    found.set(n.getStart(sf), `${fileName}:${line + 1}: ${textOf(n, sf)} (${why})`)
  }
  const visit = (n: ts.Node) => {
    if (ts.isPropertyAssignment(n) && TOPIC_PROPS.has(propName(n.name) ?? '')) {
      for (const lit of literalsIn(n.initializer)) flag(lit, `${propName(n.name)}: use TOPICS`)
    }
    if (ts.isCallExpression(n) && n.arguments.length) {
      const name = calleeName(n) ?? ''
      const first = n.arguments[0]
      if (EMIT_CALLS.has(name) || name === 'add') {
        for (const lit of literalsIn(first)) {
          const text = ts.isStringLiteralLike(lit) ? lit.text : undefined
          if (
            text === undefined ? EMIT_CALLS.has(name) : name === 'add' ? TOPIC_VALUES.has(text) : looksLikeTopic(text)
          )
            flag(lit, `${name}(): use TOPICS`)
        }
      }
    }
    if (ts.isStringLiteralLike(n)) {
      // Motia's queue for a subscriber is `<topic>.<StepName>`.
      for (const t of TOPIC_VALUES)
        if (n.text.startsWith(`${t}.`) && /^[A-Z]/.test(n.text.slice(t.length + 1)))
          flag(n, 'a queue name spelling a topic: use TOPICS')
      if (opts.anywhere && TOPIC_VALUES.has(n.text)) flag(n, 'a topic spelled in a step: use TOPICS')
    }
    ts.forEachChild(n, visit)
  }
  visit(sf)
  return [...found.values()]
}

describe('flow contract', () => {
  it('the topic scanner finds topics spelled by hand, and only those', () => {
    const bad = [
      `export const config = { subscribes: ['incident.opened'], emits: [{ topic: 'x.y', label: 'l' }], virtualEmits: ['incident.acted'], virtualSubscribes: [cond ? TOPICS.acted : 'approval.requested'] }`,
      `await emit({ topic: 'incident.opened', data })`,
      `await deps.emit('incident.acted', { incidentId }, id)`,
      'await this.emit(`incident.${what}`, data, id)',
      `await queue.add('remediation.approved', { topic: TOPICS.remediationApproved })`,
      `const q = 'remediation.approved.ExecuteRemediation'`,
    ].join('\n')
    assert.equal(topicLiterals(bad, 'bad.ts').length, 9, topicLiterals(bad, 'bad.ts').join('\n'))
    assert.equal(topicLiterals(`const kind = 'incident.opened'`, 'step.ts', { anywhere: true }).length, 1)
    const good = [
      `export const config = { subscribes: [TOPICS.opened], emits: [{ topic: TOPICS.acted, label: 'verify' }], flows: ['sentinel'] }`,
      `await emit({ topic: ok ? TOPICS.verified : TOPICS.verificationFailed, data })`,
      `log.emit('info'); audit.append({ kind: 'incident.opened' }); publishToStream(redis, 'incident.opened', x); list.add('x')`,
    ].join('\n')
    assert.deepEqual(topicLiterals(good, 'good.ts'), [])
  })

  it('names every topic through TOPICS: no topic spelled as a string outside src/platform/events/topics.ts', () => {
    const bad: string[] = []
    for (const dir of ['steps', 'src', 'middlewares', 'tests', 'scripts', 'bench']) {
      for (const file of tsFiles(path.join(root, dir))) {
        if (file === TOPICS_FILE || file === import.meta.filename) continue
        bad.push(
          ...topicLiterals(readFileSync(file, 'utf8'), rel(file), {
            anywhere: dir === 'steps' || dir === 'middlewares',
          }),
        )
      }
    }
    assert.deepEqual(bad, [])
  })

  describe('the steps', async () => {
    const steps: { file: string; config: StepConfig & Record<string, unknown> }[] = []
    for (const file of tsFiles(path.join(root, 'steps'))) {
      if (!file.endsWith('.step.ts')) continue
      const mod = (await import(file)) as { config: StepConfig & Record<string, unknown> }
      steps.push({ file: rel(file), config: mod.config })
    }
    const topicsOf = (list: unknown): string[] =>
      ((list as Emit[] | undefined) ?? []).map((e) => (typeof e === 'string' ? e : e.topic))
    const subscribed = new Set(steps.flatMap((s) => (s.config.type === 'event' ? topicsOf(s.config.subscribes) : [])))
    const emittedBySteps = new Set(steps.flatMap((s) => topicsOf(s.config.emits)))
    const drawnEmits = new Set(steps.flatMap((s) => topicsOf(s.config.virtualEmits)))

    it('are all loaded', () => assert.ok(steps.length >= 25, `${steps.length} steps`))

    it('declare only topics from TOPICS', () => {
      const unknown = steps.flatMap((s) =>
        ['subscribes', 'emits', 'virtualSubscribes', 'virtualEmits'].flatMap((k) =>
          topicsOf(s.config[k])
            .filter((t) => !TOPIC_VALUES.has(t))
            .map((t) => `${s.file}: ${k} ${t}`),
        ),
      )
      assert.deepEqual(unknown, [])
    })

    it('every emitted topic has a subscribing step, or is declared an external output', () => {
      const orphans = [...new Set([...emittedBySteps, ...drawnEmits])].filter(
        (t) => !subscribed.has(t) && !EXTERNAL_OUTPUTS.includes(t as never),
      )
      assert.deepEqual(orphans, [], 'emitted, and no step subscribes')
    })

    it('every subscribed topic is emitted by a step or by the main process (a noop step draws it)', () => {
      const unfed = [...subscribed].filter((t) => !emittedBySteps.has(t) && !drawnEmits.has(t))
      assert.deepEqual(unfed, [], 'subscribed, and nothing emits it')
      const virtual = steps.flatMap((s) =>
        topicsOf(s.config.virtualSubscribes)
          .filter((t) => !emittedBySteps.has(t) && !drawnEmits.has(t))
          .map((t) => `${s.file}: ${t}`),
      )
      assert.deepEqual(virtual, [], 'drawn as subscribed, and nothing emits it')
    })

    it('every topic the main process emits is drawn in the flow (a step emits it or a noop step draws it)', () => {
      const names = new Map(Object.entries(TOPICS))
      const undrawn: string[] = []
      let seen = 0
      for (const file of tsFiles(path.join(root, 'src'))) {
        if (file.endsWith('.test.ts')) continue
        const sf = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true)
        const visit = (n: ts.Node) => {
          if (ts.isCallExpression(n) && EMIT_CALLS.has(calleeName(n) ?? '') && n.arguments.length) {
            const first = n.arguments[0]
            if (
              ts.isPropertyAccessExpression(first) &&
              ts.isIdentifier(first.expression) &&
              first.expression.text === 'TOPICS'
            ) {
              seen++
              const topic = names.get(first.name.text)
              if (!topic || !(drawnEmits.has(topic) || emittedBySteps.has(topic)))
                undrawn.push(`${rel(file)}: ${first.getText(sf)}`)
            }
          }
          ts.forEachChild(n, visit)
        }
        visit(sf)
      }
      assert.ok(seen > 0, 'the main process emits through TOPICS')
      assert.deepEqual(undrawn, [])
    })

    it('every topic in TOPICS is emitted and subscribed', () => {
      const dead = [...TOPIC_VALUES].filter((t) => !subscribed.has(t) || !(emittedBySteps.has(t) || drawnEmits.has(t)))
      assert.deepEqual(dead, [])
    })

    it("an event step's input is its topic's payload schema", () => {
      const wrong = steps.flatMap((s) =>
        s.config.type === 'event'
          ? topicsOf(s.config.subscribes)
              .filter((t) => s.config.input !== TOPIC_PAYLOADS[t as keyof typeof TOPIC_PAYLOADS])
              .map((t) => `${s.file}: input is not TOPIC_PAYLOADS['${t}']`)
          : [],
      )
      assert.deepEqual(wrong, [])
    })

    it("satisfy Motia's config types and type their handlers from their configs", () => {
      const TYPES = {
        event: ['EventConfig', 'EventStep'],
        api: ['ApiRouteConfig', 'ApiStep'],
        cron: ['CronConfig', 'CronStep'],
        noop: ['NoopConfig', null],
      } as const
      const bad: string[] = []
      for (const s of steps) {
        const text = readFileSync(path.join(root, s.file), 'utf8')
        const [configType, handlerType] = TYPES[s.config.type]
        if (!new RegExp(`^} satisfies ${configType}$`, 'm').test(text))
          bad.push(`${s.file}: the config does not end in \`} satisfies ${configType}\``)
        if (/export const config\s*:/.test(text))
          bad.push(`${s.file}: the config is annotated (loses its literal types): use satisfies`)
        if (handlerType && !new RegExp(`export const handler: ${handlerType}<typeof config>`).test(text))
          bad.push(`${s.file}: the handler is not typed \`${handlerType}<typeof config>\``)
        if (/FlowContext\s*</.test(text) || /\bApiRequest\b/.test(text))
          bad.push(`${s.file}: a hand-written FlowContext<...> / ApiRequest (type the handler from its config)`)
        if (/req\.body\s+as\b|\bbody\s+as\s+\{|as unknown as/.test(text))
          bad.push(`${s.file}: a cast of a request or a response body (parse with the config's schema instead)`)
      }
      assert.deepEqual(bad, [])
    })
  })
})
