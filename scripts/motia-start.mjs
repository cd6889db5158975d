// Sentinel's launcher: what `motia start` does, with the front door Sentinel needs on its port.
// Usage: node scripts/motia-start.mjs PORT HOST
//
// Why not `motia start`: it listens on the next free port when PORT is taken (a second instance
// would come up silently elsewhere), always mounts the Workbench (whose hot-reload port listens on
// every interface), gives no handle on the HTTP server (WebSocket upgrades bypass Express, so the
// front door could not see them), and exits 1 without a word when Redis is unreachable. This file
// composes the same Motia parts (pinned 0.17.4-beta.185) and adds: the instance lock on DATA_DIR,
// the in-process API (every API step served by the main process, never a process per request),
// the WebSocket gate, the Workbench only when WORKBENCH=true, and a plain error on failure.
import childProcess from 'node:child_process'
import { randomBytes } from 'node:crypto'
import fs from 'node:fs'
import { syncBuiltinESMExports } from 'node:module'
import path from 'node:path'
import { createJiti } from 'jiti'
import { createServer, isApiStep } from '@motiadev/core'
import { BullMQEventAdapter } from '@motiadev/adapter-bullmq-events'
import { RedisCronAdapter } from '@motiadev/adapter-redis-cron'
import { RedisStateAdapter } from '@motiadev/adapter-redis-state'
import { RedisStreamAdapterManager } from '@motiadev/adapter-redis-streams'
import { generateLockedData } from '../node_modules/motia/dist/generate-locked-data.mjs'
import { lockedDataInProcess } from './step-configs.mjs'
import { loadMotiaConfig } from '../node_modules/motia/dist/load-motia-config.mjs'
import { processPlugins } from '../node_modules/motia/dist/plugins/process-plugins.mjs'
import {
  getRedisClient,
  getRedisConnectionInfo,
  stopRedisConnection,
} from '../node_modules/motia/dist/redis/connection.mjs'
import { version } from '../node_modules/motia/dist/version.mjs'
import { createClient } from 'redis'

// Motia compiles each step and its imports into .motia/compiled/ with a plain writeFileSync, in
// every process that starts: a second Sentinel starting beside a first (or test files run side by
// side) read a module another was rewriting, and failed on half of it. Writes there go to a
// temporary file renamed into place, so a reader sees the old file or the new one, never a torn one.
const COMPILED = `${path.sep}.motia${path.sep}compiled${path.sep}`
const writeFileSync = fs.writeFileSync
fs.writeFileSync = function atomicCompiledWrite(file, data, options) {
  if (typeof file !== 'string' || !file.includes(COMPILED)) return writeFileSync(file, data, options)
  const temporary = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`
  writeFileSync(temporary, data, options)
  fs.renameSync(temporary, file)
}
syncBuiltinESMExports()

const [portArg = '3000', host = '127.0.0.1'] = process.argv.slice(2)
const port = Number(portArg)
const baseDir = process.cwd()
const jiti = createJiti(import.meta.url)
const fail = (message) => {
  console.error(`Sentinel could not start: ${message}`)
  process.exit(1)
}

// Motia spawns every step process with this process's environment. The LLM key and the Slack bot
// token go only to the steps that use them (src/platform/config/step-secrets.ts): the spawn of a
// compiled step file gets its own environment. Motia imports spawn by name, hence the builtin sync.
async function giveStepsOnlyTheirSecrets(cfg) {
  const { environmentForStep, STEP_SECRET_USERS } = await jiti.import(
    path.join(baseDir, 'src/platform/config/step-secrets.ts'),
  )
  const configured = new Set(Object.keys(STEP_SECRET_USERS).filter((name) => cfg[name]))
  const compiledSteps = path.join(baseDir, '.motia', 'compiled', 'steps') + path.sep
  const spawn = childProcess.spawn
  childProcess.spawn = function spawnWithStepEnvironment(command, args, options) {
    const compiled = Array.isArray(args)
      ? args.find((arg) => typeof arg === 'string' && arg.startsWith(compiledSteps))
      : undefined
    if (!compiled) return spawn.apply(this, arguments)
    const source = path.join('steps', path.relative(compiledSteps, compiled)).replace(/\.js$/, '.ts')
    const env = environmentForStep(options?.env ?? process.env, source, baseDir, configured)
    return spawn.call(this, command, args, { ...options, env })
  }
  syncBuiltinESMExports()
}

// With REDIS_SENTINELS, Motia's Redis clients follow a failover too. Its node-redis client takes one
// fixed address and this version has no Sentinel support: it is pointed at a local socket that
// always leads to the primary the Sentinels name now (src/platform/store/redis-primary-route.ts).
// BullMQ's ioredis connection is given the Sentinels themselves, as Sentinel's own connections are.
async function redisThroughSentinels(cfg, dataDir) {
  const { RedisPrimaryRoute } = await jiti.import(path.join(baseDir, 'src/platform/store/redis-primary-route.ts'))
  const { currentRedisPrimary, redisOptions, redisPassword } = await jiti.import(
    path.join(baseDir, 'src/platform/store/redis.ts'),
  )
  const { logTo } = await jiti.import(path.join(baseDir, 'src/platform/telemetry/log.ts'))
  const route = new RedisPrimaryRoute({
    socketPath: path.join(dataDir, 'redis-primary.sock'),
    locate: () => currentRedisPrimary(cfg),
    log: logTo('redis'),
  })
  await route.start()
  const client = createClient({
    ...(cfg.REDIS_USERNAME ? { username: cfg.REDIS_USERNAME } : {}),
    password: redisPassword(cfg),
    socket: {
      path: route.socketPath,
      // A failover takes seconds: keep trying (Motia's own strategy gives up after ten tries).
      reconnectStrategy: (retries) => Math.min(100 * (retries + 1), 2000),
      connectTimeout: 10_000,
    },
  })
  // Errors are logged by the runtime's guard once the plugins start; none may end the process first.
  client.on('error', () => {})
  await client.connect()
  return {
    client,
    eventConnection: { ...redisOptions(cfg), maxRetriesPerRequest: null },
    stop: async () => {
      await client.quit().catch(() => {})
      await route.stop()
    },
  }
}

async function main() {
  process.env.MOTIA_ANALYTICS_DISABLED = 'true'
  // motia.config.ts validates the configuration (exiting with every bad variable named) and
  // removes the secrets step processes must not inherit from this process's environment.
  const appConfig = await loadMotiaConfig(baseDir)
  const { getConfig } = await jiti.import(path.join(baseDir, 'src/platform/config/index.ts'))
  const cfg = getConfig()
  await giveStepsOnlyTheirSecrets(cfg)
  const { acquireInstanceLock } = await jiti.import(path.join(baseDir, 'src/platform/instance/lock.ts'))
  let lock
  try {
    lock = acquireInstanceLock(path.resolve(cfg.projectRoot, cfg.DATA_DIR), { port, host })
  } catch (err) {
    fail(err.message)
  }
  const { getRuntime } = await jiti.import(path.join(baseDir, 'src/app/runtime.ts'))
  const runtime = getRuntime()

  const redis = cfg.REDIS_SENTINELS.length
    ? await redisThroughSentinels(cfg, path.resolve(cfg.projectRoot, cfg.DATA_DIR)).catch((err) =>
        fail(`Redis through REDIS_SENTINELS: ${err.message}`),
      )
    : {
        client: await getRedisClient(path.join(baseDir, '.motia'), appConfig),
        eventConnection: getRedisConnectionInfo(),
        stop: () => stopRedisConnection(),
      }
  const redisClient = redis.client
  const adapters = {
    eventAdapter: new BullMQEventAdapter({ connection: redis.eventConnection }),
    cronAdapter: new RedisCronAdapter(redisClient),
    streamAdapter: new RedisStreamAdapterManager(redisClient),
  }
  // Step configs read in this process (scripts/step-configs.mjs), not one Node process per step.
  const registry = {
    projectDir: baseDir,
    streamAdapter: adapters.streamAdapter,
    redisClient,
    streamAuth: appConfig.streamAuth,
  }
  const lockedData = (await lockedDataInProcess({ ...registry, jiti })) ?? (await generateLockedData(registry))
  // Every API step Motia knows is served by the main process (src/app/http/api-steps.ts); Motia's own
  // route for it stays registered but is never reached, since the front door answers all of /api.
  const apiSteps = []
  for (const step of lockedData.activeSteps.filter(isApiStep)) {
    const mod = await jiti.import(step.filePath)
    apiSteps.push({ filePath: path.relative(baseDir, step.filePath), config: mod.config, handler: mod.handler })
  }
  runtime.serveApiSteps(apiSteps)

  const motiaServer = createServer(
    lockedData,
    new RedisStateAdapter(redisClient),
    { isVerbose: true, isDev: false, version },
    adapters,
    appConfig.app,
  )
  runtime.guardServer(motiaServer.server, motiaServer.socketServer)
  const plugins = await processPlugins(motiaServer)
  if (cfg.WORKBENCH) {
    const { applyMiddleware } = await import('@motiadev/workbench/middleware')
    const workbenchBase = process.env.MOTIA_WORKBENCH_BASE || '/__motia'
    // The Workbench's hot-reload WebSocket would listen on every interface: bind it to HOST.
    await runtime.withListenHost(21678 + port, host, () =>
      applyMiddleware({
        app: motiaServer.app,
        port,
        workbenchBase,
        plugins: plugins.flatMap((item) => item.workbench),
      }),
    )
  }

  await new Promise((resolve, reject) => {
    motiaServer.server.once('error', reject)
    motiaServer.server.listen(port, host, resolve)
  }).catch((err) => fail(err.code === 'EADDRINUSE' ? `${host}:${port} is already in use` : err.message))
  console.log('🚀 Server ready and listening on port', port)

  let stopping = false
  const stop = async () => {
    if (stopping) return
    stopping = true
    motiaServer.server.close()
    await motiaServer.close().catch(() => {})
    await redis.stop().catch(() => {})
    lock.release()
    process.exit(0)
  }
  process.on('SIGTERM', stop)
  process.on('SIGINT', stop)
}

main().catch((err) => fail(err?.message ?? String(err)))
