/**
 * What the API middleware needs to authenticate, built once per process: the key store (from
 * SENTINEL_API_KEYS and the key file `npm run keys` writes) and the failure limiter in Redis.
 */
import path from 'node:path'
import {
  checkRequest,
  createFailureLimiter,
  defaultKeyFile,
  keyStoreLoader,
  type CheckResult,
  type Permission,
} from '../auth/index'
import { getConfig } from '../config/index'
import { getRedis } from '../store/redis'

/** Set by the main process from the socket's address; a client-sent value is overwritten. */
export const CLIENT_IP_HEADER = 'x-sentinel-client-ip'

let loadKeys: (() => ReturnType<ReturnType<typeof keyStoreLoader>>) | undefined

export function keyFilePath(): string {
  const cfg = getConfig()
  return cfg.API_KEYS_FILE
    ? path.resolve(cfg.projectRoot, cfg.API_KEYS_FILE)
    : defaultKeyFile(path.resolve(cfg.projectRoot, cfg.DATA_DIR))
}

export function keyStore() {
  loadKeys ??= keyStoreLoader({ envValue: getConfig().SENTINEL_API_KEYS, file: keyFilePath() })
  return loadKeys()
}

export async function checkApiRequest(
  headers: Record<string, string | string[] | undefined>,
  needed: Permission,
  streamToken?: string,
): Promise<CheckResult> {
  const ipHeader = headers[CLIENT_IP_HEADER]
  const ip = Array.isArray(ipHeader) ? ipHeader[0] : ipHeader
  const cfg = getConfig()
  return checkRequest({ headers, ip, streamToken }, needed, {
    keys: keyStore(),
    limiter: createFailureLimiter(getRedis(), {
      maxFailures: cfg.AUTH_MAX_FAILURES,
      windowSeconds: cfg.AUTH_FAILURE_WINDOW_SECONDS,
    }),
  })
}
