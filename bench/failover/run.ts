/**
 * bench/failover: how long healing stops when the controller leading this host's engine dies, and
 * whether anything is done twice or lost on the way.
 *
 *   npm run bench:failover -- [--trials 10] [--controllers 3] [--lease 10] [--interval 2] [--containers 8]
 *
 * Two set-ups in one run, on this host's engine and one Redis:
 *  - HA: --controllers controllers. Each trial SIGKILLs the current leader of the engine duty
 *    (`engine:<host>`, from GET /api/cluster) and measures the time from its death to the next
 *    container Sentinel starts again; the dead controller is then started again, and the next trial
 *    waits until it has rejoined.
 *  - Baseline: one controller, SIGKILLed and started again at once (a supervisor such as systemd
 *    with Restart=always, no delay), measured the same way.
 * All along, one watched container's main process is SIGKILLed from the host every --interval
 * seconds (a running one that has run for at least a second, in turn). The clock is the engine's
 * own `start` events.
 *
 * At the end, once every container runs again: duplicate actions (starts beyond one per kill, from
 * the engine's events, and restarts beyond one per death in the incidents), and lost incidents
 * (kills no incident accounts for: each death opens an incident or is merged into the open one of
 * its container, noted as `diedAgain`). Both must be 0. Everything started is removed at the end,
 * on Ctrl-C and on failure.
 */
import os from 'node:os'
import { setTimeout as sleep } from 'node:timers/promises'
import Docker from 'dockerode'
import { killMainProcess, removeContainers, runContainer, state, uniqueName } from '../../tests/helpers/docker'
import { waitFor } from '../../tests/helpers/ports'
import { startRedis, type TestRedis } from '../../tests/helpers/redis'
import { type SentinelInstance, startSentinel, WATCH_ARG, WATCHED } from '../../tests/helpers/sentinel'
import { median, ms, quantile } from '../fleet/stats'

interface Options {
  /** 0: both set-ups; 1: only the baseline; 2: only HA. */
  only: number
  trials: number
  controllers: number
  lease: number
  interval: number
  containers: number
}

const USAGE =
  'usage: npm run bench:failover -- [--trials N] [--controllers N] [--lease SECONDS] [--interval SECONDS] [--containers N] [--only ha|baseline]'

function parseOptions(argv: string[]): Options {
  const o: Options = { only: 0, trials: 10, controllers: 3, lease: 10, interval: 2, containers: 8 }
  const bounds: Record<keyof Options, [number, number]> = {
    only: [0, 0],
    trials: [1, 100],
    controllers: [2, 5],
    lease: [2, 300],
    interval: [0.5, 60],
    containers: [2, 50],
  }
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--only') {
      const which = argv[++i]
      if (which !== 'ha' && which !== 'baseline') throw new Error(`--only: expected ha or baseline\n${USAGE}`)
      o.only = which === 'baseline' ? 1 : 2
      continue
    }
    const key = argv[i].replace(/^--/, '') as keyof Options
    if (!(key in o)) throw new Error(`unknown option ${argv[i]}\n${USAGE}`)
    const value = Number(argv[++i])
    const [lo, hi] = bounds[key]
    if (!Number.isFinite(value) || value < lo || value > hi)
      throw new Error(`--${key}: expected ${lo}..${hi}\n${USAGE}`)
    o[key] = value
  }
  return o
}

const ENGINE_DUTY = `engine:${os.hostname()}`

interface Trial {
  gapMs: number
}

interface SetupResult {
  name: string
  trials: Trial[]
  kills: number
  starts: number
  incidents: number
  mergedDeaths: number
  restartsInIncidents: number
  notRunning: string[]
  /** Incidents not closed once everything settled (id and status). */
  stillOpen: string[]
}

/** Starts of the watched containers, from the engine's events (time in ms). */
class StartLog {
  readonly starts: Array<{ name: string; at: number }> = []
  private stream: NodeJS.ReadableStream | null = null

  async follow(docker: Docker): Promise<void> {
    const stream = (await docker.getEvents({
      filters: { type: ['container'], event: ['start'], label: [WATCH_ARG] },
    })) as NodeJS.ReadableStream
    this.stream = stream
    let buffered = ''
    stream.on('data', (chunk: Buffer) => {
      buffered += chunk.toString()
      let nl
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl)
        buffered = buffered.slice(nl + 1)
        if (!line.trim()) continue
        const e = JSON.parse(line) as { timeNano: number; Actor: { Attributes: Record<string, string> } }
        this.starts.push({ name: e.Actor.Attributes.name, at: e.timeNano / 1e6 })
      }
    })
  }

  firstAfter(t: number): number | undefined {
    return this.starts.find((s) => s.at >= t)?.at
  }

  stop(): void {
    ;(this.stream as unknown as { destroy?: () => void })?.destroy?.()
  }
}

/** Kills one running watched container every interval, in turn. */
class Killer {
  kills = 0
  private running = false
  private loop: Promise<void> | null = null
  private next = 0

  constructor(
    private readonly names: string[],
    private readonly intervalMs: number,
  ) {}

  start(): void {
    this.running = true
    this.loop = (async () => {
      while (this.running) {
        await sleep(this.intervalMs)
        if (!this.running) break
        for (let tried = 0; tried < this.names.length; tried++) {
          const name = this.names[this.next++ % this.names.length]
          const s = await state(name).catch(() => null)
          if (!s?.Running || Date.now() - Date.parse(s.StartedAt) < 1000) continue
          await killMainProcess(name).then(
            () => this.kills++,
            () => {},
          )
          break
        }
      }
    })()
  }

  async stop(): Promise<void> {
    this.running = false
    await this.loop
  }
}

async function leaderOf(controllers: SentinelInstance[], dead: Set<SentinelInstance>): Promise<SentinelInstance> {
  let found: SentinelInstance | undefined
  await waitFor(
    async () => {
      const live = controllers.filter((c) => !dead.has(c))
      const view = (await live[0].get('/api/cluster', 'viewer')).body
      const holder = view.duties?.find((d: { duty: string }) => d.duty === ENGINE_DUTY)?.holder
      const member = view.members?.find((m: { holder: string }) => m.holder === holder)
      found = member && live.find((c) => c.port === member.port)
      return Boolean(found) && view.members.length === controllers.length
    },
    { timeoutMs: 60_000, what: 'every controller up and a leader of the engine duty' },
  )
  return found!
}

async function runSetup(name: string, count: number, o: Options, docker: Docker): Promise<SetupResult> {
  let redis: TestRedis | undefined
  const controllers: SentinelInstance[] = []
  const containers = Array.from({ length: o.containers }, (_, i) => uniqueName(`failover-${i}`))
  const log = new StartLog()
  const killer = new Killer(containers, o.interval * 1000)
  const cleanup = async () => {
    await killer.stop()
    log.stop()
    for (const c of controllers) await c.cleanup().catch(() => {})
    await removeContainers(...containers)
    await redis?.stop()
  }
  const onSignal = () => void cleanup().finally(() => process.exit(130))
  process.once('SIGINT', onSignal)
  try {
    redis = await startRedis()
    const env = {
      LEADER_LEASE_SECONDS: String(o.lease),
      VERIFY_STABLE_SECONDS: '0.5',
      // Every container dies every containers × interval seconds: the bench measures healing, not the limit.
      RATE_LIMIT_MAX_ACTIONS: '1000',
      LOG_LEVEL: 'warn',
    }
    for (let i = 0; i < count; i++) controllers.push(await startSentinel({ redisPort: redis.port, env }))
    for (const c of containers) await runContainer(c, { labels: WATCHED })
    await log.follow(docker)
    const dead = new Set<SentinelInstance>()
    await leaderOf(controllers, dead)
    killer.start()
    const trials: Trial[] = []
    for (let t = 0; t < o.trials; t++) {
      await sleep(2000 + Math.random() * 2000)
      const leader = count > 1 ? await leaderOf(controllers, dead) : controllers[0]
      await leader.kill9()
      const died = Date.now()
      dead.add(leader)
      // Baseline: the supervisor starts it again at once. HA: after the next heal, to rejoin.
      if (count === 1) {
        await leader.restart()
        dead.delete(leader)
      }
      const healed = await waitFor(async () => log.firstAfter(died), {
        timeoutMs: 120_000,
        intervalMs: 20,
        what: 'a container healed after the leader died',
      })
      trials.push({ gapMs: healed - died })
      console.log(`  ${name} trial ${t + 1}: leader died → next heal ${ms(healed - died, 0)} ms`)
      if (count > 1) {
        await leader.restart()
        dead.delete(leader)
      }
    }
    await killer.stop()
    // Settle: every container running again, every incident closed.
    await waitFor(async () => (await Promise.all(containers.map((c) => state(c)))).every((s) => s.Running), {
      timeoutMs: 90_000,
      what: 'every container running again',
    }).catch(() => {})
    await sleep(10_000)
    const notRunning: string[] = []
    for (const c of containers) if (!(await state(c)).Running) notRunning.push(c)
    let incidents = 0
    let mergedDeaths = 0
    let restartsInIncidents = 0
    const stillOpen: string[] = []
    for (const c of containers) {
      const list = (await controllers[0].get(`/api/incidents?view=full&resource=${c}&limit=200`, 'viewer')).body
        .incidents as any[]
      for (const summary of list ?? []) {
        const full = (await controllers[0].get(`/api/incidents/${summary.id}`, 'viewer')).body
        incidents++
        if (!['resolved', 'suppressed'].includes(full.status)) {
          stillOpen.push(`${full.id} ${full.status}`)
          if (process.env.BENCH_DEBUG)
            console.log(
              JSON.stringify((full.timeline ?? []).map((e: any) => [e.at.slice(11, 23), e.stage, e.actor, e.summary])),
            )
        }
        // A death while its container's incident was open is merged into it as a note (src/act/died-again.ts).
        mergedDeaths += (full.timeline ?? []).filter((e: any) => e.stage === 'note' && e.data?.step === 'died').length
        restartsInIncidents += (full.actions ?? []).filter(
          (a: any) => a.actionId === 'restart_container' && a.result?.performed === 'start',
        ).length
      }
    }
    // The log follows from after the containers' first start: every start in it healed a kill.
    const runStarts = log.starts.filter((s) => containers.includes(s.name)).length
    return {
      name,
      trials,
      kills: killer.kills,
      starts: runStarts,
      incidents,
      mergedDeaths,
      restartsInIncidents,
      notRunning,
      stillOpen,
    }
  } finally {
    process.removeListener('SIGINT', onSignal)
    await cleanup()
  }
}

function report(r: SetupResult): string {
  const gaps = r.trials.map((t) => t.gapMs)
  const duplicateStarts = Math.max(0, r.starts - r.kills)
  const lost = Math.max(0, r.kills - r.incidents - r.mergedDeaths) + r.notRunning.length
  return [
    `${r.name.padEnd(26)} ${ms(median(gaps), 7)} ${ms(quantile(gaps, 0.9), 7)} ${ms(Math.max(...gaps), 7)}`,
    `${String(r.kills).padStart(6)} ${String(r.starts).padStart(6)} ${String(r.incidents).padStart(9)} ${String(r.mergedDeaths).padStart(7)}`,
    `${String(duplicateStarts).padStart(10)} ${String(Math.max(0, r.restartsInIncidents - r.kills)).padStart(9)} ${String(lost).padStart(5)} ${String(r.stillOpen.length).padStart(5)}`,
  ].join(' ')
}

async function main() {
  const o = parseOptions(process.argv.slice(2))
  const docker = new Docker()
  const cpu = os.cpus()[0]?.model ?? 'unknown'
  console.log(
    `bench:failover — ${os.cpus().length} cores (${cpu}), ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB, node ${process.version}, ` +
      `Docker ${(await docker.version()).Version}; ${o.trials} trials, lease ${o.lease} s, a kill every ${o.interval} s over ${o.containers} containers`,
  )
  const results: SetupResult[] = []
  if (o.only !== 1) results.push(await runSetup(`${o.controllers} controllers`, o.controllers, o, docker))
  if (o.only !== 2) results.push(await runSetup('1 controller (restarted)', 1, o, docker))
  console.log('')
  console.log(
    `${'set-up'.padEnd(26)} ${'median'.padStart(7)} ${'p90'.padStart(7)} ${'max'.padStart(7)}  kills starts incidents  merged  dup.starts dup.fixes  lost  open`,
  )
  console.log(`${''.padEnd(26)} (ms from the leader's death to the next healed container)`)
  for (const r of results) console.log(report(r))
  for (const r of results)
    if (r.stillOpen.length) console.log(`${r.name}: still open after settling: ${r.stillOpen.join(', ')}`)
  const bad = results.filter((r) => r.starts > r.kills || r.notRunning.length || r.kills > r.incidents + r.mergedDeaths)
  if (bad.length) {
    console.log(`\nFAILED: duplicates or losses in ${bad.map((r) => r.name).join(', ')}`)
    process.exitCode = 1
  }
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err)
  process.exit(1)
})
