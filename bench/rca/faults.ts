/**
 * The fault scenarios of npm run bench:rca: one builder per fault, each taking a variant index that
 * changes the names, sizes, timings and log wording. Every container runs the busybox test image
 * with a small `sh -c` script (argv arrays to `docker`; the scripts hold only this file's own
 * constants), carries the run's watch label, and has a neutral service name (never the fault's).
 *
 * How each fault reaches Sentinel:
 * - container deaths (oom, bad_config, dependency_unreachable, port_in_use, killed, clean_exit):
 *   Docker's `die` event, a `container_down` incident;
 * - memory_leak, cpu_hog: the monitor's container readings over their thresholds (`memory`, `cpu`);
 * - disk_fill: a container writing into Sentinel's SANDBOX_DIR (a tmpfs of SANDBOX_MB) through a
 *   bind mount, the monitor's disk reading of that filesystem (`disk`);
 * - slow_downstream, transient: HTTP probes (PROBE_TARGETS) of a local server the bench controls
 *   (`latency`); a transient is a spike of a few slow probe requests, over by the time the windowed
 *   p95 has been over the threshold long enough to open the incident.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import type { AlertType } from '../../src/platform/store/model'
import type { Downstream } from './downstream'
import {
  exitCodes,
  exitCodeShown,
  numbersAfter,
  OOM_TRUE,
  recovered,
  rising,
  seriesValues,
  sustainedOver,
} from './evidence'
import type { Fault } from './score'

/** Sentinel's settings for the bench (the monitor's pace, thresholds, no anomaly incidents). */
export const MONITOR_SECONDS = 4
export const ALERT_FOR_SECONDS = 12
// High: on this machine, shared with other work, a fast local endpoint's p95 reaches 250-300 ms.
export const LATENCY_THRESHOLD_MS = 1000
export const CONTAINER_MEMORY_THRESHOLD = 60
// Low for a CPU hog: on a 2-core machine shared with other work, a busy loop gets 30-40 % of a core.
export const CONTAINER_CPU_THRESHOLD = 25
export const DISK_THRESHOLD = 80
/** The sandbox's tmpfs. */
export const SANDBOX_MB = 64
/** Probe requests per tick and the p95 window: 3 ticks (the p95 of 3 samples is their maximum). */
export const PROBE_REQUESTS = 1
export const PROBE_WINDOW = 3

export function sentinelEnv(): Record<string, string> {
  return {
    MONITOR_CRON: `*/${MONITOR_SECONDS} * * * * *`,
    ALERT_FOR_SECONDS: String(ALERT_FOR_SECONDS),
    ALERT_HOLD_DOWN_SECONDS: '8',
    // Disk cases reopen the sandbox's alert one after another: never "flapping".
    ALERT_FLAP_THRESHOLD: '1000',
    ANOMALY_ENABLED: 'false',
    // The host's own CPU and memory are other people's load on this machine: never an incident.
    THRESHOLD_CPU_PERCENT: '100',
    THRESHOLD_MEMORY_PERCENT: '100',
    THRESHOLD_DISK_PERCENT: String(DISK_THRESHOLD),
    THRESHOLD_LATENCY_MS: String(LATENCY_THRESHOLD_MS),
    THRESHOLD_CONTAINER_MEMORY_PERCENT: String(CONTAINER_MEMORY_THRESHOLD),
    THRESHOLD_CONTAINER_CPU_PERCENT: String(CONTAINER_CPU_THRESHOLD),
    PROBE_REQUESTS_PER_TICK: String(PROBE_REQUESTS),
    PROBE_WINDOW_SIZE: String(PROBE_WINDOW),
    PROBE_TIMEOUT_MS: '5000',
  }
}

export interface BenchContext {
  /** Unique per pass; part of every name. */
  runId: string
  /** `key=value`, as `docker --label` takes it. */
  watchLabel: string
  image: string
  docker(...args: string[]): Promise<string>
  /** The sandbox (a tmpfs mount point); undefined when none could be mounted (disk cases skipped). */
  sandboxDir?: string
  downstream: Downstream
}

export interface Evidence {
  /** What counts as the decisive evidence, for the report. */
  what: string
  found(prompt: string): boolean
}

export interface Scenario {
  fault: Fault
  variant: number
  /** One line: what this variant does. */
  title: string
  /**
   * The incident's resource name: the container, the sandbox's mount point or the probed URL. The
   * prompts about the case are those that name it (disk cases run one at a time).
   */
  resource: string
  alertType: AlertType
  /** Cases with the same lock run one after another. */
  lock?: 'sandbox' | 'cpu'
  /** From the start of the fault to its analysed incident, at most. */
  timeoutMs: number
  /** The probed path, for the latency cases (its URL goes into PROBE_TARGETS). */
  probePath?: string
  /** Why the case cannot run here (it is then reported, not scored). */
  skip?: string
  /** The fault's own state when the incident was analysed, for the report (latency cases). */
  status?(): string
  start(): Promise<void>
  stop(): Promise<void>
  evidence: Evidence
}

const pick = <T>(xs: readonly T[], v: number): T => xs[v % xs.length]
/** Sizes grow a little with each round of three variants, so variants 3, 4, 5 differ from 0, 1, 2. */
const round = (v: number) => Math.floor(v / 3)
const MiB = 1024 * 1024

function containerName(ctx: BenchContext, service: string, v: number): string {
  return `rca-${ctx.runId}-${service}-${v}`
}

async function run(ctx: BenchContext, name: string, script: string, args: string[] = []): Promise<void> {
  await ctx.docker('run', '-d', '--name', name, '--label', ctx.watchLabel, ...args, ctx.image, 'sh', '-c', script)
}

async function remove(ctx: BenchContext, name: string): Promise<void> {
  await ctx.docker('rm', '-f', name).catch(() => '')
}

/** Waits until the container has been running for `ms`. */
async function runningFor(ctx: BenchContext, name: string, ms: number): Promise<void> {
  const deadline = Date.now() + 20_000
  while (Date.now() < deadline) {
    const out = await ctx.docker('inspect', '-f', '{{.State.Running}} {{.State.StartedAt}}', name).catch(() => '')
    const [running, started] = out.split(' ')
    if (running === 'true' && Date.now() - Date.parse(started) >= ms) return
    await sleep(200)
  }
  throw new Error(`${name} did not run for ${ms} ms`)
}

/** A scenario of one container: removed at the end. */
function containerCase(
  ctx: BenchContext,
  s: Omit<Scenario, 'resource' | 'stop' | 'start'> & {
    name: string
    start(name: string): Promise<void>
  },
): Scenario {
  const { name, start, ...rest } = s
  return { ...rest, resource: name, start: () => start(name), stop: () => remove(ctx, name) }
}

// Scripts run only once per container keep a mark in the container's own filesystem, which a
// restart keeps: the fault happens on the first run, the restarted service is healthy.
const FIRST_RUN_ONLY =
  'if [ -f /tmp/.started ]; then trap "exit 0" TERM; echo "ready"; while :; do sleep 1; done; fi; touch /tmp/.started; '

const oom = (ctx: BenchContext, v: number): Scenario => {
  const kind = v % 3
  const limit = [16, 24, 32][kind] + 8 * round(v)
  const name = containerName(ctx, pick(['report-builder', 'thumbnailer', 'search-indexer'], v), v)
  const scripts = [
    // Doubles a string until the kernel kills it; every start does it again (an OOM crash loop).
    `echo "building monthly report for ${48213 + v} accounts"; s=x; while :; do s="$s$s"; done`,
    // One big read into memory, on the first start only.
    `${FIRST_RUN_ONLY}echo "resizing batch of ${300 + 7 * v} images"; exec tail /dev/zero`,
    // Near the limit for a few seconds (less than the memory alert's hold), then over it. Each MiB is a
    // variable of its own (a string grown in place would be copied, twice its size at each step).
    `${FIRST_RUN_ONLY}c=$(head -c 1048576 /dev/zero | tr "\\0" s); i=0; ` +
      `while [ $i -lt ${limit - 4} ]; do eval "seg$i=\\$c"; i=$((i+1)); [ $((i % 8)) -eq 0 ] && echo "index segment $i merged"; sleep 0.2; done; ` +
      `echo "merging final segments"; sleep 6; while :; do eval "seg$i=\\$c"; i=$((i+1)); done`,
  ]
  return containerCase(ctx, {
    fault: 'oom',
    variant: v,
    name,
    title: [
      `string doubling under --memory ${limit}m, every start`,
      `tail /dev/zero under --memory ${limit}m, first start only`,
      `grows to ${limit - 4} MiB of --memory ${limit}m, holds, then over; first start only`,
    ][kind],
    alertType: 'container_down',
    timeoutMs: 90_000,
    evidence: { what: 'OOMKilled=true', found: (t) => OOM_TRUE.test(t) },
    start: (n) => run(ctx, n, scripts[kind], ['--memory', `${limit}m`, '--memory-swap', `${limit}m`]),
  })
}

const memoryLeak = (ctx: BenchContext, v: number): Scenario => {
  const limit = pick([64, 96, 48], v) + 16 * round(v)
  const chunkKiB = pick([512, 1024, 256], v)
  const stepS = pick([0.6, 1.0, 0.35], v)
  const cap = Math.floor((limit * 1024 * 0.85) / chunkKiB)
  const line = pick(
    [
      'echo "sessions: $((i * 37)) active"',
      'echo "GET /v1/orders/$i 200 $((i % 40 + 3))ms"',
      'echo "client connected id=$i"',
    ],
    v,
  )
  const name = containerName(ctx, pick(['session-cache', 'api-gateway', 'ws-hub'], v), v)
  // Memory grows by one chunk per step (a variable of its own, kept alive), up to 85 % of the limit,
  // then holds. (One string grown by `s="$s$c"` would be copied at each step: twice its size.)
  const script =
    `c=$(head -c ${chunkKiB * 1024} /dev/zero | tr "\\0" m); i=0; ` +
    `while :; do if [ $i -lt ${cap} ]; then eval "entry$i=\\$c"; i=$((i+1)); fi; [ $((i % 5)) -eq 0 ] && ${line}; sleep ${stepS}; done`
  const rate = (chunkKiB / 1024 / stepS).toFixed(2)
  return containerCase(ctx, {
    fault: 'memory_leak',
    variant: v,
    name,
    title: `+${rate} MiB/s under --memory ${limit}m, up to 85 %`,
    alertType: 'memory',
    timeoutMs: 180_000,
    evidence: {
      what: 'a rising memory series (≥ 5 points, +15 points)',
      found: (t) => rising(seriesValues(t), { minRise: 15 }),
    },
    start: (n) => run(ctx, n, script, ['--memory', `${limit}m`, '--memory-swap', `${limit}m`]),
  })
}

const cpuHog = (ctx: BenchContext, v: number): Scenario => {
  const kind = v % 3
  const name = containerName(ctx, pick(['pricing-engine', 'geo-encoder', 'pdf-render'], v), v)
  const scripts = [
    'echo "recomputing price matrix"; while :; do :; done',
    'trap "exit 0" TERM; echo "encoding tile pyramid level 12 with 2 workers"; yes > /dev/null & yes > /dev/null & wait',
    'trap "exit 0" TERM; echo "rendering invoice batch"; md5sum /dev/zero & while :; do sleep 5; echo "render queue depth 1"; done',
  ]
  return containerCase(ctx, {
    fault: 'cpu_hog',
    variant: v,
    name,
    title: ['sh busy loop (PID 1)', 'two `yes > /dev/null` children', '`md5sum /dev/zero` child'][kind],
    alertType: 'cpu',
    lock: 'cpu',
    timeoutMs: 75_000,
    evidence: {
      what: `a CPU share ≥ ${CONTAINER_CPU_THRESHOLD} % of a process or of the container (cpuPercent / "% CPU")`,
      found: (t) =>
        [
          ...numbersAfter(t, 'cpu_?percent'),
          ...[...t.matchAll(/(\d+(?:\.\d+)?)\s*% CPU/gi)].map((m) => Number(m[1])),
        ].some((x) => x >= CONTAINER_CPU_THRESHOLD),
    },
    start: (n) => run(ctx, n, scripts[kind]),
  })
}

const diskFill = (ctx: BenchContext, v: number): Scenario => {
  const kind = v % 3
  const sub = (['logs', 'temp', 'cache'] as const)[kind]
  const mount = ['/var/log/app', '/tmp/uploads', '/var/cache/app'][kind]
  const name = containerName(ctx, pick(['log-shipper', 'upload-api', 'asset-proxy'], v), v)
  // The tmpfs holds SANDBOX_MB; data/ holds 4 MiB already; these fill it to 86-93 %.
  const mb = [52, 54, 56][kind] - 2 * round(v)
  const largest = [`orders-${20240601 + v}.log`, `upload-${(0x7f3a + v).toString(16)}.part`, `tiles-z${12 + v}.bin`][
    kind
  ]
  const scripts = [
    // One log file written line by line, and a rotated one.
    `yes "$(date -u +%FT%TZ) INFO orders: order accepted id=829${v} total=19.90 items=3" | head -c ${(mb - 4) * MiB} > ${mount}/${largest}; ` +
      `yes "WARN gc pause 12ms" | head -c ${4 * MiB} > ${mount}/orders-old.log.1; echo "log rotation disabled"; ` +
      'trap "exit 0" TERM; while :; do sleep 1; done',
    // Many upload parts never cleaned up, and one large one.
    `i=0; while [ $i -lt ${mb - 12} ]; do head -c ${MiB} /dev/urandom > ${mount}/chunk-$i.tmp; i=$((i+1)); done; ` +
      `head -c ${12 * MiB} /dev/urandom > ${mount}/${largest}; echo "upload spool at $i parts"; ` +
      'trap "exit 0" TERM; while :; do sleep 1; done',
    // A cache in nested directories.
    `mkdir -p ${mount}/a/b ${mount}/c; i=0; while [ $i -lt ${Math.floor((mb - 16) / 2)} ]; do head -c ${2 * MiB} /dev/urandom > ${mount}/a/b/blob-$i; i=$((i+1)); done; ` +
      `head -c ${16 * MiB} /dev/urandom > ${mount}/c/${largest}; echo "cache warm: $i blobs"; ` +
      'trap "exit 0" TERM; while :; do sleep 1; done',
  ]
  const sandbox = ctx.sandboxDir
  return {
    fault: 'disk_fill',
    variant: v,
    title: `${mb} MiB into ${sub}/ of a ${SANDBOX_MB} MiB sandbox`,
    resource: sandbox ?? '(no sandbox)',
    alertType: 'disk',
    lock: 'sandbox',
    timeoutMs: 75_000,
    ...(sandbox ? {} : { skip: 'no tmpfs could be mounted for the sandbox (run as root)' }),
    evidence: { what: `the ${sub}/ file the fault wrote (${largest})`, found: (t) => t.includes(largest) },
    start: () => run(ctx, name, scripts[kind], ['-v', `${sandbox}/${sub}:${mount}`]),
    stop: () => remove(ctx, name),
  }
}

const badConfig = (ctx: BenchContext, v: number): Scenario => {
  const kind = v % 3
  const name = containerName(ctx, pick(['billing-api', 'notifier', 'ledger'], v), v)
  const key = [`DATABASE_URL`, `SMTP_RELAY_HOST`, `listen_port`][kind]
  const scripts = [
    `echo "billing-api 2.${4 + v}.1 starting"; echo "FATAL: required environment variable ${key} is not set" >&2; exit 1`,
    `echo 'level=info msg="notifier starting" version=1.${v}'; echo 'level=error msg="config: missing ${key}" component=mailer' >&2; echo "exiting" >&2; exit 78`,
    `mkdir -p /etc/ledger; printf "listen_port: eighty\\nlog_level: info\\n" > /etc/ledger/config.yaml; ` +
      `echo "Error: invalid configuration in /etc/ledger/config.yaml: ${key} must be an integer (got \\"eighty\\")" >&2; exit 2`,
  ]
  return containerCase(ctx, {
    fault: 'bad_config',
    variant: v,
    name,
    title: [`${key} not set, exit 1`, `missing ${key} (logfmt), exit 78`, `${key}: eighty in config.yaml, exit 2`][
      kind
    ],
    alertType: 'container_down',
    timeoutMs: 60_000,
    evidence: { what: `the setting's name (${key})`, found: (t) => t.includes(key) },
    start: (n) => run(ctx, n, scripts[kind]),
  })
}

const dependency = (ctx: BenchContext, v: number): Scenario => {
  const kind = v % 3
  const name = containerName(ctx, pick(['orders-api', 'inventory-sync', 'payments-worker'], v), v)
  const port = 5432 + v
  const scripts = [
    // A real refused connection: nothing listens on the port.
    `echo "connecting to postgres at 127.0.0.1:${port}"; for a in 1 2 3; do nc 127.0.0.1 ${port} </dev/null && exit 0; sleep 0.3; done; echo "error: database unreachable after 3 attempts, giving up" >&2; exit 1`,
    // A real DNS failure.
    `echo "syncing stock levels"; wget -q -O- http://stock-db-${v}.invalid:8080/health || { echo "upstream stock-db-${v} unreachable" >&2; exit 1; }`,
    `echo "payments-worker: connecting to redis"; echo "Error: getaddrinfo ENOTFOUND redis-cache-${v}" >&2; echo "    at GetAddrInfoReqWrap.onlookup [as oncomplete] (node:dns:107:26)" >&2; exit 1`,
  ]
  const patterns = [/connection refused|ECONNREFUSED/i, /bad address|ENOTFOUND|NXDOMAIN/i, /ENOTFOUND|getaddrinfo/i]
  return containerCase(ctx, {
    fault: 'dependency_unreachable',
    variant: v,
    name,
    title: ['nc to a closed port (real refusal)', 'wget to an .invalid host (real DNS failure)', 'ENOTFOUND printed'][
      kind
    ],
    alertType: 'container_down',
    timeoutMs: 60_000,
    evidence: { what: `the connection error (${patterns[kind].source})`, found: (t) => patterns[kind].test(t) },
    start: (n) => run(ctx, n, scripts[kind]),
  })
}

const portInUse = (ctx: BenchContext, v: number): Scenario => {
  const kind = v % 3
  const name = containerName(ctx, pick(['admin-ui', 'metrics-gw', 'webhook-rx'], v), v)
  const port = [8080, 9100, 3000][kind] + round(v)
  const scripts = [
    // Two web servers on one port: the second cannot bind.
    `httpd -p ${port}; echo "starting admin-ui on :${port}"; exec httpd -f -p ${port}`,
    `nc -l -p ${port} & sleep 0.3; echo "metrics gateway listening on :${port}"; nc -l -p ${port}; exit 1`,
    `echo "webhook receiver starting"; echo "Error: listen EADDRINUSE: address already in use :::${port}" >&2; echo "    at Server.setupListenHandle [as _listen2] (node:net:1817:16)" >&2; exit 1`,
  ]
  return containerCase(ctx, {
    fault: 'port_in_use',
    variant: v,
    name,
    title: [`httpd twice on :${port}`, `nc -l twice on :${port}`, `EADDRINUSE printed (:${port})`][kind],
    alertType: 'container_down',
    timeoutMs: 60_000,
    evidence: {
      what: 'address (already) in use / EADDRINUSE',
      found: (t) => /address (already )?in use|EADDRINUSE/i.test(t),
    },
    start: (n) => run(ctx, n, scripts[kind]),
  })
}

const killed = (ctx: BenchContext, v: number): Scenario => {
  const kind = v % 3
  const name = containerName(ctx, pick(['auth-svc', 'catalog', 'profile-api'], v), v)
  const scripts = [
    'echo "auth-svc listening on :8080"; exec httpd -f -p 8080',
    'trap "exit 0" TERM; echo "catalog ready"; while :; do sleep 1; done',
    `trap "exit 0" TERM; i=0; while :; do i=$((i+1)); echo "request handled id=$i"; sleep 0.${5 + kind}; done`,
  ]
  return containerCase(ctx, {
    fault: 'killed',
    variant: v,
    name,
    title: [
      'docker kill -s KILL of an httpd',
      'kill -9 of the main process from the host',
      'docker kill -s 9 under --memory 64m (not an OOM)',
    ][kind],
    alertType: 'container_down',
    timeoutMs: 60_000,
    evidence: {
      what: 'exit code 137 (or SIGKILL) without OOMKilled=true',
      found: (t) => (exitCodeShown(t, 137) || /SIGKILL|"apiSignal"\s*:\s*"(SIG)?KILL"/.test(t)) && !OOM_TRUE.test(t),
    },
    start: async (n) => {
      await run(ctx, n, scripts[kind], kind === 2 ? ['--memory', '64m', '--memory-swap', '64m'] : [])
      await runningFor(ctx, n, 2500 + 500 * kind)
      if (kind === 1) {
        const pid = Number(await ctx.docker('inspect', '-f', '{{.State.Pid}}', n))
        process.kill(pid, 'SIGKILL')
      } else await ctx.docker('kill', '-s', kind === 0 ? 'KILL' : '9', n)
    },
  })
}

const cleanExit = (ctx: BenchContext, v: number): Scenario => {
  const kind = v % 3
  const name = containerName(ctx, pick(['mail-relay', 'scheduler', 'feed-builder'], v), v)
  const scripts = [
    `echo "mail-relay up"; sleep ${2 + round(v)}; echo "queue drained, nothing to do; exiting"; exit 0`,
    `sleep ${3 + round(v)}`,
    `echo "building feed"; sleep 4; echo "feed written to /tmp/feed.xml (${1342 + v} items)"; echo "done."`,
  ]
  return containerCase(ctx, {
    fault: 'clean_exit',
    variant: v,
    name,
    title: ['says it is done, exit 0', 'silent, exit 0', 'batch job finishes, exit 0'][kind],
    alertType: 'container_down',
    timeoutMs: 60_000,
    evidence: {
      // A restarted container's own exit code reads 0 too: only 0, and no other code, is the evidence.
      what: 'exit code 0, and no other exit code',
      found: (t) => exitCodes(t).length > 0 && exitCodes(t).every((c) => c === 0),
    },
    start: (n) => run(ctx, n, scripts[kind]),
  })
}

function latencyCase(
  ctx: BenchContext,
  fault: 'slow_downstream' | 'transient',
  v: number,
  path: string,
  title: string,
  behaviour: Parameters<Downstream['set']>[1],
  evidence: Evidence,
): Scenario {
  const url = ctx.downstream.url(path)
  // The server counts every probe since Sentinel started: the case reports what came after its start.
  let before = { total: 0, slow: 0 }
  return {
    fault,
    variant: v,
    title,
    resource: url,
    alertType: 'latency',
    probePath: path,
    timeoutMs: 75_000,
    evidence,
    status: () => {
      const now = ctx.downstream.served(path)
      return `downstream served ${now.total - before.total} probe requests since the fault began, ${now.slow - before.slow} slow`
    },
    start: async () => {
      before = ctx.downstream.served(path)
      ctx.downstream.set(path, behaviour)
    },
    stop: async () => ctx.downstream.set(path, { kind: 'fast' }),
  }
}

const slowDownstream = (ctx: BenchContext, v: number): Scenario => {
  const ms = pick([1500, 2400, 1800], v) + 100 * round(v)
  const path = pick(['/api/orders', '/checkout/quote', '/search?q=boots'], v) + (v >= 3 ? `-${v}` : '')
  return latencyCase(
    ctx,
    'slow_downstream',
    v,
    path,
    `every request ${ms} ms (±10 %), CPU idle`,
    { kind: 'slow', ms, jitterMs: Math.round(ms / 10) },
    {
      what: `the latency series over ${LATENCY_THRESHOLD_MS} ms, staying there (≥ 3 points, the last one)`,
      found: (t) => sustainedOver(seriesValues(t), LATENCY_THRESHOLD_MS),
    },
  )
}

/** The evidence record's fresh probe made for the analysis (`"recheck": {..., "ms": N}`) answered under `limit`. */
function freshProbeUnder(prompt: string, limit: number): boolean {
  const m = /"recheck":\{[^}]*?"ms":(\d+(?:\.\d+)?)/.exec(prompt)
  return !!m && Number(m[1]) < limit
}

const transient = (ctx: BenchContext, v: number): Scenario => {
  const ms = pick([1600, 2500, 2000], v)
  // Three or four probe ticks' worth of slow requests, then fast again: the p95 window keeps the
  // reading over the threshold for three more ticks, long enough to open the incident.
  const requests = PROBE_REQUESTS * (3 + (v % 2))
  const path = pick(['/api/profile', '/catalog/items', '/healthz/deep'], v) + (v >= 3 ? `-${v}` : '')
  return latencyCase(
    ctx,
    'transient',
    v,
    path,
    `${requests} requests at ${ms} ms, then fast`,
    { kind: 'spike', ms, requests },
    {
      what: `the latency back under ${LATENCY_THRESHOLD_MS} ms after its peak (in the series, or a fresh probe)`,
      found: (t) => recovered(seriesValues(t), LATENCY_THRESHOLD_MS) || freshProbeUnder(t, LATENCY_THRESHOLD_MS),
    },
  )
}

export const BUILDERS: Record<Fault, (ctx: BenchContext, variant: number) => Scenario> = {
  oom,
  memory_leak: memoryLeak,
  cpu_hog: cpuHog,
  disk_fill: diskFill,
  bad_config: badConfig,
  dependency_unreachable: dependency,
  slow_downstream: slowDownstream,
  port_in_use: portInUse,
  killed,
  clean_exit: cleanExit,
  transient,
}

export interface Control {
  name: string
  title: string
  start(): Promise<void>
  stop(): Promise<void>
}

/** Two healthy services that run through a whole pass and must open no incident. */
export function controls(ctx: BenchContext): Control[] {
  const specs = [
    {
      service: 'frontend',
      title: 'httpd serving a page, --memory 32m',
      args: ['--memory', '32m'],
      script: 'echo "frontend ready"; exec httpd -f -p 8080 -h /www',
    },
    {
      service: 'heartbeat',
      title: 'a worker printing a heartbeat every 2 s, --memory 16m',
      args: ['--memory', '16m'],
      script: 'trap "exit 0" TERM; while :; do echo "heartbeat $(date +%s) ok"; sleep 2; done',
    },
  ]
  return specs.map((s) => {
    const name = containerName(ctx, s.service, 0)
    return { name, title: s.title, start: () => run(ctx, name, s.script, s.args), stop: () => remove(ctx, name) }
  })
}
