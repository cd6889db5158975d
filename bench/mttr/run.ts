/**
 * bench/mttr: kill the main process of a container from the host and measure how long until it
 * runs again, for Sentinel (a watched container, no restart policy) and for Docker's own
 * `--restart=always` (an unwatched container), interleaved in one run on one machine. For
 * Sentinel it also measures kill → incident resolved (verification included).
 *
 *   npm run bench:mttr -- [--trials 20]
 *
 * Times come from Docker's own event stream (the `start` event's timestamp), not from polling.
 */
import { execFile } from 'node:child_process'
import os from 'node:os'
import { promisify } from 'node:util'
import Docker from 'dockerode'
import { removeContainers, runContainer, state, uniqueName } from '../../tests/helpers/docker'
import { sleep, waitFor } from '../../tests/helpers/ports'
import { startRedis } from '../../tests/helpers/redis'
import { startSentinel, WATCHED } from '../../tests/helpers/sentinel'

const run = promisify(execFile)
const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`)
  return i > 0 ? Number(process.argv[i + 1]) : fallback
}
const TRIALS = Math.max(20, arg('trials', 20))
const nowMs = () => performance.timeOrigin + performance.now()

const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b)
  const pos = (s.length - 1) * q
  const lo = Math.floor(pos)
  return s[lo] + (s[Math.min(lo + 1, s.length - 1)] - s[lo]) * (pos - lo)
}

async function main() {
  await run('bash', ['scripts/build-test-image.sh'])
  const docker = new Docker({ socketPath: '/var/run/docker.sock' })
  const starts = new Map<string, number[]>()
  const events = (await docker.getEvents({
    filters: { type: ['container'], event: ['start'] },
  })) as unknown as NodeJS.ReadableStream
  let buf = ''
  events.on('data', (c: Buffer) => {
    buf += c.toString()
    let nl: number
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl)
      buf = buf.slice(nl + 1)
      if (!line.trim()) continue
      const e = JSON.parse(line) as { Actor: { Attributes: { name: string } }; timeNano: number }
      const list = starts.get(e.Actor.Attributes.name) ?? []
      list.push(e.timeNano / 1e6)
      starts.set(e.Actor.Attributes.name, list)
    }
  })

  const redis = await startRedis()
  const sentinel = await startSentinel({ redisPort: redis.port }).catch(async (err) => {
    await redis.stop()
    ;(events as unknown as { destroy(): void }).destroy()
    throw err
  })
  const sentinelRunning: number[] = []
  const sentinelResolved: number[] = []
  const dockerRunning: number[] = []
  const made: string[] = []
  try {
    for (let t = 0; t < TRIALS; t++) {
      for (const kind of ['sentinel', 'docker'] as const) {
        const name = uniqueName(`mttr-${kind}`)
        made.push(name)
        await runContainer(name, kind === 'sentinel' ? { labels: WATCHED } : { args: ['--restart=always'] })
        await waitFor(async () => (starts.get(name)?.length ?? 0) >= 1, { timeoutMs: 5000, what: 'first start event' })
        await sleep(300)
        const { Pid } = await state(name)
        const killedAt = nowMs()
        process.kill(Pid, 'SIGKILL')
        const restartedAt = await waitFor(() => starts.get(name)?.[1], {
          timeoutMs: 20_000,
          intervalMs: 5,
          what: `${name} to start again`,
        })
        if (kind === 'docker') {
          dockerRunning.push(restartedAt - killedAt)
        } else {
          sentinelRunning.push(restartedAt - killedAt)
          const resolvedAt = await waitFor(
            async () => {
              const r = await sentinel.get(`/api/incidents?resource=${name}&limit=1`)
              const inc = r.body.incidents?.[0]
              return inc?.status === 'resolved' ? Date.parse(inc.resolvedAt) : null
            },
            { timeoutMs: 60_000, intervalMs: 20, what: `${name} incident to resolve` },
          )
          sentinelResolved.push(resolvedAt - killedAt)
        }
        await removeContainers(name)
      }
      process.stdout.write(`trial ${t + 1}/${TRIALS}\r`)
    }
  } finally {
    await removeContainers(...made)
    ;(events as unknown as { destroy(): void }).destroy()
    await sentinel.cleanup()
    await redis.stop()
  }

  const fmt = (xs: number[]) =>
    `median ${quantile(xs, 0.5).toFixed(0).padStart(5)} ms   p90 ${quantile(xs, 0.9).toFixed(0).padStart(5)} ms   (n=${xs.length})`
  const cpu = os.cpus()[0]?.model ?? 'unknown'
  console.log(`\nbench/mttr — ${TRIALS} trials each, interleaved`)
  console.log(
    `machine: ${cpu}, ${os.cpus().length} CPUs, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}, docker ${(await docker.version()).Version}`,
  )
  console.log(`settings: VERIFY_STABLE_SECONDS=${sentinel.env.VERIFY_STABLE_SECONDS ?? '1 (default)'}`)
  console.log(`kill → running   Sentinel (watched, no restart policy):  ${fmt(sentinelRunning)}`)
  console.log(`kill → running   Docker --restart=always (unwatched):    ${fmt(dockerRunning)}`)
  console.log(`kill → resolved  Sentinel (verified + resolved in flow):  ${fmt(sentinelResolved)}`)
  console.log(
    `ratio Sentinel / Docker, median kill → running: ${(quantile(sentinelRunning, 0.5) / quantile(dockerRunning, 0.5)).toFixed(2)}`,
  )
}

main().catch((err) => {
  console.error(err)
  process.exit(1)
})
