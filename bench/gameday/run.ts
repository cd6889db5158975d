/**
 * bench/gameday (`npm run bench:gameday -- [--services 5] [--minutes 10] [--kill-min 20]
 * [--kill-max 40] [--no-baseline]`): N HTTP services under chaos for a fixed time.
 *
 * Run 1, Sentinel: a real Sentinel (its own Redis) watches the services; its chaos engine kills
 * a random one's main process at random intervals. Run 2, the baseline: the same services with
 * Docker's own `--restart=always` and no Sentinel; this bench kills them on the same kind of
 * schedule (same interval range, same random choice), SIGKILL to the main process from the host.
 * A probe is good when the service answers 200 within 300 ms.
 *
 * Both runs keep one more service without any Sentinel label (the control): nothing may ever
 * touch it. Prints per service the availability (an HTTP probe every 100 ms), the outages and the
 * time to recover (probe-measured: from the first failed probe to the first good one again,
 * median and p90), incidents opened and resolved, actions taken, actions that should not have
 * been taken (on a container without the label, or outside the allow-list), and Sentinel's peak
 * RSS and CPU (its whole process group: the main process and its step processes).
 */
import { execFile } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import os from 'node:os'
import { promisify } from 'node:util'
import { removeContainers, TEST_IMAGE, uniqueName } from '../../tests/helpers/docker'
import { freePort } from '../../tests/helpers/ports'
import { startRedis, type TestRedis } from '../../tests/helpers/redis'
import { startSentinel, type SentinelInstance } from '../../tests/helpers/sentinel'

const run = promisify(execFile)
/** The allow-list a default Sentinel runs with (ALLOWED_ACTIONS unset). */
const ALLOWED = ['restart_container', 'clean_sandbox', 'scale_out', 'update_memory_limit', 'kill_process']
const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`)
  const v = i > 0 ? Number(process.argv[i + 1]) : NaN
  return Number.isFinite(v) && v > 0 ? v : fallback
}
const SERVICES = Math.floor(arg('services', 5))
const MINUTES = arg('minutes', 10)
const KILL_MIN = Math.floor(arg('kill-min', 20))
const KILL_MAX = Math.max(KILL_MIN, Math.floor(arg('kill-max', 40)))
const BASELINE = !process.argv.includes('--no-baseline')
const PROBE_MS = 100
const PROBE_TIMEOUT_MS = 300
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const quantile = (xs: number[], q: number) => {
  if (!xs.length) return NaN
  const s = [...xs].sort((a, b) => a - b)
  const pos = (s.length - 1) * q
  const lo = Math.floor(pos)
  return s[lo] + (s[Math.min(lo + 1, s.length - 1)] - s[lo]) * (pos - lo)
}
const docker = async (...args: string[]) => (await run('docker', args)).stdout.trim()

interface Service {
  name: string
  url: string
  control: boolean
  probes: number
  ok: number
  outages: number[]
  downSince?: number
}

async function startServices(tag: string, labels: string[], restartAlways: boolean): Promise<Service[]> {
  const out: Service[] = []
  for (let i = 0; i <= SERVICES; i++) {
    const control = i === SERVICES
    const name = uniqueName(`gameday-${tag}-${control ? 'control' : i}`)
    // A fixed host port: a restarted container may get another address on the bridge.
    const port = await freePort()
    const args = [
      'run',
      '-d',
      '--name',
      name,
      '-p',
      `127.0.0.1:${port}:8080`,
      ...(control ? [] : labels.flatMap((l) => ['--label', l])),
      ...(restartAlways ? ['--restart', 'always'] : []),
      TEST_IMAGE,
      'httpd',
      '-f',
      '-p',
      '8080',
      '-h',
      '/www',
    ]
    out.push({ name, url: `http://127.0.0.1:${port}/`, control, probes: 0, ok: 0, outages: [] })
    await docker(...args)
  }
  return out
}

/** One probe loop per service, every 100 ms, until `until`. */
async function probe(services: Service[], until: number): Promise<void> {
  await Promise.all(
    services.map(async (s) => {
      while (Date.now() < until) {
        const started = Date.now()
        let good = false
        try {
          // A stopped container's port answers nothing useful: a short timeout keeps an outage's
          // measure close to the real one.
          const res = await fetch(s.url, { signal: AbortSignal.timeout(PROBE_TIMEOUT_MS) })
          good = res.status === 200
          await res.arrayBuffer()
        } catch {
          good = false
        }
        s.probes++
        if (good) {
          s.ok++
          if (s.downSince !== undefined) {
            s.outages.push(Date.now() - s.downSince)
            s.downSince = undefined
          }
        } else if (s.downSince === undefined) s.downSince = started
        await sleep(Math.max(0, PROBE_MS - (Date.now() - started)))
      }
    }),
  )
}

/** Peak RSS and CPU of a process group, sampled every second from /proc. */
function groupSampler(pgid: number) {
  const ticks = 100 // USER_HZ on Linux
  const page = 4096
  let peakRss = 0
  let peakCpu = 0
  const cpuSamples: number[] = []
  let last: { at: number; total: number; byPid: Map<number, number> } | undefined
  const sample = () => {
    let rss = 0
    const byPid = new Map<number, number>()
    for (const d of readdirSync('/proc')) {
      if (!/^\d+$/.test(d)) continue
      try {
        const stat = readFileSync(`/proc/${d}/stat`, 'utf8')
        const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
        // Fields after the command: state(0) ppid(1) pgrp(2) ... utime(11) stime(12) ... rss(21)
        if (Number(f[2]) !== pgid) continue
        byPid.set(Number(d), Number(f[11]) + Number(f[12]))
        rss += Number(f[21]) * page
      } catch {
        /* gone */
      }
    }
    const at = Date.now()
    if (last) {
      // Only processes seen in both samples count: a step process that ended took its ticks along.
      let delta = 0
      for (const [pid, t] of byPid) delta += t - (last.byPid.get(pid) ?? t)
      const cpu = (delta / ticks / ((at - last.at) / 1000)) * 100
      cpuSamples.push(cpu)
      peakCpu = Math.max(peakCpu, cpu)
    }
    last = { at, total: 0, byPid }
    peakRss = Math.max(peakRss, rss)
  }
  const timer = setInterval(sample, 1000)
  sample()
  return {
    stop: () => {
      clearInterval(timer)
      return { peakRss, peakCpu, medianCpu: quantile(cpuSamples, 0.5) }
    },
  }
}

function report(title: string, services: Service[]) {
  const all = services.filter((s) => !s.control).flatMap((s) => s.outages)
  console.log(`\n${title}`)
  for (const s of services) {
    const avail = s.probes ? (100 * s.ok) / s.probes : NaN
    console.log(
      `  ${s.control ? 'control ' : 'service '} ${s.name}: availability ${avail.toFixed(3)} % (${s.ok}/${s.probes} probes), outages ${s.outages.length}${s.outages.length ? `, longest ${Math.max(...s.outages)} ms` : ''}`,
    )
  }
  console.log(
    `  time to recover (probe-measured, ${all.length} outages): median ${quantile(all, 0.5).toFixed(0)} ms, p90 ${quantile(all, 0.9).toFixed(0)} ms`,
  )
  return { outages: all.length, median: quantile(all, 0.5), p90: quantile(all, 0.9) }
}

async function sentinelRun(): Promise<{ median: number; p90: number; outages: number }> {
  let redis: TestRedis | undefined
  let sentinel: SentinelInstance | undefined
  let services: Service[] = []
  try {
    redis = await startRedis()
    // A watch value of this run's own: no other Sentinel on this engine acts on these services.
    const watch = `sentinel.watch=gameday-${Date.now().toString(36)}`
    sentinel = await startSentinel({
      redisPort: redis.port,
      env: { VERIFY_STABLE_SECONDS: '1', RATE_LIMIT_MAX_ACTIONS: '1000', WATCH_LABEL: watch },
    })
    services = await startServices('sentinel', [watch, 'sentinel.chaos=true'], false)
    const controlBefore = await docker('inspect', '-f', '{{.State.StartedAt}}', services.at(-1)!.name)
    const sampler = groupSampler(sentinel.pid())
    const until = Date.now() + MINUTES * 60_000
    const started = await sentinel.post('/api/chaos/start', {
      faults: { kill: { minIntervalSec: KILL_MIN, maxIntervalSec: KILL_MAX } },
      targets: services.filter((s) => !s.control).map((s) => s.name),
      durationSec: Math.ceil(MINUTES * 60) + 5,
    })
    if (started.status >= 300) throw new Error(`chaos did not start: ${started.status} ${JSON.stringify(started.body)}`)
    await probe(services, until)
    await sentinel.post('/api/chaos/stop', {})
    // Let the last fault's incident finish before counting.
    await sleep(15_000)
    const usage = sampler.stop()

    const names = new Set(services.filter((s) => !s.control).map((s) => s.name))
    const incidents: any[] = []
    for (let cursor: string | undefined, page = 0; page < 50; page++) {
      const r = await sentinel.get(
        `/api/incidents?view=full&limit=200${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
      )
      incidents.push(...r.body.incidents)
      cursor = r.body.nextCursor
      if (!cursor) break
    }
    const audit = (await sentinel.get('/api/audit?limit=1000')).body.events as any[]
    const actions = audit.filter((e) => e.kind === 'action.executed')
    const faults = audit.filter((e) => e.kind === 'chaos.fault')
    const unsafe = actions.filter((e) => !names.has(e.resource) || !ALLOWED.includes(e.data?.actionId))
    const controlAfter = await docker('inspect', '-f', '{{.State.StartedAt}}', services.at(-1)!.name)
    const resolved = incidents.filter((i) => i.status === 'resolved')
    const incidentMttr = resolved
      .filter((i) => i.resolvedAt)
      .map((i) => Date.parse(i.resolvedAt) - Date.parse(i.openedAt))

    const r = report(
      `Sentinel (chaos engine: kill every ${KILL_MIN}–${KILL_MAX} s, ${SERVICES} services, ${MINUTES} min)`,
      services,
    )
    console.log(
      `  chaos faults: ${faults.length}; incidents opened ${incidents.length}, resolved ${resolved.length}, other ${incidents.length - resolved.length}${
        incidents.length - resolved.length
          ? ` (${incidents
              .filter((i) => i.status !== 'resolved')
              .map((i) => `${i.status}`)
              .join(', ')})`
          : ''
      }`,
    )
    console.log(
      `  incident open → resolved (verified in the flow): median ${quantile(incidentMttr, 0.5).toFixed(0)} ms, p90 ${quantile(incidentMttr, 0.9).toFixed(0)} ms`,
    )
    console.log(
      `  actions taken: ${actions.length} (${[...new Set(actions.map((a) => a.data?.actionId))].join(', ') || 'none'}); actions that should not have been taken: ${unsafe.length}; control container touched: ${controlBefore === controlAfter ? 'no' : 'YES'}`,
    )
    console.log(
      `  Sentinel process group: peak RSS ${(usage.peakRss / 1024 / 1024).toFixed(0)} MiB, peak CPU ${usage.peakCpu.toFixed(0)} % of one core, median ${usage.medianCpu.toFixed(1)} %`,
    )
    return r
  } finally {
    await removeContainers(...services.map((s) => s.name))
    await sentinel?.cleanup()
    await redis?.stop()
  }
}

async function baselineRun(): Promise<{ median: number; p90: number; outages: number }> {
  let services: Service[] = []
  try {
    services = await startServices('docker', [], true)
    const until = Date.now() + MINUTES * 60_000
    const victims = services.filter((s) => !s.control)
    let kills = 0
    const killer = (async () => {
      while (true) {
        const wait = (KILL_MIN + Math.random() * (KILL_MAX - KILL_MIN)) * 1000
        if (Date.now() + wait >= until) return
        await sleep(wait)
        const v = victims[Math.floor(Math.random() * victims.length)]
        // From the host, like a crash: `docker kill` counts as a manual stop, which Docker's own
        // restart policy then respects.
        const pid = Number(await docker('inspect', '-f', '{{.State.Pid}}', v.name).catch(() => '0'))
        if (pid > 0) {
          try {
            process.kill(pid, 'SIGKILL')
            kills++
          } catch {
            /* already gone */
          }
        }
      }
    })()
    await probe(services, until)
    await killer
    const r = report(
      `Docker --restart=always, no Sentinel (this bench kills every ${KILL_MIN}–${KILL_MAX} s)`,
      services,
    )
    console.log(`  kills: ${kills}`)
    return r
  } finally {
    await removeContainers(...services.map((s) => s.name))
  }
}

async function main() {
  const cpus = os.cpus()
  console.log(
    `bench/gameday — ${SERVICES} services (+1 unlabelled control) for ${MINUTES} min per run, probes every ${PROBE_MS} ms`,
  )
  console.log(
    `machine: ${cpus[0]?.model ?? 'unknown'}, ${cpus.length} cores, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB, node ${process.version}, load ${os
      .loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}`,
  )
  const s = await sentinelRun()
  if (BASELINE) {
    const b = await baselineRun()
    console.log(
      `\ncomparison: time to recover median Sentinel ${s.median.toFixed(0)} ms vs Docker ${b.median.toFixed(0)} ms (ratio ${(s.median / b.median).toFixed(2)}); p90 ${s.p90.toFixed(0)} vs ${b.p90.toFixed(0)} ms`,
    )
  }
}

main().catch((err) => {
  console.error(err)
  process.exit(1)
})
