/**
 * bench/canary: what a bad and a good deploy cost on a 6-replica Swarm service, deployed by
 * Sentinel's canary (POST /api/services/:name/deploy: one task, 25 %, then a rolling update, each
 * step held by the health gate) and by Swarm's own rolling update with
 * `--update-failure-action rollback`, on the same service in the same run, taking turns.
 *
 *   npm run bench:canary -- [--trials 3] [--replicas 6] [--gate 5]
 *
 * The bad version's tasks exit after 3 s (tests/helpers/swarm.ts); the good one serves 200s. A
 * client container on the service's overlay network resolves the service's name (DNS round-robin)
 * and asks one address every 100 ms; a deploy's failed requests are those from its request to its
 * end (plus one second). Times come from the deploy's own record (Sentinel) or the service's
 * UpdateStatus, polled every 100 ms (Swarm): detect = request → rollback begins; roll back = rollback
 * begins → the service runs the old image on every task again; promote = request → every task on
 * the new image. Swarm's update runs start-first, one task at a time, monitored 5 s, as Sentinel's
 * promotion does. Everything started is removed at the end, on Ctrl-C and on failure.
 */
import os from 'node:os'
import { randomBytes } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { waitFor } from '../../tests/helpers/ports'
import { startRedis, type TestRedis } from '../../tests/helpers/redis'
import { type SentinelInstance, startSentinel, WATCH_VALUE } from '../../tests/helpers/sentinel'
import { startSwarm, type TestSwarm } from '../../tests/helpers/swarm'

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`)
  const v = i > 0 ? Number(process.argv[i + 1]) : NaN
  return Number.isFinite(v) && v > 0 ? v : fallback
}
const TRIALS = arg('trials', 3)
const REPLICAS = arg('replicas', 6)
const GATE = arg('gate', 5)

type Mode = 'sentinel' | 'swarm'
type Version = 'bad' | 'good'
interface Trial {
  mode: Mode
  version: Version
  requests: number
  failed: number
  detectMs: number | null
  rollbackMs: number | null
  promoteMs: number | null
  outcome: string
}

function median(xs: (number | null)[]): number | null {
  const v = xs.filter((x): x is number => x !== null).sort((a, b) => a - b)
  if (!v.length) return null
  const m = Math.floor(v.length / 2)
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2
}
const s = (ms: number | null) => (ms === null ? '-' : `${(ms / 1000).toFixed(1)} s`)

async function main() {
  let swarm: TestSwarm | undefined
  let redis: TestRedis | undefined
  let sentinel: SentinelInstance | undefined
  const probe = `bench-canary-probe-${randomBytes(3).toString('hex')}`
  const cleanup = async () => {
    await swarm?.docker('rm', '-f', probe).catch(() => {})
    await sentinel?.cleanup().catch(() => {})
    await redis?.stop().catch(() => {})
    await swarm?.remove().catch(() => {})
  }
  process.once('SIGINT', () => void cleanup().then(() => process.exit(130)))
  try {
    const started = Date.now()
    swarm = await startSwarm({ imageTag: 'bench-canary' })
    redis = await startRedis()
    const net = `bench-canary-${randomBytes(3).toString('hex')}`
    await swarm.docker('network', 'create', '--driver', 'overlay', '--attachable', net)
    const goods = [swarm.images.good, swarm.images.good.replace(/:good$/, ':good-v2')]
    await swarm.docker('tag', goods[0], goods[1])
    sentinel = await startSentinel({
      redisPort: redis.port,
      env: {
        DOCKER_SOCKET: swarm.socket,
        CANARY_GATE_SECONDS: String(GATE),
        CANARY_STEP_PERCENTS: '25',
        CANARY_PROBE_INTERVAL_MS: '250',
        // Swarm's own failed updates would open service incidents; they wait for a person, acting on nothing.
        SWARM_POLL_SECONDS: '2',
      },
    })
    const name = `bench-canary-${randomBytes(3).toString('hex')}`
    await swarm.createService(name, {
      replicas: REPLICAS,
      labels: { 'sentinel.watch': WATCH_VALUE },
      args: ['--network', net, '--endpoint-mode', 'dnsrr', '--no-healthcheck', '--stop-grace-period', '2s'],
    })
    await swarm.waitForRunning(name, REPLICAS, { timeoutMs: 120_000 })
    const script = [
      'while true; do',
      `  ip=$(nslookup ${name} 2>/dev/null | sed -n "s/^Address: *//p" | grep -v ":53$" | shuf -n 1)`,
      '  r=$(printf "GET / HTTP/1.0\\r\\n\\r\\n" | nc -w 1 "$ip" 8080 2>/dev/null | head -n 1)',
      '  case "$r" in *" 200 "*) echo ok ;; *) echo err ;; esac',
      '  sleep 0.1',
      'done',
    ].join('\n')
    await swarm.docker('run', '-d', '--name', probe, '--network', net, goods[0], 'sh', '-c', script)
    const probeLines = async (fromMs: number, toMs: number) => {
      const out = await swarm!.docker('logs', '--timestamps', probe)
      const rows = out
        .split('\n')
        .filter(Boolean)
        .map((l) => {
          const [ts, r] = l.trim().split(' ')
          return { at: Date.parse(ts), ok: r === 'ok' }
        })
        .filter((r) => r.at >= fromMs && r.at <= toMs)
      return { requests: rows.length, failed: rows.filter((r) => !r.ok).length }
    }
    const currentImage = async () =>
      String((await swarm!.inspectService(name)).Spec.TaskTemplate.ContainerSpec.Image).split('@')[0]
    const settled = (image: string) => swarm!.waitForRunning(name, REPLICAS, { image, timeoutMs: 180_000 })

    const viaSentinel = async (version: Version): Promise<Trial> => {
      const from = await currentImage()
      const image = version === 'bad' ? swarm!.images.bad : goods.find((g) => g !== from)!
      const t0 = Date.now()
      const res = await sentinel!.post(
        `/api/services/${name}/deploy`,
        { image, probe: { port: 8080, path: '/' } },
        'operator',
      )
      if (res.status !== 202) throw new Error(`deploy refused: ${res.status} ${JSON.stringify(res.body)}`)
      const d = await waitFor(
        async () => {
          const r = await sentinel!.get(`/api/deploys/${res.body.id}`, 'viewer')
          return ['succeeded', 'rolled_back', 'aborted', 'failed'].includes(r.body.phase) ? r.body : null
        },
        { timeoutMs: 600_000, intervalMs: 100, what: 'the deploy to finish' },
      )
      const end = Date.parse(d.finishedAt)
      await settled(version === 'bad' ? from : image)
      await sleep(1000)
      const failedAt = d.events.find((e: any) => e.kind === 'gate_failed')?.at
      return {
        mode: 'sentinel',
        version,
        ...(await probeLines(t0, end + 1000)),
        detectMs: failedAt ? Date.parse(failedAt) - t0 : null,
        rollbackMs: failedAt ? end - Date.parse(failedAt) : null,
        promoteMs: d.phase === 'succeeded' ? end - t0 : null,
        outcome: d.phase,
      }
    }

    const viaSwarm = async (version: Version): Promise<Trial> => {
      const from = await currentImage()
      const image = version === 'bad' ? swarm!.images.bad : goods.find((g) => g !== from)!
      const t0 = Date.now()
      await swarm!.updateService(name, [
        '--image',
        image,
        '--update-failure-action',
        'rollback',
        '--update-monitor',
        '5s',
        '--update-parallelism',
        '1',
        '--update-order',
        'start-first',
        '--update-delay',
        '0s',
        '--rollback-order',
        'start-first',
        '--rollback-parallelism',
        '0',
      ])
      let rollbackStarted: number | null = null
      let end = 0
      let outcome = ''
      for (;;) {
        const st = (await swarm!.inspectService(name)).UpdateStatus?.State ?? ''
        if (!rollbackStarted && st.startsWith('rollback')) rollbackStarted = Date.now()
        if (st === 'completed' || st === 'rollback_completed' || st === 'paused' || st === 'rollback_paused') {
          outcome = st
          break
        }
        if (Date.now() - t0 > 600_000) throw new Error(`Swarm's update did not finish: ${st}`)
        await sleep(100)
      }
      await settled(outcome === 'completed' ? image : from)
      end = Date.now()
      await sleep(1000)
      return {
        mode: 'swarm',
        version,
        ...(await probeLines(t0, end + 1000)),
        detectMs: rollbackStarted ? rollbackStarted - t0 : null,
        rollbackMs: rollbackStarted ? end - rollbackStarted : null,
        promoteMs: outcome === 'completed' ? end - t0 : null,
        outcome,
      }
    }

    const trials: Trial[] = []
    for (let i = 0; i < TRIALS; i++) {
      for (const version of ['bad', 'good'] as Version[])
        for (const mode of ['sentinel', 'swarm'] as Mode[]) {
          const t = mode === 'sentinel' ? await viaSentinel(version) : await viaSwarm(version)
          trials.push(t)
          console.log(
            `trial ${i + 1} ${mode} ${version}: ${t.outcome}, ${t.failed}/${t.requests} requests failed, detect ${s(t.detectMs)}, roll back ${s(t.rollbackMs)}, promote ${s(t.promoteMs)}`,
          )
        }
    }
    const cpus = os.cpus()
    console.log(
      `\nmachine: ${cpus[0]?.model ?? 'unknown'}, ${cpus.length} cores, ${Math.round(os.totalmem() / 2 ** 20)} MiB, node ${process.version}, ${os.type()} ${os.release()}, load ${os
        .loadavg()
        .map((x) => x.toFixed(2))
        .join(' ')}`,
    )
    console.log(
      `service: ${REPLICAS} replicas, probe every 100 ms; Sentinel gate ${GATE} s per step (1 task, 25 %, then rolling update); ${TRIALS} trial(s) of each; run took ${Math.round((Date.now() - started) / 1000)} s\n`,
    )
    console.log(
      '| deploy | by | outcome | failed requests (median) | detect (median) | roll back (median) | promote (median) |',
    )
    console.log('| --- | --- | --- | --- | --- | --- | --- |')
    for (const version of ['bad', 'good'] as Version[])
      for (const mode of ['sentinel', 'swarm'] as Mode[]) {
        const ts = trials.filter((t) => t.mode === mode && t.version === version)
        const outcomes = [...new Set(ts.map((t) => t.outcome))].join(', ')
        const failed = median(ts.map((t) => t.failed))
        const reqs = median(ts.map((t) => t.requests))
        console.log(
          `| ${version} | ${mode === 'sentinel' ? 'Sentinel canary' : 'Swarm --update-failure-action rollback'} | ${outcomes} | ${failed} of ${reqs} | ${s(median(ts.map((t) => t.detectMs)))} | ${s(median(ts.map((t) => t.rollbackMs)))} | ${s(median(ts.map((t) => t.promoteMs)))} |`,
        )
      }
  } finally {
    await cleanup()
  }
}

main().catch((err) => {
  console.error(err)
  process.exitCode = 1
})
