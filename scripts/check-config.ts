/**
 * Validates the configuration (the environment and .env) before anything starts: exits 1 with one
 * error naming every bad variable, then with a malformed API key file. With --export, prints the
 * values the shell scripts need as shell assignments (on stdout; the errors go to stderr).
 */
import path from 'node:path'
import { defaultKeyFile, KeyConfigError, loadKeyStore } from '../src/platform/auth/keys'
import { ConfigError, loadConfig } from '../src/platform/config/index'

try {
  const cfg = loadConfig()
  const keyFile = cfg.API_KEYS_FILE
    ? path.resolve(cfg.projectRoot, cfg.API_KEYS_FILE)
    : defaultKeyFile(path.resolve(cfg.projectRoot, cfg.DATA_DIR))
  // A node agent serves no API: it has no keys to check.
  if (cfg.SENTINEL_ROLE === 'controller') loadKeyStore({ envValue: cfg.SENTINEL_API_KEYS, file: keyFile })
  if (process.argv.includes('--export')) {
    const q = (v: string) => `'${v.replace(/'/g, `'\\''`)}'`
    const out = {
      PORT: String(cfg.PORT),
      HOST: cfg.HOST,
      REDIS_HOST: cfg.REDIS_HOST,
      REDIS_PORT: String(cfg.REDIS_PORT),
      // Set: the Redis is found through Redis Sentinel, and npm start runs none of its own.
      REDIS_SENTINELS: cfg.REDIS_SENTINELS.map(
        (s) => `${s.host.includes(':') ? `[${s.host}]` : s.host}:${s.port}`,
      ).join(','),
      DATA_DIR: path.resolve(cfg.projectRoot, cfg.DATA_DIR),
      DOCKER_SOCKET: cfg.DOCKER_SOCKET,
      WORKBENCH: String(cfg.WORKBENCH),
      SENTINEL_ROLE: cfg.SENTINEL_ROLE,
    }
    for (const [k, v] of Object.entries(out)) console.log(`${k}=${q(v)}`)
  }
} catch (err) {
  console.error(err instanceof ConfigError || err instanceof KeyConfigError ? err.message : err)
  process.exit(1)
}
