/** Types for scripts/step-configs.mjs (the launcher is plain JavaScript, run by node). */
export function motiaStepConfig(config: Record<string, unknown>): Record<string, unknown>
export function lockedDataInProcess(opts: {
  projectDir: string
  streamAdapter: unknown
  redisClient: unknown
  streamAuth: unknown
  jiti: { import(file: string): Promise<unknown> }
}): Promise<unknown | null>
