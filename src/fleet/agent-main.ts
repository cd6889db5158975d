/**
 * `npm run agent` (or `npm start` with SENTINEL_ROLE=agent): a node agent alone, for a host of a
 * fleet (./agent.ts). The configuration is validated first, naming every bad variable at once;
 * the agent needs no API keys, no Motia and no port: it reaches the controller through Redis only.
 */
import { ConfigError, getConfig } from '../platform/config/index'
import { getRedis, closeRedis } from '../platform/store/redis'
import { logTo } from '../platform/telemetry/log'
import { NodeAgent } from './agent'

async function main(): Promise<void> {
  let cfg: ReturnType<typeof getConfig>
  try {
    cfg = getConfig()
  } catch (err) {
    console.error(err instanceof ConfigError ? err.message : err)
    process.exit(1)
  }
  const log = logTo('agent')
  const agent = new NodeAgent({ config: cfg, redis: getRedis(), log })
  let stopping = false
  const stop = async (signal: string) => {
    if (stopping) return
    stopping = true
    log('info', 'node agent stopping', { signal })
    await agent.stop().catch(() => {})
    await closeRedis()
    process.exit(0)
  }
  process.on('SIGTERM', () => void stop('SIGTERM'))
  process.on('SIGINT', () => void stop('SIGINT'))
  for (;;) {
    try {
      await agent.start()
      return
    } catch (err) {
      // Redis not there yet (the controller's host still starting): the agent waits for it.
      log('warn', 'node agent could not start; retrying in 2 s', { error: (err as Error).message })
      await new Promise((r) => setTimeout(r, 2000))
    }
  }
}

void main()
