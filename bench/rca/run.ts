/**
 * bench/rca (`npm run bench:rca`): the fault suite of root-cause analysis. Real containers (the
 * busybox test image, small `sh -c` scripts) fail in each way the analysers know (bench/rca/faults.ts:
 * out of memory, a leak, a CPU hog, a disk filled by logs / temp / cache, a bad configuration, an
 * unreachable dependency, a slow downstream, a port in use, a killed process, a clean exit, a
 * transient reading), each in several variants (names, sizes, timings, log wording), next to two
 * healthy controls; a real Sentinel (its own Redis, data directory, watch label and sandbox) handles
 * them, and the stored analyses are scored (bench/rca/score.ts): right cause, right fix, no fix
 * where none is safe.
 *
 * Two passes, each with a fresh Sentinel:
 *   rules  no OPENROUTER_API_KEY: the rule analyser answers. Prints every case, the confusion table
 *          (expected × got cause) and the accuracy of cause and fix.
 *   llm    OPENROUTER_BASE_URL points at a stand-in (tests/helpers/llm-standin.ts) that records
 *          every prompt and answers a neutral analysis (cause unknown, no fix). Prints, per fault
 *          and overall, the share of cases whose prompt carried the fault's decisive evidence (the
 *          test per fault is in faults.ts; only the user messages count, without the cause labels'
 *          own descriptions).
 *
 * An analysis without a `cause` field (the analyser before it names one) counts as `unknown`; the
 * run says how many.
 *
 *   npm run bench:rca -- [--quick] [--variants 3] [--concurrency 3] [--pass both|rules|llm] [--only oom,cpu_hog]
 *
 * --quick: one variant of each fault. Cases run --concurrency at a time (default 3); cases that
 * share the sandbox (disk) or the CPU (CPU hogs) run one at a time. The monitor ticks every
 * MONITOR_SECONDS with short alert holds (faults.ts `sentinelEnv`); anomaly incidents are off and
 * the host's own CPU and memory thresholds are out of reach (other work shares this machine).
 * The disk cases need root: the sandbox is a tmpfs mounted for the run (and unmounted after).
 *
 * Everything the run makes (containers, by name and by its watch label; the tmpfs; Redis;
 * Sentinel; the local servers) is removed at the end, on failure and on Ctrl-C. The last line is
 * every figure as JSON.
 */
import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import { DEFAULT_EXCLUDED_FS_TYPES } from '../../src/platform/config/observe'
import { TEST_IMAGE } from '../../tests/helpers/docker'
import { reply, startFakeOpenRouter, type FakeOpenRouter } from '../../tests/helpers/llm-standin'
import { sleep } from '../../tests/helpers/ports'
import { startRedis, type TestRedis } from '../../tests/helpers/redis'
import { PROJECT_ROOT, startSentinel, type SentinelInstance } from '../../tests/helpers/sentinel'
import { machine } from '../sse/common'
import { startDownstream, type Downstream } from './downstream'
import { promptText } from './evidence'
import { BUILDERS, controls, SANDBOX_MB, sentinelEnv, type BenchContext, type Scenario } from './faults'
import * as F from './faults'
import {
  accuracy,
  CAUSE_LEGEND,
  confusion,
  CONTROL,
  describeFix,
  evidenceShare,
  FAULTS,
  formatConfusion,
  formatTable,
  pct,
  scoreControl,
  scoreFault,
  type CaseResult,
  type Fault,
} from './score'

const execFileP = promisify(execFile)
const argv = process.argv.slice(2)
const flag = (name: string) => argv.includes(`--${name}`)
const option = (name: string): string | undefined => {
  const i = argv.indexOf(`--${name}`)
  return i >= 0 ? argv[i + 1] : undefined
}
const QUICK = flag('quick')
const VARIANTS = QUICK ? 1 : Math.max(1, Number(option('variants') ?? 3) || 3)
const CONCURRENCY = Math.max(1, Number(option('concurrency') ?? 3) || 3)
const PASS = option('pass') ?? 'both'
if (!['both', 'rules', 'llm'].includes(PASS)) throw new Error(`--pass: both, rules or llm, not ${PASS}`)
const ONLY = option('only')
  ?.split(',')
  .map((s) => s.trim())
  .filter(Boolean)
for (const f of ONLY ?? [])
  if (!(FAULTS as readonly string[]).includes(f)) throw new Error(`--only: unknown fault ${f}`)
const SELECTED: Fault[] = FAULTS.filter((f) => !ONLY || ONLY.includes(f))
/** Long cases first in each round, so the short ones fill the gaps. */
const ORDER: Fault[] = [
  'memory_leak',
  'disk_fill',
  'cpu_hog',
  'oom',
  'transient',
  'slow_downstream',
  'bad_config',
  'dependency_unreachable',
  'port_in_use',
  'killed',
  'clean_exit',
]

async function docker(...args: string[]): Promise<string> {
  const { stdout } = await execFileP('docker', args, { maxBuffer: 16 * 1024 * 1024, timeout: 60_000 })
  return stdout.trim()
}

const log = (msg: string) => console.log(msg)
const short = (s: string, n = 44) => (s.length > n ? `…${s.slice(-(n - 1))}` : s)

// ---------------------------------------------------------------------------------------------
// What the run made, for the clean-up (idempotent: the end, a failure and Ctrl-C all call it).

const made = {
  labels: new Set<string>(),
  sentinel: undefined as SentinelInstance | undefined,
  redis: undefined as TestRedis | undefined,
  downstream: undefined as Downstream | undefined,
  llm: undefined as FakeOpenRouter | undefined,
  sandboxBase: undefined as string | undefined,
  sandboxMounted: false,
}

async function removeLabelled(): Promise<void> {
  for (const label of made.labels) {
    const ids = (await docker('ps', '-aq', '--filter', `label=${label}`).catch(() => '')).split('\n').filter(Boolean)
    if (ids.length) await docker('rm', '-f', ...ids).catch(() => '')
  }
}

async function stopSentinel(): Promise<void> {
  const { sentinel, redis } = made
  made.sentinel = undefined
  made.redis = undefined
  await sentinel?.cleanup().catch(() => {})
  await redis?.stop().catch(() => {})
}

let cleaning: Promise<void> | undefined
function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    await removeLabelled()
    await stopSentinel()
    await made.downstream?.close().catch(() => {})
    await made.llm?.close().catch(() => {})
    if (made.sandboxBase) {
      if (made.sandboxMounted)
        await execFileP('umount', [path.join(made.sandboxBase, 'sandbox')]).catch((err) =>
          console.error(`could not unmount the sandbox: ${(err as Error).message}`),
        )
      rmSync(made.sandboxBase, { recursive: true, force: true })
    }
  })()
  return cleaning
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    console.error(`\n${signal}: removing what the bench made…`)
    void cleanup().finally(() => process.exit(130))
  })
}

// ---------------------------------------------------------------------------------------------
// The sandbox: a small tmpfs, so that a few tens of MiB fill a filesystem the monitor checks.

const CLEANABLE = ['logs', 'temp', 'cache', '.quarantine']

async function mountSandbox(): Promise<string | undefined> {
  made.sandboxBase = mkdtempSync(path.join(os.tmpdir(), 'sentinel-rca-'))
  const dir = path.join(made.sandboxBase, 'sandbox')
  mkdirSync(dir)
  try {
    await execFileP('mount', ['-t', 'tmpfs', '-o', `size=${SANDBOX_MB}m,mode=0755`, 'sentinel-rca', dir])
    made.sandboxMounted = true
  } catch (err) {
    log(`disk cases skipped: no tmpfs for the sandbox (${(err as Error).message.split('\n')[0]})`)
    return undefined
  }
  for (const sub of ['logs', 'temp', 'cache', 'data']) mkdirSync(path.join(dir, sub))
  // Data that must be kept: cleaning never touches data/.
  writeFileSync(path.join(dir, 'data', 'orders.db'), Buffer.alloc(4 * 1024 * 1024, 7))
  return dir
}

function emptySandbox(dir: string): void {
  for (const sub of CLEANABLE) {
    const d = path.join(dir, sub)
    let entries: string[] = []
    try {
      entries = readdirSync(d)
    } catch {}
    for (const e of entries) rmSync(path.join(d, e), { recursive: true, force: true })
  }
}

// ---------------------------------------------------------------------------------------------
// One pass.

type PassName = 'rules' | 'llm'

interface PassOutcome {
  pass: PassName
  results: CaseResult[]
  skipped: Array<{ fault: Fault; variant: number; why: string }>
  /** Per fault, what counted as its decisive evidence (each variant's wording). */
  evidenceWhat: Partial<Record<Fault, string[]>>
  seconds: number
}

const NEUTRAL_ANSWER = JSON.stringify({
  root_cause: 'stand-in: no judgement made',
  cause: 'unknown',
  evidence: [],
  proposed_fix: null,
  risk_level: 'low',
  confidence: 0.1,
})

async function incidentsOf(sentinel: SentinelInstance, resource: string): Promise<any[]> {
  const res = await sentinel.get(`/api/incidents?view=full&limit=50&resource=${encodeURIComponent(resource)}`, 'viewer')
  if (res.status !== 200) throw new Error(`GET /api/incidents: ${res.status}`)
  return (res.body.incidents as any[]).sort((a, b) => Date.parse(a.openedAt) - Date.parse(b.openedAt))
}

/** The case's incident once it is analysed (or whatever there is at the deadline). */
async function analysedIncident(
  sentinel: SentinelInstance,
  s: Scenario,
  since: number,
): Promise<{ incident?: any; others: any[] }> {
  const deadline = since + s.timeoutMs
  let last: { incident?: any; others: any[] } = { others: [] }
  for (;;) {
    try {
      const all = (await incidentsOf(sentinel, s.resource)).filter((i) => Date.parse(i.openedAt) >= since - 2000)
      const mine = all.filter((i) => i.type === s.alertType)
      last = { incident: mine[0], others: all.filter((i) => i !== mine[0]) }
      if (mine[0]?.analysis) {
        const one = await sentinel.get(`/api/incidents/${encodeURIComponent(mine[0].id)}`, 'viewer')
        return { ...last, incident: one.status === 200 ? one.body : mine[0] }
      }
    } catch {}
    if (Date.now() > deadline) return last
    await sleep(1000)
  }
}

async function settleDisk(sentinel: SentinelInstance, dir: string, incidentId: string | undefined): Promise<void> {
  emptySandbox(dir)
  // The next disk case needs an incident of its own: this one is closed, and the alert clear.
  if (incidentId)
    await sentinel.post(
      `/api/incidents/${encodeURIComponent(incidentId)}/resolve`,
      { reason: 'bench: scored' },
      'operator',
    )
  const deadline = Date.now() + 60_000
  while (Date.now() < deadline) {
    const res = await sentinel.get('/api/infrastructure-status', 'viewer').catch(() => undefined)
    const check = (res?.body?.checks as any[] | undefined)?.find((c) => c.check === 'disk' && c.resource?.name === dir)
    if (check && check.state === 'ok') return
    await sleep(1000)
  }
  log(`  (the sandbox's disk alert did not clear within 60 s)`)
}

async function runPass(
  pass: PassName,
  base: string,
  image: string,
  sandboxDir: string | undefined,
): Promise<PassOutcome> {
  const t0 = Date.now()
  const runId = `${base}${pass === 'rules' ? 'r' : 'l'}`
  const watchLabel = `sentinel.watch=rca-${runId}`
  made.labels.add(watchLabel)
  made.downstream ??= await startDownstream()
  const downstream = made.downstream
  const ctx: BenchContext = { runId, watchLabel, image, docker, sandboxDir, downstream }
  // Variant 0 of every fault, then variant 1 of every fault…: the long cases (leaks) spread out.
  const faults = ORDER.filter((f) => SELECTED.includes(f))
  const scenarios = Array.from({ length: VARIANTS }, (_, v) => faults.map((f) => BUILDERS[f](ctx, v))).flat()
  const skipped = scenarios.filter((s) => s.skip).map((s) => ({ fault: s.fault, variant: s.variant, why: s.skip! }))
  const runnable = scenarios.filter((s) => !s.skip)
  // A fast endpoint is always probed: with probe targets, the host's computed latency is off.
  const probeTargets = [downstream.url('/healthz'), ...runnable.filter((s) => s.probePath).map((s) => s.resource)]

  let llm: FakeOpenRouter | undefined
  if (pass === 'llm') {
    made.llm ??= await startFakeOpenRouter()
    llm = made.llm
    llm.script(reply(NEUTRAL_ANSWER))
  }
  made.redis = await startRedis()
  made.sentinel = await startSentinel({
    redisPort: made.redis.port,
    env: {
      ...sentinelEnv(),
      WATCH_LABEL: watchLabel,
      PROBE_TARGETS: probeTargets.join(','),
      LOG_LEVEL: 'warn',
      ...(sandboxDir
        ? {
            SANDBOX_DIR: sandboxDir,
            DISK_EXCLUDE_FSTYPES: DEFAULT_EXCLUDED_FS_TYPES.filter((t) => t !== 'tmpfs').join(','),
          }
        : {}),
      ...(llm
        ? {
            OPENROUTER_API_KEY: `rca-standin-${randomBytes(12).toString('hex')}`,
            OPENROUTER_BASE_URL: llm.baseURL,
            LLM_MAX_ATTEMPTS: '1',
            LLM_DEADLINE_SECONDS: '20',
          }
        : { OPENROUTER_API_KEY: '' }),
    },
  })
  const sentinel = made.sentinel
  log(`\n== pass ${pass}: Sentinel on ${sentinel.url}, watch label ${watchLabel}, ${runnable.length} cases`)

  const ctrls = controls(ctx)
  const ctrlStart = Date.now()
  for (const c of ctrls) await c.start()

  const results: CaseResult[] = []
  const locks = new Set<string>()
  const pending = [...runnable]
  const running = new Set<Promise<void>>()
  const runCase = async (s: Scenario) => {
    const since = Date.now()
    let note: string | undefined
    try {
      await s.start()
    } catch (err) {
      note = `start failed: ${(err as Error).message.split('\n')[0]}`
    }
    const { incident, others } = note ? { incident: undefined, others: [] } : await analysedIncident(sentinel, s, since)
    const seconds = (Date.now() - since) / 1000
    if (s.status) note = note ? `${note}; ${s.status()}` : s.status()
    if (others.length) {
      const also = `also ${others.map((o) => `${o.type} ${o.id}`).join(', ')}`
      note = note ? `${note}; ${also}` : also
    }
    if (incident && !incident.analysis) note = note ? `${note}; never analysed` : 'incident never analysed'
    const result = scoreFault(
      { fault: s.fault, variant: s.variant, resource: s.resource, title: s.title, seconds, note },
      incident,
    )
    if (llm) {
      const prompts = llm.requests.filter((r) => r.at >= since).map((r) => promptText(r.body))
      const about = prompts.filter((p) => p.includes(s.resource))
      result.prompts = about.length
      result.evidence = about.some((p) => s.evidence.found(p))
    }
    await s.stop().catch(() => {})
    if (s.fault === 'disk_fill' && sandboxDir) await settleDisk(sentinel, sandboxDir, incident?.id)
    results.push(result)
    log(
      `  ${s.fault}#${s.variant} ${short(s.resource, 36)}: ${result.incidentId ?? 'no incident'} cause ${result.gotCause}` +
        `${result.causeAbsent ? ' (absent)' : ''} fix ${result.gotFix ?? 'none'}` +
        `${result.evidence !== undefined ? ` evidence ${result.evidence ? 'yes' : 'no'}` : ''} (${seconds.toFixed(1)} s)` +
        `${result.note ? ` — ${result.note}` : ''}`,
    )
  }
  while (pending.length || running.size) {
    for (let i = 0; i < pending.length && running.size < CONCURRENCY;) {
      const s = pending[i]
      if (s.lock && locks.has(s.lock)) {
        i++
        continue
      }
      pending.splice(i, 1)
      if (s.lock) locks.add(s.lock)
      const p: Promise<void> = runCase(s)
        .catch((err) => log(`  ${s.fault}#${s.variant}: bench error ${(err as Error).message}`))
        .finally(() => {
          if (s.lock) locks.delete(s.lock)
          running.delete(p)
        })
      running.add(p)
    }
    if (running.size) await Promise.race(running)
  }

  for (const c of ctrls) {
    const incidents = await incidentsOf(sentinel, c.name).catch(() => [])
    results.push(
      scoreControl({ resource: c.name, title: c.title, seconds: (Date.now() - ctrlStart) / 1000 }, incidents),
    )
    await c.stop()
  }
  await removeLabelled()
  await stopSentinel()
  const order = (r: CaseResult) => (r.fault === CONTROL ? FAULTS.length : FAULTS.indexOf(r.fault))
  results.sort((a, b) => order(a) - order(b) || a.variant - b.variant)
  const evidenceWhat: Partial<Record<Fault, string[]>> = {}
  for (const s of runnable) {
    const list = (evidenceWhat[s.fault] ??= [])
    if (!list.includes(s.evidence.what)) list.push(s.evidence.what)
  }
  return { pass, results, skipped, evidenceWhat, seconds: (Date.now() - t0) / 1000 }
}

// ---------------------------------------------------------------------------------------------
// Report.

const mark = (ok: boolean) => (ok ? 'right' : 'WRONG')

function caseTable(o: PassOutcome): string {
  const llm = o.pass === 'llm'
  const header = [
    'case',
    'resource',
    'incident',
    'expected',
    'got',
    'fix expected',
    'fix got',
    'analyser',
    'cause',
    'fix',
    ...(llm ? ['prompts', 'evidence'] : []),
    's',
  ]
  const rows = o.results.map((r) => [
    r.fault === CONTROL ? 'control' : `${r.fault}#${r.variant}`,
    short(r.resource, 30),
    r.incidentId ?? '-',
    r.expectedCause,
    `${r.gotCause}${r.causeAbsent ? '*' : ''}`,
    describeFix(r.expectedFix),
    r.gotFix ?? 'none',
    r.analyser ?? '-',
    llm ? '-' : mark(r.rightCause),
    llm ? '-' : mark(r.rightFix),
    ...(llm ? [String(r.prompts ?? 0), r.fault === CONTROL ? '-' : r.evidence ? 'yes' : 'NO'] : []),
    r.seconds.toFixed(0),
  ])
  return formatTable([header, ...rows])
}

function report(o: PassOutcome): Record<string, unknown> {
  const acc = accuracy(o.results)
  log(`\n== ${o.pass} pass: ${o.results.length} cases in ${o.seconds.toFixed(0)} s`)
  log(caseTable(o))
  for (const s of o.skipped) log(`skipped ${s.fault}#${s.variant}: ${s.why}`)
  if (acc.causeAbsent)
    log(
      `* ${acc.causeAbsent} analyses carried no \`cause\` field: counted as unknown (the analyser does not name one yet)`,
    )
  const conf = confusion(o.results)
  const out: Record<string, unknown> = { seconds: Math.round(o.seconds), missed: acc.missed }
  if (o.pass === 'rules') {
    log(`\nconfusion (${o.pass}; rows expected, columns got; none = no incident):`)
    log(formatConfusion(conf))
    log(`(${CAUSE_LEGEND})`)
    log(
      `accuracy (${o.pass}): cause ${pct(acc.cause)}, fix ${pct(acc.fix)} over the fault cases; ` +
        `with the controls: cause ${pct(acc.causeWithControls)}, fix ${pct(acc.fixWithControls)}; ` +
        `${acc.missed} fault case(s) opened no incident in time`,
    )
    Object.assign(out, { accuracy: acc, confusion: conf.counts })
  } else {
    log(
      `(the stand-in answers cause unknown and no fix whatever it is sent: this pass scores the prompts, not the answers; ` +
        `${acc.missed} fault case(s) opened no incident in time)`,
    )
  }
  if (o.pass === 'llm') {
    const ev = evidenceShare(o.results)
    log(`\ndecisive evidence in the prompt (llm pass, stand-in):`)
    log(
      formatTable(
        [
          ['fault', 'share', 'what counts'],
          ...FAULTS.filter((f) => ev.perFault[f]).map((f) => [
            f,
            pct(ev.perFault[f]!),
            (o.evidenceWhat[f] ?? []).join(' / '),
          ]),
          ['overall', pct(ev.overall), `${ev.withoutPrompt} case(s) without any prompt`],
        ],
        {},
      ),
    )
    out.evidence = ev
  }
  const wrong = o.results.filter((r) =>
    o.pass === 'rules' ? !r.rightCause || !r.rightFix : r.fault !== CONTROL && !r.evidence,
  )
  if (wrong.length) {
    log(
      o.pass === 'rules'
        ? `\nwrong answers (rules): what the analysis said`
        : `\ncases whose prompt lacked the decisive evidence (llm): what the analysis said`,
    )
    for (const r of wrong) {
      const label = r.fault === CONTROL ? `control ${r.resource}` : `${r.fault}#${r.variant} (${r.title})`
      log(
        `  ${label}: got ${r.gotCause}, fix ${r.gotFix ?? 'none'}` +
          `${r.analyser ? ` [${r.analyser}${r.fallbackReason ? `: ${r.fallbackReason}` : ''}]` : ''}` +
          `${r.rootCause ? ` — "${r.rootCause.slice(0, 220)}"` : ''}${r.note ? ` (${r.note})` : ''}`,
      )
    }
  }
  out.cases = o.results.map((r) => ({
    fault: r.fault,
    variant: r.variant,
    resource: r.resource,
    incident: r.incidentId ?? null,
    expected: r.expectedCause,
    got: r.gotCause,
    causeAbsent: r.causeAbsent,
    expectedFix: r.expectedFix,
    gotFix: r.gotFix,
    analyser: r.analyser ?? null,
    rightCause: r.rightCause,
    rightFix: r.rightFix,
    ...(r.evidence !== undefined ? { evidence: r.evidence, prompts: r.prompts } : {}),
    seconds: Math.round(r.seconds),
    ...(r.note ? { note: r.note } : {}),
  }))
  return out
}

async function main() {
  const started = Date.now()
  const m = machine()
  log(`bench:rca — ${m.cpu}, ${m.cores} cores, ${m.memory}, ${m.os}, node ${m.node}`)
  log(
    `settings: ${VARIANTS} variant(s) per fault, ${CONCURRENCY} case(s) at a time, pass ${PASS}; monitor every ` +
      `${F.MONITOR_SECONDS} s, alerts after ${F.ALERT_FOR_SECONDS} s; thresholds: container memory ` +
      `${F.CONTAINER_MEMORY_THRESHOLD} %, container CPU ${F.CONTAINER_CPU_THRESHOLD} %, disk ${F.DISK_THRESHOLD} %, ` +
      `latency ${F.LATENCY_THRESHOLD_MS} ms (p95 of ${F.PROBE_WINDOW} probes)`,
  )
  await execFileP('bash', ['scripts/build-test-image.sh'], { cwd: PROJECT_ROOT })
  const base = randomBytes(2).toString('hex')
  const sandboxDir = SELECTED.includes('disk_fill') ? await mountSandbox() : undefined
  const passes: PassName[] = PASS === 'both' ? ['rules', 'llm'] : [PASS as PassName]
  const figures: Record<string, unknown> = {}
  const outcomes: PassOutcome[] = []
  for (const p of passes) {
    if (sandboxDir) emptySandbox(sandboxDir)
    outcomes.push(await runPass(p, base, TEST_IMAGE, sandboxDir))
  }
  for (const o of outcomes) figures[o.pass] = report(o)
  log(`\nmachine: ${JSON.stringify(m)}`)
  log(`total ${((Date.now() - started) / 1000).toFixed(0)} s`)
  log(
    JSON.stringify({
      bench: 'rca',
      at: new Date().toISOString(),
      machine: m,
      settings: {
        variants: VARIANTS,
        concurrency: CONCURRENCY,
        faults: SELECTED,
        monitorSeconds: F.MONITOR_SECONDS,
        alertForSeconds: F.ALERT_FOR_SECONDS,
      },
      passes: figures,
      seconds: Math.round((Date.now() - started) / 1000),
    }),
  )
}

main()
  .catch((err) => {
    console.error(err)
    process.exitCode = 1
  })
  .finally(() => cleanup())
