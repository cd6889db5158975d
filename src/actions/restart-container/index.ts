/**
 * restart_container: brings a watched container back. A dead container is started; a running but
 * unhealthy one is restarted. Idempotent: when the container has already been (re)started after
 * the problem was seen, nothing is done again.
 */
import { z } from 'zod'
import { getConfig } from '../../platform/config/index'
import {
  assertWatched,
  type ContainerInfo,
  containerHealth,
  containerName,
  getDocker,
  isWatchedLabels,
  withTimeout,
} from '../../platform/docker/client'
import type { ActionDefinition } from '../types'

const params = z.object({
  containerId: z
    .string()
    .min(1)
    .max(128)
    .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, 'a container id or name'),
})
export type RestartContainerParams = z.infer<typeof params>

/** What the restart changes, read from an inspect: the container's run before it. */
function snapshotFrom(info: ContainerInfo): Record<string, unknown> {
  return {
    container: containerName(info),
    id: info.Id,
    image: info.Config.Image,
    state: info.State.Status,
    exitCode: info.State.ExitCode,
    oomKilled: info.State.OOMKilled,
    startedAt: info.State.StartedAt,
    finishedAt: info.State.FinishedAt,
    health: info.State.Health?.Status ?? null,
    restartCount: info.RestartCount,
  }
}

export const restartContainer: ActionDefinition<RestartContainerParams> = {
  id: 'restart_container',
  risk: 'low',
  description: 'Start a dead watched container, or restart a running unhealthy one (docker start / docker restart).',
  params,

  async snapshot({ containerId }) {
    return snapshotFrom(await assertWatched(containerId))
  },

  snapshotOf({ containerId }, info) {
    const named = info.Id === containerId || containerName(info) === containerId
    return named && isWatchedLabels(info.Config?.Labels) ? snapshotFrom(info) : null
  },

  async execute({ containerId }, ctx) {
    const info = await assertWatched(containerId)
    const timeoutMs = getConfig().RESTART_TIMEOUT_SECONDS * 1000
    const sinceMs = ctx.since ? Date.parse(ctx.since) : 0
    const startedMs = Date.parse(info.State.StartedAt)
    const unhealthy = info.State.Health?.Status === 'unhealthy'
    if (info.State.Running && !unhealthy && startedMs >= sinceMs && sinceMs > 0) {
      return {
        performed: 'none',
        reason: 'already running since the problem was seen',
        startedAt: info.State.StartedAt,
      }
    }
    const container = (await getDocker()).getContainer(info.Id)
    if (info.State.Running) {
      await withTimeout(container.restart({ t: Math.min(10, timeoutMs / 1000) }), timeoutMs, 'docker restart')
      return { performed: 'restart', container: containerName(info) }
    }
    try {
      await withTimeout(container.start(), timeoutMs, 'docker start')
    } catch (err) {
      // 304: already started (a duplicate delivery raced us); that is the state we wanted.
      if ((err as { statusCode?: number }).statusCode !== 304) throw err
      return { performed: 'none', reason: 'already started', container: containerName(info) }
    }
    return { performed: 'start', container: containerName(info) }
  },

  async verify({ containerId }) {
    const { health, info } = await containerHealth(containerId)
    const data = info
      ? {
          state: info.State.Status,
          health: info.State.Health?.Status ?? null,
          startedAt: info.State.StartedAt,
          restartCount: info.RestartCount,
        }
      : {}
    if (health === 'running' || health === 'healthy') return { ok: true, detail: `container is ${health}`, data }
    return { ok: false, detail: `container is ${health}`, data }
  },
}
