/**
 * bench/fleet: how fast a fleet heals crashed containers, against Docker's own restart policy, as
 * nodes and containers grow. Each node is a private Docker engine with its own node agent; one
 * controller Sentinel on one Redis serves them all (the parts of tests/integration/fleet.test.ts).
 *
 *   npm run bench:fleet -- [--nodes 1,2,3] [--containers 10,50] [--minutes 2] [--interval 2] [--quick]
 *   npm run bench:fleet -- --burst 30 [--repeat 3] [--burst-order sequential|together] [--max-concurrent N]
 *
 * Steady run: on each engine N watched containers (Sentinel heals them) and N with
 * `--restart=always` (unwatched: Docker heals them); one container's main process is SIGKILLed from
 * the host every --interval seconds over the fleet, the two kinds alternating, on a random node.
 * Burst: one node, --burst containers of each kind, each kind's all killed at once.
 *
 * The clock is the engines' own `start` events (followed on each engine's socket): kill → the first
 * start of that container after the kill. A container is killed only after it has run 11 s, for both
 * kinds alike: Docker resets its restart back-off after 10 s of running, so no kill meets a delayed
 * restart. Everything the run starts is removed at the end, on Ctrl-C and on failure.
 */
import { execFileSync } from 'node:child_process'
import os from 'node:os'
import { setTimeout as sleep } from 'node:timers/promises'
import { type FleetBenchOptions, parseOptions, USAGE, UsageError } from './options'
import { type ProcessSet, type ResourceFigures, ResourceSampler } from './procs'
import {
  type BenchEngine,
  Cleanup,
  type Fleet,
  incidentStatuses,
  type Kind,
  mainPid,
  RUN,
  startEngines,
  startFleet,
} from './stack'
import { median, mib, ms, pct, quantile, ratio } from './stats'

/** Docker resets a container's restart back-off once it has run 10 s; both kinds wait this long between kills. */
const MIN_UPTIME_MS = 11_000
const RESTART_DEADLINE_MS = 60_000
const KINDS: Kind[] = ['sentinel', 'docker']
const LABEL: Record<Kind, string> = { sentinel: 'Sentinel', docker: 'Docker --restart=always' }

interface KillRecord {
  kind: Kind
  node: number
  name: string
  killedAt: number
  /** Kill → running again, ms; null: not running again within RESTART_DEADLINE_MS. */
  latencyMs: number | null
}

function controllerEnv(opts: FleetBenchOptions): Record<string, string> {
  return {
    // The same containers are killed again and again: the per-container guardrail (3 restarts in
    // 15 min, then escalate to a person) would turn later kills into escalations, not restarts.
    RATE_LIMIT_MAX_ACTIONS: '1000',
    ...(opts.maxConcurrent !== undefined ? { MAX_CONCURRENT_REMEDIATIONS: String(opts.maxConcurrent) } : {}),
  }
}

function printMachine(engineVersion: string): void {
  const cpus = os.cpus()
  const loads = os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')
  console.log(
    `machine: ${cpus.length} cores, ${cpus[0]?.model ?? 'unknown CPU'}, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB`,
  )
  console.log(
    `         node ${process.version}, kernel ${os.release()}, dockerd: ${engineVersion}, load average at start ${loads}`,
  )
}

/** Sleeps until every named container has run MIN_UPTIME_MS since its last start. */
async function waitUptime(bench: BenchEngine, names: string[]): Promise<void> {
  const last = Math.max(...names.map((n) => bench.clock.lastStart(n) ?? Date.now()))
  const wait = last + MIN_UPTIME_MS - Date.now()
  if (wait > 0) await sleep(wait)
}

/** SIGKILLs the container's main process from the host and times it back to running. */
async function killAndTime(bench: BenchEngine, name: string, kind: Kind, pid?: number): Promise<KillRecord | null> {
  const target = pid ?? (await mainPid(bench, name).catch(() => 0))
  if (!target) return null
  const killedAt = Date.now()
  try {
    process.kill(target, 'SIGKILL')
  } catch {
    return null
  }
  const startedAt = await bench.clock.nextStart(name, killedAt, RESTART_DEADLINE_MS)
  return { kind, node: bench.index, name, killedAt, latencyMs: startedAt === null ? null : startedAt - killedAt }
}

const latencies = (rs: KillRecord[]) => rs.filter((r) => r.latencyMs !== null).map((r) => r.latencyMs!)

// ---------------------------------------------------------------------------------------------
// Steady run

interface SteadyResult {
  nodes: number
  perNode: number
  kills: KillRecord[]
  skippedTicks: number
  resources: Record<string, ResourceFigures>
  incidents: Record<string, number>
}

async function steadyConfig(fleet: Fleet, opts: FleetBenchOptions, perNode: number): Promise<SteadyResult> {
  for (const n of fleet.nodes) await waitUptime(n.bench, [...n.containers.sentinel, ...n.containers.docker])
  const sets: Record<string, ProcessSet> = { controller: { group: fleet.controller.pid() } }
  for (const n of fleet.nodes) sets[`agent ${n.bench.index}`] = { tree: n.agent.pid() }
  const sampler = new ResourceSampler(sets)
  const pending = new Set<string>()
  const runs: Promise<KillRecord | null>[] = []
  let skippedTicks = 0
  const windowMs = opts.minutes * 60_000
  const tickMs = opts.intervalS * 1000
  sampler.start()
  const t0 = Date.now()
  for (let tick = 0; tick * tickMs < windowMs; tick++) {
    const due = t0 + tick * tickMs
    if (due > Date.now()) await sleep(due - Date.now())
    const kind = KINDS[tick % 2]
    const now = Date.now()
    const eligible = fleet.nodes.flatMap((n) =>
      n.containers[kind]
        .filter((name) => !pending.has(name) && now - (n.bench.clock.lastStart(name) ?? now) >= MIN_UPTIME_MS)
        .map((name) => ({ n, name })),
    )
    if (!eligible.length) {
      skippedTicks++
      continue
    }
    // A random node first (nodes count alike whatever their number of eligible containers), then a container on it.
    const onNodes = [...new Set(eligible.map((e) => e.n))]
    const node = onNodes[Math.floor(Math.random() * onNodes.length)]
    const choices = eligible.filter((e) => e.n === node)
    const { name } = choices[Math.floor(Math.random() * choices.length)]
    pending.add(name)
    runs.push(killAndTime(node.bench, name, kind).finally(() => pending.delete(name)))
  }
  const resources = sampler.stop()
  const kills = (await Promise.all(runs)).filter((r): r is KillRecord => r !== null)
  // The flow resolves an incident a moment after the restart (verification): give it that moment.
  await sleep(3000)
  const incidents = await incidentStatuses(fleet.controller).catch(() => ({}))
  return { nodes: fleet.nodes.length, perNode, kills, skippedTicks, resources, incidents }
}

function printSteady(r: SteadyResult): void {
  const missed = (k: Kind) => r.kills.filter((x) => x.kind === k && x.latencyMs === null).length
  console.log(
    `\n── ${r.nodes} node${r.nodes > 1 ? 's' : ''} × ${r.perNode} containers of each kind per node: ${r.kills.length} kills` +
      (r.skippedTicks ? ` (${r.skippedTicks} ticks skipped: nothing had run ${MIN_UPTIME_MS / 1000} s)` : ''),
  )
  console.log(`kill → running, ms       ${'Sentinel'.padEnd(24)}Docker --restart=always`)
  console.log(`                         ${'  n  median    p90'.padEnd(24)}  n  median    p90`)
  const row = (label: string, rs: KillRecord[]) => {
    const cell = (k: Kind) => {
      const xs = latencies(rs.filter((x) => x.kind === k))
      return `${String(xs.length).padStart(3)} ${ms(median(xs), 7)} ${ms(quantile(xs, 0.9), 6)}`.padEnd(24)
    }
    console.log(`  ${label.padEnd(22)} ${cell('sentinel')}${cell('docker')}`.trimEnd())
  }
  for (let i = 0; i < r.nodes; i++)
    row(
      `node ${i}`,
      r.kills.filter((k) => k.node === i),
    )
  row('all nodes', r.kills)
  if (missed('sentinel') || missed('docker'))
    console.log(
      `  not running again within ${RESTART_DEADLINE_MS / 1000} s: Sentinel ${missed('sentinel')}, Docker ${missed('docker')}`,
    )
  for (const [name, f] of Object.entries(r.resources))
    console.log(
      `  ${name.padEnd(12)} RSS ${mib(f.rssMedian, 4)} MiB (max ${mib(f.rssMax, 0)}, ${f.processes} process${f.processes === 1 ? '' : 'es'})  CPU ${pct(f.cpuPercent)} % of a core`,
    )
  const inc = Object.entries(r.incidents)
    .map(([s, n]) => `${s} ${n}`)
    .join(', ')
  console.log(`  controller's incidents (newest 200): ${inc || 'none'}`)
}

function printGrowth(results: SteadyResult[]): void {
  console.log('\n── growth (medians; CPU in % of one core over the kill window; agent: median over the agents)')
  console.log(
    'nodes  ctr/node  Sentinel med  p90   Docker med  p90   S/D med   ctl RSS MiB  ctl CPU %  agent RSS MiB  agent CPU %',
  )
  for (const r of results) {
    const s = latencies(r.kills.filter((k) => k.kind === 'sentinel'))
    const d = latencies(r.kills.filter((k) => k.kind === 'docker'))
    const agents = Object.entries(r.resources).filter(([n]) => n.startsWith('agent'))
    const ctl = r.resources.controller
    console.log(
      `${String(r.nodes).padStart(5)}  ${String(r.perNode).padStart(8)}  ${ms(median(s), 12)} ${ms(quantile(s, 0.9), 5)}  ${ms(median(d), 10)} ${ms(quantile(d, 0.9), 5)}  ${ratio(median(s), median(d)).padStart(7)}  ${mib(ctl.rssMedian, 11)}  ${pct(ctl.cpuPercent, 9)}  ${mib(median(agents.map(([, f]) => f.rssMedian)), 13)}  ${pct(median(agents.map(([, f]) => f.cpuPercent)), 11)}`,
    )
  }
}

async function steadyRun(opts: FleetBenchOptions, engines: BenchEngine[], cleanup: Cleanup): Promise<void> {
  console.log(
    `steady run: nodes ${opts.nodes.join(',')} × containers ${opts.containers.join(',')} per kind per node; ` +
      `${(opts.minutes * 60).toFixed(0)} s of kills per configuration, one every ${opts.intervalS} s over the fleet ` +
      `(kinds alternating); controller env ${JSON.stringify(controllerEnv(opts))}`,
  )
  const results: SteadyResult[] = []
  for (const perNode of opts.containers) {
    for (const nodes of opts.nodes) {
      const fleet = await startFleet({
        engines: engines.slice(0, nodes),
        perNode,
        controllerEnv: controllerEnv(opts),
        tag: `${nodes}x${perNode}`,
        cleanup,
      })
      try {
        const r = await steadyConfig(fleet, opts, perNode)
        printSteady(r)
        results.push(r)
      } finally {
        await fleet.teardown()
      }
    }
  }
  printGrowth(results)
}

// ---------------------------------------------------------------------------------------------
// Burst

interface BurstFigures {
  median: number
  p90: number
  /** The last container back (Infinity when one never came back). */
  last: number
  missed: number
}

const burstFigures = (rs: KillRecord[]): BurstFigures => {
  const xs = latencies(rs)
  const missed = rs.length - xs.length
  return { median: median(xs), p90: quantile(xs, 0.9), last: missed ? Infinity : Math.max(...xs), missed }
}

/** Waits until every container of the kinds runs, has run MIN_UPTIME_MS, and no incident is still open. */
async function settle(fleet: Fleet, kinds: Kind[]): Promise<void> {
  const node = fleet.nodes[0]
  const names = kinds.flatMap((k) => node.containers[k])
  const deadline = Date.now() + 120_000
  for (;;) {
    const pids = await Promise.all(names.map((n) => mainPid(node.bench, n).catch(() => 0)))
    const statuses = await incidentStatuses(fleet.controller).catch(() => ({ unknown: 1 }) as Record<string, number>)
    const busy = ['open', 'remediating', 'verifying', 'unknown'].some((s) => (statuses[s] ?? 0) > 0)
    if (pids.every(Boolean) && !busy) break
    if (Date.now() > deadline) throw new Error(`the burst containers did not settle: ${JSON.stringify(statuses)}`)
    await sleep(500)
  }
  await waitUptime(node.bench, names)
}

/** Kills every container of the kinds at once (their pids read first, then one SIGKILL loop, the kinds interleaved). */
async function burstOnce(fleet: Fleet, kinds: Kind[]): Promise<Record<Kind, KillRecord[]>> {
  await settle(fleet, kinds)
  const node = fleet.nodes[0]
  const targets = await Promise.all(
    kinds.map((k) =>
      Promise.all(node.containers[k].map(async (name) => ({ name, pid: await mainPid(node.bench, name) }))),
    ),
  )
  const runs: Promise<KillRecord | null>[] = []
  for (let i = 0; i < Math.max(...targets.map((t) => t.length)); i++)
    kinds.forEach((k, j) => {
      const t = targets[j][i]
      if (t) runs.push(killAndTime(node.bench, t.name, k, t.pid))
    })
  const done = (await Promise.all(runs)).filter((r): r is KillRecord => r !== null)
  return {
    sentinel: done.filter((r) => r.kind === 'sentinel'),
    docker: done.filter((r) => r.kind === 'docker'),
  }
}

/**
 * Where a Sentinel burst's time went, from the incidents' own records (controller clock; the kill
 * from this process, the start from the engine): kill → incident opened (the death reached the
 * controller through the agent; `died` is the engine's die event), → decided, → action started (its snapshot taken on the node, and
 * any wait for a slot), → action finished (docker start on the node, answered back). Medians and
 * the slowest, ms.
 */
async function burstPhases(fleet: Fleet, records: KillRecord[]): Promise<string> {
  const byName = new Map(records.map((r) => [r.name, r]))
  const list = await fleet.controller.get('/api/incidents?limit=200')
  const ids = ((list.body?.incidents ?? []) as { id: string; resource: { name: string }; openedAt: string }[])
    .filter((i) => {
      const r = byName.get(i.resource.name)
      return r && Date.parse(i.openedAt) >= r.killedAt - 1000
    })
    .map((i) => i.id)
  const spans: Record<string, number[]> = { died: [], opened: [], decided: [], 'action started': [], 'action done': [] }
  for (const id of ids) {
    const i = (await fleet.controller.get(`/api/incidents/${id}`)).body
    const r = byName.get(i?.resource?.name)
    if (!r) continue
    const at = (stage: string) => Date.parse(i.timeline?.find((e: { stage: string }) => e.stage === stage)?.at ?? '')
    const action = (i.actions ?? [])[0] ?? {}
    const points: [string, number][] = [
      ['died', Date.parse(i.alert?.at ?? '')],
      ['opened', Date.parse(i.openedAt)],
      ['decided', at('decided')],
      ['action started', Date.parse(action.startedAt ?? '')],
      ['action done', Date.parse(action.finishedAt ?? '')],
    ]
    for (const [k, t] of points) if (Number.isFinite(t)) spans[k].push(t - r.killedAt)
  }
  return Object.entries(spans)
    .map(([k, xs]) => `${k} ${ms(median(xs))}/${ms(xs.length ? Math.max(...xs) : NaN)}`)
    .join(' · ')
}

async function burstRun(opts: FleetBenchOptions, engines: BenchEngine[], cleanup: Cleanup): Promise<void> {
  console.log(
    `burst: 1 node, ${opts.burst} watched containers killed at once and ${opts.burst} --restart=always ones killed at once, ` +
      `${opts.repeat} time${opts.repeat > 1 ? 's' : ''}; ` +
      (opts.burstOrder === 'sequential'
        ? 'one kind after the other (each on a quiet engine, the order alternating between repeats)'
        : 'both kinds in one SIGKILL loop, interleaved') +
      `; controller env ${JSON.stringify(controllerEnv(opts))}`,
  )
  const fleet = await startFleet({
    engines: engines.slice(0, 1),
    perNode: opts.burst,
    controllerEnv: controllerEnv(opts),
    tag: `burst${opts.burst}`,
    cleanup,
  })
  const rows: Record<Kind, BurstFigures>[] = []
  try {
    console.log(`\nrepeat  first     ${'Sentinel: median   p90  last'.padEnd(30)}Docker: median   p90  last   last S/D`)
    for (let r = 0; r < opts.repeat; r++) {
      let figures: Record<Kind, KillRecord[]>
      let first: string
      if (opts.burstOrder === 'together') {
        figures = await burstOnce(fleet, KINDS)
        first = 'together'
      } else {
        const order: Kind[] = r % 2 === 0 ? ['sentinel', 'docker'] : ['docker', 'sentinel']
        first = order[0]
        const a = await burstOnce(fleet, [order[0]])
        const b = await burstOnce(fleet, [order[1]])
        figures = { sentinel: [...a.sentinel, ...b.sentinel], docker: [...a.docker, ...b.docker] }
      }
      const row = { sentinel: burstFigures(figures.sentinel), docker: burstFigures(figures.docker) }
      const phases = await burstPhases(fleet, figures.sentinel).catch((err) => `(phases: ${(err as Error).message})`)
      rows.push(row)
      const cell = (f: BurstFigures) =>
        `${ms(f.median, 14)} ${ms(f.p90, 5)} ${ms(f.last, 5)}${f.missed ? ` (${f.missed} missed)` : ''}`
      console.log(
        `${String(r + 1).padStart(6)}  ${first.padEnd(9)} ${cell(row.sentinel).padEnd(30)}${cell(row.docker)}   ${ratio(row.sentinel.last, row.docker.last).padStart(8)}`,
      )
      console.log(`        Sentinel from the kill, median/slowest ms: ${phases}`)
    }
  } finally {
    await fleet.teardown()
  }
  const med = (k: Kind, f: keyof BurstFigures) => median(rows.map((row) => row[k][f]))
  console.log(`\nmedians over ${rows.length} repeat${rows.length > 1 ? 's' : ''} (ms):`)
  for (const k of KINDS)
    console.log(
      `  ${LABEL[k].padEnd(24)} median ${ms(med(k, 'median'))}   p90 ${ms(med(k, 'p90'))}   last ${ms(med(k, 'last'))}`,
    )
  const ratios = rows.map((row) => row.sentinel.last / row.docker.last)
  console.log(
    `  last(Sentinel) / last(Docker): median of the ratios ${Number.isFinite(median(ratios)) ? median(ratios).toFixed(2) : '-'} ` +
      `(each: ${ratios.map((x) => (Number.isFinite(x) ? x.toFixed(2) : '-')).join(', ')}; goal ≤ 1.2)`,
  )
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<number> {
  let opts: FleetBenchOptions
  try {
    opts = parseOptions(process.argv.slice(2))
  } catch (err) {
    if (!(err instanceof UsageError)) throw err
    console.error(`${err.message}\n${USAGE}`)
    return 2
  }
  const cleanup = new Cleanup()
  let interrupted = false
  const onSignal = (signal: NodeJS.Signals) => {
    if (interrupted) return
    interrupted = true
    console.error(`\n${signal}: cleaning up (containers, agents, controller, Redis, engines, temp dirs)…`)
    void cleanup.all().finally(() => process.exit(130))
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  try {
    printMachine(execFileSync('dockerd', ['--version']).toString().trim())
    console.log(`run ${RUN}${opts.quick ? ' (quick)' : ''}`)
    const engines = await startEngines(opts.burst ? 1 : Math.max(...opts.nodes), cleanup)
    if (opts.burst) await burstRun(opts, engines, cleanup)
    else await steadyRun(opts, engines, cleanup)
    return 0
  } finally {
    if (!interrupted) await cleanup.all()
  }
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(err)
    process.exit(1)
  },
)
