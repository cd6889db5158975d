/**
 * bench/detect: how fast Sentinel notices a condition, beside Prometheus's own alerting rule on
 * the same condition with the same `for`, in one run; then an alert storm through the
 * Alertmanager webhook (10 000 alerts over 100 fingerprints), with Sentinel's peak RSS.
 *
 *   npm run bench:detect -- [--trials 3] [--for 30] [--threshold 80]
 *   npm run bench:detect -- --storm-only     (the alert storm alone: no Prometheus, no trials)
 *
 * Sentinel's monitor runs every 15 s; Prometheus scrapes and evaluates every 15 s. The condition is
 * CPU load from stress-ng on both cores. Times are wall-clock from stress-ng's start to the
 * incident's opening (Sentinel) and to the rule's `firing` state (Prometheus, polled every 0.5 s).
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { readFileSync, readdirSync } from 'node:fs'
import os from 'node:os'
import { buildQueries } from '../../src/observe/prometheus-queries'
import { startNodeExporter, startPrometheus } from '../../tests/helpers/prometheus'
import { sleep, waitFor } from '../../tests/helpers/ports'
import { startRedis, type TestRedis } from '../../tests/helpers/redis'
import { stormPayload } from '../../tests/helpers/alertmanager'
import { type SentinelInstance, startSentinel } from '../../tests/helpers/sentinel'

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`)
  return i > 0 ? Number(process.argv[i + 1]) : fallback
}
const TRIALS = arg('trials', 3)
const FOR = arg('for', 30)
const THRESHOLD = arg('threshold', 80)
const STORM_ONLY = process.argv.includes('--storm-only')
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]

function groupRssKb(pgid: number): { main: number; group: number } {
  let group = 0
  let main = 0
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      if (Number(fields[2]) !== pgid) continue
      const rss = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0)
      group += rss
      if (Number(pid) === pgid) main = rss
    } catch {}
  }
  return { main, group }
}

async function main() {
  const started: { stop(): Promise<void> }[] = []
  try {
    await run(started)
  } finally {
    for (const s of started.reverse()) await s.stop().catch(() => {})
  }
}

async function run(started: { stop(): Promise<void> }[]) {
  if (STORM_ONLY) {
    const redis = await startRedis()
    started.push(redis)
    const sentinel = await startSentinel({ redisPort: redis.port, env: { SHADOW_MODE: 'true' } })
    started.push({ stop: () => sentinel.cleanup() })
    await storm(sentinel, redis)
    return
  }
  const exporter = await startNodeExporter()
  started.push(exporter)
  const cpuQuery = buildQueries({ nodeSelector: `instance="127.0.0.1:${exporter.port}"` }).cpu
  const prometheus = await startPrometheus({
    scrapeTargets: [`127.0.0.1:${exporter.port}`],
    interval: '15s',
    rules:
      [
        'groups:',
        '  - name: bench',
        '    rules:',
        '      - alert: BenchCpuBusy',
        `        expr: (${cpuQuery}) > ${THRESHOLD}`,
        `        for: ${FOR}s`,
      ].join('\n') + '\n',
  })
  started.push(prometheus)
  const redis = await startRedis()
  started.push(redis)
  const sentinel = await startSentinel({
    redisPort: redis.port,
    env: {
      PROMETHEUS_URL: prometheus.url,
      NODE_INSTANCE: `127.0.0.1:${exporter.port}`,
      MONITOR_CRON: '*/15 * * * * *',
      THRESHOLD_CPU_PERCENT: String(THRESHOLD),
      THRESHOLD_MEMORY_PERCENT: '100',
      THRESHOLD_DISK_PERCENT: '100',
      THRESHOLD_LATENCY_MS: '3600000',
      ALERT_FOR_SECONDS: String(FOR),
      ALERT_HOLD_DOWN_SECONDS: '15',
      // The bench measures detection; nothing should be killed on this machine.
      SHADOW_MODE: 'true',
    },
  })
  started.push({ stop: () => sentinel.cleanup() })
  const cpuNow = async () => {
    const r = (await (
      await fetch(`${prometheus.url}/api/v1/query?query=${encodeURIComponent(cpuQuery)}`)
    ).json()) as any
    return Number(r.data.result[0]?.value[1] ?? NaN)
  }
  const promFiring = async () => {
    const r = (await (await fetch(`${prometheus.url}/api/v1/alerts`)).json()) as any
    return r.data.alerts.some((a: any) => a.labels.alertname === 'BenchCpuBusy' && a.state === 'firing')
  }
  const sentinelDelays: number[] = []
  const promDelays: number[] = []
  let stress: ChildProcess | undefined
  try {
    await waitFor(async () => !Number.isNaN(await cpuNow()), {
      timeoutMs: 90_000,
      intervalMs: 1000,
      what: 'Prometheus to have CPU data',
    })
    for (let t = 0; t < TRIALS; t++) {
      // Start from calm: CPU under the threshold and no alert on either side.
      await waitFor(
        async () =>
          (await cpuNow()) < THRESHOLD * 0.7 &&
          !(await promFiring()) &&
          !(await sentinel.get('/api/incidents?view=full&type=cpu&status=open')).body.incidents.length,
        {
          timeoutMs: 240_000,
          intervalMs: 2000,
          what: 'a calm machine',
        },
      )
      const before = new Set(
        ((await sentinel.get('/api/incidents?view=full&type=cpu&limit=200')).body.incidents as any[]).map((i) => i.id),
      )
      const t0 = Date.now()
      stress = spawn('stress-ng', ['--cpu', String(os.cpus().length), '--timeout', '300s', '--quiet'], {
        stdio: 'ignore',
      })
      let tProm = 0
      let tSentinel = 0
      await waitFor(
        async () => {
          if (!tProm && (await promFiring())) tProm = Date.now()
          if (!tSentinel) {
            const inc = (
              (await sentinel.get('/api/incidents?view=full&type=cpu&limit=5')).body.incidents as any[]
            ).find((i) => !before.has(i.id))
            if (inc) tSentinel = Date.parse(inc.openedAt)
          }
          return tProm && tSentinel
        },
        { timeoutMs: 300_000, intervalMs: 500, what: 'both alerts' },
      )
      stress.kill('SIGTERM')
      stress = undefined
      promDelays.push((tProm - t0) / 1000)
      sentinelDelays.push((tSentinel - t0) / 1000)
      console.log(
        `trial ${t + 1}: Sentinel ${((tSentinel - t0) / 1000).toFixed(1)} s, Prometheus rule ${((tProm - t0) / 1000).toFixed(1)} s`,
      )
    }

    const cpu = os.cpus()[0]?.model ?? 'unknown'
    console.log(
      `\nbench/detect — ${TRIALS} trials, for=${FOR}s, threshold CPU > ${THRESHOLD} %, schedule 15 s (Sentinel) / scrape+evaluation 15 s (Prometheus)`,
    )
    console.log(
      `machine: ${cpu}, ${os.cpus().length} CPUs, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}`,
    )
    console.log(
      `condition → alert, median: Sentinel ${median(sentinelDelays).toFixed(1)} s   Prometheus rule ${median(promDelays).toFixed(1)} s   ratio ${(median(sentinelDelays) / median(promDelays)).toFixed(2)}`,
    )
    console.log(`  Sentinel:   ${sentinelDelays.map((d) => d.toFixed(1)).join(', ')} s`)
    console.log(`  Prometheus: ${promDelays.map((d) => d.toFixed(1)).join(', ')} s`)
    await storm(sentinel, redis)
  } finally {
    stress?.kill('SIGKILL')
  }
}

/** Redis commands served so far, by command (INFO commandstats). */
async function redisCommands(redis: TestRedis): Promise<Map<string, number>> {
  const info = await redis.client.info('commandstats')
  const out = new Map<string, number>()
  for (const m of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) out.set(m[1], Number(m[2]))
  return out
}

/** The storm: 10 000 alerts over 100 fingerprints, as 100 webhook calls of 100 alerts each, 10 at a time. */
async function storm(sentinel: SentinelInstance, redis: TestRedis) {
  const pgid = sentinel.pid()
  let peak = groupRssKb(pgid)
  const rssBefore = peak
  const sampler = setInterval(() => {
    const now = groupRssKb(pgid)
    peak = { main: Math.max(peak.main, now.main), group: Math.max(peak.group, now.group) }
  }, 100)
  const startsAt = new Date().toISOString()
  const payload = (batch: number) => stormPayload({ batch, startsAt })
  const commandsBefore = await redisCommands(redis)
  const t0 = Date.now()
  let next = 0
  let failed = 0
  await Promise.all(
    Array.from({ length: 10 }, async () => {
      while (next < 100) {
        const b = next++
        const r = await sentinel.post('/api/alerts/alertmanager', payload(b), 'operator')
        if (r.status !== 200) failed++
      }
    }),
  )
  const ingestSeconds = (Date.now() - t0) / 1000
  // Counted at once: the flow's step processes (analysis of the new incidents) add their own later.
  const commandsAfter = await redisCommands(redis)
  await sleep(2000)
  clearInterval(sampler)
  const all: any[] = []
  let cursor = ''
  for (;;) {
    const page = (await sentinel.get(`/api/incidents?view=full&limit=200${cursor ? `&cursor=${cursor}` : ''}`)).body
    all.push(...page.incidents)
    if (!page.nextCursor) break
    cursor = page.nextCursor
  }
  const stormIncidents = all.filter((i) => String(i.fingerprint).startsWith('am:5707'))
  const used = [...commandsAfter]
    .map(([cmd, n]) => [cmd, n - (commandsBefore.get(cmd) ?? 0)] as const)
    .filter(([, n]) => n > 0)
    .sort((a, b) => b[1] - a[1])
  const total = used.reduce((s, [, n]) => s + n, 0)
  console.log(
    `alert storm: 10000 alerts in ${ingestSeconds.toFixed(1)} s = ${(10000 / ingestSeconds).toFixed(0)} alerts/s ingested (100 webhook calls, 10 at a time, ${failed} failed)`,
  )
  console.log(`  incidents opened: ${stormIncidents.length} (expected 100)`)
  console.log(
    `  Redis commands during the storm (flow steps included): ${total} = ${(total / 10000).toFixed(2)} per alert; ${used
      .slice(0, 8)
      .map(([c, n]) => `${c} ${n}`)
      .join(', ')}`,
  )
  console.log(
    `  Sentinel RSS: main process ${(rssBefore.main / 1024).toFixed(0)} → peak ${(peak.main / 1024).toFixed(0)} MiB; with step processes peak ${(peak.group / 1024).toFixed(0)} MiB`,
  )
}

main().catch((err) => {
  console.error(err)
  process.exit(1)
})
