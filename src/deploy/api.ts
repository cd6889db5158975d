/**
 * What the deploy API steps do: validate, check who may (an operator; an admin while a change
 * freeze is in force), and write the deploy or the person's request (pause, resume, abort) into
 * Redis, where the deploy controller (./controller.ts, in the main process of the controller
 * leading the `deploys` duty) acts on it within half a second.
 */
import { z } from 'zod'
import type { Redis } from 'ioredis'
import { activeFreeze, describeFreeze } from '../decide/freeze'
import type { FreezeWindow } from '../platform/config/freeze-windows'
import type { Role } from '../platform/auth/roles'
import { getConfig } from '../platform/config/index'
import { HttpError, parseOr400 } from '../platform/http/errors'
import { caller as callerOf, firstValue } from '../platform/http/requests'
import { AuditLog } from '../platform/store/audit'
import { getRedis } from '../platform/store/redis'
import {
  assertWatchedService,
  desiredReplicas,
  imageName,
  isSwarmManager,
  NotWatchedServiceError,
} from '../platform/swarm/client'
import { canarySteps } from './gate'
import { type Deploy, DeployConflict, DeployStore, isFinished, newDeployId, pushEvent } from './store'
import { canaryName } from './swarm-ops'

export const servicePath = z.object({
  name: z
    .string()
    .min(1)
    .max(63)
    .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, 'a service name (letters, digits, _ . -)'),
})

export const deployIdPath = z.object({
  id: z.string().regex(/^dep_[a-z0-9]+_[a-f0-9]{8}$/, 'a deploy id such as dep_lx2k3ab_0a1b2c3d'),
})

// An image reference as Docker writes it: [registry[:port]/]path[:tag][@digest], no spaces or shell characters.
const IMAGE_REF = /^[a-z0-9][a-z0-9._\-/:]{0,254}(@sha256:[a-f0-9]{64})?$/

export const deployBody = z
  .object({
    image: z
      .string()
      .trim()
      .min(1, 'name the new image')
      .max(320)
      .regex(IMAGE_REF, 'an image reference such as team/web:1.2.3')
      .describe('the new image; the canary runs it first'),
    env: z
      .record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,127}$/, 'an environment variable name'), z.string().max(4096))
      .refine((e) => Object.keys(e).length <= 64, 'at most 64 variables')
      .optional()
      .describe('environment variables set (or replaced) in the new version'),
    probe: z
      .object({
        port: z.number().int().min(1).max(65535),
        path: z
          .string()
          .max(256)
          .regex(/^\/[A-Za-z0-9._~/?=&%+-]*$/, 'a path such as /healthz')
          .default('/'),
      })
      .strict()
      .optional()
      .describe(
        "an HTTP GET each task answers on its own port (made inside the task's container): error rate and latency of the canary against the old tasks",
      ),
    promql: z
      .string()
      .trim()
      .min(1)
      .max(2000)
      .refine((q) => q.includes('$service'), 'use $service where the service name goes')
      .optional()
      .describe(
        "a PromQL expression whose value for the canary ($service = <name>-canary) must stay within 1.5× the old tasks' ($service = <name>)",
      ),
  })
  .strict()
export type DeployRequest = z.infer<typeof deployBody>

export const listDeploysQuery = z.object({
  service: z.preprocess(firstValue, servicePath.shape.name.optional()),
  limit: z.preprocess(
    (v) => (firstValue(v) === undefined ? undefined : Number(firstValue(v))),
    z.number().int().min(1).max(200).optional(),
  ),
})

export interface DeployApiDeps {
  redis: Redis
  audit: Pick<AuditLog, 'append'>
  config: { FREEZE_WINDOWS: FreezeWindow[]; CANARY_STEP_PERCENTS: number[] }
  now?: () => number
}

export interface Caller {
  user: string
  role: Role
}

/** During a change freeze only an admin may change what runs: a 403 naming the freeze otherwise. */
function checkFreeze(deps: DeployApiDeps, caller: Caller, what: string): string | null {
  const freeze = activeFreeze(deps.now?.() ?? Date.now(), deps.config.FREEZE_WINDOWS)
  if (!freeze) return null
  if (caller.role !== 'admin')
    throw new HttpError(
      403,
      'change_freeze',
      `${what} during a change freeze (${describeFreeze(freeze)}) needs an admin`,
      {
        freeze: describeFreeze(freeze),
      },
    )
  return describeFreeze(freeze)
}

/** A summary of a deploy for lists (its timeline left out). */
export const deploySummary = (d: Deploy) => {
  const { events, ...rest } = d
  return { ...rest, eventCount: events.length, lastEvent: events.at(-1) ?? null }
}

export async function startDeploy(
  name: string,
  input: DeployRequest,
  caller: Caller,
  deps: DeployApiDeps,
): Promise<Deploy> {
  const freeze = checkFreeze(deps, caller, 'a deploy')
  if (!(await isSwarmManager().catch(() => false)))
    throw new HttpError(
      409,
      'no_swarm',
      'the Docker engine Sentinel uses is not a swarm manager: there are no services to deploy to',
    )
  let service
  try {
    service = await assertWatchedService(name)
  } catch (err) {
    if (err instanceof NotWatchedServiceError) throw new HttpError(404, 'not_found', `no watched service named ${name}`)
    throw err
  }
  if (service.Spec.Name !== name) throw new HttpError(404, 'not_found', `no watched service named ${name}`)
  const replicas = desiredReplicas(service.Spec)
  if (replicas === null)
    throw new HttpError(409, 'global_service', `${name} is a global service: a canary needs a replicated one`)
  if (replicas < 1) throw new HttpError(409, 'no_replicas', `${name} runs no replicas`)
  const current = imageName(service.Spec.TaskTemplate.ContainerSpec?.Image)
  if (current === imageName(input.image) && !input.env)
    throw new HttpError(409, 'same_image', `${name} already runs ${current}`)
  if (['updating', 'rollback_started'].includes(service.UpdateStatus?.State ?? ''))
    throw new HttpError(409, 'update_in_progress', `${name} is being updated already (${service.UpdateStatus?.State})`)
  const now = new Date(deps.now?.() ?? Date.now()).toISOString()
  const d: Deploy = {
    id: newDeployId(),
    service: name,
    serviceId: service.ID,
    image: input.image,
    ...(input.env ? { env: input.env } : {}),
    previousImage: current,
    previousVersion: service.Version.Index,
    replicas,
    steps: canarySteps(replicas, deps.config.CANARY_STEP_PERCENTS),
    stepIndex: 0,
    phase: 'pending',
    paused: false,
    ...(input.probe ? { probe: { port: input.probe.port, path: input.probe.path } } : {}),
    ...(input.promql ? { promql: input.promql } : {}),
    canaryService: canaryName(name),
    requestedBy: caller.user,
    requestedAt: now,
    updatedAt: now,
    events: [],
    version: 1,
  }
  pushEvent(d, {
    kind: 'requested',
    actor: caller.user,
    at: now,
    summary: `deploy of ${input.image} to ${name} (${replicas} tasks, now ${current}) asked by ${caller.user}${freeze ? ` during ${freeze}` : ''}`,
    data: { steps: d.steps, role: caller.role },
  })
  try {
    await new DeployStore(deps.redis).create(d)
  } catch (err) {
    if (err instanceof DeployConflict)
      throw new HttpError(
        409,
        'deploy_in_progress',
        `deploy ${err.activeId} of ${name} is under way: pause, resume or abort it first`,
        {
          deployId: err.activeId,
        },
      )
    throw err
  }
  await deps.audit.append({
    kind: 'deploy.requested',
    actor: caller.user,
    resource: name,
    outcome: 'pending',
    data: {
      deployId: d.id,
      image: d.image,
      previousImage: current,
      replicas,
      steps: d.steps,
      role: caller.role,
      ...(freeze ? { freeze } : {}),
    },
  })
  return d
}

export type DeployControl = 'pause' | 'resume' | 'abort'

/** Pause, resume or abort the deploy under way of a service. */
export async function controlDeploy(
  name: string,
  control: DeployControl,
  caller: Caller,
  deps: DeployApiDeps,
): Promise<Deploy> {
  // Resuming goes on changing what runs: a freeze applies. Pausing and aborting only make it safer.
  if (control === 'resume') checkFreeze(deps, caller, 'resuming a deploy')
  const deploys = new DeployStore(deps.redis)
  const active = await deploys.activeFor(name)
  if (!active) throw new HttpError(404, 'not_found', `no deploy of ${name} is under way`)
  let refused: string | null = null
  const next = await deploys.update(active.id, (d) => {
    refused = null
    if (isFinished(d)) refused = `deploy ${d.id} has ${d.phase} already`
    else if (d.abortRequested || d.phase === 'rolling_back') refused = `deploy ${d.id} is being rolled back`
    else if (control === 'pause' && d.paused) refused = `deploy ${d.id} is paused already`
    else if (control === 'resume' && !d.paused) refused = `deploy ${d.id} is not paused`
    if (refused) return false
    if (control === 'abort') d.abortRequested = { by: caller.user, at: new Date().toISOString() }
    else d.paused = control === 'pause'
    pushEvent(d, {
      kind: control === 'pause' ? 'paused' : control === 'resume' ? 'resumed' : 'abort_requested',
      actor: caller.user,
      summary: `${control === 'abort' ? 'abort asked' : control === 'pause' ? 'paused' : 'resumed'} by ${caller.user}`,
    })
  })
  if (refused) throw new HttpError(409, 'conflict', refused)
  await deps.audit.append({
    kind: `deploy.${control === 'abort' ? 'abort_requested' : control === 'pause' ? 'paused' : 'resumed'}`,
    actor: caller.user,
    resource: name,
    outcome: next.phase,
    data: { deployId: next.id, role: caller.role },
  })
  return next
}

/**
 * The handler of POST /api/services/:name/deploy/<control>, which the pause, resume and abort steps
 * share (each step file keeps its own config: Motia reads one step per file).
 */
export function deployControlHandler(control: DeployControl) {
  return async (req: { pathParams: unknown; headers: Record<string, string | string[] | undefined> }) => {
    const { name } = parseOr400(servicePath, req.pathParams, 'path')
    const { keyId, role } = callerOf(req.headers)
    const deploy = await controlDeploy(
      name,
      control,
      { user: `key:${keyId}`, role },
      { redis: getRedis(), audit: new AuditLog(), config: getConfig() },
    )
    return { status: 200, body: deploySummary(deploy) }
  }
}

export async function listDeploys(redis: Redis, q: z.infer<typeof listDeploysQuery>) {
  const deploys = await new DeployStore(redis).list({ limit: q.limit ?? 50, service: q.service })
  return { deploys: deploys.map(deploySummary) }
}

export async function getDeploy(redis: Redis, id: string): Promise<Deploy> {
  const d = await new DeployStore(redis).get(id)
  if (!d) throw new HttpError(404, 'not_found', `deploy ${id} not found`)
  return d
}
