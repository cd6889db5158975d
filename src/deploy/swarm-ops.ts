/**
 * What a canary deploy does to Swarm, over the Engine API (dockerode, on DOCKER_SOCKET), beside
 * the service client of src/platform/swarm/client.ts, which it reuses for reading services and tasks.
 *
 * Why a separate canary service (`<name>-canary`) rather than Swarm's own rolling update paused
 * after its first task: Swarm's updater has no "stop after N tasks" (Parallelism=1 with
 * FailureAction=pause stops only on a failure, and a long UpdateConfig.Delay only slows it), and
 * every task it updates *replaces* an old one. A canary service runs the new image beside every old
 * task: until the gate has held at each step, no old task is stopped, restarted or changed, and a
 * rollback only removes the canary service. Its traffic share is exact (k canary tasks beside N old
 * ones get k / (N + k) of a DNS round-robin) and its tasks are told apart by their service name
 * (in `docker service ps`, cAdvisor's labels, a PromQL expression). 100 % is then Swarm's own
 * rolling update of the service to the image that passed, with FailureAction=rollback.
 *
 * The canary copies the service's task template (networks, health check, resources, placement)
 * and labels, with the new image and env, and joins each of its networks under the service's own
 * name as an alias when the service resolves by DNS round-robin (`--endpoint-mode dnsrr`): clients
 * calling the service by name then reach canary tasks in proportion. (With a virtual IP, an alias
 * would give the canary half the connections whatever its size, so it is not added; the canary is
 * then judged by the controller's own probes of each task.) It does not publish the service's
 * ports (a published port belongs to one service) and it does not carry the watch label: the
 * service watcher must not "heal" a canary the gate is judging; the deploy controller owns it, by
 * its `sentinel.deploy` label.
 */
import type Docker from 'dockerode'
import { getDocker } from '../platform/docker/client'
import { getConfig } from '../platform/config/index'
import {
  imageName,
  serviceTasks,
  updateService,
  type ServiceInfo,
  type ServiceSpec,
  type TaskSummary,
} from '../platform/swarm/client'

/** The label naming the deploy that made a canary service: only such a service is ever scaled or removed. */
export const DEPLOY_LABEL = 'sentinel.deploy'
export const CANARY_OF_LABEL = 'sentinel.canary-of'

export const canaryName = (service: string) => `${service}-canary`

/** `KEY=value` entries of a spec with `env` laid over them (same keys replaced, new ones appended). */
export function mergeEnv(current: string[] | undefined, env: Record<string, string> | undefined): string[] {
  if (!env) return [...(current ?? [])]
  const out = (current ?? []).filter((e) => !Object.hasOwn(env, e.split('=')[0]))
  for (const [k, v] of Object.entries(env)) out.push(`${k}=${v}`)
  return out
}

/** The canary service's spec, from the service's (see the module comment). */
export function canarySpec(
  original: ServiceSpec,
  input: { deployId: string; image: string; env?: Record<string, string>; replicas: number },
): ServiceSpec {
  const spec = structuredClone(original) as ServiceSpec & {
    EndpointSpec?: { Mode?: string; Ports?: unknown[] }
    UpdateConfig?: unknown
    RollbackConfig?: unknown
  }
  const watchKey = getConfig().WATCH_LABEL.key
  const labels = Object.fromEntries(Object.entries(spec.Labels ?? {}).filter(([k]) => k !== watchKey))
  spec.Name = canaryName(original.Name)
  spec.Labels = { ...labels, [DEPLOY_LABEL]: input.deployId, [CANARY_OF_LABEL]: original.Name }
  const container = { ...(spec.TaskTemplate.ContainerSpec ?? {}) }
  container.Image = input.image
  container.Env = mergeEnv(container.Env, input.env)
  spec.TaskTemplate = { ...spec.TaskTemplate, ContainerSpec: container, ForceUpdate: 0 }
  const dnsrr = spec.EndpointSpec?.Mode === 'dnsrr'
  const networks = (spec.TaskTemplate.Networks ?? []) as { Target: string; Aliases?: string[] }[]
  if (dnsrr && networks.length)
    spec.TaskTemplate.Networks = networks.map((n) => ({
      ...n,
      Aliases: [...new Set([...(n.Aliases ?? []), original.Name])],
    }))
  spec.EndpointSpec = { Mode: spec.EndpointSpec?.Mode ?? 'vip' }
  spec.Mode = { Replicated: { Replicas: input.replicas } }
  delete spec.UpdateConfig
  delete spec.RollbackConfig
  return spec
}

async function docker(): Promise<Docker> {
  return getDocker()
}

/** The deploy's canary service, found by name and its deploy label (null when it does not exist). */
export async function findCanary(service: string, deployId: string): Promise<ServiceInfo | null> {
  const d = await docker()
  const listed = (await d.listServices({
    filters: { name: [canaryName(service)], label: [`${DEPLOY_LABEL}=${deployId}`] },
  })) as unknown as ServiceInfo[]
  return listed.find((s) => s.Spec.Name === canaryName(service) && s.Spec.Labels?.[DEPLOY_LABEL] === deployId) ?? null
}

export async function createCanary(spec: ServiceSpec): Promise<string> {
  const created = (await (await docker()).createService(spec as unknown as Docker.CreateServiceOptions)) as {
    id?: string
    ID?: string
  }
  return String(created.id ?? created.ID)
}

/** Sets the canary's replica count (compare-and-set on its version). */
export async function scaleCanary(canary: ServiceInfo, replicas: number): Promise<void> {
  const spec = structuredClone(canary.Spec)
  spec.Mode = { Replicated: { Replicas: replicas } }
  await updateService(canary.ID, canary.Version.Index, spec)
}

/** Removes the deploy's canary service; a service without this deploy's label is never removed. */
export async function removeCanary(service: string, deployId: string): Promise<boolean> {
  const canary = await findCanary(service, deployId)
  if (!canary) return false
  await (await docker()).getService(canary.ID).remove()
  return true
}

/**
 * 100 %: the service itself to the image that passed, by Swarm's rolling update (a third of the
 * tasks at a time, each new one started before an old one stops, rolled back by Swarm if a task
 * fails in its first seconds).
 */
export async function promoteService(
  original: ServiceInfo,
  input: { image: string; env?: Record<string, string>; replicas: number },
): Promise<void> {
  const spec = structuredClone(original.Spec) as ServiceSpec & { UpdateConfig?: Record<string, unknown> }
  const container = { ...(spec.TaskTemplate.ContainerSpec ?? {}) }
  container.Image = input.image
  container.Env = mergeEnv(container.Env, input.env)
  spec.TaskTemplate = { ...spec.TaskTemplate, ContainerSpec: container }
  spec.UpdateConfig = {
    Parallelism: Math.max(1, Math.ceil(input.replicas / 3)),
    Delay: 0,
    FailureAction: 'rollback',
    Monitor: 5e9,
    MaxFailureRatio: 0,
    Order: 'start-first',
  }
  await updateService(original.ID, original.Version.Index, spec)
}

/** Swarm's rollback of the service to its previous spec (after a promotion that must be undone). */
export async function rollbackService(original: ServiceInfo): Promise<void> {
  await updateService(original.ID, original.Version.Index, original.Spec, { rollback: true })
}

export async function inspectService(id: string): Promise<ServiceInfo | null> {
  try {
    return (await (await docker()).getService(id).inspect()) as ServiceInfo
  } catch (err) {
    if ((err as { statusCode?: number }).statusCode === 404) return null
    throw err
  }
}

export { imageName, serviceTasks, type TaskSummary }

/** A container's health check status (healthy, unhealthy, starting), or null without one. */
export async function containerHealth(containerId: string): Promise<string | null> {
  try {
    const info = (await (await docker()).getContainer(containerId).inspect()) as {
      State?: { Health?: { Status?: string } }
    }
    return info.State?.Health?.Status ?? null
  } catch {
    return null
  }
}

// The request is made from inside the task's container, to its own loopback: Swarm tasks sit on
// overlay networks the controller's host often cannot reach, while the engine's exec reaches every
// task on this engine whatever its network. The path and port are arguments ($1, $2), never part
// of the script, and printf takes the path as a value, not as its format.
const PROBE_SCRIPT =
  'printf "GET %s HTTP/1.0\\r\\nHost: localhost\\r\\nUser-Agent: sentinel-canary\\r\\n\\r\\n" "$1" | nc -w 2 127.0.0.1 "$2" | head -n 1'

export interface ProbeAnswer {
  ok: boolean
  status: number | null
  latencyMs: number
  error?: string
}

/** One HTTP GET of the task's own port, made inside its container (needs `sh` and `nc` there). */
export async function probeTask(
  containerId: string,
  port: number,
  path: string,
  timeoutMs = 3000,
): Promise<ProbeAnswer> {
  const started = Date.now()
  try {
    const c = (await docker()).getContainer(containerId)
    const exec = await c.exec({
      Cmd: ['sh', '-c', PROBE_SCRIPT, 'sentinel-probe', path, String(port)],
      AttachStdout: true,
      AttachStderr: true,
    })
    const stream = await exec.start({ hijack: true, stdin: false })
    const out = await new Promise<string>((resolve, reject) => {
      const chunks: Buffer[] = []
      const timer = setTimeout(() => {
        stream.destroy()
        reject(new Error(`no answer within ${timeoutMs} ms`))
      }, timeoutMs)
      stream.on('data', (b: Buffer) => chunks.push(b))
      stream.on('end', () => {
        clearTimeout(timer)
        resolve(Buffer.concat(chunks).toString('latin1'))
      })
      stream.on('error', (e: Error) => {
        clearTimeout(timer)
        reject(e)
      })
    })
    const latencyMs = Date.now() - started
    const m = /HTTP\/\d(?:\.\d)? (\d{3})/.exec(out)
    if (!m) return { ok: false, status: null, latencyMs, error: 'no HTTP answer' }
    const status = Number(m[1])
    return { ok: status < 400, status, latencyMs }
  } catch (err) {
    return { ok: false, status: null, latencyMs: Date.now() - started, error: (err as Error).message }
  }
}
