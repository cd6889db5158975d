import { config } from 'motia'
import bullmqPlugin from '@motiadev/plugin-bullmq/plugin'
import endpointPlugin from '@motiadev/plugin-endpoint/plugin'
import logsPlugin from '@motiadev/plugin-logs/plugin'
import observabilityPlugin from '@motiadev/plugin-observability/plugin'
import statesPlugin from '@motiadev/plugin-states/plugin'
import type { MotiaPluginContext } from 'motia'
import { keyStore } from './src/platform/http/auth-context'
import { KeyConfigError } from './src/platform/auth/keys'
import { ConfigError, getConfig } from './src/platform/config/index'
import { MAIN_PROCESS_SECRETS, scrubMainProcessSecrets } from './src/platform/config/secrets'
import { getRuntime, type MotiaRedisClient } from './src/app/runtime'
import { currentRedisPrimary, redisPassword } from './src/platform/store/redis'
import { NotifyConfigError } from './src/notify/index'
import { checkRunbooks, RunbookError, runbooksDirOf } from './src/analyze/runbooks/index'

// Misconfiguration stops the start here, naming the variable (Motia would otherwise swallow the
// error and run with an empty configuration).
let cfg: ReturnType<typeof getConfig>
let pagingSecrets: string[]
try {
  cfg = getConfig()
  for (const warning of keyStore().warnings) console.warn(`warning: ${warning}`)
  // The routing file and its receivers' secrets (src/notify/): a bad one stops the start too.
  pagingSecrets = getRuntime().prepareNotifications().secretVariables
  // A runbook that does not parse stops the start too, named (one added later is skipped, named).
  checkRunbooks(runbooksDirOf(cfg))
} catch (err) {
  const known =
    err instanceof ConfigError ||
    err instanceof KeyConfigError ||
    err instanceof NotifyConfigError ||
    err instanceof RunbookError
  console.error(known ? err.message : err)
  process.exit(1)
}
// With REDIS_SENTINELS, the primary Redis Sentinel names now (a start with no Sentinel answering
// fails here). Motia's config takes one fixed address; the launcher (scripts/motia-start.mjs) gives
// its clients ways to follow a later failover instead of this address.
let motiaRedis: { host: string; port: number }
try {
  motiaRedis = await currentRedisPrimary(cfg)
} catch (err) {
  console.error((err as Error).message)
  process.exit(1)
}
process.env.MOTIA_ANALYTICS_DISABLED = 'true'
// Step processes inherit this process's environment. Keys are checked, stream tokens signed and
// Slack's signatures verified only here, so those secrets leave the environment now that the
// configuration holds them (src/platform/config/secrets.ts); those set in .env are named so that
// step processes do not read them back from there.
scrubMainProcessSecrets(
  process.env,
  MAIN_PROCESS_SECRETS.filter((name) => cfg[name]),
)
// The paging services' keys the routing file names are read already; no step process needs them.
for (const name of pagingSecrets) delete process.env[name]

const sentinelPlugin = (motia: MotiaPluginContext) => {
  const runtime = getRuntime()
  runtime.guardMotiaRedis((motia.state as unknown as { client?: MotiaRedisClient }).client)
  runtime.start(motia.eventAdapter)
  return { workbench: [], onShutdown: () => runtime.stop() }
}

export default config({
  // The same Redis, user and password as Sentinel's own connections (REDIS_URL, REDIS_PASSWORD_FILE...).
  redis: {
    useMemoryServer: false,
    host: motiaRedis.host,
    port: motiaRedis.port,
    ...(cfg.REDIS_USERNAME ? { username: cfg.REDIS_USERNAME } : {}),
    password: redisPassword(cfg),
  },
  app: (app) => getRuntime().mountRoutes(app),
  plugins: [observabilityPlugin, statesPlugin, endpointPlugin, logsPlugin, bullmqPlugin, sentinelPlugin],
})
