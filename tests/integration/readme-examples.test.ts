/**
 * The README's examples run as written (issue #18): every file, script, path and link it names exists;
 * every curl line that calls the API sends a key; the API section's lines run in order, as bash runs
 * them from the clone's root, against a real Sentinel (its own Redis, port, data directory and
 * sandbox), and answer what the README says: the shipped Alertmanager payloads
 * (examples/alertmanager-*.json) get exactly the answers written under them, and no line is refused
 * for a missing key, a missing file, a bad request or an unknown id. The chaos section's lines start,
 * read and stop a run.
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { startRedis, type TestRedis } from '../helpers/redis'
import { PROJECT_ROOT, type SentinelInstance, startSentinel } from '../helpers/sentinel'

const README = readFileSync(path.join(PROJECT_ROOT, 'README.md'), 'utf8')
const README_URL = 'http://127.0.0.1:3000'

/** The README's ```sh blocks, each as its lines. */
function shellBlocks(): string[][] {
  return [...README.matchAll(/^```sh\n([\s\S]*?)^```$/gm)].map((m) => m[1].split('\n').filter((l) => l !== ''))
}

/** The block whose first line is `first`. */
function blockStartingWith(first: RegExp): string[] {
  const block = shellBlocks().find((b) => first.test(b[0]))
  assert.ok(block, `README.md has a sh block starting with ${first}`)
  return block
}

/** A documented answer (`# → {...}`) as a matcher: `inc_…` stands for any incident id. */
function matchesDocumented(documented: string, actual: unknown): boolean {
  const want = JSON.parse(documented.replace(/"inc_…"/g, '"@incident"'))
  const same = (w: unknown, a: unknown): boolean => {
    if (w === '@incident') return typeof a === 'string' && /^inc_[A-Za-z0-9_]+$/.test(a)
    if (Array.isArray(w)) return Array.isArray(a) && a.length === w.length && w.every((x, i) => same(x, a[i]))
    if (w && typeof w === 'object') {
      if (!a || typeof a !== 'object' || Array.isArray(a)) return false
      const keys = Object.keys(w)
      return keys.length === Object.keys(a).length && keys.every((k) => same((w as any)[k], (a as any)[k]))
    }
    return w === a
  }
  return same(want, actual)
}

interface LineRun {
  /** The README's line, as written. */
  line: string
  rc: number
  out: string
  /** The `# → ...` answer the README writes under it. */
  documented?: string
}

/** Runs the lines in one bash from the project root, as a reader pastes them, and splits the output per line. */
function runLines(lines: string[], sentinel: SentinelInstance, key: string): LineRun[] {
  const runs: LineRun[] = []
  const script: string[] = ['set -u', `cd ${JSON.stringify(PROJECT_ROOT)}`]
  for (const line of lines) {
    const answer = /^# → (.*)$/.exec(line)
    if (answer) {
      assert.ok(runs.length, `an answer under no command: ${line}`)
      runs[runs.length - 1].documented = answer[1]
      continue
    }
    if (line.startsWith('#')) continue
    let cmd = line.split(README_URL).join(sentinel.url)
    if (/^K=/.test(cmd)) cmd = `K='${key}'`
    // The stream lines follow the stream until Ctrl-C: two seconds of it here.
    if (/^curl -sN /.test(cmd)) cmd = `timeout 2 ${cmd}`
    const i = runs.push({ line, rc: -1, out: '' }) - 1
    script.push(`echo '@@begin ${i}'`, cmd, `rc=$?; echo; echo "@@end ${i} $rc"`)
  }
  const r = spawnSync('bash', ['-c', script.join('\n')], {
    encoding: 'utf8',
    timeout: 120_000,
    maxBuffer: 64 * 1024 * 1024,
  })
  assert.equal(r.error, undefined, String(r.error))
  for (const m of r.stdout.matchAll(/@@begin (\d+)\n([\s\S]*?)\n@@end \1 (\d+)/g)) {
    runs[Number(m[1])].out = m[2].trim()
    runs[Number(m[1])].rc = Number(m[3])
  }
  return runs
}

const json = (s: string): any => {
  try {
    return JSON.parse(s)
  } catch {
    return undefined
  }
}

describe('the README examples', () => {
  let redis: TestRedis
  let sentinel: SentinelInstance
  let sandbox: string

  before(async () => {
    redis = await startRedis()
    sandbox = mkdtempSync(path.join(os.tmpdir(), 'sentinel-readme-sandbox-'))
    sentinel = await startSentinel({ redisPort: redis.port, env: { SANDBOX_DIR: sandbox } })
  })
  after(async () => {
    await sentinel?.post('/api/chaos/stop', undefined).catch(() => {})
    await sentinel?.cleanup()
    await redis?.stop()
    rmSync(sandbox, { recursive: true, force: true })
  })

  it('names only files, scripts and links that exist', () => {
    const pkg = JSON.parse(readFileSync(path.join(PROJECT_ROOT, 'package.json'), 'utf8')) as {
      scripts: Record<string, string>
    }
    const missing: string[] = []
    const code = shellBlocks().flat().join('\n')
    for (const m of code.matchAll(/--data @(\S+)/g)) {
      const file = path.join(PROJECT_ROOT, m[1])
      if (!existsSync(file)) missing.push(`payload ${m[1]}`)
      else if (json(readFileSync(file, 'utf8')) === undefined) missing.push(`payload ${m[1]} (not JSON)`)
    }
    for (const m of README.matchAll(/npm run ([a-z][\w:-]*)/g))
      if (!pkg.scripts[m[1]]) missing.push(`npm script ${m[1]}`)
    for (const m of code.matchAll(/\b(?:bash|npx tsx|tsx) ((?:scripts|bench)\/[\w./-]+)/g))
      if (!existsSync(path.join(PROJECT_ROOT, m[1]))) missing.push(`file ${m[1]}`)
    for (const m of README.matchAll(/\]\(([^)#:]+)\)/g))
      if (!existsSync(path.join(PROJECT_ROOT, m[1]))) missing.push(`link ${m[1]}`)
    // Paths the prose names (`src/decide/stage.ts`, `tests/helpers/sentinel.ts`...), `<name>` placeholders aside.
    const prefixes = 'src|tests|scripts|steps|public|bench|examples|middlewares|observability'
    for (const m of README.matchAll(new RegExp(`\`((?:${prefixes})/[^\`\\s<>*]*)\``, 'g')))
      if (!existsSync(path.join(PROJECT_ROOT, m[1]))) missing.push(`path ${m[1]}`)
    assert.deepEqual(missing, [])
  })

  it('sends a key with every curl line that calls the API', () => {
    const bare = shellBlocks()
      .flat()
      .filter((l) => /^(?:\S+=\$\()?curl .*\/api\//.test(l) && !/\/api\/stream\?token=/.test(l))
      .filter((l) => !/Authorization: Bearer|X-API-Key:/.test(l))
    assert.deepEqual(bare, [])
  })

  it("runs the API section's lines as written, and the Alertmanager examples answer what is written under them", async () => {
    const lines = blockStartingWith(/^K='<your key>'$/)
    const runs = runLines(lines, sentinel, sentinel.keys.admin)
    const report = runs.map((r) => `${r.line}\n  → rc ${r.rc}: ${r.out.slice(0, 300)}`).join('\n')

    // Every line ran; only the stream lines are cut short (by timeout: 124).
    for (const r of runs) assert.equal(r.rc, /^curl -sN /.test(r.line) ? 124 : 0, `${r.line}\n${report}`)

    // The shipped Alertmanager payloads: exactly the documented answers, the second resolving the
    // incident the first opened.
    const posts = runs.filter((r) => /--data @examples\/alertmanager-/.test(r.line))
    assert.equal(posts.length, 2, report)
    for (const r of posts) {
      assert.ok(r.documented, `the README writes the answer under: ${r.line}`)
      assert.ok(
        matchesDocumented(r.documented!, json(r.out)),
        `${r.line}\n  documented: ${r.documented}\n  answered:   ${r.out}`,
      )
    }
    const opened = json(posts[0].out).opened[0]
    assert.deepEqual(json(posts[1].out).resolved, [opened])
    const inc = (await sentinel.get(`/api/incidents/${opened}`)).body
    assert.equal(inc.type, 'latency')
    assert.deepEqual(inc.resource, {
      kind: 'endpoint',
      id: 'http://shop.example.invalid/health',
      name: 'http://shop.example.invalid/health',
    })
    assert.equal(inc.status, 'resolved')
    assert.deepEqual(inc.actions, [], 'the example makes Sentinel touch nothing')

    // No line is refused for the way it is written. The lines on $ID answer 409 with a reason
    // when the newest incident is not in a state for them, as the README says.
    const STATE_CONFLICTS = ['already_decided', 'nothing_to_roll_back', 'already_closed', 'not_pending']
    for (const r of runs) {
      const error = json(r.out)?.error
      if (error === undefined) continue
      assert.ok(
        /\/\$ID\/(approve|reject|rollback|resolve)"$/.test(r.line) && STATE_CONFLICTS.includes(error),
        `${r.line}\n  → ${r.out}`,
      )
    }
    const out = (re: RegExp) => runs.find((r) => re.test(r.line))!.out
    assert.equal(json(out(/\/healthz$/)).status, 'ok')
    assert.equal(json(out(/\/api\/whoami$/)).role, 'admin')
    assert.equal(json(out(/\/api\/trigger-alert$/)).status, 'open')
    assert.ok(Array.isArray(json(out(/limit=1&cursor=\$C"$/)).incidents), 'the cursor line reads the next page')
    assert.match(json(out(/\/api\/incidents\/\$ID"$/)).id, /^inc_/)
    assert.match(out(/^curl -s http:\/\/127\.0\.0\.1:3000\/metrics$/), /^# HELP sentinel_/m)
    assert.match(out(/^curl -sN "/), /^event: ready$/m)
  })

  it("runs the chaos section's lines: a run starts, is read and stops", () => {
    const block = blockStartingWith(/^curl .*\\$/)
    assert.ok(block.some((l) => l.includes('/api/chaos/start')))
    // One answer a line: a newline after each command (not inside a continued one).
    const lines = block
      .map((l) => l.split(README_URL).join(sentinel.url))
      .map((l) => (l.endsWith('\\') ? l : `${l}; echo`))
    const script = [`cd ${JSON.stringify(PROJECT_ROOT)}`, `K='${sentinel.keys.admin}'`, ...lines]
    const r = spawnSync('bash', ['-c', script.join('\n')], { encoding: 'utf8', timeout: 60_000 })
    assert.equal(r.status, 0, r.stderr)
    const [started, status, stopped] = r.stdout.trim().split('\n').map(json)
    assert.match(started?.runId ?? '', /^chaos_/, r.stdout)
    assert.equal(status?.desired?.runId, started.runId, r.stdout)
    assert.equal(stopped?.status, 'stopping', r.stdout)
  })
})
