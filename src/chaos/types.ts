/**
 * The chaos plan (what the admin asks for), its bounds, and the records the engine keeps. Shared
 * by the API steps (which validate and store the plan) and the engine (which re-validates what it
 * reads from Redis before acting on it).
 */
import { z } from 'zod'
import { firstValue } from '../platform/http/requests'

/** Only containers carrying this label (and the watch label) are ever faulted. */
export const CHAOS_LABEL = { key: 'sentinel.chaos', value: 'true' } as const

export const FAULT_KINDS = ['kill', 'cpu', 'fillTemp', 'slowProbe'] as const
export type FaultKind = (typeof FAULT_KINDS)[number]

export const LIMITS = {
  minIntervalSec: 1,
  maxIntervalSec: 86_400,
  maxCpuSec: 600,
  maxCpuWorkers: 4,
  maxFillBytes: 1024 ** 3,
  maxHoldSec: 3600,
  maxPauseSec: 300,
  minRunSec: 5,
  maxRunSec: 86_400,
  defaultRunSec: 3600,
  maxTargets: 50,
} as const

const seconds = (min: number, max: number) => z.number().int(`expected whole seconds`).min(min).max(max)

const rate = {
  minIntervalSec: seconds(LIMITS.minIntervalSec, LIMITS.maxIntervalSec),
  maxIntervalSec: seconds(LIMITS.minIntervalSec, LIMITS.maxIntervalSec),
}

type Rate = { minIntervalSec: number; maxIntervalSec: number }
const inOrder = (f: Rate) => f.maxIntervalSec >= f.minIntervalSec
const orderError = { message: 'must be at least minIntervalSec', path: ['maxIntervalSec'] }

export const faultSchemas = {
  kill: z.object(rate).strict().refine(inOrder, orderError),
  cpu: z
    .object({
      ...rate,
      durationSec: seconds(1, LIMITS.maxCpuSec),
      workers: z.number().int().min(1).max(LIMITS.maxCpuWorkers).default(1),
    })
    .strict()
    .refine(inOrder, orderError),
  fillTemp: z
    .object({
      ...rate,
      /** The size temp/ is filled to (what is already there counts). */
      bytes: z.number().int().min(1).max(LIMITS.maxFillBytes, `at most ${LIMITS.maxFillBytes} bytes (1 GiB)`),
      /** How long the fill stays before chaos removes it (if Sentinel has not cleaned it first). */
      holdSec: seconds(1, LIMITS.maxHoldSec).default(60),
    })
    .strict()
    .refine(inOrder, orderError),
  slowProbe: z
    .object({
      ...rate,
      /** The target is paused (every request to it hangs) for this long, then unpaused. */
      pauseSec: seconds(1, LIMITS.maxPauseSec),
    })
    .strict()
    .refine(inOrder, orderError),
}

const containerName = z.string().regex(/^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$/, 'a container name')

export const chaosStartBody = z
  .object({
    faults: z
      .object({
        kill: faultSchemas.kill.optional(),
        cpu: faultSchemas.cpu.optional(),
        fillTemp: faultSchemas.fillTemp.optional(),
        slowProbe: faultSchemas.slowProbe.optional(),
      })
      .strict()
      .refine((f) => Object.values(f).some(Boolean), { message: `name at least one fault: ${FAULT_KINDS.join(', ')}` }),
    /** Only these containers (by name), and still only when they carry the chaos label. */
    targets: z.array(containerName).min(1).max(LIMITS.maxTargets).optional(),
    /** The run ends by itself after this long. */
    durationSec: seconds(LIMITS.minRunSec, LIMITS.maxRunSec).default(LIMITS.defaultRunSec),
  })
  .strict()

export type ChaosPlan = z.infer<typeof chaosStartBody>
export type FaultSpec<K extends FaultKind> = NonNullable<ChaosPlan['faults'][K]>

/** What the admin wants, at `sentinel:chaos:desired`; the engine converges on it. */
export interface ChaosDesired {
  runId: string
  status: 'running' | 'stopped'
  plan: ChaosPlan
  requestedBy: string
  requestedAt: string
  /** ISO time the run ends by itself. */
  until: string
  stoppedBy?: string
  stoppedAt?: string
}

export interface ActiveFault {
  faultId: string
  kind: FaultKind
  container?: { id: string; name: string }
  /** For fillTemp: the file written. */
  file?: string
  /** For cpu: host PIDs of the busy loops. */
  pids?: number[]
  until: string
}

/** What the engine is doing, at `sentinel:chaos:state`, rewritten every poll (a heartbeat). */
export interface ChaosState {
  status: 'idle' | 'running'
  runId?: string
  plan?: ChaosPlan
  startedAt?: string
  until?: string
  /** The last run's end and why it ended (stopped by X, duration elapsed, engine stopped). */
  lastRun?: { runId: string; endedAt: string; reason: string }
  active: ActiveFault[]
  heartbeatAt: string
  /** `stoppedAt`: the engine was stopped (Sentinel shutting down) and nothing runs chaos now. */
  engine: { pid: number; startedAt: string; stoppedAt?: string }
}

/** One fault, injected or not, kept in the bounded history. */
export interface FaultRecord {
  faultId: string
  runId: string
  kind: FaultKind
  at: string
  outcome: 'injected' | 'skipped' | 'failed'
  /** `endpoints`: where it answered (slowProbe), for crediting latency incidents (see ChaosTarget). */
  container?: { id: string; name: string; endpoints?: string[] }
  /** fillTemp: the mount point of the filesystem filled. */
  filesystem?: string
  params: Record<string, unknown>
  detail?: string
  endedAt?: string
  endReason?: string
  /** Skipped rounds in a row for the same reason are one record: how many, the last at `at`. */
  repeats?: number
}

export const chaosStatusQuery = z.object({
  limit: z.preprocess(firstValue, z.coerce.number().int().min(1).max(500).default(100)),
  run: z.preprocess(
    firstValue,
    z
      .string()
      .regex(/^chaos_[a-z0-9_]+$/, 'a run id such as chaos_lx2k3_ab12cd34')
      .optional(),
  ),
})
