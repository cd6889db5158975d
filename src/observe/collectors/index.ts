/** The local fallback: host readings from /proc and statfs, container readings from Docker. */
import { existsSync } from 'node:fs'
import type { Reading } from '../types'
import { collectContainers, type DockerCollectorOptions } from './docker'
import { collectHost, type HostCollectorOptions } from './host'

export * from './host'
export * from './docker'
export * from './probe'
export * from './ring-buffer'

export interface LocalCollectorOptions {
  host?: HostCollectorOptions
  /** false: no container readings. */
  docker?: DockerCollectorOptions | false
}

export interface LocalCollection {
  host: Reading[]
  containers: Reading[]
  /** Why container readings are missing, when they are. */
  containerError?: string
}

export async function collectLocal(opts: LocalCollectorOptions = {}): Promise<LocalCollection> {
  const [host, ctr] = await Promise.all([collectHost(opts.host), collectDockerContainers(opts.docker)])
  return { host, ...ctr }
}

/** Container readings from Docker, or none with the reason. Never throws. */
export async function collectDockerContainers(
  opts: DockerCollectorOptions | false | undefined,
): Promise<{ containers: Reading[]; containerError?: string }> {
  if (opts === false) return { containers: [], containerError: 'docker collector disabled' }
  const socketPath = opts?.socketPath ?? '/var/run/docker.sock'
  if (!existsSync(socketPath)) return { containers: [], containerError: `no Docker socket at ${socketPath}` }
  try {
    return { containers: await collectContainers({ ...opts, socketPath }) }
  } catch (err) {
    return { containers: [], containerError: (err as Error).message }
  }
}
