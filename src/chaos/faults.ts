/**
 * The faults and the Docker operations behind them. Every container fault goes through
 * `refusal()` on a fresh inspect of the container, by id, right before acting on that same id
 * (labels cannot change after a container is created, so the check holds for the act).
 *
 * - kill: SIGKILL through the Docker API (`docker kill`), which kills the main process.
 * - cpu: `docker exec` of a busy loop given as an argv array; the script is a constant and the
 *   duration is its argument, so the loop ends by itself even if Sentinel dies. stop() kills it
 *   early by its host PID, after checking the PID is still that loop.
 * - slowProbe: `docker pause`, so every request to the target hangs, then `docker unpause`.
 * - fillTemp: one file under <sandbox>/temp, never through a link, bounded by a maximum and by
 *   the free space left on the filesystem.
 */
import { constants } from 'node:fs'
import { lstat, mkdir, open, readdir, readFile, realpath, unlink } from 'node:fs/promises'
import path from 'node:path'
import { resolveSandbox } from '../actions/clean-sandbox/index'
import { filesystemUsage } from '../platform/host/statfs'
import { type ContainerInfo, containerName, getDocker, inspectContainer, withTimeout } from '../platform/docker/client'
import { CHAOS_LABEL, LIMITS } from './types'

export type Label = { key: string; value: string }

export interface ChaosTarget {
  id: string
  name: string
  /**
   * Where the container answers, as `host:port` (`*` for a port published on every address):
   * its published host ports, and its own addresses and name with its exposed ports. A latency
   * incident is credited to a paused container only when its probe URL names one of them.
   */
  endpoints?: string[]
}

/** `host:port` pairs a container answers on (see ChaosTarget.endpoints). */
export function containerEndpoints(info: ContainerInfo): string[] {
  const out = new Set<string>()
  const ports = (info.NetworkSettings?.Ports ?? {}) as Record<
    string,
    Array<{ HostIp?: string; HostPort?: string }> | null
  >
  const names = [containerName(info)]
  for (const net of Object.values(info.NetworkSettings?.Networks ?? {})) {
    if (net?.IPAddress) names.push(net.IPAddress)
    for (const alias of net?.Aliases ?? []) names.push(alias)
  }
  for (const [spec, bindings] of Object.entries(ports)) {
    const [port, proto] = spec.split('/')
    if (proto && proto !== 'tcp') continue
    for (const n of names) out.add(`${n}:${port}`)
    for (const b of bindings ?? []) {
      if (!b.HostPort) continue
      const ip = b.HostIp ?? ''
      out.add(`${ip === '' || ip === '0.0.0.0' || ip === '::' ? '*' : ip}:${b.HostPort}`)
    }
  }
  return [...out]
}

/** The Docker operations chaos uses; the default implementation talks to the real engine. */
export interface ChaosDocker {
  /** Running containers carrying every one of these labels. */
  candidates(labels: Label[]): Promise<ChaosTarget[]>
  inspect(id: string): Promise<ContainerInfo>
  kill(id: string): Promise<void>
  pause(id: string): Promise<void>
  unpause(id: string): Promise<void>
  /** Starts one busy loop in the container; returns its exec id and host PID. */
  startBusyLoop(id: string, seconds: number): Promise<{ execId: string; pid: number }>
  /** Ends the loop early; false when it could not (it still ends at its deadline). */
  stopBusyLoop(execId: string, pid: number): Promise<boolean>
}

const DOCKER_TIMEOUT_MS = 10_000
/** $0 of the busy loop: marks its processes, so a PID is only killed while it is still the loop. */
export const BUSY_LOOP_NAME = 'sentinel-chaos-cpu'
// A constant script; its only input, the duration, arrives as $1. Arithmetic in the inner loop is
// shell-builtin, so the loop burns one core and forks `date` only once per outer round.
const BUSY_LOOP_SCRIPT =
  'end=$(( $(date +%s) + $1 )); while [ "$(date +%s)" -lt "$end" ]; do i=0; while [ "$i" -lt 20000 ]; do i=$((i+1)); done; done'

export const busyLoopArgv = (seconds: number): string[] => [
  'sh',
  '-c',
  BUSY_LOOP_SCRIPT,
  BUSY_LOOP_NAME,
  String(Math.trunc(seconds)),
]

export function dockerChaosOps(): ChaosDocker {
  const t = <T>(p: Promise<T>, what: string) => withTimeout(p, DOCKER_TIMEOUT_MS, what)
  return {
    async candidates(labels) {
      const docker = await getDocker()
      const list = await t(
        docker.listContainers({ filters: { label: labels.map((l) => `${l.key}=${l.value}`), status: ['running'] } }),
        'docker ps',
      )
      return list.map((c) => ({ id: c.Id, name: (c.Names[0] ?? c.Id).replace(/^\//, '') }))
    },
    inspect: (id) => inspectContainer(id),
    async kill(id) {
      await t((await getDocker()).getContainer(id).kill({ signal: 'SIGKILL' }), `docker kill ${id}`)
    },
    async pause(id) {
      await t((await getDocker()).getContainer(id).pause(), `docker pause ${id}`)
    },
    async unpause(id) {
      await t((await getDocker()).getContainer(id).unpause(), `docker unpause ${id}`)
    },
    async startBusyLoop(id, seconds) {
      const docker = await getDocker()
      const exec = await t(
        docker.getContainer(id).exec({ Cmd: busyLoopArgv(seconds), AttachStdout: false, AttachStderr: false }),
        `docker exec ${id}`,
      )
      const stream = (await t(exec.start({ Detach: true }), `docker exec start ${id}`)) as
        { destroy?: () => void } | undefined
      // Docker holds the start request open while the exec runs; detached, nothing reads it.
      stream?.destroy?.()
      const info = await t(exec.inspect(), 'docker exec inspect')
      return { execId: exec.id, pid: info.Pid }
    },
    async stopBusyLoop(execId, pid) {
      const docker = await getDocker()
      const info = await t(docker.getExec(execId).inspect(), 'docker exec inspect').catch(() => null)
      if (!info || !info.Running) return true
      // The PID may have been reused once the loop ended: kill it only while it is still the loop.
      const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')
      if (!pid || !cmdline.split('\0').includes(BUSY_LOOP_NAME)) return false
      try {
        process.kill(pid, 'SIGKILL')
        return true
      } catch {
        return false
      }
    },
  }
}

/** Why this container must not be faulted, or null when it may be. */
export function refusal(info: ContainerInfo, watchLabel: Label | null): string | null {
  const labels = info.Config?.Labels ?? {}
  if (labels[CHAOS_LABEL.key] !== CHAOS_LABEL.value) return `no ${CHAOS_LABEL.key}=${CHAOS_LABEL.value} label`
  if (watchLabel && labels[watchLabel.key] !== watchLabel.value) return `no ${watchLabel.key}=${watchLabel.value} label`
  if (!info.State?.Running || info.State.Restarting) return 'not running'
  if (info.State.Paused) return 'paused'
  return null
}

/** Inspects by id and returns the target, or the reason it is refused. */
export async function checkTarget(
  docker: ChaosDocker,
  id: string,
  watchLabel: Label | null,
): Promise<{ target: ChaosTarget } | { refused: string }> {
  let info: ContainerInfo
  try {
    info = await docker.inspect(id)
  } catch (err) {
    return { refused: `inspect failed: ${(err as Error).message}` }
  }
  const why = refusal(info, watchLabel)
  return why
    ? { refused: why }
    : { target: { id: info.Id, name: containerName(info), endpoints: containerEndpoints(info) } }
}

// ---------------------------------------------------------------------------------------------
// fillTemp

export class FillRefusedError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'FillRefusedError'
  }
}

const CHUNK = 1024 * 1024
const FILE_NAME = /^chaos-[a-z0-9_]+\.bin$/
/** Free space always left on the filesystem: 2 % of it, at least 1 MiB. */
export const reserveBytes = (fsBytes: number) => Math.max(1024 ** 2, Math.floor(fsBytes * 0.02))

/** The mount point holding `p` (longest match in /proc/self/mounts), to name the filesystem a fill lands on. */
export async function mountPointOf(p: string): Promise<string | undefined> {
  const text = await readFile('/proc/self/mounts', 'utf8').catch(() => '')
  let best: string | undefined
  for (const line of text.split('\n')) {
    const raw = line.split(' ')[1]
    if (!raw) continue
    const mount = raw.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)))
    const within = mount === '/' || p === mount || p.startsWith(mount + '/')
    if (within && (!best || mount.length > best.length)) best = mount
  }
  return best
}

/** <sandbox>/temp as a real directory inside the checked sandbox root (created when missing). */
export async function sandboxTemp(sandboxDir: string): Promise<string> {
  const { root } = await resolveSandbox({ sandboxDir: path.resolve(sandboxDir) }, false)
  const temp = path.join(root, 'temp')
  let st = await lstat(temp).catch(() => null)
  if (!st) {
    await mkdir(temp, { mode: 0o755 }).catch(() => {})
    st = await lstat(temp)
  }
  if (st.isSymbolicLink() || !st.isDirectory()) throw new FillRefusedError(`${temp} is not a real directory; refusing`)
  if ((await realpath(temp)) !== temp) throw new FillRefusedError(`${temp} resolves outside the sandbox; refusing`)
  return temp
}

/** Bytes under a directory, links counted as themselves and never followed; bounded walk. */
async function dirBytes(dir: string, budget = { entries: 100_000 }): Promise<number> {
  let total = 0
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    if (--budget.entries < 0) break
    const p = path.join(dir, name)
    const st = await lstat(p).catch(() => null)
    if (!st) continue
    total += st.size
    if (st.isDirectory()) total += await dirBytes(p, budget)
  }
  return total
}

export const chaosFileName = (faultId: string) => `chaos-${faultId}.bin`

/**
 * Writes one file under temp/ so that temp/ holds `targetBytes` (what is there counts), never
 * more than `maxBytes` and never eating into the reserve of free space. Stops between chunks when
 * `signal` aborts (the partial file stays for `removeFill`).
 */
export async function fillTemp(opts: {
  sandboxDir: string
  targetBytes: number
  faultId: string
  signal?: AbortSignal
  maxBytes?: number
}): Promise<{ file: string; written: number; before: number; filesystem?: string }> {
  const temp = await sandboxTemp(opts.sandboxDir)
  const before = await dirBytes(temp)
  let want = Math.min(opts.targetBytes - before, opts.maxBytes ?? LIMITS.maxFillBytes)
  if (want <= 0) throw new FillRefusedError(`temp/ already holds ${before} bytes (target ${opts.targetBytes})`)
  const fs = await filesystemUsage(temp)
  const free = fs.freeBytes
  const room = free - reserveBytes(fs.sizeBytes)
  if (room <= 0) throw new FillRefusedError(`only ${free} bytes free on the sandbox's filesystem; refusing to fill`)
  want = Math.min(want, room)
  const file = path.join(temp, chaosFileName(opts.faultId))
  if (!FILE_NAME.test(path.basename(file))) throw new FillRefusedError(`bad fault id ${opts.faultId}`)
  const fh = await open(file, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600)
  const chunk = Buffer.alloc(CHUNK, 0x5a)
  let written = 0
  try {
    while (written < want && !opts.signal?.aborted) {
      const n = Math.min(CHUNK, want - written)
      await fh.write(chunk, 0, n)
      written += n
    }
  } catch (err) {
    // A failed fill (the disk filled up under it, say) leaves nothing behind.
    await fh.close().catch(() => {})
    await unlink(file).catch(() => {})
    throw err
  }
  await fh.close()
  return { file, written, before, filesystem: await mountPointOf(temp) }
}

/** Removes a chaos fill file: only a regular file named like one, directly in temp/. */
export async function removeFill(sandboxDir: string, file: string): Promise<boolean> {
  const temp = await sandboxTemp(sandboxDir)
  if (path.dirname(file) !== temp || !FILE_NAME.test(path.basename(file)))
    throw new FillRefusedError(`${file} is not a chaos file in ${temp}`)
  const st = await lstat(file).catch(() => null)
  if (!st) return false // already gone (cleaned by Sentinel, say)
  if (!st.isFile()) throw new FillRefusedError(`${file} is not a regular file`)
  await unlink(file)
  return true
}
