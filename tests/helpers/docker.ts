/** Test containers from the busybox image, made with the docker CLI (no shell strings). */
import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { promisify } from 'node:util'

const run = promisify(execFile)
export const TEST_IMAGE = process.env.SENTINEL_TEST_IMAGE || 'sentinel-busybox:test'

export const uniqueName = (prefix: string) => `sentinel-test-${prefix}-${randomBytes(4).toString('hex')}`

export async function docker(...args: string[]): Promise<string> {
  const { stdout } = await run('docker', args, { maxBuffer: 16 * 1024 * 1024 })
  return stdout.trim()
}

/** Starts a long-running container; the shell ignores SIGTERM like many real services' PID 1. */
/**
 * Creates (never starts) a container with this label that idles until SIGTERM: down without a
 * death event, so only a fix Sentinel runs brings it up.
 */
export async function createIdle(name: string, labelArg: string): Promise<void> {
  await docker('create', '--name', name, '--label', labelArg, TEST_IMAGE, 'sh', '-c', IDLE_UNTIL_TERM)
}

/** A main process that idles and exits cleanly on SIGTERM. */
export const IDLE_UNTIL_TERM = 'trap "exit 0" TERM; while true; do sleep 0.2; done'

export async function runContainer(
  name: string,
  opts: { labels?: Record<string, string>; args?: string[]; cmd?: string[] } = {},
): Promise<string> {
  const labelArgs = Object.entries(opts.labels ?? {}).flatMap(([k, v]) => ['--label', `${k}=${v}`])
  const cmd = opts.cmd ?? ['sh', '-c', 'trap "exit 0" TERM; while true; do sleep 0.2; done']
  return docker('run', '-d', '--name', name, ...labelArgs, ...(opts.args ?? []), TEST_IMAGE, ...cmd)
}

export interface ContainerState {
  Running: boolean
  Pid: number
  StartedAt: string
  FinishedAt: string
  ExitCode: number
  Restarting: boolean
}

export async function state(name: string): Promise<ContainerState & { RestartCount: number }> {
  const out = await docker('inspect', '--format', '{{json .State}}|{{.RestartCount}}', name)
  const [json, count] = out.split('|')
  return { ...(JSON.parse(json) as ContainerState), RestartCount: Number(count) }
}

/** Kills the container's main process from the host, as a crash would: no Docker API involved. */
export async function killMainProcess(name: string): Promise<void> {
  const { Pid } = await state(name)
  if (!Pid) throw new Error(`${name} has no main process`)
  process.kill(Pid, 'SIGKILL')
}

export async function removeContainers(...names: string[]): Promise<void> {
  for (const n of names) await docker('rm', '-f', n).catch(() => {})
}
