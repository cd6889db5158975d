/**
 * Validates the configuration before anything starts; exits 1 naming every bad variable.
 * With --export, prints the values the shell scripts need as shell assignments.
 */
import path from 'node:path'
import { ConfigError, loadConfig } from '../src/platform/config/index'

try {
  const cfg = loadConfig()
  if (process.argv.includes('--export')) {
    const q = (v: string) => `'${v.replace(/'/g, `'\\''`)}'`
    const out = {
      PORT: String(cfg.PORT),
      HOST: cfg.HOST,
      REDIS_HOST: cfg.REDIS_HOST,
      REDIS_PORT: String(cfg.REDIS_PORT),
      DATA_DIR: path.resolve(cfg.DATA_DIR),
      DOCKER_SOCKET: cfg.DOCKER_SOCKET,
      WORKBENCH: String(cfg.WORKBENCH),
    }
    for (const [k, v] of Object.entries(out)) console.log(`${k}=${q(v)}`)
  }
} catch (err) {
  console.error(err instanceof ConfigError ? err.message : err)
  process.exit(1)
}
