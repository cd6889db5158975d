/**
 * Secrets that only Sentinel's main process uses. Motia starts a Node process per step invocation
 * with this process's environment, and /proc/<pid>/environ of each is readable by the same user:
 * the fewer processes hold a secret, the fewer places it can leak from. The API keys, the stream
 * token secret, Slack's signing secret and the metrics token are checked only in the main process
 * (the front door, the stream hub, the Slack receiver, /metrics, the incident archive), so they are removed from its
 * environment once the configuration has been read. Secrets a step does use (the LLM key, the
 * Slack bot token) go only to the steps that use them (step-secrets.ts); the Redis password stays.
 */
export const MAIN_PROCESS_SECRETS = [
  'SENTINEL_API_KEYS',
  'SENTINEL_STREAM_SECRET',
  'SLACK_SIGNING_SECRET',
  'METRICS_TOKEN',
  // The archive (src/history/) is written and read only by the main process.
  'DATABASE_URL',
] as const

/** Names (never values) of the secrets removed, so a step process's configuration knows they were set. */
export const SCRUBBED_SECRETS_VARIABLE = 'SENTINEL_SCRUBBED_SECRETS'

/**
 * Removes the main-process-only secrets from `env` (call after getConfig()). `alsoSet` names those
 * the configuration holds from elsewhere (`.env`): a step process then does not read them back.
 */
export function scrubMainProcessSecrets(env: NodeJS.ProcessEnv, alsoSet: Iterable<string> = []): void {
  const removed = new Set([...scrubbedSecrets(env), ...alsoSet])
  for (const name of MAIN_PROCESS_SECRETS) {
    if (env[name]) removed.add(name)
    delete env[name]
  }
  if (removed.size) env[SCRUBBED_SECRETS_VARIABLE] = [...removed].join(',')
}

export function scrubbedSecrets(env: NodeJS.ProcessEnv): Set<string> {
  return new Set((env[SCRUBBED_SECRETS_VARIABLE] ?? '').split(',').filter(Boolean))
}
